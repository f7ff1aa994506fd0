// connection_logic_test.cpp — the per-connection state machine, frame by frame: hello first,
// session results, second hello, ping, role checks, bad-message counting, rate limiting.
#include <kindred/server/connection_logic.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace ks = kindred::server;
namespace json = boost::json;
using namespace std::chrono_literals;
using phase = ks::connection_logic::phase;

namespace {

json::object frame(const ks::logic_output& out, std::size_t i) {
    return json::parse(out.frames.at(i).text).as_object();
}

class ConnectionLogicTest : public ::testing::Test {
protected:
    ks::logic_output send(std::string_view text) { return logic_.on_text(text, now_); }
    // hello as a seeker, answered with a created session.
    void authenticate() {
        auto out = send(R"({"type":"hello","id":"h","v":1,"role":"seeker"})");
        ASSERT_TRUE(out.session);
        logic_.on_session_result(
            {ks::session_result::status::ok, "S1", kindred::protocol::role::seeker, "S1.secret"});
        ASSERT_EQ(logic_.current(), phase::authenticated);
    }

    ks::token_bucket::clock::time_point now_{};
    ks::logic_options options_{10, 20, 40};
    ks::connection_logic logic_{options_, now_};
};

} // namespace

TEST_F(ConnectionLogicTest, FirstMessageMustBeHello) {
    auto out = send(R"({"type":"ping","id":"1"})");
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "not_authenticated");
    EXPECT_EQ(frame(out, 0).at("re"), "1");
    EXPECT_EQ(out.close, ks::close_codes::policy);
    EXPECT_EQ(logic_.current(), phase::closing);
    EXPECT_TRUE(send(R"({"type":"ping"})").frames.empty()); // nothing after closing
}

TEST_F(ConnectionLogicTest, FirstMessageOfAnotherKnownTypeIsNotAuthenticatedEvenIfMalformed) {
    auto out = send(R"({"type":"request_match","id":"m1","tags":["grief"]})");
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "not_authenticated");
    EXPECT_EQ(frame(out, 0).at("re"), "m1");
    EXPECT_EQ(out.close, ks::close_codes::policy);
    EXPECT_EQ(out.in_type, "request_match");
}

TEST_F(ConnectionLogicTest, MalformedHelloBeforeAuthenticationIsBadMessage) {
    auto out = send(R"({"type":"hello","id":"1","v":2,"role":"seeker"})");
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "bad_message");
    EXPECT_FALSE(out.close);
    EXPECT_EQ(logic_.current(), phase::awaiting_hello);
}

TEST_F(ConnectionLogicTest, SeekerHelloAsksForANewSessionAndAnswersOk) {
    auto out = send(R"({"type":"hello","id":"1","v":1,"role":"seeker"})");
    EXPECT_TRUE(out.frames.empty());
    ASSERT_TRUE(out.session);
    EXPECT_EQ(out.session->what, ks::session_request::kind::create);
    EXPECT_EQ(out.in_type, "hello");
    EXPECT_EQ(logic_.current(), phase::hello_pending);

    auto done = logic_.on_session_result(
        {ks::session_result::status::ok, "S1", kindred::protocol::role::seeker, "S1.tok"});
    ASSERT_EQ(done.frames.size(), 1u);
    auto ok = frame(done, 0);
    EXPECT_EQ(ok.at("type"), "ok");
    EXPECT_EQ(ok.at("re"), "1");
    EXPECT_EQ(ok.at("session"), "S1");
    EXPECT_EQ(ok.at("role"), "seeker");
    EXPECT_EQ(ok.at("resume_token"), "S1.tok");
    EXPECT_TRUE(ok.at("conversations").as_array().empty());
    EXPECT_EQ(logic_.current(), phase::authenticated);
    EXPECT_EQ(logic_.session_id(), "S1");
}

