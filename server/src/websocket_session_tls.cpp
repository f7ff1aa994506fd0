// websocket_session_tls.cpp — the WebSocket session over TLS (--tls-cert): the template of
// websocket_session_impl.hpp instantiated for beast::ssl_stream<beast::tcp_stream>. The only
// WebSocket TU with OpenSSL headers; see websocket_session.cpp for the contract.
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "websocket_session_impl.hpp"

namespace kindred::server::detail {

void run_websocket_session(beast::ssl_stream<beast::tcp_stream> stream,
                           http::request<http::string_body> request, server_context& ctx) {
    std::make_shared<websocket_session<beast::ssl_stream<beast::tcp_stream>>>(std::move(stream),
                                                                             ctx)
        ->run(std::move(request));
}

} // namespace kindred::server::detail
