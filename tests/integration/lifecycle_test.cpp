// lifecycle_test.cpp — the server process as a whole: readiness following Redis, the
// instance heartbeat, SIGTERM/SIGINT draining, the privacy of its log, and the command line
// (--help, bad values exit 2 naming the option).
#include "integration_support.hpp"

#include <algorithm>
#include <csignal>
#include <fstream>

namespace kindred::itest {
namespace {

namespace fs = std::filesystem;
using testsupport::eventually;

class Lifecycle : public integration_test {
protected:
    bool ready() { return get("/readyz").status == 200; }
    bool unready() { return get("/readyz").status == 503; }
};

TEST_F(Lifecycle, ReadyzIs503WhileRedisIsStoppedAnd200OnceItIsBack) {
    start_server({"--heartbeat-s", "1", "--redis-command-timeout-ms", "300"});
    ASSERT_TRUE(eventually([&] { return ready(); }, 10s)) << get("/readyz").body;
    redis_.stop();
    ASSERT_TRUE(eventually([&] { return unready(); }, 10s)) << get("/readyz").body;
    auto r = get("/readyz");
    EXPECT_EQ(str(parse_object(r.body), "error"), "unavailable") << r.body;
    EXPECT_EQ(get("/healthz").status, 200) << "healthz must not depend on Redis";
    redis_.start();
    EXPECT_TRUE(eventually([&] { return ready(); }, 15s)) << get("/readyz").body;
}

TEST_F(Lifecycle, HelloWhileRedisIsDownIsUnavailableAndTheConnectionStaysOpen) {
    start_server({"--heartbeat-s", "1", "--redis-command-timeout-ms", "300"});
    ASSERT_TRUE(eventually([&] { return ready(); }, 10s));
    redis_.stop();
    ASSERT_TRUE(eventually([&] { return unready(); }, 10s));
    auto ws = connect();
    auto frames = ws.request(hello_json("seeker", "1"), 10s);
    ASSERT_FALSE(frames.empty());
    expect_error(last(frames), "unavailable", "1");
    redis_.start();
    ASSERT_TRUE(eventually([&] { return ready(); }, 15s));
    auto h = hello(ws, {}, "2");
    EXPECT_TRUE(h.ok);
}

TEST_F(Lifecycle, InstanceHeartbeatKeyHasATtlOfThreeBeats) {
    start_server({"--heartbeat-s", "1"});
    std::string key;
    ASSERT_TRUE(eventually([&] {
        return !(key = find_key(redis_, "inst", server_->instance_id())).empty();
    })) << ::testing::PrintToString(redis_.keys());
    auto ttl = std::stol(redis_.command({"TTL", key}));
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 3);
}

TEST_F(Lifecycle, KilledInstanceKeyExpiresByTtl) {
    start_server({"--heartbeat-s", "1"});
    const auto id = server_->instance_id();
    ASSERT_TRUE(eventually([&] { return !find_key(redis_, "inst", id).empty(); }));
    server_->kill9();
    EXPECT_TRUE(eventually([&] { return find_key(redis_, "inst", id).empty(); }, 10s));
}

TEST_F(Lifecycle, SigtermClosesSocketsWith1012DeregistersAndExitsZero) {
    start_server({"--heartbeat-s", "1", "--shutdown-grace-s", "2"});
    const auto id = server_->instance_id();
    ASSERT_TRUE(eventually([&] { return !find_key(redis_, "inst", id).empty(); }));
    const auto p = port();
    auto authenticated = seeker();
    auto fresh = connect();
    server_->signal(SIGTERM);
    expect_close(authenticated.receive(10s), 1012);
    expect_close(fresh.receive(10s), 1012);
    // The contract bound is shutdown_grace_s + 1 s; the margin absorbs a loaded CI machine.
    EXPECT_EQ(server_->wait_exit(6s), 0) << server_->log();
    EXPECT_TRUE(find_key(redis_, "inst", id).empty()) << "inst key left behind";
    ws_client late;
    kindred::client::ws_options o;
    o.port = p;
    o.timeout = 2s;
    EXPECT_FALSE(late.connect(o).ok()) << "still accepting after exit";
}

TEST_F(Lifecycle, SigintAlsoDrainsAndExitsZero) {
    start_server({"--shutdown-grace-s", "2"});
    auto ws = seeker();
    server_->signal(SIGINT);
    expect_close(ws.receive(10s), 1012);
    EXPECT_EQ(server_->wait_exit(6s), 0) << server_->log();
}

TEST_F(Lifecycle, LogNeverContainsMessageTextIntakeOrTokens) {
    start_server({"--log-level", "trace"});
    const std::string canary = "CANARY8d1f0e";
    std::string token_secret;
    {
        auto ws = connect();
        // Unknown fields are ignored, never logged.
        auto frames = ws.request(R"({"type":"hello","id":"1","v":1,"role":"seeker","note":")" +
                                 canary + "-hello\"}");
        auto ok = object_of(last(frames));
        auto token = str(ok, "resume_token");
        auto session = str(ok, "session");
        ASSERT_FALSE(token.empty());
        token_secret = token.substr(session.size() + 1);
        // Bad JSON carrying text.
        ASSERT_FALSE(ws.send_text("{\"type\":\"ping\",\"text\":\"" + canary + "-badjson"));
        ws.receive();
        // An intake (the one text the server reads) in a request_match.
        ws.request(R"({"type":"request_match","id":"2","tags":["grief"],"languages":["en"],)"
                   R"("pubkey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","intake":")" +
                   canary + "-intake\"}");
        // A bad value in a known field.
        ws.request(R"({"type":"typing","id":"3","conversation_id":[")" + canary + "-field\"]}");
        ws.close(1000);
    }
    {
        // A staff token that is not valid: never logged either.
        auto ws = connect();
        ws.request(R"({"type":"hello","id":"1","v":1,"role":"peer","token":")" + canary +
                   "-token\"}");
        ws.receive();
    }
    {
        // A forged resume token.
        auto ws = connect();
        ws.request(resume_json("AAAAAAAAAAAAAAAAAAAAAA." + canary + "-resume"));
    }
    EXPECT_EQ(server_->stop(), 0);
    auto log = server_->log();
    EXPECT_FALSE(log.empty());
    EXPECT_EQ(log.find(canary), std::string::npos) << log;
    EXPECT_EQ(log.find(token_secret), std::string::npos) << "resume token secret in the log";
}

