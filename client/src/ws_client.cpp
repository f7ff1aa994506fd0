// ws_client.cpp — the blocking WebSocket client over Beast; see ws_client.hpp.
// Every public call starts at most one async operation on the private io_context and runs
// that io_context until the operation completes or the call's deadline passes. A read that
// times out stays pending (its result is kept for the next receive()), so a timeout never
// loses a frame and never leaves the stream in an undefined state.
#include <kindred/client/ws_client.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <deque>
#include <optional>
#include <stdexcept>

namespace kindred::client {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;

struct ws_client::impl {
    net::io_context ioc;
    websocket::stream<beast::tcp_stream> ws{ioc};
    beast::flat_buffer read_buffer;
    bool connected = false;
    bool read_pending = false;
    std::deque<ws_frame> ready;       // completed messages not yet returned by receive()
    std::optional<ws_frame> terminal; // a close or an error: every later receive() returns it

    // Runs the io_context until done() or the deadline; returns done().
    template <class Done>
    bool run_until(Done done, clock_type::time_point deadline) {
        while (!done()) {
            if (ioc.stopped()) ioc.restart();
            // 0 means the deadline passed or there is no work left; either way, stop waiting.
            if (ioc.run_one_until(deadline) == 0) return done();
        }
        return true;
    }

    void start_read() {
        read_pending = true;
        ws.async_read(read_buffer, [this](error_code ec, std::size_t) {
            read_pending = false;
            ws_frame f;
            if (!ec) {
                f.type = ws.got_text() ? ws_frame::kind::text : ws_frame::kind::binary;
                f.text = beast::buffers_to_string(read_buffer.data());
                read_buffer.consume(read_buffer.size());
                ready.push_back(std::move(f));
                return;
            }
            // A close frame arrived (reason().code is set) even when tearing the TCP
            // connection down afterwards failed, e.g. because the server reset it: the
            // close code is what the peer said, so report the close.
            if (ec == websocket::error::closed || ws.reason().code != websocket::close_code::none) {
                f.type = ws_frame::kind::close;
                f.close_code = ws.reason().code;
                f.close_reason = std::string(ws.reason().reason.data(), ws.reason().reason.size());
                if (ec != websocket::error::closed) f.ec = ec;
            } else {
                f.type = ws_frame::kind::error;
                f.ec = ec;
            }
            terminal = std::move(f);
        });
    }

    // Aborts the connection after an operation overran its deadline, and waits for the
    // aborted operations' handlers, which reference caller-owned buffers, to finish.
    void abort(bool& done) {
        error_code ignored;
        beast::get_lowest_layer(ws).socket().close(ignored);
        run_until([&] { return done && !read_pending; },
                  clock_type::now() + std::chrono::seconds(5));
        if (!terminal) {
            ws_frame f;
            f.type = ws_frame::kind::error;
            f.ec = net::error::timed_out;
            terminal = std::move(f);
        }
    }

    error_code send(std::string_view payload, bool binary, std::chrono::milliseconds timeout) {
        if (!connected) return net::error::not_connected;
        if (terminal) return terminal->ec ? terminal->ec : error_code(net::error::not_connected);
        bool done = false;
        error_code result;
        ws.binary(binary);
        ws.async_write(net::buffer(payload.data(), payload.size()),
                       [&](error_code ec, std::size_t) {
                           result = ec;
                           done = true;
                       });
        if (!run_until([&] { return done; }, clock_type::now() + timeout)) {
            abort(done);
            return net::error::timed_out;
        }
        return result;
    }
};

std::string describe(const ws_frame& frame) {
    switch (frame.type) {
    case ws_frame::kind::text:
        return "text " + frame.text;
    case ws_frame::kind::binary:
        return "binary (" + std::to_string(frame.text.size()) + " bytes)";
    case ws_frame::kind::close:
        return "close " + std::to_string(frame.close_code) + " '" + frame.close_reason + "'";
    case ws_frame::kind::timeout:
        return "timeout";
    case ws_frame::kind::error:
        return "error " + frame.ec.message();
    }
    return "?";
}

ws_client::ws_client()
    : impl_(std::make_unique<impl>()) {}
ws_client::~ws_client() = default;
ws_client::ws_client(ws_client&&) noexcept = default;
ws_client& ws_client::operator=(ws_client&&) noexcept = default;

bool ws_client::is_open() const {
    return impl_ && impl_->connected && !impl_->terminal;
}

connect_result ws_client::connect(const ws_options& options) {
    connect_result out;
    auto& s = *impl_;
    if (s.connected) {
        out.ec = net::error::already_connected;
        return out;
    }
    const auto deadline = clock_type::now() + options.timeout;
    // tcp_stream's own timer bounds connect and the upgrade; run_until gets a little slack so
    // the operation reports beast::error::timeout itself.
    const auto slack = deadline + std::chrono::seconds(1);

    tcp::resolver resolver(s.ioc);
    error_code ec;
    auto endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec) {
        out.ec = ec;
        return out;
    }
    auto& tcp_layer = beast::get_lowest_layer(s.ws);
    tcp_layer.expires_after(options.timeout);
    bool done = false;
    tcp_layer.async_connect(endpoints, [&](error_code e, const tcp::endpoint&) {
        ec = e;
        done = true;
    });
    if (!s.run_until([&] { return done; }, slack)) {
        s.abort(done);
        out.ec = net::error::timed_out;
        return out;
    }
    if (ec) {
        out.ec = ec;
        return out;
    }
    // Chat frames are small and interactive: without this, Nagle holds each frame written
    // while an earlier one is unacknowledged for a whole round trip (seconds on a slow link).
    error_code nodelay_ec;
    tcp_layer.socket().set_option(tcp::no_delay(true), nodelay_ec);

