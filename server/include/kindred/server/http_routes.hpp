// http_routes.hpp — what each HTTP request gets, decided without I/O: method + target (+ is it
// a WebSocket upgrade) → a response description or "hand over to the WebSocket session".
// http_session.cpp turns the description into a Beast response.
// Threading: an http_routes is immutable after construction apart from what it reads through
// metrics and the readiness callback (both thread-safe); route() is safe from any thread.
#pragma once

#include <kindred/server/config.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kindred::server {

class metrics;

struct http_response_spec {
    unsigned status = 200;
    std::string content_type;
    std::string body;                          // used when file is empty
    std::optional<std::filesystem::path> file; // a static file to send instead of body
    std::vector<std::pair<std::string, std::string>> headers; // extra: Allow, Upgrade, ...
};

struct route_result {
    bool websocket = false; // true: accept the upgrade (after the Origin check)
    http_response_spec response;
};

// {"error": code, "message": message} with Content-Type application/json.
http_response_spec error_response(unsigned status, std::string_view code, std::string_view message);

// The /v1/config body for cfg.
std::string client_config_json(const config& cfg);

// A handshake without Origin (not a browser) is allowed. With one, it must be in
// allowed_origins; in dev mode "http://<host>" and "https://<host>" are allowed too.
bool origin_allowed(std::optional<std::string_view> origin, std::string_view host,
                    const config& cfg);

class http_routes {
public:
    // web_root: canonical folder, or empty when none is served.
    http_routes(const config& cfg, std::filesystem::path web_root, const metrics& m,
                std::function<bool()> ready);

    // method is the request method text ("GET", "HEAD", ...). HEAD is answered like GET; the
    // caller drops the body and keeps Content-Length.
    route_result route(std::string_view method, std::string_view target, bool is_upgrade) const;

private:
    std::filesystem::path web_root_;
    const metrics& metrics_;
    std::function<bool()> ready_;
    std::string client_config_;
};

} // namespace kindred::server
