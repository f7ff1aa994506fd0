// ws_session_test.cpp — /v1/ws session contract (protocol.md §2–3) against the real server:
// hello, ping, resume and takeover (one and two instances), and every error code reachable in
// issue #2.
#include "integration_support.hpp"

#include <algorithm>
#include <regex>
#include <thread>

namespace kindred::itest {
namespace {

class WsSession : public integration_test {
protected:
    void SetUp() override { start_server(); }
};

bool url_safe(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    });
}

TEST_F(WsSession, SeekerHelloReturnsSessionTokenAndNoConversations) {
    auto ws = connect();
    auto frames = ws.request(R"({"type":"hello","id":"1","v":1,"role":"seeker"})");
    ASSERT_EQ(frames.size(), 1u);
    auto o = expect_ok(frames[0], "1");
    const std::string session = str(o, "session");
    const std::string token = str(o, "resume_token");
    EXPECT_EQ(str(o, "role"), "seeker");
    // >= 128 bits of randomness in URL-safe text is at least 22 characters.
    EXPECT_GE(session.size(), 22u) << session;
    EXPECT_TRUE(url_safe(session)) << session;
    // The token is "S.secret" with a secret of >= 128 bits.
    ASSERT_GT(token.size(), session.size() + 1);
    EXPECT_EQ(token.substr(0, session.size() + 1), session + ".");
    EXPECT_GE(token.size() - session.size() - 1, 22u);
    ASSERT_TRUE(o.contains("conversations"));
    ASSERT_TRUE(o.at("conversations").is_array());
    EXPECT_TRUE(o.at("conversations").as_array().empty());
}

TEST_F(WsSession, SessionIsStoredWithTokenHashNotToken) {
    hello_result h;
    auto ws = seeker(&h);
    ASSERT_TRUE(h.ok);
    auto key = find_key(redis_, "sess", h.session);
    ASSERT_FALSE(key.empty()) << "no sess key for the session; keys: "
                              << ::testing::PrintToString(redis_.keys());
    EXPECT_EQ(redis_.command({"HGET", key, "role"}), "seeker");
    EXPECT_EQ(redis_.command({"HGET", key, "instance"}), server_->instance_id());
    EXPECT_NE(redis_.command({"HGET", key, "created_at"}), "(nil)");
    auto hash = redis_.command({"HGET", key, "token_hash"});
    EXPECT_NE(hash, "(nil)");
    const std::string secret = h.resume_token.substr(h.session.size() + 1);
    // Neither the token nor its secret appears anywhere in Redis.
    for (auto& k : redis_.keys()) {
        auto type = redis_.command({"TYPE", k});
        std::string dump = type == "hash"     ? redis_.command({"HGETALL", k})
                           : type == "string" ? redis_.command({"GET", k})
                                              : "";
        EXPECT_EQ(dump.find(secret), std::string::npos) << "secret stored in " << k;
    }
    auto ttl = std::stol(redis_.command({"TTL", key}));
    EXPECT_GT(ttl, 0) << "a live session key must have a TTL";
}

TEST_F(WsSession, DroppedSessionKeyLivesForTheGrace) {
    start_server({"--seeker-grace-s", "30"});
    hello_result h;
    {
        auto ws = seeker(&h);
        ASSERT_TRUE(h.ok);
        EXPECT_FALSE(ws.close(1000));
    }
    auto key = find_key(redis_, "sess", h.session);
    ASSERT_FALSE(key.empty());
    EXPECT_TRUE(testsupport::eventually([&] {
        auto ttl = std::stol(redis_.command({"TTL", key}));
        return ttl > 0 && ttl <= 30;
    })) << "TTL after the drop: "
        << redis_.command({"TTL", key});
}

TEST_F(WsSession, PingWithoutIdGetsPongOnly) {
    auto ws = seeker();
    ASSERT_FALSE(ws.send_text(R"({"type":"ping"})"));
    auto pong = object_of(ws.receive());
    EXPECT_EQ(str(pong, "type"), "pong");
    EXPECT_FALSE(pong.contains("re"));
    // The next frame belongs to the next request: nothing else was sent for the first ping.
    auto frames = ws.request(R"({"type":"ping","id":"p2"})");
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(str(object_of(frames[0]), "type"), "pong");
}

