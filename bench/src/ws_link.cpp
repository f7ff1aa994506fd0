// ws_link.cpp — the asynchronous WebSocket client connection; see ws_link.hpp.
#include "ws_link.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <deque>

// Linux: bind() picks no port until connect(), so the 4-tuple (not the source address alone)
// must be unique. Without it every bound socket takes one of ~28k ephemeral ports of the
// whole machine, whatever its source address.
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace kindred::bench {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

struct ws_link::impl {
    explicit impl(net::io_context& io)
        : ws(io) {}
    websocket::stream<tcp::socket> ws;
    beast::flat_buffer read_buffer;
    std::deque<std::string> queue; // front() is being written while writing_
    ws_target target;
};

ws_link::ws_link(net::io_context& io, callbacks cb)
    : impl_(std::make_unique<impl>(io))
    , cb_(std::move(cb)) {}

ws_link::~ws_link() = default;

void ws_link::start(const ws_target& target, std::optional<net::ip::address_v4> source) {
    impl_->target = target;
    auto& sock = impl_->ws.next_layer();
    error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec && source) {
        int one = 1;
        ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sock.bind(tcp::endpoint(*source, 0), ec);
    }
    if (ec) {
        // Reported from the io_context, never from inside start(): callers may hold locks.
        net::post(sock.get_executor(), [self = shared_from_this(), ec] { self->fail(ec); });
        return;
    }
    sock.async_connect(target.server,
                       [self = shared_from_this()](error_code e) { self->on_connect(e); });
}

void ws_link::on_connect(error_code ec) {
    if (dead_) return;
    if (ec) return fail(ec);
    auto& ws = impl_->ws;
    ws.next_layer().set_option(tcp::no_delay(true), ec);
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(30);
    t.idle_timeout = websocket::stream_base::none(); // the server pings; Beast answers
    t.keep_alive_pings = false;
    ws.set_option(t);
    ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, "kindred-bench");
    }));
    ws.read_message_max(1 << 20);
    ws.text(true);
    ws.async_handshake(impl_->target.host_header, impl_->target.path,
                       [self = shared_from_this()](error_code e) { self->on_handshake(e); });
}

void ws_link::on_handshake(error_code ec) {
    if (dead_) return;
    if (ec) return fail(ec);
    open_ = true;
    do_read();
    if (cb_.on_open) cb_.on_open();
    if (!dead_ && !writing_ && !impl_->queue.empty()) do_write();
}

void ws_link::do_read() {
    impl_->ws.async_read(impl_->read_buffer, [self = shared_from_this()](
                                                 error_code e, std::size_t) { self->on_read(e); });
}

void ws_link::on_read(error_code ec) {
    if (dead_) return;
    if (ec) return fail(ec);
    auto& buf = impl_->read_buffer;
    // flat_buffer is contiguous: hand out a view and consume it afterwards (no copy).
    std::string_view text(static_cast<const char*>(buf.data().data()), buf.size());
    if (impl_->ws.got_text() && cb_.on_text) cb_.on_text(text);
    buf.consume(buf.size());
    if (!dead_) do_read();
}

void ws_link::send(std::string text) {
    if (dead_) return;
    impl_->queue.push_back(std::move(text));
    if (open_ && !writing_) do_write();
}

void ws_link::do_write() {
    // Only one async_write may be outstanding on a websocket stream.
    writing_ = true;
    impl_->ws.async_write(
        net::buffer(impl_->queue.front()),
        [self = shared_from_this()](error_code e, std::size_t) { self->on_write(e); });
}

void ws_link::on_write(error_code ec) {
    writing_ = false;
    if (dead_) return;
    if (ec) return fail(ec);
    impl_->queue.pop_front();
    if (!impl_->queue.empty()) do_write();
}

void ws_link::fail(error_code ec) {
    if (dead_) return;
    dead_ = true;
    open_ = false;
    error_code ignored;
    impl_->ws.next_layer().close(ignored);
    if (cb_.on_closed) cb_.on_closed(ec);
}

void ws_link::abort() {
    if (dead_) return;
    dead_ = true;
    open_ = false;
    error_code ignored;
    // Pending operations complete with operation_aborted and find dead_ set. The callbacks
    // are kept: abort() may run inside one of them.
    impl_->ws.next_layer().close(ignored);
}

} // namespace kindred::bench
