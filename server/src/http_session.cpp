// http_session.cpp — one HTTP/1.1 connection: reads a request (headers ≤ 8 KiB, body ≤ 4 KiB),
// answers it from http_routes (or, for login/logout, from auth_service, asynchronously), and
// either keeps the connection for the next request or hands it to a WebSocket session on an
// allowed upgrade. The client address goes to the login limiter only; it is never logged.
// With TLS (--tls-cert) the same template runs over beast::ssl_stream: the first bytes are
// checked for a TLS handshake, and plain text gets a plain 400 and the connection closed.
// Lifetime: kept alive by its pending handlers (shared_from_this).
// Threading: every member runs on the connection's strand (the socket's executor). One
// request is read, answered and written at a time (no pipelining).
#include "net_sessions.hpp"
#include <kindred/server/auth_service.hpp>
#include <kindred/server/http_routes.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_generator.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <type_traits>

namespace kindred::server::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {

constexpr std::uint32_t header_limit_bytes = 8 * 1024;
// Only the auth routes take a body, and a small one.
constexpr std::uint64_t body_limit_bytes = max_request_body_bytes;

bool is_http_parse_error(const beast::error_code& ec) {
    return ec.category() == beast::error_code(http::error::bad_method).category();
}

using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// The plain-text answer on a TLS port (written without TLS, then the connection closes).
const std::string& plaintext_refusal() {
    static const std::string text = [] {
        const std::string body = R"({"error":"bad_message","message":"this port speaks TLS only"})";
        return "HTTP/1.1 400 Bad Request\r\nServer: kindred\r\nContent-Type: application/json\r\n"
               "Content-Length: " +
               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    }();
    return text;
}

// Stream: beast::tcp_stream (plain) or tls_stream. Instantiated for both, in this TU only.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
    static constexpr bool tls = std::is_same_v<Stream, tls_stream>;

public:
    http_session(net::ip::tcp::socket&& socket, server_context& ctx) requires(!tls)
        : stream_(std::move(socket))
        , ctx_(ctx) {}
    http_session(net::ip::tcp::socket&& socket, net::ssl::context& ssl,
                 server_context& ctx) requires tls : stream_(std::move(socket), ssl),
                                                     ctx_(ctx) {}

    void run() {
        if constexpr (tls)
            net::dispatch(
                stream_.get_executor(),
                beast::bind_front_handler(&http_session::detect, this->shared_from_this()));
        else
            net::dispatch(
                stream_.get_executor(),
                beast::bind_front_handler(&http_session::do_read, this->shared_from_this()));
    }

private:
    auto& tcp() { return beast::get_lowest_layer(stream_); }

    // TLS: is the first record a TLS handshake? Plain text gets a plain 400 (a browser or
    // proxy configured for http:// sees why), then the handshake with what was read.
    void detect() {
        guarded([&] {
            tcp().expires_after(std::chrono::seconds(ctx_.cfg.limits.handshake_timeout_s));
            beast::async_detect_ssl(
                tcp(), buffer_,
                beast::bind_front_handler(&http_session::on_detect, this->shared_from_this()));
        });
    }

    void on_detect(beast::error_code ec, bool is_tls) {
        guarded([&] {
            if (ec) return; // closed or timed out before a byte: nothing to answer
            if (!is_tls) {
                spdlog::info("event=tls_plaintext_refused");
                ctx_.stats.http_response(400);
                net::async_write(tcp(), net::buffer(plaintext_refusal()),
                                 [self = this->shared_from_this()](beast::error_code, std::size_t) {
                                     beast::error_code ignored;
                                     self->tcp().socket().shutdown(
                                         net::ip::tcp::socket::shutdown_both, ignored);
                                     self->tcp().socket().close(ignored);
                                 });
                return;
            }
            if constexpr (tls)
                stream_.async_handshake(net::ssl::stream_base::server, buffer_.data(),
                                        beast::bind_front_handler(&http_session::on_handshake,
                                                                  this->shared_from_this()));
        });
    }

    void on_handshake(beast::error_code ec, std::size_t used) {
        guarded([&] {
            if (ec) {
                // Bad client hello, old protocol, no shared cipher: the client sees the alert.
                spdlog::debug("event=tls_handshake_failed error=\"{}\"", ec.message());
                return;
            }
            buffer_.consume(used);
            do_read();
        });
    }

    template <class F>
    void guarded(F&& f) noexcept {
        try {
            f();
        } catch (const std::exception& e) {
            spdlog::error("event=http_exception what=\"{}\"", e.what());
            beast::error_code ignored;
            tcp().socket().close(ignored);
        } catch (...) {
            spdlog::error("event=http_exception");
            beast::error_code ignored;
            tcp().socket().close(ignored);
        }
    }

