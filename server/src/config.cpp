// config.cpp — one table of scalar options drives the file keys, KINDRED_* variables, flags,
// validation and --help, so the four can never disagree.
#include <kindred/server/config.hpp>

#include <boost/json/parse_options.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/variables_map.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace kindred::server {

namespace po = boost::program_options;
namespace json = boost::json;

namespace {

enum class kind {
    u32,
    text,
    boolean,
    listen_address,
    redis_address,
    log_level,
    instance_id,
    origins
};

struct option_spec {
    std::string key;  // file key, dotted for nested objects ("limits.max_frame_bytes")
    std::string flag; // without the leading "--"
    std::string env;  // KINDRED_*
    kind type;
    std::uint64_t min = 0;
    std::uint64_t max = 0;
    std::string help;
    // Stores an already validated value; u32 options use u32, the others use text/flag.
    std::function<std::uint32_t&(config&)> u32_field;
    std::function<void(config&, const std::string&)> set_text;
};

// "limits.max_frame_bytes" → ("max-frame-bytes", "KINDRED_MAX_FRAME_BYTES").
std::pair<std::string, std::string> derive_names(const std::string& key) {
    std::string leaf = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
    std::string flag = leaf;
    std::replace(flag.begin(), flag.end(), '_', '-');
    std::string env = "KINDRED_" + leaf;
    std::transform(env.begin(), env.end(), env.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return {flag, env};
}

option_spec u32_option(std::string key, std::uint64_t min, std::uint64_t max, std::string help,
                       std::function<std::uint32_t&(config&)> field) {
    auto [flag, env] = derive_names(key);
    option_spec s{std::move(key), flag, env, kind::u32, min, max, std::move(help), {}, {}};
    s.u32_field = std::move(field);
    return s;
}

option_spec text_option(std::string key, kind type, std::string help,
                        std::function<void(config&, const std::string&)> set,
                        std::string flag_override = {}) {
    auto [flag, env] = derive_names(key);
    if (!flag_override.empty()) flag = std::move(flag_override);
    option_spec s{std::move(key), flag, env, type, 0, 0, std::move(help), {}, {}};
    s.set_text = std::move(set);
    return s;
}

const std::vector<option_spec>& option_table() {
    static const std::vector<option_spec> table = [] {
        std::vector<option_spec> t;
        t.push_back(text_option("listen", kind::listen_address,
                                "HOST:PORT for HTTP and WebSocket; port 0 picks a free port",
                                [](config& c, const std::string& v) { c.listen = v; }));
        t.push_back(u32_option("threads", 0, 1024, "worker threads; 0 = one per core",
                               [](config& c) -> std::uint32_t& { return c.threads; }));
        t.push_back(
            u32_option("insights_retention_days", 1, 3650,
                       "programme-insights counters live this long after their last write",
                       [](config& c) -> std::uint32_t& { return c.insights_retention_days; }));
        t.push_back(u32_option("insights_min_cell", 1, 1000,
                               "insights figures below this (and above 0) are suppressed",
                               [](config& c) -> std::uint32_t& { return c.insights_min_cell; }));
        t.push_back(text_option("redis", kind::redis_address,
                                "Redis address: unix:/path/redis.sock or tcp://host:port",
                                [](config& c, const std::string& v) { c.redis = v; }));
        t.push_back(text_option("instance_id", kind::instance_id,
                                "unique instance id ([A-Za-z0-9_.-], up to 64); empty = random",
                                [](config& c, const std::string& v) { c.instance_id = v; }));
        t.push_back(text_option(
            "dev_mode", kind::boolean, "dev mode: the server's own origin may open /v1/ws",
            [](config& c, const std::string& v) { c.dev_mode = v == "true"; }, "dev"));
        t.push_back(text_option(
            "allowed_origins", kind::origins,
            "origin allowed to open /v1/ws (repeat the flag; env: "
            "comma-separated)",
            [](config& c, const std::string& v) { c.allowed_origins.push_back(v); },
            "allowed-origin"));
        t.push_back(text_option("web_root", kind::text, "folder served at /",
                                [](config& c, const std::string& v) { c.web_root = v; }));
        t.push_back(text_option("lexicon", kind::text,
                                "crisis lexicon JSON, loaded at start-up and served at "
                                "/v1/lexicon",
                                [](config& c, const std::string& v) { c.lexicon = v; }));
        t.push_back(text_option("tls_cert", kind::text,
                                "PEM certificate chain: serve HTTPS and WSS (TLS 1.2+) on the "
                                "listen port instead of plain text; needs --tls-key",
                                [](config& c, const std::string& v) { c.tls_cert = v; }));
        t.push_back(text_option("tls_key", kind::text, "PEM private key of --tls-cert",
                                [](config& c, const std::string& v) { c.tls_key = v; }));
        t.push_back(text_option("log_level", kind::log_level, "trace|debug|info|warn|error",
                                [](config& c, const std::string& v) { c.log_level = v; }));
        t.push_back(text_option("port_file", kind::text,
                                "write the bound port (decimal + newline) here once listening",
                                [](config& c, const std::string& v) { c.port_file = v; }));

        auto lim = [](std::string leaf, std::uint64_t min, std::uint64_t max, std::string help,
                      std::uint32_t limits_config::*m) {
            return u32_option("limits." + leaf, min, max, std::move(help),
                              [m](config& c) -> std::uint32_t& { return c.limits.*m; });
        };
        t.push_back(lim("max_frame_bytes", 256, 16u << 20,
                        "largest WebSocket message; larger: close 1009",
                        &limits_config::max_frame_bytes));
        t.push_back(lim("outbound_queue_bytes", 4096, 1u << 30,
                        "per-connection send queue; past it the connection is closed",
                        &limits_config::outbound_queue_bytes));
        t.push_back(lim("messages_per_second", 1, 100000, "per-connection token bucket refill",
                        &limits_config::messages_per_second));
        t.push_back(lim("message_burst", 1, 1000000, "per-connection token bucket size",
                        &limits_config::message_burst));
        t.push_back(lim("max_bad_messages", 1, 10000,
                        "consecutive bad_json/bad_message/unknown_type before close 1008",
                        &limits_config::max_bad_messages));
        t.push_back(lim("handshake_timeout_s", 1, 3600,
                        "HTTP request and WebSocket upgrade must finish in this",
                        &limits_config::handshake_timeout_s));
        t.push_back(lim("idle_ping_s", 1, 86400,
                        "ping a socket idle this long; drop it after twice this",
                        &limits_config::idle_ping_s));
        t.push_back(lim("login_failures_per_user", 1, 1000,
                        "failed staff logins per username per window; then 429 (Redis)",
                        &limits_config::login_failures_per_user));
        t.push_back(lim("login_failures_per_address", 1, 1000000,
                        "failed staff logins per client address per window; then 429 (memory "
                        "only)",
                        &limits_config::login_failures_per_address));
        t.push_back(lim("login_window_s", 1, 86400, "window of both login failure counts",
                        &limits_config::login_window_s));
        t.push_back(lim("hash_threads", 1, 64, "threads that verify passwords (Argon2id)",
                        &limits_config::hash_threads));
        t.push_back(lim("hash_queue", 0, 100000,
                        "logins that may wait for a hash thread; more answer 503",
                        &limits_config::hash_queue));
        // Per-type buckets: a per-minute refill and a burst each.
        struct per_type {
            const char* type;
            std::uint32_t limits_config::*per_minute;
            std::uint32_t limits_config::*burst;
        };
        for (const per_type& p : {
                 per_type{"send", &limits_config::send_per_minute, &limits_config::send_burst},
                 per_type{"typing", &limits_config::typing_per_minute,
                          &limits_config::typing_burst},
                 per_type{"request_match", &limits_config::request_match_per_minute,
                          &limits_config::request_match_burst},
                 per_type{"escalate", &limits_config::escalate_per_minute,
                          &limits_config::escalate_burst},
                 per_type{"report", &limits_config::report_per_minute,
                          &limits_config::report_burst},
                 per_type{"consult", &limits_config::consult_per_minute,
                          &limits_config::consult_burst},
             }) {
            const std::string type = p.type;
            t.push_back(lim(type + "_per_minute", 1, 1000000,
                            "per-connection " + type + " bucket refill (per minute)",
                            p.per_minute));
            t.push_back(lim(type + "_burst", 1, 100000, "per-connection " + type + " bucket size",
                            p.burst));
        }
        t.push_back(lim("escalation_lane_per_minute", 1, 1000000,
                        "escalate/moderator_keys/acknowledge/resolve/watch: their own bucket "
                        "instead of the general one (per minute)",
                        &limits_config::escalation_lane_per_minute));
        t.push_back(lim("escalation_lane_burst", 1, 100000, "the escalation lane bucket size",
                        &limits_config::escalation_lane_burst));
        t.push_back(lim("max_rate_limited", 1, 100000,
                        "consecutive rate_limited frames before close 1008",
                        &limits_config::max_rate_limited));

        auto tim = [](std::string leaf, std::uint64_t min, std::uint64_t max, std::string help,
                      std::uint32_t timing_config::*m) {
            return u32_option("timing." + leaf, min, max, std::move(help),
                              [m](config& c) -> std::uint32_t& { return c.timing.*m; });
        };
        t.push_back(tim("seeker_grace_s", 1, 604800,
                        "a dropped seeker session can be resumed "
                        "this long",
                        &timing_config::seeker_grace_s));
        t.push_back(tim("peer_grace_s", 1, 604800, "a dropped peer keeps its conversations",
                        &timing_config::peer_grace_s));
        t.push_back(tim("relax_after_s", 0, 86400, "then match on any eligible peer",
                        &timing_config::relax_after_s));
        t.push_back(tim("no_new_match_before_end_s", 0, 86400,
                        "no new match this close to a peer's planned shift end",
                        &timing_config::no_new_match_before_end_s));
        t.push_back(tim("purge_after_end_s", 0, 604800,
                        "stored messages of an ended conversation live this long",
                        &timing_config::purge_after_end_s));
        t.push_back(tim("conversation_max_s", 60, 2592000, "every conversation is purged by then",
                        &timing_config::conversation_max_s));
        t.push_back(tim("imminent_ack_s", 1, 86400, "re-page deadline of imminent escalations",
                        &timing_config::imminent_ack_s));
        t.push_back(tim("high_ack_s", 1, 86400, "re-page deadline of high escalations",
                        &timing_config::high_ack_s));
        t.push_back(tim("moderator_presence_s", 3, 3600,
                        "a moderator stays on duty this long after its console's last sign",
                        &timing_config::moderator_presence_s));
        t.push_back(tim("peer_cooldown_s", 0, 86400,
                        "no new match for a peer this long after a conversation with a "
                        "high or imminent escalation ends (0: none)",
                        &timing_config::peer_cooldown_s));
        t.push_back(tim("redis_command_timeout_ms", 10, 600000, "per Redis command",
                        &timing_config::redis_command_timeout_ms));
        t.push_back(tim("redis_stall_timeout_ms", 0, 600000,
                        "a send waiting on a Redis that answers nothing is refused after this "
                        "(0: off)",
                        &timing_config::redis_stall_timeout_ms));
        t.push_back(tim("heartbeat_s", 1, 3600, "instance heartbeat; its key lives 3x this",
                        &timing_config::heartbeat_s));
        t.push_back(tim("shutdown_grace_s", 0, 3600,
                        "SIGTERM/SIGINT: time to close sockets before exit",
                        &timing_config::shutdown_grace_s));
        t.push_back(tim("token_lifetime_s", 1, 2592000, "staff login tokens expire after this",
                        &timing_config::token_lifetime_s));
        t.push_back(tim("status_poll_s", 1, 3600,
                        "read the cluster gauges of /metrics (queue, shifts, escalations, "
                        "instances) from Redis this often",
                        &timing_config::status_poll_s));
        t.push_back(tim("token_recheck_ms", 50, 60000,
                        "open staff sockets: close those whose token expired, this often",
                        &timing_config::token_recheck_ms));
        t.push_back(tim("token_lookup_ms", 50, 600000,
                        "open staff sockets: look their tokens up in Redis this often (a "
                        "revocation arrives at once over the bus; this catches a token deleted "
                        "without one)",
                        &timing_config::token_lookup_ms));
        return t;
    }();
    return table;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    for (char ch : s)
        if (ch < '0' || ch > '9') return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

bool valid_hostname(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    return std::all_of(h.begin(), h.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '-' || c == '_';
    });
}

// host:port, "[v6]:port"; the port must parse and lie in [min_port, 65535].
bool split_host_port(std::string_view s, std::uint64_t min_port, std::string& host,
                     std::uint16_t& port) {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    std::string_view h = s.substr(0, colon);
    std::uint64_t p = 0;
    if (!parse_u64(s.substr(colon + 1), p) || p < min_port || p > 65535) return false;
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
        std::string v6(h.substr(1, h.size() - 2));
        in6_addr a6{};
        if (inet_pton(AF_INET6, v6.c_str(), &a6) != 1) return false;
        host = v6;
    } else {
        if (h.find(':') != std::string_view::npos || !valid_hostname(h)) return false;
        host = std::string(h);
    }
    port = static_cast<std::uint16_t>(p);
    return true;
}

// Checks one textual value for a spec. Returns an empty string when fine, else what was wrong.
std::string check_text(const option_spec& spec, const std::string& v) {
    switch (spec.type) {
    case kind::u32: {
        std::uint64_t n = 0;
        if (!parse_u64(v, n) || n < spec.min || n > spec.max)
            return "expected an integer from " + std::to_string(spec.min) + " to " +
                   std::to_string(spec.max) + ", got \"" + v + "\"";
        return {};
    }
    case kind::text:
        if ((spec.key == "web_root" || spec.key == "lexicon") && v.empty())
            return "must not be empty";
        return {};
    case kind::boolean:
        if (v == "true" || v == "false" || v == "1" || v == "0" || v == "yes" || v == "no" ||
            v == "on" || v == "off")
            return {};
        return "expected true or false, got \"" + v + "\"";
    case kind::listen_address: {
        std::string h;
        std::uint16_t p = 0;
        if (!split_host_port(v, 0, h, p))
            return "expected HOST:PORT (port 0-65535), got \"" + v + "\"";
        return {};
    }
    case kind::redis_address: {
        if (v.rfind("unix:", 0) == 0 && v.size() > 5) return {};
        std::string h;
        std::uint16_t p = 0;
        if (v.rfind("tcp://", 0) == 0 && split_host_port(std::string_view(v).substr(6), 1, h, p))
            return {};
        return "expected unix:/path/redis.sock or tcp://host:port, got \"" + v + "\"";
    }
    case kind::log_level:
        if (v == "trace" || v == "debug" || v == "info" || v == "warn" || v == "error") return {};
        return "expected trace, debug, info, warn or error, got \"" + v + "\"";
    case kind::instance_id: {
        bool ok = v.size() <= 64 && std::all_of(v.begin(), v.end(), [](unsigned char c) {
                      return std::isalnum(c) || c == '_' || c == '-' || c == '.';
                  });
        if (!ok) return "expected up to 64 characters of [A-Za-z0-9_.-], got \"" + v + "\"";
        return {};
    }
    case kind::origins: {
        // scheme://host[:port], exactly as a browser sends it: no path, no trailing slash.
        auto scheme_end = v.find("://");
        bool ok =
            scheme_end != std::string::npos &&
            (v.compare(0, scheme_end, "http") == 0 || v.compare(0, scheme_end, "https") == 0) &&
            v.size() > scheme_end + 3 &&
            std::all_of(v.begin() + static_cast<long>(scheme_end) + 3, v.end(),
                        [](unsigned char c) {
                            return std::isalnum(c) || c == '.' || c == '-' || c == ':' ||
                                   c == '[' || c == ']' || c == '_';
                        });
        if (!ok) return "expected an origin like https://host[:port], got \"" + v + "\"";
        return {};
    }
    }
    return "unsupported";
}

std::string normalise_bool(const std::string& v) {
    return (v == "true" || v == "1" || v == "yes" || v == "on") ? "true" : "false";
}

// Applies one checked textual value.
void apply_text(const option_spec& spec, const std::string& v, config& c) {
    if (spec.type == kind::u32) {
        std::uint64_t n = 0;
        parse_u64(v, n);
        spec.u32_field(c) = static_cast<std::uint32_t>(n);
    } else if (spec.type == kind::boolean) {
        spec.set_text(c, normalise_bool(v));
    } else {
        spec.set_text(c, v);
    }
}

struct failure {
    std::string message;
};

std::string trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
}

