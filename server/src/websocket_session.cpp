// websocket_session.cpp — one accepted WebSocket connection: reads text frames, runs them
// through connection_logic, writes the answers through a bounded outbound queue.
// Lifetime: kept alive by its pending handlers (shared_from_this); the registry holds a weak
// reference only.
// Threading: every member runs on the connection's strand (the stream's executor); close(),
// taken_over() and token_dead() may be called from any thread and post to it. One read and at
// most one write (or the close) are outstanding at a time; while a session or account request
// is pending nothing more is read.
#include "websocket_session_impl.hpp"

namespace kindred::server::detail {

void run_websocket_session(beast::tcp_stream stream, http::request<http::string_body> request,
                           server_context& ctx) {
    std::make_shared<websocket_session<beast::tcp_stream>>(std::move(stream), ctx)
        ->run(std::move(request));
}

} // namespace kindred::server::detail
