// server_context.hpp — what every HTTP and WebSocket session of this instance shares.
// Threading: the referenced objects are thread-safe (or immutable); draining is atomic.
// Lifetime: main owns everything referenced here and outlives every session.
#pragma once

#include <kindred/server/config.hpp>
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/http_routes.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/session_service.hpp>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace kindred::accounts {
class account_store;
}

namespace kindred::server {

class auth_service;
class service_router;

struct server_context {
    const config& cfg;
    metrics& stats;
    const http_routes& routes;
    connection_registry& connections;
    session_service& sessions;
    // Set on SIGTERM/SIGINT: no new WebSockets, no HTTP keep-alive.
    std::atomic<bool> draining{false};
    // Staff login/logout (HTTP) and the peers' identity keys (WebSocket). Set by main before
    // the listener starts; null: the auth routes answer 503 and peer requests `unavailable`.
    auth_service* auth = nullptr;
    accounts::account_store* accounts = nullptr;
    // Matching and relay (issue #4). Null: those messages answer `unavailable`.
    service_router* services = nullptr;
    // GET /v1/insights[.csv] (issue #10): answers once, on any thread. Null: 503.
    std::function<void(insights_action, std::function<void(http_response_spec)>)> insights =
        nullptr;
    // The conversations of a party (role, id) for the hello answer; handler on any thread.
    // Null: hello answers an empty list.
    std::function<void(protocol::role, std::string,
                       std::function<void(std::vector<protocol::conversation_summary>)>)>
        conversations_of = nullptr;
};

} // namespace kindred::server
