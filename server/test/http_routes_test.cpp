// http_routes_test.cpp — the HTTP surface without sockets: status, content type and JSON
// bodies for every route, 404/405/426, Origin rules and the /v1/config document.
#include <kindred/server/http_routes.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/static_files.hpp>
#include <kindred/testsupport/process.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

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
