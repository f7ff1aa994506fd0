// ws_limits_test.cpp — /v1/ws transport limits against the real server: close codes 1003,
// 1007, 1009 and 1008 (too many bad messages), the per-connection rate limit, and the Origin
// allow-list of the handshake.
#include "integration_support.hpp"

namespace kindred::itest {
namespace {

using kindred::client::connect_result;
using kindred::client::ws_options;

class WsLimits : public integration_test {};

connect_result try_connect(unsigned short port, header_list headers) {
    ws_client ws;
    ws_options o;
    o.port = port;
    o.headers = std::move(headers);
    return ws.connect(o);
}

TEST_F(WsLimits, BinaryFrameClose1003) {
    start_server();
    auto ws = seeker();
    ASSERT_FALSE(ws.send_binary(R"({"type":"ping","id":"p"})"));
    expect_close(ws.receive(), 1003);
}

TEST_F(WsLimits, BinaryFrameBeforeHelloClose1003) {
    start_server();
    auto ws = connect();
    ASSERT_FALSE(ws.send_binary("\x01\x02\x03"));
    expect_close(ws.receive(), 1003);
}

TEST_F(WsLimits, InvalidUtf8Close1007) {
    start_server();
    auto ws = seeker();
    // A lone continuation byte and an overlong encoding inside a JSON string.
    ASSERT_FALSE(ws.send_text("{\"type\":\"ping\",\"id\":\"\x80\xc0\xaf\"}"));
    expect_close(ws.receive(), 1007);
}

TEST_F(WsLimits, FrameOverTheLimitClose1009) {
    start_server({"--max-frame-bytes", "1024"});
    auto ws = seeker();
    std::string big = R"({"type":"ping","id":"p","pad":")" + std::string(2000, 'x') + "\"}";
    ASSERT_FALSE(ws.send_text(big));
    expect_close(ws.receive(), 1009);
}

TEST_F(WsLimits, FrameExactlyAtTheLimitIsAccepted) {
    start_server({"--max-frame-bytes", "1024"});
    auto ws = seeker();
    const std::string head = R"({"type":"ping","id":"p","pad":")";
    const std::string tail = "\"}";
    std::string exact = head + std::string(1024 - head.size() - tail.size(), 'x') + tail;
    ASSERT_EQ(exact.size(), 1024u);
    auto frames = ws.request(exact);
    ASSERT_FALSE(frames.empty());
    expect_ok(last(frames), "p");
}

TEST_F(WsLimits, ConsecutiveBadMessagesClose1008) {
    start_server({"--max-bad-messages", "3"});
    auto ws = seeker();
    ASSERT_FALSE(ws.send_text("not json"));
    expect_error(ws.receive(), "bad_json");
    ASSERT_FALSE(ws.send_text(R"({"type":"nope"})"));
    expect_error(ws.receive(), "unknown_type");
    ASSERT_FALSE(ws.send_text(R"({"type":"typing","conversation_id":7})"));
    expect_error(ws.receive(), "bad_message");
    expect_close(ws.receive(), 1008);
}

TEST_F(WsLimits, AGoodMessageResetsTheBadMessageCount) {
    start_server({"--max-bad-messages", "3"});
    auto ws = seeker();
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 2; ++i) {
            ASSERT_FALSE(ws.send_text("{"));
            expect_error(ws.receive(), "bad_json");
        }
        expect_ok(last(ws.request(R"({"type":"ping","id":"p"})")), "p");
    }
    // Three in a row now do close it.
    for (int i = 0; i < 3; ++i) {
        ASSERT_FALSE(ws.send_text("{"));
        expect_error(ws.receive(), "bad_json");
    }
    expect_close(ws.receive(), 1008);
}

TEST_F(WsLimits, ExcessMessagesAreRateLimitedWithRetryAfter) {
    start_server({"--messages-per-second", "1", "--message-burst", "3"});
    auto ws = seeker();
    constexpr int n = 8;
    for (int i = 0; i < n; ++i)
        ASSERT_FALSE(ws.send_text(R"({"type":"ping","id":"p)" + std::to_string(i) + "\"}"));
    int ok = 0;
    int limited = 0;
    for (int answered = 0; answered < n;) {
        auto f = ws.receive();
        ASSERT_TRUE(f.is_text()) << kindred::client::describe(f);
        auto o = object_of(f);
        auto type = str(o, "type");
        if (type == "pong") continue;
        ++answered;
        if (type == "ok") {
            ++ok;
            continue;
        }
        ASSERT_EQ(type, "error") << f.text;
        ASSERT_EQ(str(o, "code"), "rate_limited") << f.text;
        ++limited;
        ASSERT_TRUE(o.contains("retry_after_ms")) << f.text;
        ASSERT_TRUE(o.at("retry_after_ms").is_int64() || o.at("retry_after_ms").is_uint64())
            << f.text;
        EXPECT_GT(o.at("retry_after_ms").to_number<double>(), 0) << f.text;
        EXPECT_FALSE(str(o, "re").empty()) << "rate_limited for a message with id needs re";
    }
    EXPECT_GE(ok, 1);
    EXPECT_GE(limited, 1);
    // Rate limiting is not misbehaviour: the connection stays open.
    EXPECT_TRUE(ws.is_open());
}