TEST_F(ConnectionLogicTest, ResumeWithUnknownTokenIsNotFoundAndStaysOpen) {
    auto out = send(R"({"type":"hello","id":"1","v":1,"resume_token":"x.y"})");
    ASSERT_TRUE(out.session);
    EXPECT_EQ(out.session->what, ks::session_request::kind::resume);
    EXPECT_EQ(out.session->resume_token, "x.y");
    auto nf = logic_.on_session_result({ks::session_result::status::not_found, {}, {}, {}});
    ASSERT_EQ(nf.frames.size(), 1u);
    EXPECT_EQ(frame(nf, 0).at("code"), "not_found");
    EXPECT_EQ(frame(nf, 0).at("message"), "session expired; say hello with a role");
    EXPECT_FALSE(nf.close);
    EXPECT_EQ(logic_.current(), phase::awaiting_hello);
    // Another hello is welcome.
    EXPECT_TRUE(send(R"({"type":"hello","id":"2","v":1,"role":"seeker"})").session);
}

TEST_F(ConnectionLogicTest, RedisDownIsUnavailableAndStaysOpen) {
    send(R"({"type":"hello","id":"1","v":1,"role":"seeker"})");
    auto out = logic_.on_session_result({ks::session_result::status::unavailable, {}, {}, {}});
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "unavailable");
    EXPECT_FALSE(out.close);
    EXPECT_EQ(logic_.current(), phase::awaiting_hello);
}

TEST_F(ConnectionLogicTest, StaffHelloWithoutAccountsIsNotAuthenticatedAndCloses) {
    auto out = send(R"({"type":"hello","id":"1","v":1,"role":"peer","token":"t"})");
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "not_authenticated");
    EXPECT_EQ(out.close, ks::close_codes::policy);
    EXPECT_FALSE(out.session);
}

TEST_F(ConnectionLogicTest, StaffHelloWithoutTokenIsBadMessageNamingToken) {
    auto out = send(R"({"type":"hello","id":"1","v":1,"role":"moderator"})");
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "bad_message");
    EXPECT_NE(std::string(frame(out, 0).at("message").as_string()).find("token"),
              std::string::npos);
    EXPECT_FALSE(out.close);
}

TEST_F(ConnectionLogicTest, SecondHelloIsConflict) {
    authenticate();
    auto out = send(R"({"type":"hello","id":"2","v":1,"role":"seeker"})");
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "conflict");
    EXPECT_EQ(frame(out, 0).at("re"), "2");
    EXPECT_FALSE(out.close);
    EXPECT_FALSE(out.session);
}

TEST_F(ConnectionLogicTest, PingWithoutIdIsPongOnly) {
    authenticate();
    auto out = send(R"({"type":"ping"})");
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0), json::parse(R"({"type":"pong"})"));
}

TEST_F(ConnectionLogicTest, PingWithIdIsPongThenOk) {
    authenticate();
    auto out = send(R"({"type":"ping","id":"p1"})");
    ASSERT_EQ(out.frames.size(), 2u);
    EXPECT_EQ(frame(out, 0).at("type"), "pong");
    EXPECT_EQ(frame(out, 1), json::parse(R"({"type":"ok","re":"p1"})"));
}

TEST_F(ConnectionLogicTest, RoleChecks) {
    authenticate();
    auto peer_only = send(R"({"type":"shift_pause","id":"a"})");
    EXPECT_EQ(frame(peer_only, 0).at("code"), "forbidden");
    auto mod_only = send(R"({"type":"acknowledge","id":"b","escalation_id":"e1"})");
    EXPECT_EQ(frame(mod_only, 0).at("code"), "forbidden");
    auto not_yet = send(R"({"type":"cancel_match","id":"c"})");
    EXPECT_EQ(frame(not_yet, 0).at("code"), "unavailable");
    EXPECT_EQ(frame(not_yet, 0).at("message"), "not implemented yet");
    EXPECT_TRUE(ks::role_may_send(kindred::protocol::role::peer, "shift_start"));
    EXPECT_FALSE(ks::role_may_send(kindred::protocol::role::seeker, "shift_start"));
    EXPECT_TRUE(ks::role_may_send(kindred::protocol::role::moderator, "join"));
    EXPECT_TRUE(ks::role_may_send(kindred::protocol::role::seeker, "moderator_keys"));
}