    void do_read() {
        guarded([&] {
            parser_.emplace();
            parser_->header_limit(header_limit_bytes);
            parser_->body_limit(body_limit_bytes);
            tcp().expires_after(std::chrono::seconds(ctx_.cfg.limits.handshake_timeout_s));
            http::async_read(
                stream_, buffer_, *parser_,
                beast::bind_front_handler(&http_session::on_read, this->shared_from_this()));
        });
    }

    void on_read(beast::error_code ec, std::size_t) {
        guarded([&] {
            if (ec == http::error::end_of_stream) return shutdown();
            if (ec == http::error::header_limit)
                return send(error_response(431, "too_large", "request headers over 8 KiB"), 11,
                            false, false);
            if (ec == http::error::body_limit)
                return send(error_response(413, "too_large", "request body too large"), 11, false,
                            false);
            if (is_http_parse_error(ec))
                return send(error_response(400, "bad_message", "malformed HTTP request"), 11, false,
                            false);
            if (ec) return; // timeout, reset: nothing to answer; the socket closes with us
            handle(parser_->release());
        });
    }

    void handle(http::request<http::string_body> req) {
        const bool upgrade = websocket::is_upgrade(req);
        std::optional<std::string_view> authorization;
        if (auto it = req.find(http::field::authorization); it != req.end())
            authorization = it->value();
        std::optional<std::string_view> if_none_match;
        if (auto it = req.find(http::field::if_none_match); it != req.end())
            if_none_match = it->value();
        std::optional<std::string_view> accept_encoding;
        if (auto it = req.find(http::field::accept_encoding); it != req.end())
            accept_encoding = it->value();
        auto route = ctx_.routes.route(http_request_view{req.method_string(), req.target(), upgrade,
                                                         req.body(), authorization, if_none_match,
                                                         accept_encoding});
        const bool head = req.method() == http::verb::head;
        const bool keep_alive = req.keep_alive() && !ctx_.draining.load();
        // A login body holds a password: do not leave it in freed memory.
        sodium_memzero(req.body().data(), req.body().size());

        if (route.auth) return start_auth(std::move(*route.auth), req.version(), keep_alive);
        if (route.insights)
            return start_insights(std::move(*route.insights), req.version(), keep_alive, head);

        if (route.websocket) {
            std::optional<std::string_view> origin;
            if (auto it = req.find(http::field::origin); it != req.end()) origin = it->value();
            if (!origin_allowed(origin, req[http::field::host], ctx_.cfg)) {
                spdlog::info("event=ws_rejected reason=origin");
                return send(error_response(403, "forbidden", "origin not allowed"), req.version(),
                            false, false);
            }
            if (ctx_.draining.load()) {
                return send(error_response(503, "unavailable", "server shutting down"),
                            req.version(), false, false);
            }
            // RFC 6455 §4.2.1: the key and version checks Beast leaves out (http_routes.hpp).
            if (auto refusal = websocket_handshake_refusal(req[http::field::sec_websocket_key],
                                                           req[http::field::sec_websocket_version]))
                return send(std::move(*refusal), req.version(), false, false);
            run_websocket_session(std::move(stream_), std::move(req), ctx_);
            return;
        }
        send(std::move(route.response), req.version(), keep_alive, head);
    }

    // Login and logout answer later, from the account store; nothing is read meanwhile.
    void start_auth(auth_action action, unsigned version, bool keep_alive) {
        if (!ctx_.auth)
            return send(error_response(503, "unavailable", "accounts are not available"), version,
                        keep_alive, false);
        auto reply = [self = this->shared_from_this(), version,
                      keep_alive](http_response_spec spec) {
            // auth_service answers on the Redis strand or a hash thread: come back to ours.
            net::post(self->stream_.get_executor(), [self, spec = std::move(spec), version,
                                                     keep_alive]() mutable {
                self->guarded([&] { self->send(std::move(spec), version, keep_alive, false); });
            });
        };
        if (action.what == auth_action::kind::logout)
            return ctx_.auth->logout(std::move(action.token), std::move(reply));
        beast::error_code ec;
        auto endpoint = tcp().socket().remote_endpoint(ec);
        std::string address = ec ? std::string() : endpoint.address().to_string();
        ctx_.auth->login(std::move(action.login), std::move(address), std::move(reply));
    }

