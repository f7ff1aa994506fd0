// link.hpp — (internal) one hiredis 0.14 redisAsyncContext driven by Asio: hiredis's five
// event hooks (addRead/delRead/addWrite/delWrite/cleanup) implemented with
// posix::stream_descriptor::async_wait. hiredis owns the socket: the descriptor is
// release()d in the cleanup hook, before hiredis closes the fd, and Asio never closes it.
//
// Threading: everything runs on the owner's strand; the descriptor uses it as executor.
// Lifetime: shared. Pending waits hold a shared_ptr, and the hooks only touch `ac_` while it
// is non-null: the cleanup hook nulls it when hiredis frees the context (on a failed
// connect, an I/O error, EOF, or close()), so a late wait handler never touches a freed
// context. close() must not be called from inside a hiredis callback (owners only call it
// from posted handlers and timers).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <memory>
#include <string>

struct redisAsyncContext;

namespace kindred::store {
struct endpoint;
}

namespace kindred::store::detail {

using strand_type = boost::asio::strand<boost::asio::io_context::executor_type>;

class link : public std::enable_shared_from_this<link> {
public:
    struct events {
        // Posted once the socket is connected (not called on failure).
        std::function<void(const std::shared_ptr<link>&)> on_up;
        // Posted once after hiredis freed the context, whatever the reason. Every command
        // callback has run (with a null reply) by then.
        std::function<void(const std::shared_ptr<link>&)> on_closed;
    };

    // Starts a non-blocking connect. On an immediate failure (e.g. no socket file) returns
    // null and sets `why` (never an address: it may go to logs).
    static std::shared_ptr<link> open(const strand_type& strand, const endpoint& where, events ev,
                                      void* owner, std::string& why);

    explicit link(const strand_type& strand);
    ~link();
    link(const link&) = delete;
    link& operator=(const link&) = delete;

    // The live context, or null once hiredis freed it.
    redisAsyncContext* context() const noexcept { return ac_; }
    bool alive() const noexcept { return ac_ != nullptr; }
    // The owner object, for hiredis reply callbacks (they find the link via ac->data).
    // Null once the owner detached.
    void* owner() const noexcept { return owner_; }
    void detach() noexcept { owner_ = nullptr; }
    // Frees the context without calling anyone back: for an owner's destructor.
    void abandon();
    // hiredis's reason for the last failure ("Connection refused", "Server closed the
    // connection", ...), for logs.
    const std::string& last_error() const noexcept { return last_error_; }

    // Frees the context now: pending command callbacks run with a null reply, then the
    // cleanup hook, then on_closed is posted. No-op when already freed.
    void close();

private:
    static void hook_add_read(void* self);
    static void hook_del_read(void* self);
    static void hook_add_write(void* self);
    static void hook_del_write(void* self);
    static void hook_cleanup(void* self);
    static void on_connect_c(const redisAsyncContext* ac, int status);
    static void on_disconnect_c(const redisAsyncContext* ac, int status);

    void arm_read();
    void arm_write();
    void on_readable(const boost::system::error_code& ec);
    void on_writable(const boost::system::error_code& ec);

    strand_type strand_;
    boost::asio::posix::stream_descriptor fd_;
    redisAsyncContext* ac_ = nullptr;
    void* owner_ = nullptr;
    events events_;
    std::string last_error_;
    bool want_read_ = false;
    bool want_write_ = false;
    bool read_waiting_ = false;
    bool write_waiting_ = false;
    bool destroying_ = false;
};

} // namespace kindred::store::detail
