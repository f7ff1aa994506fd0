// net_sessions.hpp — private hand-offs between the Beast translation units: the listener
// starts an HTTP session; an HTTP session that accepts an upgrade starts a WebSocket session.
// Included only by listener.cpp, http_session.cpp and websocket_session.cpp.
#pragma once

#include <kindred/server/server_context.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace kindred::server::detail {

// The socket's executor must be a strand: every handler of the session runs on it.
void run_http_session(boost::asio::ip::tcp::socket socket, server_context& ctx);

// Takes over a stream whose upgrade request was read and allowed (Origin checked).
void run_websocket_session(boost::beast::tcp_stream stream,
                           boost::beast::http::request<boost::beast::http::string_body> request,
                           server_context& ctx);

} // namespace kindred::server::detail
