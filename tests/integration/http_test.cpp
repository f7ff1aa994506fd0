// http_test.cpp — the HTTP side of the one port against the real server: /healthz, /metrics,
// /v1/config (and configuration precedence), static files, traversal attempts, methods,
// malformed and oversized requests.
#include "integration_support.hpp"

#include <filesystem>
#include <fstream>

#ifndef KINDRED_SOURCE_DIR
#error "KINDRED_SOURCE_DIR must be defined by CMake"
#endif

namespace kindred::itest {
namespace {

namespace fs = std::filesystem;
using kindred::client::http_raw;
using kindred::client::http_request;

class Http : public integration_test {
protected:
    void SetUp() override { start_server(); }
};

void expect_json_error(const http_response& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    auto o = parse_object(r.body);
    EXPECT_FALSE(str(o, "error").empty()) << r.body;
    EXPECT_TRUE(o.contains("message")) << r.body;
    auto type = r.header("Content-Type").value_or("");
    EXPECT_EQ(type.rfind("application/json", 0), 0u) << type;
}

std::string raw_get(std::string_view target) {
    return "GET " + std::string(target) +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
}

TEST_F(Http, HealthzIs200Ok) {
    auto r = get("/healthz");
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200);
    auto o = parse_object(r.body);
    EXPECT_EQ(str(o, "status"), "ok");
}

TEST_F(Http, HeadWorksWhereGetDoes) {
    auto r = http_request("HEAD", "127.0.0.1", port(), "/healthz");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body.empty());
    auto index = http_request("HEAD", "127.0.0.1", port(), "/");
    EXPECT_EQ(index.status, 200);
    EXPECT_TRUE(index.body.empty());
}

TEST_F(Http, ReadyzIs200WithRedisUp) {
    EXPECT_TRUE(testsupport::eventually([&] { return get("/readyz").status == 200; }, 10s))
        << get("/readyz").body;
}

TEST_F(Http, MetricsHaveTheNamedSeries) {
    auto r = get("/metrics");
    ASSERT_EQ(r.status, 200);
    auto type = r.header("Content-Type").value_or("");
    EXPECT_EQ(type.rfind("text/plain; version=0.0.4", 0), 0u) << type;
    for (auto name : {"kindred_connections", "kindred_redis_command_seconds_sum",
                      "kindred_redis_command_seconds_count", "kindred_up"})
        EXPECT_TRUE(metric_value(r.body, name).has_value()) << name << " missing:\n" << r.body;
    EXPECT_TRUE(metric_value(r.body, "kindred_redis_command_seconds_bucket", {"le=\"+Inf\""}))
        << r.body;
    EXPECT_EQ(metric_value(r.body, "kindred_up"), 1.0);
    for (auto name : {"kindred_connections", "kindred_frames_in_total", "kindred_frames_out_total",
                      "kindred_errors_total", "kindred_redis_command_seconds"})
        EXPECT_NE(r.body.find("# TYPE " + std::string(name) + " "), std::string::npos)
            << "no TYPE line for " << name;
}

TEST_F(Http, MetricsCountConnectionsFramesAndErrors) {
    {
        auto ws = seeker();
        for (int i = 0; i < 3; ++i)
            expect_ok(last(ws.request(R"({"type":"ping","id":"p)" + std::to_string(i) + "\"}")),
                      "p" + std::to_string(i));
        ASSERT_FALSE(ws.send_text("{"));
        expect_error(ws.receive(), "bad_json");

        auto m = get("/metrics").body;
        EXPECT_EQ(metric_value(m, "kindred_connections"), 1.0) << m;
        EXPECT_EQ(metric_value(m, "kindred_frames_in_total", {"type=\"ping\""}), 3.0) << m;
        EXPECT_EQ(metric_value(m, "kindred_frames_in_total", {"type=\"hello\""}), 1.0) << m;
        EXPECT_EQ(metric_value(m, "kindred_frames_out_total", {"type=\"pong\""}), 3.0) << m;
        EXPECT_GE(metric_value(m, "kindred_frames_out_total", {"type=\"ok\""}).value_or(0), 4.0)
            << m;
        EXPECT_EQ(metric_value(m, "kindred_errors_total", {"code=\"bad_json\""}), 1.0) << m;
        EXPECT_GE(metric_value(m, "kindred_redis_command_seconds_count").value_or(0), 1.0) << m;
        ws.close(1000);
    }
    EXPECT_TRUE(testsupport::eventually([&] {
        return metric_value(get("/metrics").body, "kindred_connections") == 0.0;
    })) << get("/metrics").body;
}

