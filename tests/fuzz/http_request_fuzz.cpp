// http_request_fuzz.cpp — libFuzzer target for the HTTP surface. The input is the raw bytes a
// client sends: Beast's request parser reads them with the server's limits (headers 8 KiB, body
// 4 KiB, as http_session.cpp sets them), and a parsed request goes through what http_session
// does with it — the routes (/healthz, /readyz, /metrics, /v1/config, /v1/lexicon, /v1/auth/*,
// /v1/ws, static files under a small web root with a symlink pointing out of it), the Origin
// check and the WebSocket key/version checks. Every answer must be well formed: a real status,
// JSON error bodies, no header value that could split the response, no file outside the root.
#include <kindred/protocol/base64.hpp>
#include <kindred/server/http_routes.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/static_files.hpp>

#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/parse.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using namespace kindred::server;

void check(bool ok) {
    if (!ok) std::abort(); // libFuzzer reports the input
}

struct fixture {
    fs::path root;
    config cfg;
    metrics stats;
    std::optional<http_routes> routes;
    bool ready = false;

    fixture() {
        // A web root in a private temporary folder: index.html, a script with its gzip copy,
        // a sub-folder, a dot-file and a symlink to a file outside the root.
        auto base = fs::temp_directory_path() / ("kindred-fuzz-http-" + std::to_string(getpid()));
        fs::remove_all(base);
        fs::create_directories(base / "web" / "sub");
        std::ofstream(base / "web" / "index.html") << "<p>hi</p>";
        std::ofstream(base / "web" / "app.js") << "export {};";
        std::ofstream(base / "web" / "app.js.gz") << "gz";
        std::ofstream(base / "web" / "sub" / "index.html") << "<p>sub</p>";
        std::ofstream(base / "web" / ".env") << "SECRET=1";
        std::ofstream(base / "outside.txt") << "outside";
        std::error_code ec;
        fs::create_symlink(base / "outside.txt", base / "web" / "link.txt", ec);
        root = *canonical_web_root(base / "web");
        cfg.allowed_origins = {"https://kindred.example.org"};
        cfg.dev_mode = true;
        cfg.languages = {{"en", "English"}};
        routes.emplace(
            cfg, root, stats, [this] { return ready = !ready; },
            lexicon_document{"2026.11.28-1", R"({"format":1})"});
    }
};

fixture& fx() {
    static fixture f;
    return f;
}

bool header_safe(std::string_view v) {
    for (unsigned char c : v)
        if (c == '\r' || c == '\n' || c == 0) return false;
    return true;
}

void check_response(const route_result& r, std::string_view method, std::string_view target) {
    check(r.response.status >= 100 && r.response.status <= 599);
    for (const auto& [name, value] : r.response.headers)
        check(!name.empty() && header_safe(name) && header_safe(value));
    check(header_safe(r.response.content_type));
    if (r.response.status >= 400) {
        // Every refusal is the JSON error object.
        check(r.response.content_type == "application/json");
        boost::system::error_code ec;
        auto v = boost::json::parse(r.response.body, ec);
        check(!ec && v.is_object() && v.as_object().contains("error"));
    }
    if (r.response.file) {
        const auto& f = *r.response.file;
        auto rel = f.lexically_relative(fx().root);
        check(!rel.empty() && *rel.begin() != "..");
        check(method == "GET" || method == "HEAD");
    }
    if (r.websocket) check(method == "GET");
    if (r.auth) check(method == "POST");
    if (token_in_query(target)) check(r.response.status == 400 && !r.websocket && !r.auth);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fixture& f = fx();
    http::request_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(max_request_body_bytes);
    parser.eager(true);
    beast::error_code ec;
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    while (!rest.empty() && !parser.is_done()) {
        const auto used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
        if (ec == http::error::need_more) break;
        if (ec) return 0; // http_session answers 400/413/431 without routing
        if (used == 0) break;
        rest.remove_prefix(used);
    }
    if (!parser.is_done()) {
        parser.put_eof(ec);
        if (ec || !parser.is_done()) return 0;
    }
    auto req = parser.release();

    // What http_session::handle reads of the request.
    const bool upgrade = beast::websocket::is_upgrade(req);
    auto header = [&](http::field name) -> std::optional<std::string_view> {
        auto it = req.find(name);
        if (it == req.end()) return std::nullopt;
        return it->value();
    };
    const auto authorization = header(http::field::authorization);
    const auto method = req.method_string();
    const auto target = req.target();
    const auto r = f.routes->route(http_request_view{
        method, target, upgrade, req.body(), authorization, header(http::field::if_none_match),
        header(http::field::accept_encoding)});
    check_response(r, method, target);

    if (r.websocket) {
        (void)origin_allowed(header(http::field::origin), req[http::field::host], f.cfg);
        const auto key = req[http::field::sec_websocket_key];
        const auto refusal =
            websocket_handshake_refusal(key, req[http::field::sec_websocket_version]);
        if (refusal) {
            check(refusal->status == 400 || refusal->status == 426);
        } else {
            const auto bytes = kindred::protocol::base64_decode(key);
            check(bytes && bytes->size() == 16 && req[http::field::sec_websocket_version] == "13");
        }
    }
    if (authorization) {
        if (auto token = bearer_token(*authorization)) {
            check(!token->empty() && header_safe(*token));
            for (unsigned char c : *token)
                check(c > 0x20 && c < 0x7f);
        }
    }
    bool decoded_slash = false;
    (void)percent_decode(target, decoded_slash);
    return 0;
}