// Sets an option from one source. origin names the source in messages ("--listen",
// "KINDRED_LISTEN", "file.json: listen"). Origin lists replace what earlier layers set.
std::optional<failure> set_from_text(const option_spec& spec, const std::vector<std::string>& vs,
                                     const std::string& origin, config& c) {
    if (spec.type == kind::origins) c.allowed_origins.clear();
    for (const auto& v : vs) {
        if (auto why = check_text(spec, v); !why.empty()) return failure{origin + ": " + why};
        apply_text(spec, v, c);
    }
    return std::nullopt;
}

std::string line_col(std::string_view text, std::size_t offset) {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return std::to_string(line) + ":" + std::to_string(col);
}

std::optional<failure> parse_json_text(const std::string& name, std::string_view text,
                                       json::value& out) {
    json::parse_options opts;
    opts.allow_comments = true;
    opts.allow_trailing_commas = true;
    json::stream_parser p({}, opts);
    boost::system::error_code ec;
    std::size_t used = p.write_some(text.data(), text.size(), ec);
    if (!ec && used == text.size())
        p.finish(ec);
    else if (!ec)
        ec = json::error::extra_data;
    if (ec)
        return failure{name + ":" + line_col(text, used) + ": invalid JSON (" + ec.message() + ")"};
    out = p.release();
    return std::nullopt;
}

