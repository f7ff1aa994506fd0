// link.cpp — hiredis 0.14's event hooks on Asio. See link.hpp for the lifetime rules.
#include "link.hpp"

#include <kindred/store/endpoint.hpp>

#include <boost/asio/post.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <csignal>
#include <mutex>

namespace kindred::store::detail {

namespace asio = boost::asio;

namespace {

// hiredis writes with write(2), not send(MSG_NOSIGNAL): a write to a Redis that just closed the
// connection (a restart, a kill) raises SIGPIPE, whose default action ends the whole process.
// Every process that talks to Redis through this library therefore ignores SIGPIPE; the failed
// write then reports EPIPE and the connection reconnects like any other drop. Process-wide, so
// done once, before the first connection.
void ignore_sigpipe_once() {
    static std::once_flag once;
    std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

} // namespace

link::link(const strand_type& strand)
    : strand_(strand)
    , fd_(strand) {}

link::~link() {
    // Only reached with a live context when the io_context is torn down with our handlers
    // unrun; free it without calling back into owners that may be gone.
    if (ac_) {
        destroying_ = true;
        owner_ = nullptr;
        redisAsyncFree(ac_);
    }
}

std::shared_ptr<link> link::open(const strand_type& strand, const endpoint& where, events ev,
                                 void* owner, std::string& why) {
    ignore_sigpipe_once();
    redisAsyncContext* ac = where.type == endpoint::kind::unix_socket
                                ? redisAsyncConnectUnix(where.path.c_str())
                                : redisAsyncConnect(where.host.c_str(), where.port);
    if (!ac) {
        why = "out of memory";
        return nullptr;
    }
    if (ac->err) {
        why = ac->errstr;
        redisAsyncFree(ac); // no hooks attached yet: nothing calls back
        return nullptr;
    }

    auto self = std::make_shared<link>(strand);
    boost::system::error_code ec;
    self->fd_.assign(ac->c.fd, ec);
    if (ec) {
        why = ec.message();
        redisAsyncFree(ac);
        return nullptr;
    }
    self->ac_ = ac;
    self->owner_ = owner;
    self->events_ = std::move(ev);
    ac->data = self.get();
    ac->ev.data = self.get();
    ac->ev.addRead = &link::hook_add_read;
    ac->ev.delRead = &link::hook_del_read;
    ac->ev.addWrite = &link::hook_add_write;
    ac->ev.delWrite = &link::hook_del_write;
    ac->ev.cleanup = &link::hook_cleanup;
    redisAsyncSetDisconnectCallback(ac, &link::on_disconnect_c);
    // hiredis learns that connect(2) finished from the first write event; setting the
    // connect callback calls addWrite for that.
    redisAsyncSetConnectCallback(ac, &link::on_connect_c);
    return self;
}

void link::abandon() {
    destroying_ = true;
    owner_ = nullptr;
    events_ = {};
    close();
}

void link::close() {
    if (ac_) redisAsyncFree(ac_); // runs pending callbacks, then hook_cleanup nulls ac_
}

void link::hook_add_read(void* p) {
    auto* self = static_cast<link*>(p);
    self->want_read_ = true;
    self->arm_read();
}

void link::hook_del_read(void* p) {
    static_cast<link*>(p)->want_read_ = false;
}

void link::hook_add_write(void* p) {
    auto* self = static_cast<link*>(p);
    self->want_write_ = true;
    self->arm_write();
}

void link::hook_del_write(void* p) {
    static_cast<link*>(p)->want_write_ = false;
}

void link::hook_cleanup(void* p) {
    auto* self = static_cast<link*>(p);
    if (self->ac_ && self->ac_->err) self->last_error_ = self->ac_->errstr;
    self->ac_ = nullptr;
    self->want_read_ = false;
    self->want_write_ = false;
    // hiredis closes the fd right after this hook returns: take it out of the reactor and
    // hand it back without closing. Pending waits complete with operation_aborted.
    if (self->fd_.is_open()) self->fd_.release();
    if (self->destroying_) return;
    if (self->events_.on_closed)
        asio::post(self->strand_, [self = self->shared_from_this()] {
            auto on_closed = std::move(self->events_.on_closed);
            self->events_ = {}; // drops what the owner captured
            on_closed(self);
        });
}

void link::on_connect_c(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<link*>(ac->data);
    if (status != REDIS_OK) {
        // hiredis frees the context after this returns; hook_cleanup reports it.
        self->last_error_ = ac->errstr;
        return;
    }
    if (self->events_.on_up)
        asio::post(self->strand_, [self = self->shared_from_this()] {
            if (self->events_.on_up) self->events_.on_up(self);
        });
}

void link::on_disconnect_c(const redisAsyncContext*, int) {
    // Nothing to do: hook_cleanup ran just before and reported the close.
}

void link::arm_read() {
    if (read_waiting_ || !ac_) return;
    read_waiting_ = true;
    fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->on_readable(ec);
                   });
}

void link::arm_write() {
    if (write_waiting_ || !ac_) return;
    write_waiting_ = true;
    fd_.async_wait(asio::posix::stream_descriptor::wait_write,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->on_writable(ec);
                   });
}

void link::on_readable(const boost::system::error_code& ec) {
    read_waiting_ = false;
    if (ec == asio::error::operation_aborted || !ac_ || !want_read_) return;
    // Any other wait error: let hiredis read, it sees the socket error and disconnects.
    redisAsyncHandleRead(ac_); // may free the context (EOF, error): ac_ is null then
    if (ac_ && want_read_) arm_read();
}

void link::on_writable(const boost::system::error_code& ec) {
    write_waiting_ = false;
    if (ec == asio::error::operation_aborted || !ac_ || !want_write_) return;
    redisAsyncHandleWrite(ac_); // may free the context (failed connect, error)
    // Still wanted: connect(2) in progress, or a partial write. hiredis does not always
    // call addWrite again in those cases, so re-arm here.
    if (ac_ && want_write_) arm_write();
}

} // namespace kindred::store::detail
