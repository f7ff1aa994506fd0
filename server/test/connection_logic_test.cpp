// connection_logic_test.cpp — the per-connection state machine, frame by frame: hello first,
// session results, second hello, ping, role checks, bad-message counting, rate limiting; staff
// hello (token, wrong role), register_identity, prekeys against the registered key, 4003.
#include <kindred/protocol/base64.hpp>
#include <kindred/server/connection_logic.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>
#include <sodium.h>

namespace ks = kindred::server;
namespace json = boost::json;
using namespace std::chrono_literals;
using phase = ks::connection_logic::phase;

namespace {

json::object frame(const ks::logic_output& out, std::size_t i) {
    return json::parse(out.frames.at(i).text).as_object();
}

ks::session_result ok_result(std::string id, kindred::protocol::role role, std::string token,
                             std::optional<ks::staff_identity> staff = std::nullopt) {
    ks::session_result r;
    r.what = ks::session_result::status::ok;
    r.session_id = std::move(id);
    r.role = role;
    r.resume_token = std::move(token);
    r.staff = std::move(staff);
    return r;
}

ks::session_result failed(ks::session_result::status s) {
    ks::session_result r;
    r.what = s;
    return r;
}

class ConnectionLogicTest : public ::testing::Test {
protected:
    ks::logic_output send(std::string_view text) { return logic_.on_text(text, now_); }
    // hello as a seeker, answered with a created session.
    void authenticate() {
        auto out = send(R"({"type":"hello","id":"h","v":1,"role":"seeker"})");
        ASSERT_TRUE(out.session);
        logic_.on_session_result(ok_result("S1", kindred::protocol::role::seeker, "S1.secret"));
        ASSERT_EQ(logic_.current(), phase::authenticated);
    }

    ks::token_bucket::clock::time_point now_{};
    ks::logic_options options_{10, 20, 40, {}};
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

    auto done =
        logic_.on_session_result(ok_result("S1", kindred::protocol::role::seeker, "S1.tok"));
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
    auto nf = logic_.on_session_result(failed(ks::session_result::status::not_found));
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
    auto out = logic_.on_session_result(failed(ks::session_result::status::unavailable));
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "unavailable");
    EXPECT_FALSE(out.close);
    EXPECT_EQ(logic_.current(), phase::awaiting_hello);
}

TEST_F(ConnectionLogicTest, StaffHelloAsksForAStaffSessionWithTheToken) {
    auto out = send(R"({"type":"hello","id":"1","v":1,"role":"peer","token":"tok"})");
    EXPECT_TRUE(out.frames.empty());
    ASSERT_TRUE(out.session);
    EXPECT_EQ(out.session->what, ks::session_request::kind::create);
    EXPECT_EQ(out.session->role, kindred::protocol::role::peer);
    EXPECT_EQ(out.session->token, "tok");
    EXPECT_TRUE(out.waits());
    EXPECT_EQ(logic_.current(), phase::hello_pending);
}

TEST_F(ConnectionLogicTest, StaffHelloOkRemembersWhoItIs) {
    send(R"({"type":"hello","id":"1","v":1,"role":"moderator","token":"tok"})");
    ks::staff_identity who{"mo", std::string(64, 'a'), 1234};
    auto out =
        logic_.on_session_result(ok_result("S", kindred::protocol::role::moderator, "S.t", who));
    ASSERT_EQ(out.frames.size(), 1u);
    auto ok = frame(out, 0);
    EXPECT_EQ(ok.at("type"), "ok");
    EXPECT_EQ(ok.at("role"), "moderator");
    EXPECT_EQ(ok.at("resume_token"), "S.t");
    EXPECT_TRUE(ok.at("conversations").as_array().empty());
    EXPECT_FALSE(ok.contains("token")); // nothing of the staff token is echoed
    ASSERT_TRUE(logic_.staff());
    EXPECT_EQ(*logic_.staff(), who);
    EXPECT_EQ(logic_.role(), kindred::protocol::role::moderator);
}

TEST_F(ConnectionLogicTest, StaffHelloWithADeadTokenIsNotAuthenticatedAndCloses1008) {
    send(R"({"type":"hello","id":"1","v":1,"role":"peer","token":"tok"})");
    auto out = logic_.on_session_result(failed(ks::session_result::status::not_authenticated));
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "not_authenticated");
    EXPECT_EQ(frame(out, 0).at("re"), "1");
    EXPECT_EQ(out.close, ks::close_codes::policy);
    EXPECT_EQ(logic_.current(), phase::closing);
    EXPECT_FALSE(logic_.staff());
}