std::optional<failure> json_scalar_to_texts(const json::value& v, const std::string& where,
                                            const option_spec& spec,
                                            std::vector<std::string>& out) {
    if (spec.type == kind::origins) {
        if (!v.is_array()) return failure{where + ": expected an array of origins"};
        for (const auto& e : v.as_array()) {
            if (!e.is_string()) return failure{where + ": expected an array of origins"};
            out.emplace_back(e.as_string().c_str(), e.as_string().size());
        }
        return std::nullopt;
    }
    if (v.is_string())
        out.emplace_back(v.as_string().c_str(), v.as_string().size());
    else if (v.is_int64())
        out.push_back(std::to_string(v.as_int64()));
    else if (v.is_uint64())
        out.push_back(std::to_string(v.as_uint64()));
    else if (v.is_bool())
        out.push_back(v.as_bool() ? "true" : "false");
    else if (v.is_double() && spec.type == kind::u32)
        return failure{where + ": expected an integer"};
    else
        return failure{where + ": expected a " +
                       std::string(spec.type == kind::u32       ? "integer"
                                   : spec.type == kind::boolean ? "boolean"
                                                                : "string")};
    return std::nullopt;
}

std::optional<failure> load_catalogs(const json::object& root, const std::string& name, config& c) {
    if (auto* v = root.if_contains("languages")) {
        if (!v->is_array()) return failure{name + ": languages: expected an array"};
        c.languages.clear();
        std::size_t i = 0;
        for (const auto& e : v->as_array()) {
            std::string where = name + ": languages[" + std::to_string(i++) + "]";
            const auto* o = e.if_object();
            if (!o || !o->contains("id") || !o->at("id").is_string() ||
                o->at("id").as_string().empty() || !o->contains("label") ||
                !o->at("label").is_string())
                return failure{where + ": expected {\"id\": text, \"label\": text}"};
            c.languages.push_back(
                {std::string(o->at("id").as_string()), std::string(o->at("label").as_string())});
        }
    }
    if (auto* v = root.if_contains("tags")) {
        if (!v->is_array()) return failure{name + ": tags: expected an array"};
        c.tags.clear();
        std::size_t i = 0;
        for (const auto& e : v->as_array()) {
            std::string where = name + ": tags[" + std::to_string(i++) + "]";
            const auto* o = e.if_object();
            if (!o || !o->contains("id") || !o->at("id").is_string() ||
                o->at("id").as_string().empty() || !o->contains("labels") ||
                !o->at("labels").is_object())
                return failure{where + ": expected {\"id\": text, \"labels\": {lang: text}}"};
            tag t{std::string(o->at("id").as_string()), {}};
            for (const auto& kv : o->at("labels").as_object()) {
                if (!kv.value().is_string())
                    return failure{where + ": labels." + std::string(kv.key()) + ": expected text"};
                t.labels.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
            }
            c.tags.push_back(std::move(t));
        }
    }
    if (auto* v = root.if_contains("crisis_resources")) {
        if (!v->is_array()) return failure{name + ": crisis_resources: expected an array"};
        std::size_t i = 0;
        for (const auto& e : v->as_array()) {
            if (!e.is_object())
                return failure{name + ": crisis_resources[" + std::to_string(i) +
                               "]: expected an object"};
            ++i;
        }
        c.crisis_resources = v->as_array();
    }
    return std::nullopt;
}

