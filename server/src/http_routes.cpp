// http_routes.cpp — see http_routes.hpp. Error codes in HTTP bodies reuse the contract's codes
// where one fits (bad_json, bad_message, not_authenticated, forbidden, not_found, too_large,
// rate_limited, unavailable, internal) and add method_not_allowed and upgrade_required, which
// have no WebSocket counterpart.
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/messages.hpp>
#include <kindred/server/http_routes.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/static_files.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>

namespace kindred::server {

namespace json = boost::json;

http_response_spec error_response(unsigned status, std::string_view code,
                                  std::string_view message) {
    http_response_spec r;
    r.status = status;
    r.content_type = "application/json";
    r.body = json::serialize(json::object{{"error", code}, {"message", message}});
    return r;
}

http_response_spec no_store(http_response_spec r) {
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

std::variant<login_request, http_response_spec> parse_login_body(std::string_view body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return error_response(400, "bad_json", "body: not valid JSON");
    const auto* o = v.if_object();
    if (!o)
        return error_response(400, "bad_message",
                              "body: expected a JSON object {\"username\", \"password\"}");
    login_request r;
    for (const char* field : {"username", "password"}) {
        const auto* f = o->if_contains(field);
        if (!f || !f->is_string())
            return error_response(400, "bad_message", std::string(field) + ": required, a string");
        (std::string_view(field) == "username" ? r.username : r.password) =
            std::string(f->as_string());
    }
    return r;
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

} // namespace

std::optional<std::string> bearer_token(std::string_view authorization) {
    constexpr std::string_view scheme = "bearer";
    if (authorization.size() <= scheme.size() || !iequals(authorization.substr(0, 6), scheme))
        return std::nullopt;
    std::string_view rest = authorization.substr(scheme.size());
    if (rest.front() != ' ') return std::nullopt;
    rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    while (!rest.empty() && rest.back() == ' ')
        rest.remove_suffix(1);
    if (rest.empty()) return std::nullopt;
    for (unsigned char c : rest)
        if (c <= 0x20 || c >= 0x7f) return std::nullopt;
    return std::string(rest);
}

bool token_in_query(std::string_view target) {
    target = target.substr(0, target.find('#'));
    auto q = target.find('?');
    if (q == std::string_view::npos) return false;
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
        auto amp = query.find_first_of("&;");
        std::string_view param = query.substr(0, amp);
        std::string_view name = param.substr(0, param.find('='));
        if (iequals(name, "token") || iequals(name, "access_token") ||
            iequals(name, "resume_token"))
            return true;
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    }
    return false;
}

std::string lexicon_etag(std::string_view version) {
    std::string tag = "\"";
    for (char c : version)
        if (c != '"' && c != '\\') tag.push_back(c);
    tag.push_back('"');
    return tag;
}

bool accepts_gzip(std::string_view header) {
    // Comma-separated codings, each optionally followed by ;q=value.
    while (!header.empty()) {
        const auto comma = header.find(',');
        auto item = header.substr(0, comma);
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        const auto semi = item.find(';');
        auto coding = item.substr(0, semi);
        auto params = semi == std::string_view::npos ? std::string_view{} : item.substr(semi + 1);
        auto trim = [](std::string_view v) {
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
                v.remove_prefix(1);
            while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
                v.remove_suffix(1);
            return v;
        };
        coding = trim(coding);
        params = trim(params);
        const bool gzip = coding.size() == 4 && (coding[0] | 0x20) == 'g' &&
                          (coding[1] | 0x20) == 'z' && (coding[2] | 0x20) == 'i' &&
                          (coding[3] | 0x20) == 'p';
        if (!gzip && coding != "*") continue;
        // q=0 (with any number of zero decimals) refuses it.
        if (params.size() >= 3 && (params[0] | 0x20) == 'q' && params[1] == '=') {
            auto q = params.substr(2);
            const bool zero = q.find_first_not_of("0.") == std::string_view::npos;
            if (zero) return false;
        }
        return true;
    }
    return false;
}

bool if_none_match_matches(std::string_view header, std::string_view etag) {
    auto trim = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
            v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
            v.remove_suffix(1);
        return v;
    };
    if (trim(header) == "*") return true;
    while (!header.empty()) {
        const auto comma = header.find(',');
        auto tag = trim(header.substr(0, comma));
        if (tag.size() > 2 && tag.substr(0, 2) == "W/") tag.remove_prefix(2);
        if (!tag.empty() && tag == etag) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

std::string client_config_json(const config& cfg, std::string_view lexicon_version) {
    json::array tags;
    for (const auto& t : cfg.tags) {
        json::object labels;
        for (const auto& [lang, text] : t.labels)
            labels[lang] = text;
        tags.push_back(json::object{{"id", t.id}, {"labels", std::move(labels)}});
    }
    json::array languages;
    for (const auto& l : cfg.languages)
        languages.push_back(json::object{{"id", l.id}, {"label", l.label}});
    json::object limits{
        {"max_frame_bytes", cfg.limits.max_frame_bytes},
        {"intake_max_chars", protocol::limits::max_intake_chars},
        {"tags_max", protocol::limits::max_seeker_tags},
        {"languages_max", protocol::limits::max_languages},
        {"capacity_max", protocol::limits::max_capacity},
    };
    json::object body{
        {"protocol_version", protocol::limits::protocol_version},
        {"tags", std::move(tags)},
        {"languages", std::move(languages)},
        {"crisis_resources", cfg.crisis_resources},
        {"limits", std::move(limits)},
        {"lexicon_version", lexicon_version.empty() ? json::value(nullptr)
                                                    : json::value(json::string(lexicon_version))},
    };
    return json::serialize(body);
}

bool origin_allowed(std::optional<std::string_view> origin, std::string_view host,
                    const config& cfg) {
    if (!origin) return true;
    for (const auto& o : cfg.allowed_origins)
        if (o == *origin) return true;
    if (cfg.dev_mode && !host.empty()) {
        if (*origin == "http://" + std::string(host) || *origin == "https://" + std::string(host))
            return true;
    }
    return false;
}

std::optional<http_response_spec> websocket_handshake_refusal(std::string_view key,
                                                              std::string_view version) {
    // Beast only checks that a key of at most 24 characters is present, so a malformed one was
    // upgraded (tests/reliability/frames_test.cpp), and its own refusals have plain-text
    // bodies; these answers carry the JSON error body of every refusal.
    const auto bytes = protocol::base64_decode(key);
    if (!bytes || bytes->size() != 16)
        return error_response(400, "bad_message", "Sec-WebSocket-Key: must be 16 bytes of base64");
    if (version.empty())
        return error_response(400, "bad_message", "Sec-WebSocket-Version: required");
    if (version != "13") {
        auto refusal =
            error_response(426, "upgrade_required", "Sec-WebSocket-Version: this server speaks 13");
        refusal.headers.emplace_back("Sec-WebSocket-Version", "13");
        return refusal;
    }
    return std::nullopt;
}

http_routes::http_routes(const config& cfg, std::filesystem::path web_root, const metrics& m,
                         std::function<bool()> ready, std::optional<lexicon_document> lexicon)
    : web_root_(std::move(web_root))
    , metrics_(m)
    , ready_(std::move(ready))
    , served_(make_served(cfg, std::move(lexicon))) {}

std::shared_ptr<const http_routes::served>
http_routes::make_served(const config& cfg, std::optional<lexicon_document> lexicon) {
    auto s = std::make_shared<served>();
    s->client_config = client_config_json(cfg, lexicon ? lexicon->version : std::string());
    s->lexicon_etag = lexicon ? lexicon_etag(lexicon->version) : std::string();
    s->lexicon = std::move(lexicon);
    return s;
}

std::shared_ptr<const http_routes::served> http_routes::current() const {
    std::lock_guard lock(served_mutex_);
    return served_;
}

void http_routes::reload(const config& cfg, std::optional<lexicon_document> lexicon) {
    auto s = make_served(cfg, std::move(lexicon));
    std::lock_guard lock(served_mutex_);
    served_ = std::move(s);
}

route_result http_routes::route(std::string_view method, std::string_view target,
                                bool is_upgrade) const {
    return route(http_request_view{
        method, target, is_upgrade, {}, std::nullopt, std::nullopt, std::nullopt});
}

route_result http_routes::route(const http_request_view& request) const {
    const std::string_view method = request.method;
    const std::string_view target = request.target;
    const bool is_upgrade = request.is_upgrade;
    const std::string_view path = target.substr(0, target.find_first_of("?#"));
    const bool get = method == "GET" || method == "HEAD";
    route_result out;
    auto json_ok = [](std::string body) {
        http_response_spec r;
        r.content_type = "application/json";
        r.body = std::move(body);
        return r;
    };
    auto not_allowed = [](std::string_view allow) {
        auto r = error_response(405, "method_not_allowed",
                                "use " + std::string(allow) + " on this path");
        r.headers.emplace_back("Allow", std::string(allow));
        return r;
    };

    // Refused everywhere, so a client that puts a token in a URL learns it at once instead
    // of leaking it into access logs and browser history.
    if (token_in_query(target)) {
        out.response = error_response(400, "bad_message",
                                      "tokens never travel in URLs: send the login token in "
                                      "the Authorization header or in hello");
        return out;
    }

    if (path == "/v1/auth/login" || path == "/v1/auth/logout") {
        if (method != "POST") {
            out.response = not_allowed("POST");
            return out;
        }
        if (path == "/v1/auth/login") {
            auto parsed = parse_login_body(request.body);
            if (auto* bad = std::get_if<http_response_spec>(&parsed)) {
                out.response = std::move(*bad);
                return out;
            }
            out.auth = auth_action{
                auth_action::kind::login, std::move(std::get<login_request>(parsed)), {}};
            return out;
        }
        auto token = request.authorization ? bearer_token(*request.authorization) : std::nullopt;
        if (!token) {
            out.response =
                error_response(401, "not_authenticated", "send Authorization: Bearer <token>");
            out.response.headers.emplace_back("WWW-Authenticate", "Bearer");
            return out;
        }
        out.auth = auth_action{auth_action::kind::logout, {}, std::move(*token)};
        return out;
    }

    // Programme insights (admins only): the token and the query go to the insights handler,
    // which checks the role and the query; here only what needs no Redis.
    if (path == "/v1/insights" || path == "/v1/insights.csv") {
        if (!get) {
            out.response = not_allowed("GET, HEAD");
            return out;
        }
        auto token = request.authorization ? bearer_token(*request.authorization) : std::nullopt;
        if (!token) {
            out.response =
                error_response(401, "not_authenticated", "send Authorization: Bearer <token>");
            out.response.headers.emplace_back("WWW-Authenticate", "Bearer");
            out.response.headers.emplace_back("Cache-Control", "no-store");
            return out;
        }
        out.insights =
            insights_action{std::move(*token), std::string(target), path == "/v1/insights.csv"};
        return out;
    }

    if (path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/v1/config") {
        if (!get) {
            out.response = not_allowed("GET, HEAD");
            return out;
        }
        if (path == "/healthz") {
            out.response = json_ok(R"({"status":"ok"})");
        } else if (path == "/readyz") {
            if (ready_ && ready_())
                out.response = json_ok(R"({"status":"ready"})");
            else
                out.response = error_response(503, "unavailable",
                                              "not ready: Redis unreachable or instance "
                                              "not registered");
        } else if (path == "/metrics") {
            out.response.content_type = "text/plain; version=0.0.4; charset=utf-8";
            out.response.body = metrics_.render();
        } else {
            out.response = json_ok(current()->client_config);
        }
        out.response.headers.emplace_back("Cache-Control", "no-store");
        return out;
    }

    if (path == "/v1/lexicon") {
        if (!get) {
            out.response = not_allowed("GET, HEAD");
        } else if (const auto s = current(); !s->lexicon) {
            out.response = error_response(404, "not_found", "no lexicon loaded");
        } else {
            // Clients revalidate each time (no-cache) and get a 304 while the version holds,
            // so a new lexicon reaches them on their next start without a long stale window.
            if (request.if_none_match &&
                if_none_match_matches(*request.if_none_match, s->lexicon_etag)) {
                out.response.status = 304;
            } else {
                out.response = json_ok(s->lexicon->bytes);
            }
            out.response.headers.emplace_back("ETag", s->lexicon_etag);
            out.response.headers.emplace_back("Cache-Control", "public, no-cache");
        }
        return out;
    }

    if (path == "/v1/ws") {
        if (!get) {
            out.response = not_allowed("GET, HEAD");
        } else if (!is_upgrade || method == "HEAD") {
            out.response =
                error_response(426, "upgrade_required", "this path takes a WebSocket upgrade");
            out.response.headers.emplace_back("Upgrade", "websocket");
            out.response.headers.emplace_back("Connection", "Upgrade");
        } else {
            out.websocket = true;
        }
        return out;
    }

    auto file = web_root_.empty() ? std::nullopt : resolve_static(web_root_, target);
    if (!file) {
        out.response = error_response(404, "not_found", "no such path");
        return out;
    }
    if (!get) {
        out.response = not_allowed("GET, HEAD");
        return out;
    }
    out.response.content_type = std::string(file->content_type);
    out.response.file = file->path;
    // A pre-compressed copy (web/scripts/vendor.mjs writes them) when the client takes gzip
    // and the copy is not older than the file: a third of the bytes on a slow phone network.
    if (request.accept_encoding && accepts_gzip(*request.accept_encoding)) {
        std::error_code ec;
        auto gz = file->path;
        gz += ".gz";
        const auto plain_time = std::filesystem::last_write_time(file->path, ec);
        if (!ec && std::filesystem::is_regular_file(gz, ec) &&
            std::filesystem::last_write_time(gz, ec) >= plain_time && !ec) {
            out.response.file = gz;
            out.response.headers.emplace_back("Content-Encoding", "gzip");
        }
    }
    out.response.headers.emplace_back("Vary", "Accept-Encoding");
    out.response.headers.emplace_back("Cache-Control", "no-cache");
    // The web client's pages: scripts and styles only from here (no inline code, so message
    // text can never run), WebAssembly for libsodium, sockets only to this origin, never framed.
    out.response.headers.emplace_back("Content-Security-Policy", std::string(web_csp));
    out.response.headers.emplace_back("Referrer-Policy", "no-referrer");
    out.response.headers.emplace_back("X-Frame-Options", "DENY");
    return out;
}

} // namespace kindred::server