TEST_F(ConnectionLogicTest, ErrorsCarryReOnlyWithAValidId) {
    authenticate();
    auto with_id = send(R"({"type":"nope","id":"7"})");
    EXPECT_EQ(frame(with_id, 0).at("code"), "unknown_type");
    EXPECT_EQ(frame(with_id, 0).at("re"), "7");
    auto without = send(R"({"type":"nope"})");
    EXPECT_FALSE(frame(without, 0).contains("re"));
    auto bad_json = send("{not json");
    EXPECT_EQ(frame(bad_json, 0).at("code"), "bad_json");
    EXPECT_FALSE(frame(bad_json, 0).contains("re"));
    EXPECT_EQ(bad_json.in_type, "invalid");
}

TEST_F(ConnectionLogicTest, BadMessagesInARowClose1008) {
    authenticate();
    for (int i = 1; i < 10; ++i) {
        auto out = send(i % 3 == 0   ? "[1]"
                        : i % 3 == 1 ? R"({"type":"zzz"})"
                                     : R"({"type":"ping","id":5})");
        ASSERT_EQ(out.frames.size(), 1u);
        EXPECT_FALSE(out.close) << i;
    }
    EXPECT_EQ(logic_.bad_messages(), 9u);
    auto last = send("nope");
    EXPECT_EQ(frame(last, 0).at("code"), "bad_json");
    EXPECT_EQ(last.close, ks::close_codes::policy);
}

TEST_F(ConnectionLogicTest, AGoodMessageResetsTheBadCount) {
    authenticate();
    for (int i = 0; i < 9; ++i)
        send("nope");
    send(R"({"type":"ping"})");
    EXPECT_EQ(logic_.bad_messages(), 0u);
    for (int i = 0; i < 9; ++i)
        EXPECT_FALSE(send("nope").close);
}

TEST_F(ConnectionLogicTest, BadMessagesBeforeHelloCountToo) {
    for (int i = 0; i < 9; ++i)
        EXPECT_FALSE(send("nope").close);
    EXPECT_EQ(send("nope").close, ks::close_codes::policy);
}

TEST_F(ConnectionLogicTest, RateLimitedBeyondTheBurstWithRetryAfter) {
    authenticate(); // one token spent
    for (int i = 0; i < 39; ++i)
        ASSERT_EQ(frame(send(R"({"type":"ping"})"), 0).at("type"), "pong") << i;
    auto out = send(R"({"type":"ping","id":"r"})");
    ASSERT_EQ(out.frames.size(), 1u);
    auto err = frame(out, 0);
    EXPECT_EQ(err.at("code"), "rate_limited");
    EXPECT_EQ(err.at("re"), "r");
    EXPECT_EQ(err.at("retry_after_ms"), 50);
    EXPECT_FALSE(out.close);
    now_ += 50ms;
    EXPECT_EQ(frame(send(R"({"type":"ping"})"), 0).at("type"), "pong");
}

TEST_F(ConnectionLogicTest, RateLimitedFramesDoNotCountAsBad) {
    ks::logic_options tight{2, 1, 1};
    ks::connection_logic logic(tight, now_);
    EXPECT_FALSE(logic.on_text("nope", now_).close); // bad #1
    for (int i = 0; i < 5; ++i) {
        auto out = logic.on_text("nope", now_);
        EXPECT_EQ(frame(out, 0).at("code"), "rate_limited");
        EXPECT_FALSE(out.close);
    }
    EXPECT_EQ(logic.bad_messages(), 1u);
}

TEST_F(ConnectionLogicTest, TakeoverCloses4001) {
    authenticate();
    auto out = logic_.on_taken_over();
    EXPECT_EQ(out.close, ks::close_codes::taken_over);
    EXPECT_EQ(logic_.current(), phase::closing);
    EXPECT_FALSE(logic_.on_taken_over().close);
}

TEST_F(ConnectionLogicTest, HelloWithoutIdGetsOkWithoutRe) {
    send(R"({"type":"hello","v":1,"role":"seeker"})");
    auto out = logic_.on_session_result(
        {ks::session_result::status::ok, "S", kindred::protocol::role::seeker, "S.t"});
    auto ok = frame(out, 0);
    EXPECT_EQ(ok.at("type"), "ok");
    EXPECT_FALSE(ok.contains("re"));
    EXPECT_EQ(ok.at("session"), "S");
}