std::optional<failure> load_file_layer(const std::string& name, std::string_view text, config& c) {
    json::value root;
    if (auto f = parse_json_text(name, text, root)) return f;
    if (!root.is_object()) return failure{name + ": expected a JSON object at the top level"};
    const auto& obj = root.as_object();

    // Every key must be known: a typo silently ignored is a setting silently not applied.
    for (const auto& kv : obj) {
        std::string k(kv.key());
        if (k == "languages" || k == "tags" || k == "crisis_resources") continue;
        if (k == "limits" || k == "timing") {
            if (!kv.value().is_object()) return failure{name + ": " + k + ": expected an object"};
            for (const auto& inner : kv.value().as_object()) {
                std::string full = k + "." + std::string(inner.key());
                auto& t = option_table();
                if (std::none_of(t.begin(), t.end(),
                                 [&](const option_spec& s) { return s.key == full; }))
                    return failure{name + ": unknown key \"" + full + "\""};
            }
            continue;
        }
        auto& t = option_table();
        if (std::none_of(t.begin(), t.end(), [&](const option_spec& s) { return s.key == k; }))
            return failure{name + ": unknown key \"" + k + "\""};
    }

    for (const auto& spec : option_table()) {
        const json::value* v = nullptr;
        auto dot = spec.key.find('.');
        if (dot == std::string::npos) {
            v = obj.if_contains(spec.key);
        } else if (auto* section = obj.if_contains(spec.key.substr(0, dot))) {
            v = section->as_object().if_contains(spec.key.substr(dot + 1));
        }
        if (!v) continue;
        std::string where = name + ": " + spec.key;
        std::vector<std::string> texts;
        if (auto f = json_scalar_to_texts(*v, where, spec, texts)) return f;
        if (auto f = set_from_text(spec, texts, where, c)) return f;
    }
    return load_catalogs(obj, name, c);
}