TEST_F(WsSession, PingWithIdGetsPongThenOk) {
    auto ws = seeker();
    auto frames = ws.request(R"({"type":"ping","id":"p1"})");
    ASSERT_EQ(frames.size(), 2u);
    auto pong = object_of(frames[0]);
    EXPECT_EQ(str(pong, "type"), "pong");
    EXPECT_FALSE(pong.contains("re"));
    expect_ok(frames[1], "p1");
}

TEST_F(WsSession, UnknownFieldsAreIgnored) {
    auto ws = seeker();
    auto frames = ws.request(R"({"type":"ping","id":"p1","extra":{"a":[1,2]},"zzz":null})");
    ASSERT_EQ(frames.size(), 2u);
    expect_ok(frames[1], "p1");
}

TEST_F(WsSession, ResumeAfterDropKeepsSessionRoleAndToken) {
    hello_result first;
    {
        auto ws = seeker(&first);
        ASSERT_TRUE(first.ok);
        EXPECT_FALSE(ws.close(1000));
    }
    auto ws2 = connect();
    auto again = hello(ws2, first.resume_token, "r1");
    ASSERT_TRUE(again.ok);
    EXPECT_EQ(again.session, first.session);
    EXPECT_EQ(again.role, "seeker");
    EXPECT_EQ(again.resume_token, first.resume_token);
}

TEST_F(WsSession, ResumeTakesOverAndClosesTheFirstSocketWith4001) {
    hello_result first;
    auto ws1 = seeker(&first);
    ASSERT_TRUE(first.ok);
    auto ws2 = connect();
    auto again = hello(ws2, first.resume_token, "r1");
    ASSERT_TRUE(again.ok);
    EXPECT_EQ(again.session, first.session);
    expect_close(ws1.receive(), 4001);
    // The new holder works.
    auto frames = ws2.request(R"({"type":"ping","id":"p"})");
    expect_ok(last(frames), "p");
}

TEST_F(WsSession, ResumeOnAnotherInstanceTakesOverAcrossInstances) {
    auto second = another_server();
    hello_result first;
    auto ws1 = seeker(&first);
    ASSERT_TRUE(first.ok);
    auto ws2 = ws_client::open(second->port());
    auto again = hello(ws2, first.resume_token, "r1");
    ASSERT_TRUE(again.ok);
    EXPECT_EQ(again.session, first.session);
    EXPECT_EQ(again.resume_token, first.resume_token);
    expect_close(ws1.receive(), 4001);
    auto key = find_key(redis_, "sess", first.session);
    ASSERT_FALSE(key.empty());
    EXPECT_EQ(redis_.command({"HGET", key, "instance"}), second->instance_id());
}

TEST_F(WsSession, ResumeAfterDropWorksOnAnotherInstance) {
    auto second = another_server();
    hello_result first;
    {
        auto ws1 = seeker(&first);
        ASSERT_TRUE(first.ok);
        EXPECT_FALSE(ws1.close(1000));
    }
    auto ws2 = ws_client::open(second->port());
    auto again = hello(ws2, first.resume_token, "r1");
    ASSERT_TRUE(again.ok);
    EXPECT_EQ(again.session, first.session);
}

TEST_F(WsSession, ForgedOrUnknownTokenIsNotFoundAndConnectionStaysOpen) {
    hello_result real;
    auto holder = seeker(&real);
    ASSERT_TRUE(real.ok);
    auto ws = connect();
    // A made-up token, the real session with a wrong secret, and no dot at all.
    for (std::string token :
         {std::string("AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB"),
          real.session + ".BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", std::string("nodot")}) {
        auto frames = ws.request(resume_json(token, "r"));
        ASSERT_EQ(frames.size(), 1u) << token;
        expect_error(frames[0], "not_found", "r");
    }
    // Still open, still unauthenticated: a seeker hello now succeeds with a new session.
    auto fresh = hello(ws, {}, "2");
    ASSERT_TRUE(fresh.ok);
    EXPECT_NE(fresh.session, real.session);
    // The real holder was not disturbed by the forged attempt.
    expect_ok(last(holder.request(R"({"type":"ping","id":"p"})")), "p");
}