TEST_F(Http, ConfigHasTheCatalogFromTheConfigFile) {
    start_server({"--max-frame-bytes", "4096"});
    auto r = get("/v1/config");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Content-Type").value_or("").rfind("application/json", 0), 0u);
    auto o = parse_object(r.body);
    auto file = boost::json::parse(R"({
      "languages": [{"id": "en", "label": "English"}, {"id": "es", "label": "Español"}],
      "tags": [{"id": "grief", "labels": {"en": "Grief and loss", "es": "Duelo y pérdida"}},
               {"id": "test_tag", "labels": {"en": "Test tag"}}],
      "crisis_resources": [{"region": "INTL", "name": "Find a Helpline",
                            "url": "https://findahelpline.com", "languages": ["en", "es"]}]
    })")
                    .as_object();
    EXPECT_EQ(o["protocol_version"], boost::json::value(1));
    EXPECT_EQ(o["tags"], file["tags"]) << r.body;
    EXPECT_EQ(o["languages"], file["languages"]) << r.body;
    EXPECT_EQ(o["crisis_resources"], file["crisis_resources"]) << r.body;
    ASSERT_TRUE(o["limits"].is_object()) << r.body;
    auto& limits = o["limits"].as_object();
    EXPECT_EQ(limits["max_frame_bytes"], boost::json::value(4096));
    EXPECT_EQ(limits["intake_max_chars"], boost::json::value(500));
    EXPECT_EQ(limits["tags_max"], boost::json::value(5));
    EXPECT_EQ(limits["languages_max"], boost::json::value(5));
    EXPECT_EQ(limits["capacity_max"], boost::json::value(5));
    ASSERT_TRUE(o.contains("lexicon_version"));
    // The version of the lexicon the test server loaded (issue #5).
    EXPECT_TRUE(o.at("lexicon_version").is_string()) << r.body;
    EXPECT_FALSE(o.at("lexicon_version").as_string().empty()) << r.body;
}

TEST_F(Http, SampleConfigStartsAndServesItsCatalog) {
    auto sample = read_text_file(fs::path(KINDRED_SOURCE_DIR) / "config/kindred.sample.json");
    ASSERT_FALSE(sample.empty());
    start_server({}, sample);
    auto r = get("/v1/config");
    ASSERT_EQ(r.status, 200) << r.body;
    auto o = parse_object(r.body);
    ASSERT_TRUE(o["tags"].is_array());
    std::vector<std::string> ids;
    for (auto& t : o["tags"].as_array())
        ids.push_back(str(t.as_object(), "id"));
    EXPECT_GE(ids.size(), 8u);
    for (auto id : {"grief", "addiction", "caregiving", "veterans", "lgbtq", "chronic_illness",
                    "abuse_survivor", "new_parents"})
        EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
    EXPECT_EQ(o["limits"].as_object()["max_frame_bytes"], boost::json::value(65536));
}