    // The admin insights report answers later (token check, then Redis); nothing is read
    // meanwhile.
    void start_insights(insights_action action, unsigned version, bool keep_alive, bool head) {
        if (!ctx_.insights)
            return send(error_response(503, "unavailable", "insights are not available"), version,
                        keep_alive, head);
        ctx_.insights(std::move(action), [self = this->shared_from_this(), version, keep_alive,
                                          head](http_response_spec spec) {
            net::post(self->stream_.get_executor(), [self, spec = std::move(spec), version,
                                                     keep_alive, head]() mutable {
                self->guarded([&] { self->send(std::move(spec), version, keep_alive, head); });
            });
        });
    }

    template <class Body>
    void decorate(http::response<Body>& res, const http_response_spec& spec, bool keep_alive) {
        res.set(http::field::server, "kindred");
        if (!spec.content_type.empty()) res.set(http::field::content_type, spec.content_type);
        res.set("X-Content-Type-Options", "nosniff");
        for (const auto& [name, value] : spec.headers)
            res.set(name, value);
        res.keep_alive(keep_alive);
    }

    void send(http_response_spec spec, unsigned version, bool keep_alive, bool head) {
        if (spec.file) {
            http::file_body::value_type file;
            beast::error_code ec;
            file.open(spec.file->c_str(), beast::file_mode::scan, ec);
            if (ec) {
                spec = error_response(404, "not_found", "no such path");
            } else {
                ctx_.stats.http_response(spec.status);
                const auto size = file.size();
                if (head) {
                    http::response<http::empty_body> res{http::int_to_status(spec.status), version};
                    decorate(res, spec, keep_alive);
                    res.content_length(size);
                    return write(http::message_generator(std::move(res)), keep_alive);
                }
                http::response<http::file_body> res{
                    std::piecewise_construct, std::make_tuple(std::move(file)),
                    std::make_tuple(http::int_to_status(spec.status), version)};
                decorate(res, spec, keep_alive);
                res.content_length(size);
                return write(http::message_generator(std::move(res)), keep_alive);
            }
        }
        ctx_.stats.http_response(spec.status);
        if (head) {
            http::response<http::empty_body> res{http::int_to_status(spec.status), version};
            decorate(res, spec, keep_alive);
            res.content_length(spec.body.size());
            return write(http::message_generator(std::move(res)), keep_alive);
        }
        http::response<http::string_body> res{http::int_to_status(spec.status), version};
        decorate(res, spec, keep_alive);
        res.body() = std::move(spec.body);
        res.prepare_payload();
        write(http::message_generator(std::move(res)), keep_alive);
    }

    void write(http::message_generator msg, bool keep_alive) {
        beast::async_write(stream_, std::move(msg),
                           beast::bind_front_handler(&http_session::on_write,
                                                     this->shared_from_this(), keep_alive));
    }

    void on_write(bool keep_alive, beast::error_code ec, std::size_t) {
        guarded([&] {
            if (ec) return;
            if (!keep_alive) return linger_close();
            do_read();
        });
    }

    void shutdown() {
        beast::error_code ignored;
        if constexpr (tls) {
            // close_notify first, so the client knows the response was complete.
            tcp().expires_after(std::chrono::seconds(2));
            stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
                beast::error_code e;
                self->tcp().socket().shutdown(net::ip::tcp::socket::shutdown_send, e);
            });
            return;
        }
        tcp().socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    }

    // Closing with unread request bytes makes the kernel send a reset, which can destroy the
    // error response before the client reads it (431 after 8 KiB of headers). So: stop
    // sending, then read and discard until the client closes or a short deadline passes.
    void linger_close() {
        if constexpr (tls) return shutdown(); // the TLS close handshake reads for us
        shutdown();
        tcp().expires_after(std::chrono::seconds(2));
        do_drain();
    }

    void do_drain() {
        stream_.async_read_some(
            net::buffer(drain_),
            beast::bind_front_handler(&http_session::on_drain, this->shared_from_this()));
    }

    void on_drain(beast::error_code ec, std::size_t) {
        guarded([&] {
            if (!ec) do_drain();
        });
    }

    Stream stream_;
    server_context& ctx_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::array<char, 1024> drain_{};
};

} // namespace

void run_http_session(net::ip::tcp::socket socket, server_context& ctx) {
    std::make_shared<http_session<beast::tcp_stream>>(std::move(socket), ctx)->run();
}

void run_https_session(net::ip::tcp::socket socket, net::ssl::context& ssl, server_context& ctx) {
    std::make_shared<http_session<tls_stream>>(std::move(socket), ssl, ctx)->run();
}

} // namespace kindred::server::detail