TEST_F(ConnectionLogicTest, StaffHelloForAnotherRoleIsForbiddenAndCloses1008) {
    send(R"({"type":"hello","id":"1","v":1,"role":"moderator","token":"tok"})");
    auto out = logic_.on_session_result(failed(ks::session_result::status::forbidden));
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "forbidden");
    EXPECT_EQ(out.close, ks::close_codes::policy);
    EXPECT_EQ(logic_.current(), phase::closing);
}

TEST_F(ConnectionLogicTest, InternalErrorOnHelloKeepsTheConnection) {
    send(R"({"type":"hello","id":"1","v":1,"role":"peer","token":"tok"})");
    auto out = logic_.on_session_result(failed(ks::session_result::status::internal));
    EXPECT_EQ(frame(out, 0).at("code"), "internal");
    EXPECT_FALSE(out.close);
    EXPECT_EQ(logic_.current(), phase::awaiting_hello);
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
    ks::logic_options tight{2, 1, 1, {}};
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
    auto out = logic_.on_session_result(ok_result("S", kindred::protocol::role::seeker, "S.t"));
    auto ok = frame(out, 0);
    EXPECT_EQ(ok.at("type"), "ok");
    EXPECT_FALSE(ok.contains("re"));
    EXPECT_EQ(ok.at("session"), "S");
}

// ---- peers: identity key and prekeys ----------------------------------------------------

namespace {

namespace kp = kindred::protocol;

struct keypair {
    std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
    std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
    keypair() { crypto_sign_keypair(pk.data(), sk.data()); }
};

std::string b64(std::span<const std::uint8_t> bytes) {
    return kp::base64_encode(bytes);
}

// {"prekey":..., "signature":...} signed by `signer`.
std::string signed_prekey_json(const keypair& signer) {
    std::array<std::uint8_t, 32> prekey{};
    randombytes_buf(prekey.data(), prekey.size());
    std::array<std::uint8_t, 64> sig{};
    crypto_sign_detached(sig.data(), nullptr, prekey.data(), prekey.size(), signer.sk.data());
    return R"({"prekey":")" + b64(prekey) + R"(","signature":")" + b64(sig) + R"("})";
}

class PeerLogicTest : public ConnectionLogicTest {
protected:
    void SetUp() override {
        ASSERT_GE(sodium_init(), 0);
        send(R"({"type":"hello","id":"h","v":1,"role":"peer","token":"tok"})");
        logic_.on_session_result(ok_result("S", kp::role::peer, "S.t",
                                           ks::staff_identity{"river", std::string(64, 'b'), 99}));
        ASSERT_EQ(logic_.current(), phase::authenticated);
    }
    ks::account_result found(std::optional<kp::ed25519_public_key> key) {
        ks::account_result r;
        r.what = ks::account_result::status::ok;
        r.identity_key = key;
        return r;
    }
    static ks::account_result with_status(ks::account_result::status s) {
        ks::account_result r;
        r.what = s;
        return r;
    }
    kp::ed25519_public_key key_of(const keypair& k) {
        kp::ed25519_public_key out{};
        std::copy(k.pk.begin(), k.pk.end(), out.begin());
        return out;
    }
    keypair identity_;
};

} // namespace

TEST_F(PeerLogicTest, RegisterIdentityAsksTheAccountStoreAndAnswersOk) {
    auto out = send(R"({"type":"register_identity","id":"r","identity_key":")" + b64(identity_.pk) +
                    R"("})");
    EXPECT_TRUE(out.frames.empty());
    ASSERT_TRUE(out.account);
    EXPECT_EQ(out.account->what, ks::account_request::kind::register_identity);
    EXPECT_EQ(out.account->identity_key, key_of(identity_));
    EXPECT_EQ(logic_.current(), phase::request_pending);
    // A frame arriving anyway (the I/O layer does not read meanwhile) is refused, not lost.
    EXPECT_EQ(frame(send(R"({"type":"ping","id":"p"})"), 0).at("code"), "conflict");

    auto done = logic_.on_account_result(found(std::nullopt));
    ASSERT_EQ(done.frames.size(), 1u);
    EXPECT_EQ(frame(done, 0), json::parse(R"({"type":"ok","re":"r"})"));
    EXPECT_EQ(done.in_type, "register_identity");
    EXPECT_EQ(logic_.current(), phase::authenticated);
}

