// http_routes_test.cpp — the HTTP surface without sockets: status, content type and JSON
// bodies for every route, 404/405/426, Origin rules and the /v1/config document.
#include <kindred/server/http_routes.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/static_files.hpp>
#include <kindred/testsupport/process.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

namespace ks = kindred::server;
namespace json = boost::json;

namespace {

class HttpRoutesTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::ofstream(dir_.path() / "index.html") << "<p>hi</p>";
        cfg_.languages = {{"en", "English"}};
        cfg_.tags = {{"grief", {{"en", "Grief and loss"}}}};
        cfg_.crisis_resources = json::parse(R"([{"region":"US","name":"988"}])").as_array();
        cfg_.limits.max_frame_bytes = 4096;
    }
    ks::http_routes routes() {
        return ks::http_routes(cfg_, *ks::canonical_web_root(dir_.path()), metrics_,
                               [this] { return ready_; });
    }
    static json::object body(const ks::route_result& r) {
        return json::parse(r.response.body).as_object();
    }

    kindred::testsupport::temp_dir dir_{"kindred-routes"};
    ks::config cfg_;
    ks::metrics metrics_;
    bool ready_ = false;
};

} // namespace

TEST_F(HttpRoutesTest, Healthz) {
    auto r = routes().route("GET", "/healthz", false);
    EXPECT_EQ(r.response.status, 200u);
    EXPECT_EQ(r.response.content_type, "application/json");
    EXPECT_EQ(body(r).at("status"), "ok");
    EXPECT_EQ(routes().route("HEAD", "/healthz", false).response.status, 200u);
}

TEST_F(HttpRoutesTest, ReadyzFollowsReadiness) {
    auto r = routes().route("GET", "/readyz", false);
    EXPECT_EQ(r.response.status, 503u);
    EXPECT_EQ(body(r).at("error"), "unavailable");
    EXPECT_TRUE(body(r).at("message").is_string());
    ready_ = true;
    EXPECT_EQ(routes().route("GET", "/readyz", false).response.status, 200u);
}

