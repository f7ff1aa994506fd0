// net_sessions.hpp — private hand-offs between the Beast translation units: the listener
// starts an HTTP session; an HTTP session that accepts an upgrade starts a WebSocket session.
// Included only by listener.cpp, http_session.cpp, websocket_session.cpp and
// websocket_session_tls.cpp; OpenSSL's headers only by listener, http_session and the TLS one.
#pragma once

#include <kindred/server/server_context.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

// Declared only: the TLS types (and OpenSSL's headers) stay out of the plain TUs.
namespace boost::asio::ssl {
class context;
}
namespace boost::beast {
template <class NextLayer>
class ssl_stream;
}

namespace kindred::server::detail {

// The socket's executor must be a strand: every handler of the session runs on it.
void run_http_session(boost::asio::ip::tcp::socket socket, server_context& ctx);
// The same over TLS (--tls-cert): handshake first; plain text is refused with a plain 400.
void run_https_session(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& ssl,
                       server_context& ctx);

// Takes over a stream whose upgrade request was read and allowed (Origin checked).
void run_websocket_session(boost::beast::tcp_stream stream,
                           boost::beast::http::request<boost::beast::http::string_body> request,
                           server_context& ctx);
void run_websocket_session(boost::beast::ssl_stream<boost::beast::tcp_stream> stream,
                           boost::beast::http::request<boost::beast::http::string_body> request,
                           server_context& ctx);

} // namespace kindred::server::detail
