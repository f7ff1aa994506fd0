// websocket_session_impl.hpp — the WebSocket session as one class template over its stream
// (see websocket_session.cpp for its contract). Private to server/src: included only by
// websocket_session.cpp (plain, beast::tcp_stream) and websocket_session_tls.cpp
// (beast::ssl_stream), so each TU instantiates one stream type and they compile in parallel;
// OpenSSL headers reach only the TLS one.
#pragma once

#include "net_sessions.hpp"
#include <kindred/accounts/account_store.hpp>
#include <kindred/server/connection_logic.hpp>
#include <kindred/server/service_router.hpp>
#include <kindred/server/staff_auth.hpp>

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kindred::server::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {

const char* failure_reason(session_result::status s) {
    switch (s) {
    case session_result::status::not_found:
        return "not_found";
    case session_result::status::not_authenticated:
        return "not_authenticated";
    case session_result::status::forbidden:
        return "forbidden";
    case session_result::status::internal:
        return "internal";
    case session_result::status::banned:
        return "banned";
    default:
        return "unavailable";
    }
}

// A first-in first-out queue that allocates nothing while empty. std::deque allocates a map
// and a 512-byte node as soon as it is constructed: two of them were about 1.2 KB of every
// idle connection's memory (issue #7's budget is 8 KB per idle WebSocket).
template <class T>
class fifo {
public:
    bool empty() const noexcept { return head_ == items_.size(); }
    T& front() { return items_[head_]; }
    void push_back(T&& v) { items_.push_back(std::move(v)); }
    void pop_front() {
        items_[head_] = T{}; // release what it held now
        if (++head_ == items_.size()) {
            clear();
        } else if (head_ >= 32 && head_ * 2 >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }
    void clear() noexcept {
        items_.clear();
        head_ = 0;
        // A long queue's storage is given back: an idle connection keeps none.
        if (items_.capacity() > 8) std::vector<T>().swap(items_);
    }
    auto begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    auto end() { return items_.end(); }

private:
    std::vector<T> items_;
    std::size_t head_ = 0;
};

// Only a prefix of the session id goes to logs: enough to follow one session, not a handle.
std::string short_id(const std::string& id) {
    return id.substr(0, 6) + "…";
}

// Stream: beast::tcp_stream (plain) or beast::ssl_stream<beast::tcp_stream> (--tls-cert).
// Instantiated for both, in this TU only.
template <class Stream>
class websocket_session final : public connection_handle,
                                public std::enable_shared_from_this<websocket_session<Stream>> {
public:
    websocket_session(Stream&& stream, server_context& ctx)
        : ws_(std::move(stream))
        , ctx_(ctx)
        , id_(ctx.connections.next_id())
        , logic_(make_logic_options(ctx), std::chrono::steady_clock::now()) {}

    static logic_options make_logic_options(server_context& ctx) {
        logic_options o = kindred::server::make_logic_options(ctx.cfg.limits);
        if (auto* services = ctx.services)
            o.served = [services](std::string_view type) { return services->serves(type); };
        return o;
    }

    void run(http::request<http::string_body> request) {
        guarded([&] {
            upgrade_request_.emplace(std::move(request));
            // The WebSocket stream has its own timeouts; the HTTP deadline must not fire.
            beast::get_lowest_layer(ws_).expires_never();
            auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
            timeouts.handshake_timeout = std::chrono::seconds(ctx_.cfg.limits.handshake_timeout_s);
            // Beast pings after half the idle timeout and drops the peer at the full timeout.
            timeouts.idle_timeout = std::chrono::seconds(2 * ctx_.cfg.limits.idle_ping_s);
            timeouts.keep_alive_pings = true;
            ws_.set_option(timeouts);
            websocket::permessage_deflate pmd; // ciphertext does not compress: keep it off
            pmd.server_enable = false;
            pmd.client_enable = false;
            ws_.set_option(pmd);
            ws_.read_message_max(ctx_.cfg.limits.max_frame_bytes);
            // Beast 1.81 counts close codes from 5000 up as valid and would echo them, but
            // RFC 6455 defines none there. This runs inside the read, before Beast answers the
            // close: shutting the socket fails the connection without a close frame (as the
            // RFC allows for a protocol error), and the count and log say 1002.
            ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
                if (kind != websocket::frame_type::close ||
                    close_code_acceptable_from_peer(ws_.reason().code))
                    return;
                if (!close_code_) close_code_ = close_codes::protocol_error;
                beast::error_code ignored;
                beast::get_lowest_layer(ws_).socket().shutdown(net::socket_base::shutdown_both,
                                                               ignored);
            });
            ws_.set_option(websocket::stream_base::decorator(
                [](websocket::response_type& res) { res.set(http::field::server, "kindred"); }));
            ws_.async_accept(
                *upgrade_request_,
                beast::bind_front_handler(&websocket_session::on_accept, this->shared_from_this()));
        });
    }

    void close(std::uint16_t code, std::string reason) override {
        net::post(ws_.get_executor(),
                  [self = this->shared_from_this(), code, reason = std::move(reason)]() mutable {
                      self->guarded([&] { self->start_close(code, std::move(reason)); });
                  });
    }

    void token_dead(std::string reason) override {
        net::post(ws_.get_executor(),
                  [self = this->shared_from_this(), reason = std::move(reason)]() mutable {
                      self->guarded([&] {
                          if (self->finished_) return;
                          self->apply(self->logic_.on_token_dead(reason));
                      });
                  });
    }

    void taken_over(const std::string& session_id) override {
        net::post(ws_.get_executor(), [self = this->shared_from_this(), session_id] {
            self->guarded([&] {
                if (self->session_id_ != session_id || self->finished_) return;
                self->taken_over_ = true;
                spdlog::info("event=session_taken_over conn={} session={}", self->id_,
                             short_id(session_id));
                self->apply(self->logic_.on_taken_over());
            });
        });
    }

    void deliver(const std::string& session_id, std::string text, std::string type) override {
        net::post(ws_.get_executor(), [self = this->shared_from_this(), session_id,
                                       text = std::move(text), type = std::move(type)]() mutable {
            self->guarded([&] {
                if (self->session_id_ != session_id || self->finished_ || self->closing_) return;
                self->enqueue(outbound_frame{std::move(type), std::move(text), std::nullopt});
            });
        });
    }

private:
    // The one place exceptions stop: a bug in one connection ends that connection only.
    template <class F>
    void guarded(F&& f) noexcept {
        try {
            f();
        } catch (const std::exception& e) {
            spdlog::error("event=ws_exception conn={} what=\"{}\"", id_, e.what());
            abort_connection();
        } catch (...) {
            spdlog::error("event=ws_exception conn={}", id_);
            abort_connection();
        }
    }

    void on_accept(beast::error_code ec) {
        guarded([&] {
            upgrade_request_.reset(); // the upgrade request is not needed any more
            if (ec) {
                spdlog::debug("event=ws_handshake_failed conn={} error=\"{}\"", id_, ec.message());
                return;
            }
            accepted_ = true;
            ctx_.connections.add(id_, this->weak_from_this());
            ctx_.stats.connection_opened();
            spdlog::info("event=ws_open conn={}", id_);
            if (ctx_.draining.load()) {
                start_close(close_codes::service_restart, "server shutting down");
                return;
            }
            do_read();
        });
    }

    void do_read() {
        ws_.async_read(buffer_, beast::bind_front_handler(&websocket_session::on_read,
                                                          this->shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        guarded([&] {
            if (ec) {
                finish(ec);
                return;
            }
            if (closing_) {
                buffer_.consume(buffer_.size());
                return;
            }
            if (!ws_.got_text()) {
                buffer_.consume(buffer_.size());
                ctx_.stats.frame_in("binary");
                start_close(close_codes::unsupported_data, "text frames only");
                return;
            }
            // flat_buffer is contiguous: decoded in place, without a copy of the frame.
            const auto data = buffer_.data();
            auto out =
                logic_.on_text(std::string_view(static_cast<const char*>(data.data()), data.size()),
                               std::chrono::steady_clock::now());
            buffer_.consume(buffer_.size());
            // Given back after every frame: an idle connection keeps no read buffer (the next
            // frame's allocation costs less than the copy this replaced).
            buffer_.shrink_to_fit();

            ctx_.stats.frame_in(out.in_type);
            const bool waits = out.waits();
            apply(std::move(out));
            // While a request waits for Redis the next frame stays unread: answers keep order.
            if (!closing_ && !waits) do_read();
        });
    }

    // Queues the frames, then closes or starts the session request.
    void apply(logic_output out) {
        for (auto& f : out.frames)
            enqueue(std::move(f));
        if (out.close) {
            start_close(*out.close, std::move(out.close_reason));
            return;
        }
        if (out.session) start_session(std::move(*out.session));
        if (out.account) start_account(*out.account);
        if (out.service) start_service(std::move(*out.service));
    }

    void start_service(service_request request) {
        auto done = [self = this->shared_from_this()](service_answer a) {
            net::post(self->ws_.get_executor(), [self, a = std::move(a)]() mutable {
                self->guarded([&] { self->on_service(std::move(a)); });
            });
        };
        if (!ctx_.services) {
            service_answer a;
            a.frames.push_back(make_error_frame(request.id, protocol::error_code::unavailable,
                                                "not implemented yet"));
            done(std::move(a));
            return;
        }
        request.conn = id_;
        ctx_.services->handle(std::move(request), std::move(done));
    }

    void on_service(service_answer a) {
        if (closing_ || finished_) return;
        std::function<void(std::function<void(service_answer)>)> more;
        more.swap(a.more);
        const bool partial = static_cast<bool>(more);
        auto out = logic_.on_service_result(std::move(a), partial);
        if (!partial && !pacing_) {
            apply(std::move(out));
            if (!closing_) do_read();
            return;
        }
        // A paced answer: its frames join the queue as it drains (pump), so an answer of
        // any length fits the outbound budget, in order, behind the parts before it.
        if (out.close) {
            for (auto& f : paced_)
                enqueue(std::move(f));
            paced_.clear();
            pacing_ = false;
            apply(std::move(out));
            return;
        }
        pacing_ = true;
        for (auto& f : out.frames)
            paced_.push_back(std::move(f));
        more_ = std::move(more);
        pump();
    }

    // Moves paced frames into the outbound queue while it is below the low-water mark, asks
    // for the next part once they are all queued, and reads again after the last part.
    void pump() {
        if (!pacing_ || closing_ || finished_ || fetching_more_) return;
        const std::size_t low_water = ctx_.cfg.limits.outbound_queue_bytes / 2;
        while (!paced_.empty() &&
               (queued_bytes_ == 0 || queued_bytes_ + paced_.front().text.size() <= low_water)) {
            auto f = std::move(paced_.front());
            paced_.pop_front();
            enqueue(std::move(f));
            if (closing_ || finished_) return;
        }
        if (!paced_.empty()) return; // on_write calls again
        if (more_) {
            if (queued_bytes_ > low_water) return;
            auto more = std::move(more_);
            more_ = nullptr;
            fetching_more_ = true;
            more([self = this->shared_from_this()](service_answer a) {
                net::post(self->ws_.get_executor(), [self, a = std::move(a)]() mutable {
                    self->guarded([&] {
                        self->fetching_more_ = false;
                        self->on_service(std::move(a));
                    });
                });
            });
            return;
        }
        pacing_ = false;
        do_read();
    }

    void start_account(const account_request& request) {
        auto done = [self = this->shared_from_this()](account_result r) {
            // Account handlers run on the Redis client's strand: come back to ours.
            net::post(self->ws_.get_executor(), [self, r = std::move(r)]() mutable {
                self->guarded([&] { self->on_account(std::move(r)); });
            });
        };
        const auto& staff = logic_.staff();
        if (!ctx_.accounts || !staff) {
            done(account_result{account_result::status::unavailable, std::nullopt});
            return;
        }
        if (request.what == account_request::kind::register_identity) {
            ctx_.accounts->register_identity(
                staff->username, request.identity_key,
                [done](boost::system::error_code ec) { done(register_identity_result(ec)); });
        } else {
            ctx_.accounts->lookup_hash(
                staff->token_hash, [done](boost::system::error_code ec, accounts::token_info info) {
                    done(load_identity_result(ec, info));
                });
        }
    }

    void on_account(account_result r) {
        if (closing_ || finished_) return;
        auto out = logic_.on_account_result(r);
        const bool waits = out.waits(); // verified prekeys go on to be stored
        apply(std::move(out));
        if (!closing_ && !waits) do_read();
    }

    void start_session(session_request request) {
        auto done = [self = this->shared_from_this(),
                     resumed = request.what == session_request::kind::resume](session_result r) {
            // Session handlers run on the Redis client's strand: come back to ours.
            net::post(self->ws_.get_executor(), [self, resumed, r = std::move(r)]() mutable {
                self->guarded([&] { self->on_session(std::move(r), resumed); });
            });
        };
        if (request.what == session_request::kind::create && request.role != protocol::role::seeker)
            ctx_.sessions.create_staff(request.role, std::move(request.token), id_,
                                       std::move(done));
        else if (request.what == session_request::kind::create)
            ctx_.sessions.create(request.role, std::move(request.device_id), id_, std::move(done));
        else
            ctx_.sessions.resume(std::move(request.resume_token), std::move(request.device_id), id_,
                                 std::move(done));
    }

    void on_session(session_result r, bool resumed) {
        const bool ok = r.what == session_result::status::ok;
        if (ok && ctx_.conversations_of && !closing_ && !finished_ && !listed_) {
            // The hello answer lists the session's conversations (contract §3): read them
            // first, then come back here with the list.
            listed_ = true;
            const std::string party = r.role == protocol::role::seeker
                                          ? r.session_id
                                          : (r.staff ? r.staff->username : "");
            const auto role = r.role;
            ctx_.conversations_of(
                role, party,
                [self = this->shared_from_this(), resumed,
                 r = std::move(r)](std::vector<protocol::conversation_summary> list) mutable {
                    r.conversations = std::move(list);
                    net::post(self->ws_.get_executor(),
                              [self, resumed, r = std::move(r)]() mutable {
                                  self->guarded([&] { self->on_session(std::move(r), resumed); });
                              });
                });
            return;
        }
        listed_ = false;
        if (closing_ || finished_) {
            // The connection went away while Redis answered: let the session's grace start.
            if (ok) ctx_.sessions.release(r.session_id, id_);
            return;
        }
        if (ok) {
            session_id_ = r.session_id;
            ctx_.connections.set_session(id_, session_id_);
            if (counted_role_ < 0) {
                counted_role_ = static_cast<int>(r.role);
                ctx_.stats.session_role_opened(counted_role_);
            }
            if (ctx_.services) ctx_.services->session_opened(session_id_, r.role, r.staff);
            if (r.staff) {
                // From now on revocation notices, the re-check and expiry can reach us.
                ctx_.connections.set_staff(id_, *r.staff);
                spdlog::info("event=session_{} conn={} session={} role={} user={}",
                             resumed ? "resume" : "open", id_, short_id(session_id_),
                             protocol::to_string(r.role), r.staff->username);
            } else {
                spdlog::info("event=session_{} conn={} session={} role={}",
                             resumed ? "resume" : "open", id_, short_id(session_id_),
                             protocol::to_string(r.role));
            }
        } else {
            spdlog::info("event=hello_failed conn={} reason={}", id_, failure_reason(r.what));
        }
        apply(logic_.on_session_result(r));
        if (!closing_) do_read();
    }

    void enqueue(outbound_frame frame) {
        if (closing_ || finished_) return;
        if (queued_bytes_ + frame.text.size() > ctx_.cfg.limits.outbound_queue_bytes) {
            // A peer that does not read: close rather than buffer without bound. Anything it
            // missed is stored in Redis and comes back with sync.
            spdlog::warn("event=ws_slow_consumer conn={} queued_bytes={}", id_, queued_bytes_);
            abort_connection();
            return;
        }
        ctx_.stats.frame_out(frame.type);
        if (frame.error_code) ctx_.stats.error_sent(*frame.error_code);
        queued_bytes_ += frame.text.size();
        queue_.push_back(std::move(frame.text));
        if (!writing_) do_write();
    }

    void do_write() {
        writing_ = true;
        // The frame being written lives in its own member: the queue's storage may move
        // while the write is outstanding.
        writing_text_ = std::move(queue_.front());
        queue_.pop_front();
        ws_.text(true);
        ws_.async_write(
            net::buffer(writing_text_),
            beast::bind_front_handler(&websocket_session::on_write, this->shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        guarded([&] {
            writing_ = false;
            if (ec) {
                finish(ec);
                return;
            }
            queued_bytes_ -= writing_text_.size();
            writing_text_ = std::string();
            if (!queue_.empty())
                do_write();
            else if (closing_)
                do_close();
            pump();
        });
    }

    // Close after the frames already queued. A read may still be outstanding: Beast allows a
    // close alongside it, and the read then ends with `closed` or `operation_aborted`.
    void start_close(std::uint16_t code, std::string reason) {
        if (closing_ || finished_ || !accepted_) return;
        closing_ = true;
        close_code_ = code;
        close_reason_ = std::move(reason);
        if (!writing_) do_close();
    }

    void do_close() {
        if (close_started_) return;
        close_started_ = true;
        websocket::close_reason reason;
        reason.code = close_code_;
        // The close frame's reason is limited to 123 bytes; ours are short constants.
        reason.reason.assign(close_reason_.data(),
                             std::min(close_reason_.size(), reason.reason.max_size()));
        ws_.async_close(reason, beast::bind_front_handler(&websocket_session::on_close,
                                                          this->shared_from_this()));
    }

    void on_close(beast::error_code ec) {
        guarded([&] { finish(ec); });
    }

    void abort_connection() {
        closing_ = true;
        close_started_ = true;
        if (!close_code_) close_code_ = 1006; // abnormal: no close frame was exchanged
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
        finish({});
    }

    // Runs once, when the connection is over for whatever reason.
    void finish(beast::error_code ec) {
        if (finished_) return;
        finished_ = true;
        if (!accepted_) return;
        std::uint16_t code = close_code_;
        if (!code) {
            if (ec == websocket::error::closed)
                code = ws_.reason().code; // the peer closed
            else if (ec == websocket::error::message_too_big)
                code = close_codes::too_big; // Beast sent 1009
            else if (ec == websocket::error::bad_frame_payload)
                code = close_codes::bad_payload; // Beast sent 1007
            // Unmasked or reserved-bit frames, bad opcodes, fragmented or oversized control
            // frames, invalid close codes: Beast sent 1002. Counted as 1006 before, which hid
            // hostile clients among dropped ones (tests/reliability/frames_test.cpp).
            else if (ec == websocket::condition::protocol_violation)
                code = close_codes::protocol_error;
            else
                code = 1006;
        }
        ctx_.connections.remove(id_);
        ctx_.stats.connection_closed();
        ctx_.stats.ws_closed(code);
        if (counted_role_ >= 0) ctx_.stats.session_role_closed(counted_role_);
        counted_role_ = -1;
        const char* by = close_code_                      ? "server"
                         : ec == websocket::error::closed ? "peer"
                         : code == 1006                   ? "network"
                                                          : "server";
        spdlog::info("event=ws_close conn={} code={} by={}", id_, code, by);
        if (!session_id_.empty() && !taken_over_) {
            ctx_.sessions.release(session_id_, id_);
            if (ctx_.services) ctx_.services->connection_closed(session_id_);
        }
        queue_.clear();
        queued_bytes_ = 0;
        paced_.clear();
        more_ = nullptr;
    }

    websocket::stream<Stream> ws_;
    server_context& ctx_;
    const std::uint64_t id_;
    connection_logic logic_;
    std::optional<http::request<http::string_body>> upgrade_request_;
    beast::flat_buffer buffer_;
    fifo<std::string> queue_; // waiting frames, not counting the one being written
    std::string writing_text_;
    std::size_t queued_bytes_ = 0;
    // A paced service answer (see service_answer::more): frames not yet queued, the call for
    // the next part, whether that part is being fetched.
    fifo<outbound_frame> paced_;
    std::function<void(std::function<void(service_answer)>)> more_;
    bool pacing_ = false;
    bool fetching_more_ = false;
    bool writing_ = false;
    bool accepted_ = false;
    bool closing_ = false;       // no more reads or frames; close once the queue drains
    bool close_started_ = false; // async_close issued (or the socket was closed)
    bool finished_ = false;
    bool taken_over_ = false;
    bool listed_ = false;          // the session result being handled has its conversation list
    std::uint16_t close_code_ = 0; // set when the server closes
    std::string close_reason_;
    std::string session_id_;
    int counted_role_ = -1; // the role kindred_sessions counts this connection under
};

} // namespace
} // namespace kindred::server::detail