TEST_F(WsSession, SecondHelloIsConflict) {
    auto ws = seeker();
    auto frames = ws.request(hello_json("seeker", "2"));
    ASSERT_EQ(frames.size(), 1u);
    expect_error(frames[0], "conflict", "2");
    expect_ok(last(ws.request(R"({"type":"ping","id":"p"})")), "p");
}

TEST_F(WsSession, FirstMessageNotHelloIsNotAuthenticatedAndClose1008) {
    auto ws = connect();
    auto frames = ws.request(R"({"type":"ping","id":"p1"})");
    ASSERT_FALSE(frames.empty());
    expect_error(frames[0], "not_authenticated", "p1");
    expect_close(ws.receive(), 1008);
}

TEST_F(WsSession, FirstMessageNotHelloWithoutIdHasNoRe) {
    auto ws = connect();
    ASSERT_FALSE(ws.send_text(R"({"type":"ping"})"));
    expect_error(ws.receive(), "not_authenticated");
    expect_close(ws.receive(), 1008);
}

// protocol.md §3: "The first message must be hello; anything else gets not_authenticated and
// close 1008". A message whose type is known and is not hello is "anything else" even when
// its other fields are invalid (only unparseable JSON has no type to judge by).
TEST_F(WsSession, FirstMessageOfAnotherTypeIsNotAuthenticatedEvenWhenMalformed) {
    auto ws = connect();
    auto frames = ws.request(R"({"type":"request_match","id":"m1","tags":["grief"]})");
    ASSERT_FALSE(frames.empty());
    expect_error(frames[0], "not_authenticated", "m1");
    expect_close(ws.receive(), 1008);
}

TEST_F(WsSession, PeerHelloWithUnknownTokenIsNotAuthenticatedAndClose1008) {
    for (auto role : {"peer", "moderator"}) {
        auto ws = connect();
        boost::json::object hello{
            {"type", "hello"}, {"id", "1"}, {"v", 1}, {"role", role}, {"token", "no-such-token"}};
        auto frames = ws.request(boost::json::serialize(hello));
        ASSERT_FALSE(frames.empty());
        expect_error(frames[0], "not_authenticated", "1");
        expect_close(ws.receive(), 1008);
    }
}

TEST_F(WsSession, PeerHelloWithoutTokenIsBadMessageNamingToken) {
    auto ws = connect();
    auto frames = ws.request(hello_json("peer", "1"));
    ASSERT_FALSE(frames.empty());
    auto o = expect_error(frames[0], "bad_message", "1");
    EXPECT_NE(str(o, "message").find("token"), std::string::npos) << str(o, "message");
}

TEST_F(WsSession, BadJsonIsAnErrorWithoutRe) {
    auto ws = seeker();
    ASSERT_FALSE(ws.send_text(R"({"type":"ping","id":"x")"));
    expect_error(ws.receive(), "bad_json");
    ASSERT_FALSE(ws.send_text("[1,2,3]")); // JSON, but not an object
    auto f = ws.receive();
    auto o = object_of(f);
    EXPECT_EQ(str(o, "type"), "error");
    EXPECT_TRUE(str(o, "code") == "bad_json" || str(o, "code") == "bad_message") << f.text;
    expect_ok(last(ws.request(R"({"type":"ping","id":"p"})")), "p");
}

TEST_F(WsSession, BadMessageNamesTheField) {
    auto ws = seeker();
    // A known field with the wrong type.
    auto frames = ws.request(R"({"type":"typing","id":"t1","conversation_id":5})");
    ASSERT_EQ(frames.size(), 1u);
    auto o = expect_error(frames[0], "bad_message", "t1");
    EXPECT_NE(str(o, "message").find("conversation_id"), std::string::npos) << str(o, "message");
    // A missing required field.
    frames = ws.request(R"({"type":"sync","id":"s1","after":0})");
    ASSERT_EQ(frames.size(), 1u);
    o = expect_error(frames[0], "bad_message", "s1");
    EXPECT_NE(str(o, "message").find("conversation_id"), std::string::npos) << str(o, "message");
}