TEST_F(Http, ConfigPrecedenceIsFileThenEnvThenFlags) {
    // A plain JSON config that sets one limit; the catalog falls back to the defaults.
    auto base = boost::json::parse(R"({"allowed_origins":["https://kindred.test"]})").as_object();
    base["limits"] = boost::json::object{{"max_frame_bytes", 1500}};
    auto config = boost::json::serialize(base);

    auto frame_limit = [&](std::vector<std::string> args, std::vector<std::string> env) {
        server_options o;
        o.redis = redis_.unix_address();
        o.args = std::move(args);
        o.env = std::move(env);
        o.config_json = config;
        server_process s(std::move(o));
        auto r = kindred::client::http_get("127.0.0.1", s.port(), "/v1/config");
        auto obj = parse_object(r.body);
        auto* limits = obj.if_contains("limits");
        if (!limits || !limits->is_object()) return std::int64_t{-1};
        auto* v = limits->as_object().if_contains("max_frame_bytes");
        return v && v->is_int64() ? v->as_int64() : std::int64_t{-1};
    };
    EXPECT_EQ(frame_limit({}, {}), 1500);
    EXPECT_EQ(frame_limit({}, {"KINDRED_MAX_FRAME_BYTES=2048"}), 2048);
    EXPECT_EQ(frame_limit({"--max-frame-bytes", "3000"}, {"KINDRED_MAX_FRAME_BYTES=2048"}), 3000);
}

TEST_F(Http, StaticFilesWithContentTypes) {
    {
        std::ofstream(server_->web_root() / "style.css") << "body{}";
        std::ofstream(server_->web_root() / "app.js") << "let x = 1;";
        fs::create_directories(server_->web_root() / "sub");
        std::ofstream(server_->web_root() / "sub" / "page.html") << "<p>sub</p>";
    }
    auto index = get("/");
    EXPECT_EQ(index.status, 200);
    EXPECT_EQ(index.body, testsupport::default_index_html);
    EXPECT_EQ(index.header("Content-Type").value_or("").rfind("text/html", 0), 0u);
    EXPECT_EQ(get("/index.html").body, testsupport::default_index_html);
    auto css = get("/style.css");
    EXPECT_EQ(css.status, 200);
    EXPECT_EQ(css.body, "body{}");
    EXPECT_EQ(css.header("Content-Type").value_or("").rfind("text/css", 0), 0u);
    auto js = get("/app.js");
    EXPECT_EQ(js.status, 200);
    auto js_type = js.header("Content-Type").value_or("");
    EXPECT_TRUE(js_type.rfind("application/javascript", 0) == 0 ||
                js_type.rfind("text/javascript", 0) == 0)
        << js_type;
    auto sub = get("/sub/page.html");
    EXPECT_EQ(sub.status, 200);
    EXPECT_EQ(sub.body, "<p>sub</p>");
}

TEST_F(Http, UnknownPathIs404Json) {
    expect_json_error(get("/no-such-file.html"), 404);
    expect_json_error(get("/v1/nothing"), 404);
}

TEST_F(Http, TraversalAttemptsAre404) {
    // A file just outside the web root that a successful traversal would reveal.
    std::ofstream(server_->dir() / "secret.txt") << "CANARY-OUTSIDE-WEB-ROOT";
    for (auto target :
         {"/../etc/passwd", "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
          "/%2e%2e%2fsecret.txt", "/..%2fsecret.txt", "/sub/../../secret.txt", "/.%2e/secret.txt",
          "/index.html%00.txt", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd"}) {
        auto r = http_raw("127.0.0.1", port(), raw_get(target));
        SCOPED_TRACE(target);
        expect_json_error(r, 404);
        EXPECT_EQ(r.body.find("CANARY"), std::string::npos);
        EXPECT_EQ(r.body.find("root:"), std::string::npos);
    }
}

TEST_F(Http, SymlinksOutOfTheWebRootAre404) {
    testsupport::temp_dir outside("kindred-outside");
    std::ofstream(outside.path() / "secret.txt") << "CANARY-BEHIND-SYMLINK";
    fs::create_symlink(outside.path() / "secret.txt", server_->web_root() / "link.txt");
    fs::create_directory_symlink(outside.path(), server_->web_root() / "linkdir");
    for (auto target : {"/link.txt", "/linkdir/secret.txt"}) {
        auto r = get(target);
        SCOPED_TRACE(target);
        expect_json_error(r, 404);
        EXPECT_EQ(r.body.find("CANARY"), std::string::npos);
    }
    // A symlink that stays inside the web root is an ordinary file.
    fs::create_symlink(server_->web_root() / "index.html", server_->web_root() / "inside.html");
    EXPECT_EQ(get("/inside.html").status, 200);
}

TEST_F(Http, WrongMethodOnAKnownPathIs405Json) {
    expect_json_error(http_request("POST", "127.0.0.1", port(), "/healthz", {}, "{}"), 405);
    expect_json_error(http_request("DELETE", "127.0.0.1", port(), "/v1/config"), 405);
}

TEST_F(Http, OversizedHeadersAre431) {
    std::string req =
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(16 * 1024, 'a') +
        "\r\nConnection: close\r\n\r\n";
    auto r = http_raw("127.0.0.1", port(), req);
    EXPECT_EQ(r.status, 431) << r.ec.message() << " " << r.body;
    // The server is unharmed.
    EXPECT_EQ(get("/healthz").status, 200);
}

TEST_F(Http, MalformedRequestIs400) {
    auto r = http_raw("127.0.0.1", port(), "THIS IS NOT HTTP\r\n\r\n");
    EXPECT_EQ(r.status, 400) << r.ec.message() << " " << r.body;
    auto r2 = http_raw("127.0.0.1", port(),
                       "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n");
    EXPECT_EQ(r2.status, 400) << r2.ec.message() << " " << r2.body;
    EXPECT_EQ(get("/healthz").status, 200);
}

} // namespace
} // namespace kindred::itest
