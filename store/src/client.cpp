// client.cpp — the pipelined command connection: hiredis's reply FIFO mirrored by our own
// `pending_` queue, one deadline timer for the oldest live command, a stall timer for commands
// that fail fast when Redis stops answering, a health PING.
#include "connection.hpp"
#include <kindred/store/client.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <deque>
#include <string_view>
#include <unordered_set>

namespace kindred::store {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

reply from_hiredis(const redisReply* r) {
    switch (r->type) {
    case REDIS_REPLY_STRING:
        return reply::make_string(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS:
        return reply::make_status(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR:
        return reply::make_error(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
        return reply::make_integer(r->integer);
    case REDIS_REPLY_ARRAY: {
        std::vector<reply> elements;
        elements.reserve(r->elements);
        for (std::size_t i = 0; i < r->elements; ++i)
            elements.push_back(from_hiredis(r->element[i]));
        return reply::make_array(std::move(elements));
    }
    default: // REDIS_REPLY_NIL
        return {};
    }
}

// The RESP request for `args` (an array of bulk strings) into `out`, replacing its content.
void format_command(const std::vector<std::string>& args, std::string& out) {
    std::size_t size = 16;
    for (const auto& a : args)
        size += a.size() + 24;
    out.clear();
    out.reserve(size);
    char digits[24];
    const auto append_number = [&](char lead, std::size_t n) {
        out.push_back(lead);
        auto res = std::to_chars(digits, digits + sizeof digits, n);
        out.append(digits, res.ptr);
        out.append("\r\n", 2);
    };
    append_number('*', args.size());
    for (const auto& a : args) {
        append_number('$', a.size());
        out.append(a);
        out.append("\r\n", 2);
    }
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// Commands that switch a RESP2 connection into another mode; hiredis would then route every
// later reply differently, so they belong on a subscriber.
bool changes_mode(std::string_view name) {
    for (std::string_view m : {"subscribe", "psubscribe", "ssubscribe", "unsubscribe",
                               "punsubscribe", "sunsubscribe", "monitor"})
        if (iequals(name, m)) return true;
    return false;
}

} // namespace

class client::impl final : public detail::connection {
public:
    impl(asio::io_context& io, client_options options)
        : detail::connection(io, settings_from(options))
        , options_(std::move(options))
        , deadline_timer_(strand_)
        , stall_timer_(strand_)
        , ping_timer_(strand_) {}

    const client_options& options() const noexcept { return options_; }

    void command(std::vector<std::string> args, handler h, on_stall stall) {
        asio::dispatch(strand_, [self = self_as<impl>(), args = std::move(args), h = std::move(h),
                                 stall]() mutable { self->do_command(args, std::move(h), stall); });
    }

    void eval(const script& s, std::vector<std::string> keys, std::vector<std::string> args,
              handler h, on_stall stall) {
        auto argv = std::make_shared<std::vector<std::string>>();
        argv->reserve(3 + keys.size() + args.size());
        argv->push_back("EVALSHA");
        argv->push_back(s.sha1());
        argv->push_back(std::to_string(keys.size()));
        std::move(keys.begin(), keys.end(), std::back_inserter(*argv));
        std::move(args.begin(), args.end(), std::back_inserter(*argv));
        asio::dispatch(strand_,
                       [self = self_as<impl>(), s, argv, h = std::move(h), stall]() mutable {
                           self->do_eval(s, std::move(argv), std::move(h), stall);
                       });
    }

    void load(const script& s, handler h) {
        command(
            {"SCRIPT", "LOAD", s.source()},
            [s, h = std::move(h)](boost::system::error_code ec, reply r) {
                if (!ec && (!r.is_string() || r.str() != s.sha1())) ec = error::unexpected_reply;
                h(ec, std::move(r));
            },
            on_stall::wait);
    }

private:
    struct pending {
        handler on_done;
        clock_type::time_point sent;
        clock_type::time_point deadline;
        bool internal = false;  // our own PINGs: no latency report
        bool fail_fast = false; // sent with on_stall::fail
        bool done = false;      // its handler already ran (timeout or stall): drop the reply
    };

    static detail::connection_settings settings_from(const client_options& o) {
        return {o.address, o.connect_timeout, o.reconnect_initial, o.reconnect_max,
                o.name,    o.on_state};
    }

    // --- on the strand from here on ---

    void do_command(const std::vector<std::string>& args, handler h,
                    on_stall stall = on_stall::wait) {
        if (state_ == state::stopped) return post_result(std::move(h), error::stopped);
        if (args.empty() || changes_mode(args.front()))
            return post_result(std::move(h), error::invalid_command);
        if (state_ != state::ready || !link_ || !link_->alive())
            return post_result(std::move(h), error::not_connected);
        const bool fail_fast = stall == on_stall::fail && options_.stall_timeout.count() > 0;
        if (fail_fast && stalled_) return post_result(std::move(h), error::not_connected);
        send(args, std::move(h), false, fail_fast);
    }

    void do_eval(const script& s, std::shared_ptr<std::vector<std::string>> argv, handler h,
                 on_stall stall) {
        // The first use of a script on a connection sends EVAL with the body, which also puts
        // it in Redis's script cache, so every EVALSHA pipelined behind it finds it. Without
        // this, a NOSCRIPT retry would run after commands sent later on the same connection
        // and reorder them (a caller pipelining appends would see them stored out of order).
        if (state_ == state::ready && !scripts_sent_.contains(s.sha1())) {
            scripts_sent_.insert(s.sha1());
            std::vector<std::string> eval_args = *argv;
            eval_args[0] = "EVAL";
            eval_args[1] = s.source();
            return do_command(eval_args, std::move(h), stall);
        }
        // Only a SCRIPT FLUSH (or a Redis that lost its cache without dropping the
        // connection) gets here with NOSCRIPT: load and retry once.
        do_command(
            *argv,
            [self = self_as<impl>(), s, argv, stall, h = std::move(h)](boost::system::error_code ec,
                                                                       reply r) mutable {
                if (ec == error::reply_error && r.is_error_code("NOSCRIPT")) {
                    // Redis lost its script cache (restart, SCRIPT FLUSH, failover). Pipeline the
                    // load and the retry; replies are FIFO, so the load's answer is known first.
                    auto load_failure = std::make_shared<reply>();
                    self->do_command({"SCRIPT", "LOAD", s.source()},
                                     [load_failure](boost::system::error_code lec, reply lr) {
                                         if (lec == error::reply_error)
                                             *load_failure = std::move(lr);
                                     });
                    self->do_command(
                        *argv,
                        [h = std::move(h), load_failure](boost::system::error_code ec2, reply r2) {
                            if (ec2 == error::reply_error && r2.is_error_code("NOSCRIPT") &&
                                load_failure->is_error())
                                r2 = *load_failure; // say why it did not load (e.g. a syntax error)
                            h(ec2, std::move(r2));
                        },
                        stall);
                    return;
                }
                h(ec, std::move(r));
            },
            stall);
    }

    void post_result(handler h, boost::system::error_code ec, reply r = {}) {
        asio::post(strand_,
                   [h = std::move(h), ec, r = std::move(r)]() mutable { h(ec, std::move(r)); });
    }

    void send(const std::vector<std::string>& args, handler h, bool internal,
              bool fail_fast = false) {
        if (!link_ || !link_->alive()) // dropped; on_closed not yet run
            return post_result(std::move(h), error::not_connected);
        // RESP is formatted here rather than by redisAsyncCommandArgv, whose sdscatfmt per
        // argument cost more than the rest of a relayed message's Redis work on our side
        // (callgrind: ~6k instructions per EVALSHA). hiredis appends the bytes to its output
        // buffer and calls addWrite; commands queued before the socket is writable leave in
        // one write.
        format_command(args, wire_);
        int rc = redisAsyncFormattedCommand(link_->context(), &impl::on_reply_c, nullptr,
                                            wire_.data(), wire_.size());
        if (rc != REDIS_OK) return post_result(std::move(h), error::not_connected);
        auto now = clock_type::now();
        pending_.push_back(
            {std::move(h), now, now + options_.command_timeout, internal, fail_fast});
        arm_deadline();
        if (fail_fast) {
            ++fail_fast_live_;
            arm_stall();
        }
    }

    static void on_reply_c(redisAsyncContext* ac, void* r, void*) {
        auto* l = static_cast<detail::link*>(ac->data);
        if (auto* owner = l->owner())
            static_cast<impl*>(static_cast<detail::connection*>(owner))
                ->on_reply(static_cast<redisReply*>(r));
    }

    // Called by hiredis (inside redisAsyncHandleRead or while it frees the context) once per
    // command, in the order they were sent; a null reply means the connection is gone. User
    // code never runs here: completions are posted.
    void on_reply(redisReply* r) {
        if (pending_.empty()) return; // cannot happen: hiredis's callback list mirrors pending_
        pending p = std::move(pending_.front());
        pending_.pop_front();
        if (expired_ > 0) --expired_; // the front was in the timed-out prefix
        if (r) {
            last_reply_ = clock_type::now();
            stalled_ = false;
        }
        if (p.done) return; // timed out earlier; its handler already ran: drop the late reply
        if (p.fail_fast) --fail_fast_live_;
        if (!r) return complete(p, closing_error(), {});
        reply value = from_hiredis(r);
        boost::system::error_code ec;
        if (value.is_error()) ec = error::reply_error;
        complete(p, ec, std::move(value));
    }

    void complete(pending& p, boost::system::error_code ec, reply r) {
        auto latency = clock_type::now() - p.sent;
        asio::post(strand_, [self = self_as<impl>(), h = std::move(p.on_done), ec, r = std::move(r),
                             latency, report = !p.internal]() mutable {
            if (report && self->options_.on_latency && self->state_ != state::stopped)
                self->options_.on_latency(latency, ec);
            h(ec, std::move(r));
        });
    }

    // Replies are FIFO and every command gets the same timeout, so deadlines are in queue
    // order: one timer for the oldest live command is enough. Expired commands stay in the
    // queue (as its prefix) until their late reply or the disconnect pops them.
    void arm_deadline() {
        if (deadline_armed_ || expired_ >= pending_.size()) return;
        deadline_armed_ = true;
        deadline_timer_.expires_at(pending_[expired_].deadline);
        deadline_timer_.async_wait([self = self_as<impl>()](const boost::system::error_code& ec) {
            self->on_deadline(ec);
        });
    }

    void on_deadline(const boost::system::error_code& ec) {
        deadline_armed_ = false;
        if (ec || state_ == state::stopped) return;
        auto now = clock_type::now();
        while (expired_ < pending_.size() && pending_[expired_].deadline <= now) {
            auto& p = pending_[expired_];
            ++expired_;
            if (p.done) continue; // failed by the stall timer already
            p.done = true;
            if (p.fail_fast) --fail_fast_live_;
            complete(p, error::timeout, {});
        }
        arm_deadline();
    }

    // The oldest command sent with on_stall::fail whose handler has not run, or null.
    const pending* oldest_fail_fast() const {
        if (fail_fast_live_ == 0) return nullptr;
        for (std::size_t i = expired_; i < pending_.size(); ++i)
            if (pending_[i].fail_fast && !pending_[i].done) return &pending_[i];
        return nullptr;
    }

    // Redis is stalled when, with a fail-fast command waiting, nothing has been answered for
    // stall_timeout since that command was sent (or since the last reply, if later). One
    // timer, re-armed while such commands wait: under steady traffic it fires about once per
    // stall_timeout, not once per command.
    void arm_stall() {
        if (stall_armed_) return;
        const pending* oldest = oldest_fail_fast();
        if (!oldest) return;
        stall_armed_ = true;
        stall_timer_.expires_at(std::max(last_reply_, oldest->sent) + options_.stall_timeout);
        stall_timer_.async_wait([self = self_as<impl>()](const boost::system::error_code& ec) {
            self->on_stall_timer(ec);
        });
    }

    void on_stall_timer(const boost::system::error_code& ec) {
        stall_armed_ = false;
        if (ec || state_ == state::stopped) return;
        const pending* oldest = oldest_fail_fast();
        if (!oldest) return;
        const auto now = clock_type::now();
        if (now - std::max(last_reply_, oldest->sent) >= options_.stall_timeout) {
            // Fail every waiting fail-fast command; the later ones would only wait longer.
            stalled_ = true;
            for (std::size_t i = expired_; i < pending_.size(); ++i) {
                auto& p = pending_[i];
                if (!p.fail_fast || p.done) continue;
                p.done = true;
                --fail_fast_live_;
                complete(p, error::timeout, {});
            }
        }
        arm_stall();
    }

    void on_link_up() override {
        // Handshake: the socket may connect while Redis cannot answer (SIGSTOP, loading),
        // so "ready" means "answered a PING".
        send(
            {"PING"},
            [self = self_as<impl>(), l = link_](boost::system::error_code ec, reply) {
                if (self->link_ != l || self->state_ != state::handshaking) return;
                if (ec)
                    self->drop("handshake PING failed");
                else
                    self->handshake_done();
            },
            true);
    }

    void on_ready() override {
        scripts_sent_.clear(); // a new connection may face a Redis with an empty script cache
        last_reply_ = clock_type::now();
        stalled_ = false;
        arm_ping();
    }

    void arm_ping() {
        if (options_.ping_interval.count() <= 0) return;
        ping_timer_.expires_after(options_.ping_interval);
        ping_timer_.async_wait(
            [self = self_as<impl>(), l = link_](const boost::system::error_code& ec) {
                if (ec || self->link_ != l || self->state_ != state::ready) return;
                if (!self->ping_outstanding_) self->send_ping();
                self->arm_ping();
            });
    }

    void send_ping() {
        ping_outstanding_ = true;
        send(
            {"PING"},
            [self = self_as<impl>(), l = link_](boost::system::error_code ec, reply) {
                if (self->link_ != l) return;
                self->ping_outstanding_ = false;
                if (ec == error::timeout) self->drop("health PING timed out");
            },
            true);
    }

    void on_link_down() override {
        ping_outstanding_ = false;
        // hiredis ran every callback with a null reply before freeing; this is a safety net.
        while (!pending_.empty())
            on_reply(nullptr);
        expired_ = 0;
        fail_fast_live_ = 0;
        stalled_ = false;
    }

    void on_stop() override {
        deadline_timer_.cancel();
        stall_timer_.cancel();
        ping_timer_.cancel();
    }

    client_options options_;
    std::deque<pending> pending_;
    std::unordered_set<std::string> scripts_sent_; // SHAs sent with EVAL on this connection
    std::string wire_;        // the RESP form of the command being sent (reused: no allocation)
    std::size_t expired_ = 0; // pending_[0, expired_) timed out, awaiting their late replies
    std::size_t fail_fast_live_ = 0;    // fail-fast commands in pending_ whose handler has not run
    clock_type::time_point last_reply_; // of any reply on this connection
    bool stalled_ = false;              // set by the stall timer, cleared by the next reply
    asio::steady_timer deadline_timer_;
    asio::steady_timer stall_timer_;
    asio::steady_timer ping_timer_;
    bool deadline_armed_ = false;
    bool stall_armed_ = false;
    bool ping_outstanding_ = false;
};

client::client(asio::io_context& io, client_options options)
    : impl_(std::make_shared<impl>(io, std::move(options))) {}

client::~client() {
    if (impl_) impl_->stop();
}

void client::start() {
    impl_->start();
}
void client::stop() {
    impl_->stop();
}
bool client::connected() const noexcept {
    return impl_->connected();
}
const client_options& client::options() const noexcept {
    return impl_->options();
}

void client::command(std::vector<std::string> args, handler h, on_stall stall) {
    impl_->command(std::move(args), std::move(h), stall);
}

void client::eval(const script& s, std::vector<std::string> keys, std::vector<std::string> args,
                  handler h, on_stall stall) {
    impl_->eval(s, std::move(keys), std::move(args), std::move(h), stall);
}

void client::load(const script& s, handler h) {
    impl_->load(s, std::move(h));
}

void client::load_all(std::span<const script* const> scripts,
                      std::function<void(boost::system::error_code)> done) {
    struct state {
        std::size_t left;
        boost::system::error_code first;
        std::function<void(boost::system::error_code)> done;
    };
    if (scripts.empty()) {
        // Still answered through the client, never inside this call.
        return command({"PING"},
                       [done = std::move(done)](boost::system::error_code ec, reply) { done(ec); });
    }
    auto st = std::make_shared<state>(state{scripts.size(), {}, std::move(done)});
    for (const script* one : scripts)
        load(*one, [st](boost::system::error_code ec, reply) {
            if (ec && !st->first) st->first = ec;
            if (--st->left == 0 && st->done) st->done(st->first);
        });
}

void client::publish(std::string channel, std::string payload, handler h) {
    impl_->command({"PUBLISH", std::move(channel), std::move(payload)}, std::move(h),
                   on_stall::wait);
}

} // namespace kindred::store