TEST_F(WsSession, InvalidIdIsBadMessageWithoutRe) {
    auto ws = seeker();
    ASSERT_FALSE(ws.send_text(R"({"type":"ping","id":42})"));
    auto o = expect_error(ws.receive(), "bad_message");
    EXPECT_TRUE(std::regex_search(str(o, "message"), std::regex(R"(\bid\b)")))
        << "message does not name the field id: " << str(o, "message");
    // An id longer than 64 characters.
    ASSERT_FALSE(ws.send_text(R"({"type":"ping","id":")" + std::string(65, 'a') + "\"}"));
    auto f = ws.receive();
    o = object_of(f);
    EXPECT_EQ(str(o, "code"), "bad_message") << f.text;
    EXPECT_NE(str(o, "re"), std::string(65, 'a')) << "an invalid id must not be echoed as re";
}

TEST_F(WsSession, UnknownTypeIsUnknownType) {
    auto ws = seeker();
    auto frames = ws.request(R"({"type":"teleport","id":"u1"})");
    ASSERT_EQ(frames.size(), 1u);
    expect_error(frames[0], "unknown_type", "u1");
}

TEST_F(WsSession, PeerAndModeratorTypesAreForbiddenForSeekers) {
    auto ws = seeker();
    auto frames = ws.request(
        R"({"type":"shift_start","id":"s1","capacity":2,"tags":["grief"],"languages":["en"]})");
    ASSERT_EQ(frames.size(), 1u);
    expect_error(frames[0], "forbidden", "s1");
    frames = ws.request(R"({"type":"acknowledge","id":"a1","escalation_id":"e1"})");
    ASSERT_EQ(frames.size(), 1u);
    expect_error(frames[0], "forbidden", "a1");
    // Forbidden is not a bad message: the connection stays usable.
    expect_ok(last(ws.request(R"({"type":"ping","id":"p"})")), "p");
}

TEST_F(WsSession, SeekerReportOnAConversationNotItsOwnIsNotFound) {
    auto ws = seeker();
    // Every seeker type is served since issue #5; a report names a conversation of the
    // sender's, anything else is not_found (never a hint that it exists).
    auto frames =
        ws.request(R"({"type":"report","id":"c1","conversation_id":"c","reason":"spam"})");
    ASSERT_EQ(frames.size(), 1u);
    expect_error(frames[0], "not_found", "c1");
}

TEST_F(WsSession, PipelinedRequestsAreAnsweredInOrder) {
    auto ws = seeker();
    constexpr int n = 30;
    for (int i = 0; i < n; ++i)
        ASSERT_FALSE(ws.send_text(R"({"type":"ping","id":"p)" + std::to_string(i) + "\"}"));
    for (int i = 0; i < n; ++i) {
        EXPECT_EQ(str(object_of(ws.receive()), "type"), "pong");
        expect_ok(ws.receive(), "p" + std::to_string(i));
    }
}

TEST_F(WsSession, ManyClientsOnThreadsAllGetTheirOwnAnswers) {
    start_server({"--messages-per-second", "100000", "--message-burst", "100000"});
    constexpr int clients = 8;
    constexpr int pings = 40;
    std::vector<std::thread> threads;
    std::vector<int> answered(clients, 0);
    std::vector<std::string> sessions(clients);
    const auto p = port();
    for (int c = 0; c < clients; ++c)
        threads.emplace_back([&, c] {
            // No gtest assertions on these threads: count, then check on the test thread.
            try {
                auto ws = ws_client::open(p);
                auto frames = ws.request(hello_json("seeker", "h"));
                if (frames.size() != 1 || !frames[0].is_text()) return;
                sessions[c] = frames[0].text;
                for (int i = 0; i < pings; ++i) {
                    auto id = "c" + std::to_string(c) + "-" + std::to_string(i);
                    auto got = ws.request(R"({"type":"ping","id":")" + id + "\"}");
                    if (got.size() == 2 && got[1].is_text() &&
                        got[1].text.find("\"re\":\"" + id + "\"") != std::string::npos)
                        ++answered[c];
                }
                ws.close(1000);
            } catch (const std::exception&) {
            }
        });
    for (auto& t : threads)
        t.join();
    for (int c = 0; c < clients; ++c) {
        EXPECT_EQ(answered[c], pings) << "client " << c;
        EXPECT_EQ(str(parse_object(sessions[c]), "type"), "ok");
    }
    // Every client got its own session.
    std::vector<std::string> ids;
    for (auto& s : sessions)
        ids.push_back(str(parse_object(s), "session"));
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
}

} // namespace
} // namespace kindred::itest