    s.ws.read_message_max(options.read_message_max);
    s.ws.auto_fragment(false); // one frame per message, so frame limits are tested as sent
    header_list headers = options.headers;
    s.ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, "kindred-client");
        for (auto& [name, value] : headers)
            req.set(name, value);
    }));
    websocket::response_type res;
    done = false;
    const std::string host = options.host + ":" + std::to_string(options.port);
    s.ws.async_handshake(res, host, options.target, [&](error_code e) {
        ec = e;
        done = true;
    });
    if (!s.run_until([&] { return done; }, slack)) {
        s.abort(done);
        out.ec = net::error::timed_out;
        return out;
    }
    out.http_status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (auto& field : res)
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    if (ec) {
        out.ec = ec;
        error_code ignored;
        tcp_layer.socket().close(ignored);
        return out;
    }
    // From here on the websocket stream owns timeouts; the raw stream timer must be off.
    tcp_layer.expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = options.timeout; // bounds close()
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    s.ws.set_option(t);
    s.connected = true;
    return out;
}

ws_client ws_client::open(unsigned short port, header_list headers,
                          std::chrono::milliseconds timeout) {
    ws_client c;
    ws_options o;
    o.port = port;
    o.headers = std::move(headers);
    o.timeout = timeout;
    auto r = c.connect(o);
    if (!r.ok())
        throw std::runtime_error("ws connect to port " + std::to_string(port) +
                                 " failed: " + r.ec.message() + " (HTTP " +
                                 std::to_string(r.http_status) + ") " + r.body);
    return c;
}

error_code ws_client::send_text(std::string_view payload, std::chrono::milliseconds timeout) {
    return impl_->send(payload, false, timeout);
}

error_code ws_client::send_binary(std::string_view payload, std::chrono::milliseconds timeout) {
    return impl_->send(payload, true, timeout);
}

ws_frame ws_client::receive(std::chrono::milliseconds timeout) {
    auto& s = *impl_;
    auto pop = [&] {
        ws_frame f = std::move(s.ready.front());
        s.ready.pop_front();
        return f;
    };
    if (!s.ready.empty()) return pop();
    if (s.terminal) return *s.terminal;
    if (!s.connected) {
        ws_frame f;
        f.type = ws_frame::kind::error;
        f.ec = net::error::not_connected;
        return f;
    }
    if (!s.read_pending) s.start_read();
    s.run_until([&] { return !s.ready.empty() || s.terminal.has_value(); },
                clock_type::now() + timeout);
    if (!s.ready.empty()) return pop();
    if (s.terminal) return *s.terminal;
    return ws_frame{}; // timeout; the read stays pending
}

std::vector<ws_frame> ws_client::request(std::string_view json_text,
                                         std::chrono::milliseconds timeout) {
    std::vector<ws_frame> frames;
    const auto deadline = clock_type::now() + timeout;
    std::optional<std::string> id;
    error_code ec;
    auto parsed = boost::json::parse(json_text, ec);
    if (!ec && parsed.is_object())
        if (auto* v = parsed.as_object().if_contains("id"); v && v->is_string())
            id = std::string(v->get_string());

    if (auto e = send_text(json_text, timeout)) {
        ws_frame f;
        f.type = ws_frame::kind::error;
        f.ec = e;
        frames.push_back(std::move(f));
        return frames;
    }
    for (;;) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        ws_frame f = receive(std::max(left, std::chrono::milliseconds(0)));
        const bool text = f.is_text();
        bool matched = false;
        if (text && id) {
            error_code pe;
            auto v = boost::json::parse(f.text, pe);
            if (!pe && v.is_object())
                if (auto* re = v.as_object().if_contains("re"); re && re->is_string())
                    matched = re->get_string() == *id;
        }
        frames.push_back(std::move(f));
        // Without an id there is nothing to match: the first frame is the answer.
        if (!text || matched || !id) return frames;
    }
}

error_code ws_client::close(std::uint16_t code, std::string_view reason,
                            std::chrono::milliseconds timeout) {
    auto& s = *impl_;
    if (!s.connected) return net::error::not_connected;
    if (s.terminal) return {};
    bool done = false;
    error_code result;
    websocket::close_reason cr(code);
    auto r = reason.substr(0, cr.reason.max_size());
    cr.reason.assign(r.data(), r.size());
    s.ws.async_close(cr, [&](error_code ec) {
        result = ec;
        done = true;
    });
    if (!s.run_until([&] { return done && !s.read_pending; }, clock_type::now() + timeout)) {
        s.abort(done);
        return net::error::timed_out;
    }
    if (!s.terminal) {
        ws_frame f;
        f.type = ws_frame::kind::close;
        f.close_code = s.ws.reason().code;
        f.close_reason = std::string(s.ws.reason().reason.data(), s.ws.reason().reason.size());
        s.terminal = std::move(f);
    }
    return result;
}

} // namespace kindred::client
