// http_routes.hpp — what each HTTP request gets, decided without I/O: method + target (+ is it
// a WebSocket upgrade, + body and Authorization for the auth routes) → a response description,
// "hand over to the WebSocket session", or "run this login/logout" (auth_service answers).
// http_session.cpp turns the description into a Beast response.
// Threading: an http_routes is immutable after construction apart from what it reads through
// metrics and the readiness callback (both thread-safe); route() is safe from any thread.
#pragma once

#include <kindred/server/config.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kindred::server {

class metrics;

// The Content-Security-Policy of every static file (the web client, web/README.md).
inline constexpr std::string_view web_csp =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
    "img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'";

struct http_response_spec {
    unsigned status = 200;
    std::string content_type;
    std::string body;                          // used when file is empty
    std::optional<std::filesystem::path> file; // a static file to send instead of body
    std::vector<std::pair<std::string, std::string>> headers; // extra: Allow, Upgrade, ...
};

// Every request body is limited to this (only the auth routes take one): larger → 413.
inline constexpr std::uint64_t max_request_body_bytes = 4096;

// POST /v1/auth/login's body. The password is a secret: never log it, wipe it when done.
struct login_request {
    std::string username;
    std::string password;
};

// Work for auth_service: the response comes asynchronously.
struct auth_action {
    enum class kind { login, logout };
    kind what = kind::login;
    login_request login; // login
    std::string token;   // logout: the bearer token; never log it
};

// GET /v1/insights[.csv] (admins): the report query, checked; the bearer token to check.
struct insights_action {
    std::string token; // never log it
    std::string query; // the raw request target, parsed again by the handler's owner
    bool csv = false;
};

struct route_result {
    bool websocket = false; // true: accept the upgrade (after the Origin check)
    http_response_spec response;
    std::optional<auth_action> auth;         // set: auth_service answers instead of `response`
    std::optional<insights_action> insights; // set: the insights handler answers instead
};

// What route() reads of a request.
struct http_request_view {
    std::string_view method; // "GET", "HEAD", "POST", ...
    std::string_view target; // the raw request target
    bool is_upgrade = false;
    std::string_view body;
    std::optional<std::string_view> authorization;   // the Authorization header, if present
    std::optional<std::string_view> if_none_match;   // the If-None-Match header, if present
    std::optional<std::string_view> accept_encoding; // the Accept-Encoding header, if present
};

// Whether an Accept-Encoding header accepts gzip (a `gzip` coding without q=0; `*` counts). Pure.
bool accepts_gzip(std::string_view accept_encoding);

// {"error": code, "message": message} with Content-Type application/json.
http_response_spec error_response(unsigned status, std::string_view code, std::string_view message);
// `r` with Cache-Control: no-store (tokens, personal figures).
http_response_spec no_store(http_response_spec r);

// The login body {"username": text, "password": text} (other fields ignored), or the 400
// answer: bad_json when it is not JSON, bad_message naming the field otherwise.
std::variant<login_request, http_response_spec> parse_login_body(std::string_view body);

// The token of "Bearer <token>" (scheme case-insensitive, one or more spaces); nullopt for
// any other scheme, an empty token, or a token with spaces or control characters.
std::optional<std::string> bearer_token(std::string_view authorization);

// Whether the query string of target has a parameter named token, access_token or
// resume_token (case-insensitive): tokens never travel in URLs, where logs and browser
// history keep them.
bool token_in_query(std::string_view target);

// The crisis lexicon as served at /v1/lexicon: the file's exact bytes and its version.
struct lexicon_document {
    std::string version; // the file's "version"; also /v1/config's lexicon_version
    std::string bytes;   // served unchanged, so clients hash and parse what the server parsed
};

// The /v1/config body for cfg; lexicon_version empty → null.
std::string client_config_json(const config& cfg, std::string_view lexicon_version = {});

// The strong entity tag for a lexicon version: "\"<version>\"" (quotes and backslashes in the
// version are dropped so the tag stays a valid quoted-string).
std::string lexicon_etag(std::string_view version);

// Whether an If-None-Match header value matches etag: "*", or a comma-separated list of
// tags (weak tags W/"..." compare by their opaque part, RFC 9110 §13.1.2).
bool if_none_match_matches(std::string_view header, std::string_view etag);

// A handshake without Origin (not a browser) is allowed. With one, it must be in
// allowed_origins; in dev mode "http://<host>" and "https://<host>" are allowed too.
bool origin_allowed(std::optional<std::string_view> origin, std::string_view host,
                    const config& cfg);

// RFC 6455 §4.2.1 checks Beast leaves out of an allowed upgrade: Sec-WebSocket-Key must be
// base64 of 16 bytes (400 bad_message) and Sec-WebSocket-Version present (400) and 13 (426
// upgrade_required with Sec-WebSocket-Version: 13). nullopt: the upgrade may go ahead. Pure.
std::optional<http_response_spec> websocket_handshake_refusal(std::string_view key,
                                                              std::string_view version);

class http_routes {
public:
    // web_root: canonical folder, or empty when none is served.
    // lexicon: served at /v1/lexicon (404 when absent, as in unit tests that need none).
    http_routes(const config& cfg, std::filesystem::path web_root, const metrics& m,
                std::function<bool()> ready, std::optional<lexicon_document> lexicon = {});

    // HEAD is answered like GET; the caller drops the body and keeps Content-Length.
    route_result route(const http_request_view& request) const;
    // The same for a request without body or Authorization.
    route_result route(std::string_view method, std::string_view target, bool is_upgrade) const;

    // A reload (SIGHUP, `kindredctl reload`): /v1/config and /v1/lexicon serve the new
    // catalog, crisis resources and lexicon from the next request on. Any thread.
    void reload(const config& cfg, std::optional<lexicon_document> lexicon);

private:
    // What /v1/config and /v1/lexicon serve; replaced whole by reload().
    struct served {
        std::string client_config;
        std::optional<lexicon_document> lexicon;
        std::string lexicon_etag;
    };
    static std::shared_ptr<const served> make_served(const config& cfg,
                                                     std::optional<lexicon_document> lexicon);
    std::shared_ptr<const served> current() const;

    std::filesystem::path web_root_;
    const metrics& metrics_;
    std::function<bool()> ready_;
    mutable std::mutex served_mutex_;
    std::shared_ptr<const served> served_;
};

} // namespace kindred::server