po::options_description flag_descriptions() {
    po::options_description desc("kindred-server options (flags override KINDRED_* variables, "
                                 "which override the config file, which overrides defaults)",
                                 100, 50);
    desc.add_options()("help,h", "print this help and exit")(
        "config,c", po::value<std::string>()->value_name("FILE"),
        "config file (JSON with comments); env KINDRED_CONFIG");
    config defaults;
    for (const auto& spec : option_table()) {
        std::string def;
        if (spec.type == kind::u32) {
            def = std::to_string(spec.u32_field(defaults));
        } else if (spec.key == "listen") {
            def = defaults.listen;
        } else if (spec.key == "redis") {
            def = defaults.redis;
        } else if (spec.key == "web_root") {
            def = defaults.web_root;
        } else if (spec.key == "lexicon") {
            def = defaults.lexicon;
        } else if (spec.key == "log_level") {
            def = defaults.log_level;
        } else if (spec.key == "dev_mode") {
            def = "false";
        } else {
            def = "none";
        }
        std::string text =
            spec.help + " [file " + spec.key + ", env " + spec.env + ", default " + def + "]";
        if (spec.type == kind::origins) {
            desc.add_options()(spec.flag.c_str(),
                               po::value<std::vector<std::string>>()->value_name("ORIGIN"),
                               text.c_str());
        } else if (spec.type == kind::boolean) {
            desc.add_options()(spec.flag.c_str(),
                               po::value<std::string>()->implicit_value("true")->value_name("BOOL"),
                               text.c_str());
        } else {
            desc.add_options()(
                spec.flag.c_str(),
                po::value<std::string>()->value_name(spec.type == kind::u32 ? "N" : "VALUE"),
                text.c_str());
        }
    }
    return desc;
}

} // namespace