TEST_F(HttpRoutesTest, MetricsIsPrometheusText) {
    metrics_.frame_in("ping");
    auto r = routes().route("GET", "/metrics", false);
    EXPECT_EQ(r.response.status, 200u);
    EXPECT_EQ(r.response.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
    EXPECT_NE(r.response.body.find("kindred_frames_in_total{type=\"ping\"} 1"), std::string::npos);
}

TEST_F(HttpRoutesTest, ClientConfigDocument) {
    auto r = routes().route("GET", "/v1/config", false);
    ASSERT_EQ(r.response.status, 200u);
    auto b = body(r);
    EXPECT_EQ(b.at("protocol_version"), 1);
    EXPECT_EQ(b.at("tags").at(0).at("id"), "grief");
    EXPECT_EQ(b.at("tags").at(0).at("labels").at("en"), "Grief and loss");
    EXPECT_EQ(b.at("languages").at(0).at("label"), "English");
    EXPECT_EQ(b.at("crisis_resources").at(0).at("region"), "US");
    EXPECT_EQ(b.at("limits").at("max_frame_bytes"), 4096);
    EXPECT_EQ(b.at("limits").at("intake_max_chars"), 500);
    EXPECT_EQ(b.at("limits").at("tags_max"), 5);
    EXPECT_EQ(b.at("limits").at("languages_max"), 5);
    EXPECT_EQ(b.at("limits").at("capacity_max"), 5);
    EXPECT_TRUE(b.at("lexicon_version").is_null());
}

TEST_F(HttpRoutesTest, StaticFilesAndNotFound) {
    auto r = routes().route("GET", "/", false);
    EXPECT_EQ(r.response.status, 200u);
    ASSERT_TRUE(r.response.file);
    EXPECT_EQ(r.response.content_type, "text/html; charset=utf-8");
    // The pages run under a strict CSP: no inline script, sockets to this origin only.
    auto csp = std::find_if(r.response.headers.begin(), r.response.headers.end(),
                            [](const auto& h) { return h.first == "Content-Security-Policy"; });
    ASSERT_NE(csp, r.response.headers.end());
    EXPECT_NE(csp->second.find("script-src 'self' 'wasm-unsafe-eval';"), std::string::npos);
    EXPECT_EQ(csp->second.find("unsafe-inline"), std::string::npos);
    EXPECT_NE(csp->second.find("frame-ancestors 'none'"), std::string::npos);
    auto nf = routes().route("GET", "/nope.html", false);
    EXPECT_EQ(nf.response.status, 404u);
    EXPECT_EQ(body(nf).at("error"), "not_found");
    EXPECT_EQ(routes().route("GET", "/%2e%2e/etc/passwd", false).response.status, 404u);
}

TEST_F(HttpRoutesTest, WrongMethodIs405WithAllow) {
    for (const char* path : {"/healthz", "/readyz", "/metrics", "/v1/config", "/"}) {
        auto r = routes().route("POST", path, false);
        EXPECT_EQ(r.response.status, 405u) << path;
        EXPECT_EQ(body(r).at("error"), "method_not_allowed");
        ASSERT_FALSE(r.response.headers.empty());
        EXPECT_EQ(r.response.headers[0].first, "Allow");
    }
    EXPECT_EQ(routes().route("DELETE", "/v1/ws", false).response.status, 405u);
}

TEST_F(HttpRoutesTest, WebSocketPath) {
    EXPECT_TRUE(routes().route("GET", "/v1/ws", true).websocket);
    auto r = routes().route("GET", "/v1/ws", false);
    EXPECT_FALSE(r.websocket);
    EXPECT_EQ(r.response.status, 426u);
    EXPECT_EQ(body(r).at("error"), "upgrade_required");
    EXPECT_EQ(routes().route("HEAD", "/v1/ws", false).response.status, 426u);
}

TEST(OriginAllowed, Rules) {
    ks::config cfg;
    cfg.allowed_origins = {"https://kindred.example.org"};
    EXPECT_TRUE(ks::origin_allowed(std::nullopt, "h:1", cfg));
    EXPECT_TRUE(ks::origin_allowed("https://kindred.example.org", "h:1", cfg));
    EXPECT_FALSE(ks::origin_allowed("https://evil.example", "h:1", cfg));
    EXPECT_FALSE(ks::origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", cfg));
    EXPECT_FALSE(ks::origin_allowed("null", "h:1", cfg));
    cfg.dev_mode = true;
    EXPECT_TRUE(ks::origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", cfg));
    EXPECT_FALSE(ks::origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8080", cfg));
}

// ---- staff login and logout (issue #3) ---------------------------------------------------

namespace {

ks::route_result post(const ks::http_routes& r, std::string_view target, std::string_view body,
                      std::optional<std::string_view> authorization = std::nullopt) {
    return r.route(ks::http_request_view{"POST", target, false, body, authorization, std::nullopt,
                                         std::nullopt});
}

} // namespace

TEST_F(HttpRoutesTest, LoginHandsTheCredentialsToAuth) {
    auto r = post(routes(), "/v1/auth/login",
                  R"({"username":"river","password":"pw with spaces","extra":1})");
    ASSERT_TRUE(r.auth);
    EXPECT_EQ(r.auth->what, ks::auth_action::kind::login);
    EXPECT_EQ(r.auth->login.username, "river");
    EXPECT_EQ(r.auth->login.password, "pw with spaces");
    EXPECT_FALSE(r.websocket);
}

TEST_F(HttpRoutesTest, ABadLoginBodyIs400NamingTheField) {
    auto rt = routes();
    struct {
        const char* body;
        const char* code;
        const char* field;
    } cases[] = {
        {"", "bad_json", "body"},
        {"{not json", "bad_json", "body"},
        {"[1,2]", "bad_message", "body"},
        {R"({"password":"x"})", "bad_message", "username"},
        {R"({"username":7,"password":"x"})", "bad_message", "username"},
        {R"({"username":"river"})", "bad_message", "password"},
        {R"({"username":"river","password":null})", "bad_message", "password"},
    };
    for (const auto& c : cases) {
        auto r = post(rt, "/v1/auth/login", c.body);
        EXPECT_FALSE(r.auth) << c.body;
        EXPECT_EQ(r.response.status, 400u) << c.body;
        EXPECT_EQ(body(r).at("error"), c.code) << c.body;
        EXPECT_EQ(std::string(body(r).at("message").as_string()).rfind(c.field, 0), 0u) << c.body;
    }
}

TEST_F(HttpRoutesTest, AuthRoutesTakeOnlyPost) {
    for (const char* path : {"/v1/auth/login", "/v1/auth/logout"}) {
        for (const char* method : {"GET", "HEAD", "PUT"}) {
            auto r = routes().route(method, path, false);
            EXPECT_EQ(r.response.status, 405u) << method << path;
            EXPECT_FALSE(r.auth);
            ASSERT_FALSE(r.response.headers.empty());
            EXPECT_EQ(r.response.headers[0],
                      (std::pair<std::string, std::string>{"Allow", "POST"}));
        }
    }
}

TEST_F(HttpRoutesTest, LogoutNeedsABearerToken) {
    auto rt = routes();
    auto ok = post(rt, "/v1/auth/logout", "", "Bearer abc.DEF_-");
    ASSERT_TRUE(ok.auth);
    EXPECT_EQ(ok.auth->what, ks::auth_action::kind::logout);
    EXPECT_EQ(ok.auth->token, "abc.DEF_-");
    for (std::optional<std::string_view> h :
         {std::optional<std::string_view>{}, std::optional<std::string_view>{"Basic abc"},
          std::optional<std::string_view>{"Bearer "}}) {
        auto r = post(rt, "/v1/auth/logout", "", h);
        EXPECT_FALSE(r.auth);
        EXPECT_EQ(r.response.status, 401u);
        EXPECT_EQ(body(r).at("error"), "not_authenticated");
        bool www = false;
        for (const auto& [k, v] : r.response.headers)
            www = www || (k == "WWW-Authenticate" && v == "Bearer");
        EXPECT_TRUE(www);
    }
}

TEST(BearerToken, Parsing) {
    EXPECT_EQ(ks::bearer_token("Bearer abc"), "abc");
    EXPECT_EQ(ks::bearer_token("bearer   abc  "), "abc");
    EXPECT_EQ(ks::bearer_token("BEARER abc"), "abc");
    EXPECT_FALSE(ks::bearer_token("Bearer"));
    EXPECT_FALSE(ks::bearer_token("Bearerabc"));
    EXPECT_FALSE(ks::bearer_token("Bearer    "));
    EXPECT_FALSE(ks::bearer_token("Bearer a b"));
    EXPECT_FALSE(ks::bearer_token("Bearer a\tb"));
    EXPECT_FALSE(ks::bearer_token("Basic abc"));
    EXPECT_FALSE(ks::bearer_token(""));
}

TEST(TokenInQuery, Detection) {
    EXPECT_TRUE(ks::token_in_query("/v1/ws?token=abc"));
    EXPECT_TRUE(ks::token_in_query("/x?a=1&Access_Token=abc"));
    EXPECT_TRUE(ks::token_in_query("/x?a=1;resume_token=abc#frag"));
    EXPECT_TRUE(ks::token_in_query("/x?token"));
    EXPECT_FALSE(ks::token_in_query("/x?tokens=1&mytoken=2"));
    EXPECT_FALSE(ks::token_in_query("/token=abc"));
    EXPECT_FALSE(ks::token_in_query("/x#?token=abc"));
    EXPECT_FALSE(ks::token_in_query("/x"));
}

TEST_F(HttpRoutesTest, ATokenInTheUrlIs400OnAnyPath) {
    for (const char* target : {"/healthz?token=abc", "/v1/ws?access_token=abc", "/?token=x",
                               "/v1/auth/login?token=x", "/nope?resume_token=x"}) {
        auto r = routes().route("GET", target, true);
        EXPECT_FALSE(r.websocket) << target;
        EXPECT_EQ(r.response.status, 400u) << target;
        EXPECT_EQ(body(r).at("error"), "bad_message") << target;
    }
    EXPECT_EQ(routes().route("GET", "/healthz?x=token", false).response.status, 200u);
}

namespace {

ks::route_result lexicon_request(const ks::http_routes& r, std::string_view method,
                                 std::optional<std::string_view> if_none_match) {
    return r.route(ks::http_request_view{
        method, "/v1/lexicon", false, {}, std::nullopt, if_none_match, std::nullopt});
}

} // namespace

TEST_F(HttpRoutesTest, LexiconServedWithEtag) {
    ks::http_routes r(
        cfg_, {}, metrics_, [] { return true; },
        ks::lexicon_document{"2026.1", R"({"version":"2026.1"})"});
    auto got = lexicon_request(r, "GET", std::nullopt);
    EXPECT_EQ(got.response.status, 200u);
    EXPECT_EQ(got.response.content_type, "application/json");
    EXPECT_EQ(got.response.body, R"({"version":"2026.1"})");
    auto& h = got.response.headers;
    EXPECT_NE(
        std::find(h.begin(), h.end(), std::pair<std::string, std::string>{"ETag", "\"2026.1\""}),
        h.end());
    EXPECT_TRUE(
        std::any_of(h.begin(), h.end(), [](const auto& p) { return p.first == "Cache-Control"; }));
    EXPECT_EQ(body(r.route("GET", "/v1/config", false)).at("lexicon_version"), "2026.1");
}

TEST_F(HttpRoutesTest, LexiconNotModifiedForMatchingTag) {
    ks::http_routes r(
        cfg_, {}, metrics_, [] { return true; }, ks::lexicon_document{"2026.1", "{}"});
    auto same = lexicon_request(r, "GET", "\"2026.1\"");
    EXPECT_EQ(same.response.status, 304u);
    EXPECT_TRUE(same.response.body.empty());
    EXPECT_EQ(lexicon_request(r, "HEAD", "W/\"x\", W/\"2026.1\"").response.status, 304u);
    EXPECT_EQ(lexicon_request(r, "GET", "*").response.status, 304u);
    EXPECT_EQ(lexicon_request(r, "GET", "\"2025.9\"").response.status, 200u);
    EXPECT_EQ(lexicon_request(r, "HEAD", std::nullopt).response.status, 200u);
    EXPECT_EQ(lexicon_request(r, "POST", std::nullopt).response.status, 405u);
}

TEST_F(HttpRoutesTest, LexiconAbsentIsNotFoundAndVersionNull) {
    auto r = routes();
    EXPECT_EQ(lexicon_request(r, "GET", std::nullopt).response.status, 404u);
    EXPECT_TRUE(body(r.route("GET", "/v1/config", false)).at("lexicon_version").is_null());
}

TEST(LexiconEtag, QuotesTheVersion) {
    EXPECT_EQ(ks::lexicon_etag("v1"), "\"v1\"");
    EXPECT_EQ(ks::lexicon_etag("a\"b\\c"), "\"abc\"");
    EXPECT_FALSE(ks::if_none_match_matches("\"v2\"", "\"v1\""));
    EXPECT_FALSE(ks::if_none_match_matches("", "\"v1\""));
    EXPECT_TRUE(ks::if_none_match_matches(" \"v0\" ,\"v1\" ", "\"v1\""));
}

TEST(AcceptsGzip, ReadsCodingsAndQValues) {
    EXPECT_TRUE(ks::accepts_gzip("gzip"));
    EXPECT_TRUE(ks::accepts_gzip("gzip, deflate, br"));
    EXPECT_TRUE(ks::accepts_gzip("br;q=1.0, GZIP;q=0.5"));
    EXPECT_TRUE(ks::accepts_gzip("*"));
    EXPECT_FALSE(ks::accepts_gzip(""));
    EXPECT_FALSE(ks::accepts_gzip("identity"));
    EXPECT_FALSE(ks::accepts_gzip("br, deflate"));
    EXPECT_FALSE(ks::accepts_gzip("gzip;q=0"));
    EXPECT_FALSE(ks::accepts_gzip("gzip;q=0.000"));
    EXPECT_FALSE(ks::accepts_gzip("xgzip"));
}

TEST_F(HttpRoutesTest, PreCompressedCopyOnlyWhenAcceptedAndFresh) {
    namespace fs = std::filesystem;
    std::ofstream(dir_.path() / "app.js") << "export const x = 1;";
    std::ofstream(dir_.path() / "app.js.gz") << "gz-bytes";
    auto header = [](const ks::route_result& r, std::string_view name) -> std::string {
        for (const auto& [k, v] : r.response.headers)
            if (k == name) return v;
        return {};
    };
    ks::http_request_view gzip_ok{"GET", "/app.js", false, {}, std::nullopt, std::nullopt, "gzip"};
    auto r = routes().route(gzip_ok);
    ASSERT_TRUE(r.response.file);
    EXPECT_EQ(r.response.file->filename(), "app.js.gz");
    EXPECT_EQ(header(r, "Content-Encoding"), "gzip");
    EXPECT_EQ(header(r, "Vary"), "Accept-Encoding");
    EXPECT_EQ(r.response.content_type, "text/javascript; charset=utf-8");

    // Not accepted: the plain file.
    auto plain = routes().route("GET", "/app.js", false);
    ASSERT_TRUE(plain.response.file);
    EXPECT_EQ(plain.response.file->filename(), "app.js");
    EXPECT_EQ(header(plain, "Content-Encoding"), "");
    EXPECT_EQ(header(plain, "Vary"), "Accept-Encoding");

    // The file was edited after the copy was made: the copy is stale, the file is served.
    fs::last_write_time(dir_.path() / "app.js.gz",
                        fs::last_write_time(dir_.path() / "app.js") - std::chrono::hours(1));
    auto stale = routes().route(gzip_ok);
    ASSERT_TRUE(stale.response.file);
    EXPECT_EQ(stale.response.file->filename(), "app.js");
    EXPECT_EQ(header(stale, "Content-Encoding"), "");
}

TEST(WebSocketHandshake, KeyMustBeBase64OfSixteenBytesAndVersion13) {
    const std::string_view good_key = "dGhlIHNhbXBsZSBub25jZQ=="; // RFC 6455 §1.3's example
    EXPECT_FALSE(ks::websocket_handshake_refusal(good_key, "13"));
    for (std::string_view key :
         {"", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZR==", "dGhlIHNhbXBsZSBub25j",
          "dGhlIHNhbXBsZSBub25jZQ==AAAA", "dGhl!HNhbXBsZSBub25jZQ=="}) {
        auto r = ks::websocket_handshake_refusal(key, "13");
        ASSERT_TRUE(r) << key;
        EXPECT_EQ(r->status, 400u);
        EXPECT_EQ(json::parse(r->body).at("error"), "bad_message");
    }
    auto missing = ks::websocket_handshake_refusal(good_key, "");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 400u);
    auto old = ks::websocket_handshake_refusal(good_key, "8");
    ASSERT_TRUE(old);
    EXPECT_EQ(old->status, 426u);
    EXPECT_EQ(json::parse(old->body).at("error"), "upgrade_required");
    EXPECT_NE(std::find(old->headers.begin(), old->headers.end(),
                        std::pair<std::string, std::string>{"Sec-WebSocket-Version", "13"}),
              old->headers.end());
}