TEST_F(WsLimits, RateLimitedMessagesDoNotCountAsBadMessages) {
    start_server({"--messages-per-second", "1", "--message-burst", "2", "--max-bad-messages", "2"});
    auto ws = seeker();
    constexpr int n = 6;
    for (int i = 0; i < n; ++i)
        ASSERT_FALSE(ws.send_text(R"({"type":"ping","id":"p)" + std::to_string(i) + "\"}"));
    for (int answered = 0; answered < n;) {
        auto f = ws.receive();
        ASSERT_TRUE(f.is_text()) << "closed after rate limiting: " << kindred::client::describe(f);
        if (str(object_of(f), "type") != "pong") ++answered;
    }
}

TEST_F(WsLimits, DisallowedOriginGets403Json) {
    start_server();
    auto r = try_connect(port(), {{"Origin", "https://evil.example"}});
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.http_status, 403);
    auto o = parse_object(r.body);
    EXPECT_FALSE(str(o, "error").empty()) << r.body;
    EXPECT_TRUE(o.contains("message")) << r.body;
}

TEST_F(WsLimits, AllowedOriginAndNoOriginAreAccepted) {
    start_server();
    auto allowed = try_connect(port(), {{"Origin", "https://kindred.test"}});
    EXPECT_TRUE(allowed.ok()) << allowed.ec.message() << " HTTP " << allowed.http_status;
    EXPECT_EQ(allowed.http_status, 101);
    auto none = try_connect(port(), {});
    EXPECT_TRUE(none.ok()) << none.ec.message() << " HTTP " << none.http_status;
}

TEST_F(WsLimits, OwnOriginIsAllowedOnlyInDevMode) {
    start_server();
    const std::string own = "http://127.0.0.1:" + std::to_string(port());
    EXPECT_EQ(try_connect(port(), {{"Origin", own}}).http_status, 403);
    start_server({"--dev"});
    const std::string own_dev = "http://127.0.0.1:" + std::to_string(port());
    auto r = try_connect(port(), {{"Origin", own_dev}});
    EXPECT_TRUE(r.ok()) << r.ec.message() << " HTTP " << r.http_status << " " << r.body;
}

TEST_F(WsLimits, PlainGetOnWsPathIs426Json) {
    start_server();
    auto r = get("/v1/ws");
    EXPECT_EQ(r.status, 426);
    auto o = parse_object(r.body);
    EXPECT_FALSE(str(o, "error").empty()) << r.body;
}

TEST_F(WsLimits, IdleSocketThatAnswersPingsStaysOpen) {
    start_server({"--idle-ping-s", "1"});
    auto ws = seeker();
    // While a read is pending the client answers the server's pings; three idle periods
    // pass with nothing but pings on the wire.
    auto f = ws.receive(3500ms);
    EXPECT_TRUE(f.is_timeout()) << kindred::client::describe(f);
    expect_ok(last(ws.request(R"({"type":"ping","id":"p"})")), "p");
}

TEST_F(WsLimits, IdleSocketThatNeverAnswersIsDropped) {
    start_server({"--idle-ping-s", "1"});
    auto ws = seeker();
    // This client reads nothing, so the server's pings go unanswered.
    EXPECT_TRUE(testsupport::eventually(
        [&] { return metric_value(get("/metrics").body, "kindred_connections") == 0.0; }, 15s))
        << get("/metrics").body;
    auto f = ws.receive();
    EXPECT_TRUE(f.is_close() || f.is_error()) << kindred::client::describe(f);
}

TEST_F(WsLimits, StalledHttpRequestIsCutOffByTheHandshakeTimeout) {
    start_server({"--handshake-timeout-s", "1"});
    const auto started = std::chrono::steady_clock::now();
    // Half a request line, then silence.
    auto r = kindred::client::http_raw("127.0.0.1", port(), "GET /healthz HTTP/1.1\r\n", 20s);
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_LT(waited, 15s) << "the server kept a stalled request open; status " << r.status;
    EXPECT_NE(r.status, 200);
}

} // namespace
} // namespace kindred::itest