std::string help_text() {
    std::ostringstream out;
    out << "Usage: kindred-server [options]\n\n"
        << flag_descriptions() << "\n"
        << "Exit codes: 0 after --help or a clean shutdown (SIGTERM/SIGINT), 2 on a bad option "
           "or config file, 1 on any other start-up failure.\n";
    return out.str();
}

load_result load_config(const std::vector<std::string>& args, const env_map& env,
                        const file_reader& read_file) {
    load_result r;
    auto fail = [&](std::string message) {
        r.what = load_result::action::fail;
        r.text = std::move(message);
        return r;
    };

    po::variables_map vm;
    try {
        auto desc = flag_descriptions();
        // Stray words are collected into a hidden option so the message can name them.
        desc.add_options()("kindred-stray-argument", po::value<std::vector<std::string>>());
        po::positional_options_description positional;
        positional.add("kindred-stray-argument", -1);
        po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
        if (vm.count("kindred-stray-argument"))
            return fail("unexpected argument \"" +
                        vm["kindred-stray-argument"].as<std::vector<std::string>>().front() +
                        "\" (options start with --; see --help)");
    } catch (const po::error_with_option_name& e) {
        // Boost writes the offending tokens into its message template by replacing each
        // placeholder until none is left, so a token that itself contains one (say
        // "--x=%option%") never ends (found by the config fuzz target). With a '%' in any
        // argument, the option is named without Boost's template.
        const bool placeholder_risk = std::any_of(args.begin(), args.end(), [](const auto& a) {
            return a.find('%') != std::string::npos;
        });
        if (!placeholder_risk) return fail(e.what());
        std::string name = e.get_option_name();
        std::replace(name.begin(), name.end(), '%', '?');
        return fail("invalid option or option value: \"" + name + "\" (see --help)");
    } catch (const po::error& e) {
        return fail(e.what());
    }
    if (vm.count("help")) {
        r.what = load_result::action::help;
        r.text = help_text();
        return r;
    }

    config c;
    // File layer.
    std::string file;
    std::string file_origin;
    if (vm.count("config")) {
        file = vm["config"].as<std::string>();
        file_origin = "--config";
    } else if (auto it = env.find("KINDRED_CONFIG"); it != env.end() && !it->second.empty()) {
        file = it->second;
        file_origin = "KINDRED_CONFIG";
    }
    if (!file.empty()) {
        auto text = read_file(file);
        if (!text) return fail(file_origin + ": cannot read config file " + file);
        if (auto f = load_file_layer(file, *text, c)) return fail(f->message);
        c.config_file = file;
    }

    // Environment layer.
    for (const auto& spec : option_table()) {
        auto it = env.find(spec.env);
        if (it == env.end()) continue;
        std::vector<std::string> values;
        if (spec.type == kind::origins) {
            std::string_view rest = it->second;
            while (!rest.empty()) {
                auto comma = rest.find(',');
                auto item = trim(rest.substr(0, comma));
                if (!item.empty()) values.push_back(item);
                rest =
                    comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        } else {
            values.push_back(it->second);
        }
        if (auto f = set_from_text(spec, values, spec.env, c)) return fail(f->message);
    }

    // Flag layer.
    for (const auto& spec : option_table()) {
        if (!vm.count(spec.flag)) continue;
        std::vector<std::string> values;
        if (spec.type == kind::origins)
            values = vm[spec.flag].as<std::vector<std::string>>();
        else
            values.push_back(vm[spec.flag].as<std::string>());
        if (auto f = set_from_text(spec, values, "--" + spec.flag, c)) return fail(f->message);
    }

    // Whether the files load is checked at start-up (exit 2 naming the option); here only
    // that they come together.
    if (c.tls_cert.empty() != c.tls_key.empty())
        return fail(c.tls_cert.empty() ? "--tls-key: needs --tls-cert as well"
                                       : "--tls-cert: needs --tls-key as well");

    split_host_port(c.listen, 0, c.listen_host, c.listen_port);
    r.what = load_result::action::run;
    r.cfg = std::move(c);
    return r;
}

env_map process_environment() {
    env_map env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        if (kv.rfind("KINDRED_", 0) != 0) continue;
        auto eq = kv.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return env;
}

std::optional<std::string> read_text_file(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return std::nullopt;
    return ss.str();
}

} // namespace kindred::server