TEST_F(PeerLogicTest, RegisterIdentityConflictAndUnavailable) {
    const std::string msg =
        R"({"type":"register_identity","id":"r","identity_key":")" + b64(identity_.pk) + R"("})";
    send(msg);
    auto conflict = logic_.on_account_result(with_status(ks::account_result::status::conflict));
    EXPECT_EQ(frame(conflict, 0).at("code"), "conflict");
    EXPECT_EQ(frame(conflict, 0).at("re"), "r");
    EXPECT_FALSE(conflict.close);
    send(msg);
    auto down = logic_.on_account_result(with_status(ks::account_result::status::unavailable));
    EXPECT_EQ(frame(down, 0).at("code"), "unavailable");
    EXPECT_FALSE(down.close);
}

TEST_F(PeerLogicTest, AnUnusableIdentityKeyIsBadMessageWithoutAsking) {
    auto out = send(R"({"type":"register_identity","id":"r","identity_key":")" +
                    b64(std::array<std::uint8_t, 32>{}) + R"("})");
    EXPECT_FALSE(out.account);
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "bad_message");
    EXPECT_EQ(std::string(frame(out, 0).at("message").as_string()).rfind("identity_key", 0), 0u);
}

TEST_F(PeerLogicTest, PrekeysSignedByTheRegisteredKeyAreOk) {
    auto out = send(R"({"type":"prekeys","id":"k","keys":[)" + signed_prekey_json(identity_) + "," +
                    signed_prekey_json(identity_) + "]}");
    ASSERT_TRUE(out.account);
    EXPECT_EQ(out.account->what, ks::account_request::kind::load_identity);
    auto done = logic_.on_account_result(found(key_of(identity_)));
    ASSERT_EQ(done.frames.size(), 1u);
    EXPECT_EQ(frame(done, 0), json::parse(R"({"type":"ok","re":"k","verified":2})"));
}

TEST_F(PeerLogicTest, APrekeyWithABadSignatureIsBadMessageNamingIt) {
    keypair other;
    send(R"({"type":"prekeys","id":"k","keys":[)" + signed_prekey_json(identity_) + "," +
         signed_prekey_json(identity_) + "," + signed_prekey_json(other) + "]}");
    auto done = logic_.on_account_result(found(key_of(identity_)));
    ASSERT_EQ(done.frames.size(), 1u);
    auto err = frame(done, 0);
    EXPECT_EQ(err.at("code"), "bad_message");
    EXPECT_EQ(err.at("re"), "k");
    EXPECT_EQ(std::string(err.at("message").as_string()).rfind("keys[2].signature", 0), 0u);
    EXPECT_FALSE(done.close);
}

TEST_F(PeerLogicTest, PrekeysBeforeRegisterIdentityAreConflict) {
    send(R"({"type":"prekeys","id":"k","keys":[)" + signed_prekey_json(identity_) + "]}");
    auto done = logic_.on_account_result(found(std::nullopt));
    EXPECT_EQ(frame(done, 0).at("code"), "conflict");
    EXPECT_NE(std::string(frame(done, 0).at("message").as_string()).find("register_identity"),
              std::string::npos);
}

TEST_F(PeerLogicTest, ADeadTokenFoundByARequestCloses4003) {
    send(R"({"type":"prekeys","id":"k","keys":[)" + signed_prekey_json(identity_) + "]}");
    auto done = logic_.on_account_result(with_status(ks::account_result::status::token_dead));
    EXPECT_EQ(frame(done, 0).at("code"), "not_authenticated");
    EXPECT_EQ(done.close, ks::close_codes::token_revoked);
    EXPECT_EQ(logic_.current(), phase::closing);
}

TEST_F(PeerLogicTest, TokenDeadCloses4003OnceWithoutFrames) {
    auto out = logic_.on_token_dead("token revoked");
    EXPECT_TRUE(out.frames.empty());
    EXPECT_EQ(out.close, ks::close_codes::token_revoked);
    EXPECT_EQ(out.close_reason, "token revoked");
    EXPECT_FALSE(logic_.on_token_dead("again").close);
    EXPECT_TRUE(send(R"({"type":"ping"})").frames.empty());
}

TEST_F(PeerLogicTest, AResultAfterTheConnectionClosedIsIgnored) {
    send(R"({"type":"prekeys","id":"k","keys":[)" + signed_prekey_json(identity_) + "]}");
    logic_.on_token_dead("token revoked");
    EXPECT_TRUE(logic_.on_account_result(found(key_of(identity_))).frames.empty());
}