// Runs kindred-server with args until it exits; returns {exit code, output}.
std::pair<int, std::string> run_server(std::vector<std::string> args,
                                       std::vector<std::string> env = {}) {
    testsupport::temp_dir dir("kindred-cli");
    args.insert(args.begin(), (testsupport::build_bin_dir() / "kindred-server").string());
    auto p = testsupport::child_process::spawn(args, dir.path() / "out.log", env);
    int code = p.wait_for(10s);
    return {code, p.log()};
}

bool names(const std::string& out, std::string_view dashed) {
    std::string underscored(dashed);
    std::replace(underscored.begin(), underscored.end(), '-', '_');
    return out.find(dashed) != std::string::npos || out.find(underscored) != std::string::npos;
}

TEST(ServerCommandLine, HelpListsEveryOptionAndExitsZero) {
    auto [code, out] = run_server({"--help"});
    EXPECT_EQ(code, 0) << out;
    for (auto option :
         {"--config", "--listen", "--redis", "--threads", "--instance-id", "--dev", "--web-root",
          "--allowed-origin", "--port-file", "--log-level", "--max-frame-bytes", "--seeker-grace-s",
          "--shutdown-grace-s", "--heartbeat-s", "--redis-command-timeout-ms", "--max-bad-messages",
          "--messages-per-second", "--message-burst"})
        EXPECT_NE(out.find(option), std::string::npos) << option << " missing from --help";
}

TEST(ServerCommandLine, UnparseableNumberExitsTwoNamingTheOption) {
    auto [code, out] = run_server({"--max-frame-bytes", "abc"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(names(out, "max-frame-bytes")) << out;
}

TEST(ServerCommandLine, BadListenAddressExitsTwoNamingTheOption) {
    auto [code, out] = run_server({"--listen", "nonsense"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(names(out, "listen")) << out;
}

TEST(ServerCommandLine, UnknownLogLevelExitsTwoNamingTheOption) {
    auto [code, out] = run_server({"--log-level", "loud"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(names(out, "log-level")) << out;
}

TEST(ServerCommandLine, BadEnvironmentValueExitsTwoNamingIt) {
    auto [code, out] = run_server({}, {"KINDRED_MAX_FRAME_BYTES=lots"});
    EXPECT_EQ(code, 2) << out;
    EXPECT_TRUE(names(out, "max-frame-bytes") ||
                out.find("KINDRED_MAX_FRAME_BYTES") != std::string::npos)
        << out;
}

TEST(ServerCommandLine, MissingOrInvalidConfigFileExitsTwoNamingTheFile) {
    testsupport::temp_dir dir("kindred-cfg");
    auto missing = dir.path() / "missing-config.json";
    auto [code, out] = run_server({"--config", missing.string()});
    EXPECT_EQ(code, 2) << out;
    EXPECT_NE(out.find("missing-config.json"), std::string::npos) << out;

    auto broken = dir.path() / "broken-config.json";
    std::ofstream(broken) << "{\n  \"listen\": \"127.0.0.1:0\",\n  \"threads\": ,\n}\n";
    auto [code2, out2] = run_server({"--config", broken.string()});
    EXPECT_EQ(code2, 2) << out2;
    EXPECT_NE(out2.find("broken-config.json"), std::string::npos) << out2;
}

} // namespace
} // namespace kindred::itest