TEST_F(ConnectionLogicTest, OnlyPeersHandleIdentityKeysAndPrekeys) {
    authenticate(); // a seeker
    auto out = send(R"({"type":"register_identity","id":"r","identity_key":")" +
                    std::string(43, 'A') + R"(="})");
    EXPECT_EQ(frame(out, 0).at("code"), "forbidden");
    EXPECT_FALSE(out.account);
    EXPECT_FALSE(ks::role_may_send(kindred::protocol::role::moderator, "prekeys"));
}

// ---- the service seam (issue #4) ----

namespace {

ks::logic_options matching_served() {
    ks::logic_options o{10, 20, 40, {}};
    o.served = [](std::string_view type) {
        return type == "request_match" || type == "cancel_match";
    };
    return o;
}

class ServedLogicTest : public ConnectionLogicTest {
protected:
    void authenticate_served() {
        auto out = served_.on_text(R"({"type":"hello","id":"h","v":1,"role":"seeker"})", now_);
        ASSERT_TRUE(out.session);
        served_.on_session_result(ok_result("S9", kindred::protocol::role::seeker, "S9.secret"));
        ASSERT_EQ(served_.current(), phase::authenticated);
    }
    ks::connection_logic served_{matching_served(), now_};
};

} // namespace

TEST_F(ServedLogicTest, ServedTypeBecomesAServiceRequestAndPausesReads) {
    authenticate_served();
    auto out = served_.on_text(R"({"type":"cancel_match","id":"c1"})", now_);
    EXPECT_TRUE(out.frames.empty());
    ASSERT_TRUE(out.service);
    EXPECT_TRUE(out.waits());
    EXPECT_EQ(out.service->id, std::optional<std::string>("c1"));
    EXPECT_EQ(out.service->session_id, "S9");
    EXPECT_EQ(out.service->role, kindred::protocol::role::seeker);
    EXPECT_TRUE(std::holds_alternative<kindred::protocol::cancel_match>(out.service->message));
    EXPECT_EQ(served_.current(), phase::request_pending);

    ks::service_answer answer;
    answer.frames.push_back(ks::make_ok_frame(std::string("c1")));
    auto done = served_.on_service_result(std::move(answer));
    ASSERT_EQ(done.frames.size(), 1u);
    EXPECT_EQ(frame(done, 0).at("re"), "c1");
    EXPECT_EQ(served_.current(), phase::authenticated);
    // A second answer (a bug elsewhere) is ignored.
    EXPECT_TRUE(served_.on_service_result({}).frames.empty());
}

TEST_F(ServedLogicTest, PartialAnswerKeepsTheRequestPendingUntilTheLastPart) {
    authenticate_served();
    ASSERT_TRUE(served_.on_text(R"({"type":"cancel_match","id":"c1"})", now_).service);
    ks::service_answer part;
    part.frames.push_back(ks::make_ok_frame(std::string("x")));
    auto first = served_.on_service_result(std::move(part), true);
    EXPECT_EQ(first.frames.size(), 1u);
    EXPECT_EQ(served_.current(), phase::request_pending);
    ks::service_answer rest;
    rest.frames.push_back(ks::make_ok_frame(std::string("c1")));
    auto done = served_.on_service_result(std::move(rest));
    ASSERT_EQ(done.frames.size(), 1u);
    EXPECT_EQ(frame(done, 0).at("re"), "c1");
    EXPECT_EQ(served_.current(), phase::authenticated);
}

TEST_F(ServedLogicTest, UnservedTypeIsStillUnavailable) {
    authenticate_served();
    auto out = served_.on_text(R"({"type":"sync","id":"s","conversation_id":"c","after":0})", now_);
    EXPECT_FALSE(out.service);
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "unavailable");
}

TEST_F(ServedLogicTest, ServiceAnswerMayClose) {
    authenticate_served();
    ASSERT_TRUE(served_.on_text(R"({"type":"cancel_match","id":"c1"})", now_).service);
    ks::service_answer answer;
    answer.close = ks::close_codes::internal_error;
    answer.close_reason = "bug";
    auto done = served_.on_service_result(std::move(answer));
    EXPECT_EQ(done.close, ks::close_codes::internal_error);
    EXPECT_EQ(served_.current(), phase::closing);
}

TEST_F(ConnectionLogicTest, WithoutServicesMatchingIsUnavailable) {
    authenticate();
    auto out = send(R"({"type":"cancel_match","id":"c1"})");
    EXPECT_FALSE(out.service);
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "unavailable");
}
