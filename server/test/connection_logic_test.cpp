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

// ---- issue #5: the seeker's device, bans at hello, new role rules -----------------------------

TEST(DeviceId, IsBlake2b128OfTheDomainAndTheSecretInLowercaseHex) {
    ASSERT_GE(sodium_init(), 0);
    kp::device_secret counting{};
    for (std::size_t i = 0; i < counting.size(); ++i)
        counting[i] = static_cast<std::uint8_t>(i);
    // Computed independently: Python hashlib.blake2b(b"kindred/device/v1|" + bytes(range(32)),
    // digest_size=16).
    EXPECT_EQ(ks::device_id_of(counting), "6eb6007a2a625ea6d33c82e5ddddaa3c");
    EXPECT_EQ(ks::device_id_of(kp::device_secret{}), "c06a1b04c1fc466cbc9262becb0dc23b");
}

namespace {
// base64 of the bytes 0..31 (the "counting" device above).
const std::string counting_device = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const std::string counting_device_id = "6eb6007a2a625ea6d33c82e5ddddaa3c";
} // namespace

TEST_F(ConnectionLogicTest, SeekerHelloWithDevicePassesItsDeviceId) {
    auto out = send(R"({"type":"hello","id":"h","v":1,"role":"seeker","device":")" +
                    counting_device + R"("})");
    ASSERT_TRUE(out.session);
    EXPECT_EQ(out.session->what, ks::session_request::kind::create);
    EXPECT_EQ(out.session->device_id, counting_device_id);
    // The secret itself goes nowhere.
    EXPECT_EQ(out.session->device_id.find(counting_device), std::string::npos);
}

TEST_F(ConnectionLogicTest, HelloWithoutDevicePassesNone) {
    auto out = send(R"({"type":"hello","id":"h","v":1,"role":"seeker"})");
    ASSERT_TRUE(out.session);
    EXPECT_EQ(out.session->device_id, "");
}

TEST_F(ConnectionLogicTest, ResumeWithDevicePassesItsDeviceId) {
    auto out = send(R"({"type":"hello","id":"h","v":1,"resume_token":"S.t","device":")" +
                    counting_device + R"("})");
    ASSERT_TRUE(out.session);
    EXPECT_EQ(out.session->what, ks::session_request::kind::resume);
    EXPECT_EQ(out.session->device_id, counting_device_id);
}

TEST_F(ConnectionLogicTest, StaffHelloIgnoresTheDevice) {
    auto out = send(R"({"type":"hello","id":"h","v":1,"role":"peer","token":"t","device":")" +
                    counting_device + R"("})");
    ASSERT_TRUE(out.session);
    EXPECT_EQ(out.session->device_id, "");
}

TEST_F(ConnectionLogicTest, ABadDeviceIsBadMessageNamingDevice) {
    auto out = send(R"({"type":"hello","id":"h","v":1,"role":"seeker","device":"AAAA"})");
    EXPECT_FALSE(out.session);
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "bad_message");
    EXPECT_EQ(frame(out, 0).at("message"), "device: must be 32 bytes of base64");
}

TEST_F(ConnectionLogicTest, TheSessionsDeviceIdIsExposedAndCarriedToServices) {
    ks::logic_options o;
    o.served = [](std::string_view type) { return type == "escalate"; };
    ks::connection_logic logic(o, now_);
    logic.on_text(R"({"type":"hello","id":"h","v":1,"role":"seeker"})", now_);
    auto r = ok_result("S1", kp::role::seeker, "S1.t");
    r.device_id = counting_device_id;
    logic.on_session_result(r);
    EXPECT_EQ(logic.device_id(), counting_device_id);
    auto out = logic.on_text(
        R"({"type":"escalate","id":"e","conversation_id":null,"level":"high","category":"other"})",
        now_);
    ASSERT_TRUE(out.service);
    EXPECT_EQ(out.service->device_id, counting_device_id);
    EXPECT_EQ(out.service->session_id, "S1");
}

TEST_F(ConnectionLogicTest, AStaffSessionHasNoDeviceId) {
    send(R"({"type":"hello","id":"h","v":1,"role":"moderator","token":"t"})");
    auto r = ok_result("S2", kp::role::moderator, "S2.t", ks::staff_identity{"mona", "h", 1});
    r.device_id = counting_device_id; // a store would not say so; the logic does not trust it
    logic_.on_session_result(r);
    EXPECT_EQ(logic_.device_id(), "");
}

TEST_F(ConnectionLogicTest, BannedHelloIsForbiddenBannedAndCloses1008) {
    send(R"({"type":"hello","id":"h","v":1,"role":"seeker"})");
    auto out = logic_.on_session_result(failed(ks::session_result::status::banned));
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(frame(out, 0).at("code"), "forbidden");
    EXPECT_EQ(frame(out, 0).at("message"), "banned");
    EXPECT_EQ(frame(out, 0).at("re"), "h");
    EXPECT_EQ(out.close, ks::close_codes::policy);
    EXPECT_EQ(out.close_reason, "banned");
    EXPECT_EQ(logic_.current(), phase::closing);
}

TEST(CloseCodes, BannedIs4005) {
    EXPECT_EQ(ks::close_codes::banned, 4005);
}

TEST(RoleMaySend, ConsultIsForPeersRepliesAndUnwatchForModerators) {
    EXPECT_TRUE(ks::role_may_send(kp::role::peer, "consult"));
    EXPECT_FALSE(ks::role_may_send(kp::role::seeker, "consult"));
    EXPECT_FALSE(ks::role_may_send(kp::role::moderator, "consult"));
    EXPECT_TRUE(ks::role_may_send(kp::role::moderator, "consult_reply"));
    EXPECT_FALSE(ks::role_may_send(kp::role::peer, "consult_reply"));
    EXPECT_FALSE(ks::role_may_send(kp::role::seeker, "consult_reply"));
    EXPECT_TRUE(ks::role_may_send(kp::role::moderator, "unwatch"));
    EXPECT_FALSE(ks::role_may_send(kp::role::peer, "unwatch"));
    EXPECT_FALSE(ks::role_may_send(kp::role::seeker, "unwatch"));
}

// ---- issue #5: per-type rate limits and the escalation lane -------------------------------------

namespace {

// A seeker (or `role`) connection whose every message type is served, with small buckets so
// each rule shows in a few frames. The general bucket is generous unless a test says otherwise.
class RateLogicTest : public ::testing::Test {
protected:
    void start(ks::logic_options o, kp::role role = kp::role::seeker) {
        o.served = [](std::string_view) { return true; };
        logic_.emplace(o, now_);
        logic_->on_text(role == kp::role::seeker
                            ? R"({"type":"hello","id":"h","v":1,"role":"seeker"})"
                            : R"({"type":"hello","id":"h","v":1,"role":"moderator","token":"t"})",
                        now_);
        logic_->on_session_result(
            ok_result("S", role, "S.t",
                      role == kp::role::seeker
                          ? std::nullopt
                          : std::optional<ks::staff_identity>(ks::staff_identity{"m", "h", 1})));
        ASSERT_EQ(logic_->current(), phase::authenticated);
    }
    // Sends one frame; a request handed to the service is answered ok at once.
    ks::logic_output send(std::string_view text) {
        auto out = logic_->on_text(text, now_);
        if (out.service) {
            ks::service_answer a;
            a.frames.push_back(ks::make_ok_frame(out.service->id));
            logic_->on_service_result(std::move(a));
        }
        return out;
    }
    static bool limited(const ks::logic_output& out) {
        return out.frames.size() == 1 && frame(out, 0).at("code") == "rate_limited";
    }
    static ks::logic_options roomy() {
        ks::logic_options o;
        o.messages_per_second = 1000;
        o.message_burst = 1000;
        return o;
    }

    ks::token_bucket::clock::time_point now_{};
    std::optional<ks::connection_logic> logic_;
};

const std::string send_msg =
    R"({"type":"send","id":"s","conversation_id":"c1","seq":1,"copies":[{"to":"peer",
        "nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","ciphertext":"AAAAAAAAAAAAAAAAAAAAAA=="}]})";
const std::string escalate_msg =
    R"({"type":"escalate","id":"e","conversation_id":null,"level":"imminent",
        "category":"suicide_risk"})";

} // namespace

TEST_F(RateLogicTest, SendHasItsOwnBucketBesidesTheGeneralOne) {
    auto o = roomy();
    o.send = {60, 2}; // one a second, two at once
    start(o);
    EXPECT_FALSE(limited(send(send_msg)));
    EXPECT_FALSE(limited(send(send_msg)));
    auto out = send(send_msg);
    ASSERT_TRUE(limited(out));
    EXPECT_EQ(frame(out, 0).at("re"), "s");
    EXPECT_EQ(frame(out, 0).at("retry_after_ms"), 1000);
    // Other types are not affected by the send bucket.
    EXPECT_EQ(frame(send(R"({"type":"ping","id":"p"})"), 0).at("type"), "pong");
    now_ += 1s;
    EXPECT_FALSE(limited(send(send_msg)));
}

TEST_F(RateLogicTest, EachListedTypeHasItsOwnBucket) {
    const std::pair<ks::rate_spec ks::logic_options::*, std::string> cases[] = {
        {&ks::logic_options::send, send_msg},
        {&ks::logic_options::typing, R"({"type":"typing","id":"t","conversation_id":"c1"})"},
        {&ks::logic_options::request_match,
         R"({"type":"request_match","id":"r","tags":["grief"],"languages":["en"],
             "pubkey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})"},
        {&ks::logic_options::escalate, escalate_msg},
        {&ks::logic_options::report,
         R"({"type":"report","id":"r","conversation_id":"c1","reason":"spam"})"},
    };
    for (const auto& [member, text] : cases) {
        auto o = roomy();
        o.*member = {1, 1};
        start(o);
        EXPECT_FALSE(limited(send(text))) << text;
        EXPECT_TRUE(limited(send(text))) << text;
    }
}

TEST_F(RateLogicTest, ConsultHasItsOwnBucket) {
    auto o = roomy();
    o.consult = {1, 1};
    o.served = [](std::string_view) { return true; };
    logic_.emplace(o, now_);
    logic_->on_text(R"({"type":"hello","id":"h","v":1,"role":"peer","token":"t"})", now_);
    logic_->on_session_result(
        ok_result("S", kp::role::peer, "S.t", ks::staff_identity{"river", "h", 1}));
    const std::string consult =
        R"({"type":"consult","id":"k","pubkey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "copies":[{"moderator_id":"m1","sealed":")" +
        kp::base64_encode(std::vector<std::uint8_t>(48, 1)) + R"("}]})";
    auto first = send(consult);
    EXPECT_TRUE(first.service) << (first.frames.empty() ? "" : first.frames[0].text);
    EXPECT_TRUE(limited(send(consult)));
}

TEST_F(RateLogicTest, TypingOverItsBucketIsDroppedSilentlyUnlessItHasAnId) {
    auto o = roomy();
    o.typing = {60, 1};
    start(o);
    EXPECT_FALSE(limited(send(R"({"type":"typing","conversation_id":"c1"})")));
    auto silent = send(R"({"type":"typing","conversation_id":"c1"})");
    EXPECT_TRUE(silent.frames.empty());
    EXPECT_FALSE(silent.service);
    EXPECT_FALSE(silent.close);
    EXPECT_EQ(silent.in_type, "typing");
    auto answered = send(R"({"type":"typing","id":"t","conversation_id":"c1"})");
    ASSERT_TRUE(limited(answered));
    EXPECT_EQ(frame(answered, 0).at("re"), "t");
}

TEST_F(RateLogicTest, TypingOverTheGeneralBucketIsDroppedSilentlyToo) {
    ks::logic_options o;
    o.messages_per_second = 1;
    o.message_burst = 2; // hello spends one
    start(o);
    EXPECT_FALSE(limited(send(R"({"type":"typing","conversation_id":"c1"})")));
    EXPECT_TRUE(send(R"({"type":"typing","conversation_id":"c1"})").frames.empty());
    EXPECT_TRUE(limited(send(R"({"type":"ping","id":"p"})")));
}

TEST_F(RateLogicTest, ARefusalSpendsNoTokenOfTheOtherBucket) {
    ks::logic_options o;
    o.messages_per_second = 1;
    o.message_burst = 3; // hello spends one: two left
    o.send = {60, 1};
    start(o);
    EXPECT_FALSE(limited(send(send_msg))); // general 1 left, send 0
    EXPECT_TRUE(limited(send(send_msg)));  // refused by send: general keeps its token
    EXPECT_TRUE(limited(send(send_msg)));  // again
    EXPECT_EQ(frame(send(R"({"type":"ping","id":"p"})"), 0).at("type"), "pong"); // still there
    EXPECT_TRUE(limited(send(R"({"type":"ping","id":"p"})")));
}

TEST_F(RateLogicTest, RetryAfterIsTheLongerWaitOfTheTwoBuckets) {
    ks::logic_options o;
    o.messages_per_second = 1;
    o.message_burst = 1; // hello spent it: the general bucket needs 1000 ms
    o.send = {6, 1};     // fresh, but after one send it needs 10 s
    start(o);
    auto first = send(send_msg);
    ASSERT_TRUE(limited(first));
    EXPECT_EQ(frame(first, 0).at("retry_after_ms"), 1000);
    now_ += 1s;
    EXPECT_FALSE(limited(send(send_msg)));
    now_ += 1s;
    auto third = send(send_msg);
    ASSERT_TRUE(limited(third));
    EXPECT_EQ(frame(third, 0).at("retry_after_ms"), 9000);
}

TEST_F(RateLogicTest, AFloodOfSendsDoesNotStopAnEscalation) {
    ks::logic_options o;
    o.messages_per_second = 1;
    o.message_burst = 5;
    o.send = {6000, 1000};
    start(o);
    int refused = 0;
    for (int i = 0; i < 20; ++i)
        refused += limited(send(send_msg)) ? 1 : 0;
    EXPECT_EQ(refused, 16); // the general bucket is empty
    EXPECT_TRUE(limited(send(R"({"type":"ping","id":"p"})")));
    auto esc = logic_->on_text(escalate_msg, now_);
    EXPECT_TRUE(esc.frames.empty());
    ASSERT_TRUE(esc.service);
    EXPECT_EQ(kp::type_name(esc.service->message), "escalate");
    logic_->on_service_result({});
    auto keys = logic_->on_text(R"({"type":"moderator_keys","id":"k"})", now_);
    EXPECT_TRUE(keys.service);
}

TEST_F(RateLogicTest, TheLaneDoesNotSpendTheGeneralBucket) {
    ks::logic_options o;
    o.messages_per_second = 1;
    o.message_burst = 2; // hello spends one: one left
    start(o);
    for (int i = 0; i < 5; ++i)
        EXPECT_FALSE(limited(send(R"({"type":"moderator_keys","id":"k"})"))) << i;
    EXPECT_EQ(frame(send(R"({"type":"ping","id":"p"})"), 0).at("type"), "pong");
}

TEST_F(RateLogicTest, ModeratorLaneTypesShareTheLaneBucket) {
    auto o = roomy();
    o.escalation_lane = {60, 4};
    start(o, kp::role::moderator);
    EXPECT_FALSE(limited(send(
        R"({"type":"watch","id":"w","pubkey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})")));
    EXPECT_FALSE(limited(send(R"({"type":"acknowledge","id":"a","escalation_id":"e1"})")));
    EXPECT_FALSE(
        limited(send(R"({"type":"resolve","id":"r","escalation_id":"e1","outcome":"other"})")));
    EXPECT_FALSE(limited(send(R"({"type":"moderator_keys","id":"k"})")));
    EXPECT_TRUE(limited(send(R"({"type":"acknowledge","id":"a","escalation_id":"e2"})")));
    // join and ban are not in the lane: the general bucket serves them.
    EXPECT_FALSE(limited(send(
        R"({"type":"join","id":"j","conversation_id":"c1",
            "pubkey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})")));
}

TEST_F(RateLogicTest, EscalateSpendsTheLaneAndItsOwnBucket) {
    auto o = roomy();
    o.escalation_lane = {60, 2};
    o.escalate = {60, 10};
    start(o);
    EXPECT_FALSE(limited(send(escalate_msg)));
    EXPECT_FALSE(limited(send(R"({"type":"moderator_keys","id":"k"})")));
    EXPECT_TRUE(limited(send(escalate_msg))); // the lane is empty
}

TEST_F(RateLogicTest, PersistentFloodingCloses1008) {
    ks::logic_options o;
    o.messages_per_second = 1;
    o.message_burst = 1; // hello spent it
    o.max_rate_limited = 5;
    start(o);
    for (int i = 0; i < 4; ++i) {
        auto out = send(R"({"type":"ping"})");
        EXPECT_TRUE(limited(out));
        EXPECT_FALSE(out.close) << i;
    }
    EXPECT_EQ(logic_->rate_limited_in_a_row(), 4u);
    auto last = send(R"({"type":"ping"})");
    EXPECT_TRUE(limited(last));
    EXPECT_EQ(last.close, ks::close_codes::policy);
    EXPECT_EQ(last.close_reason, "rate limit");
    EXPECT_EQ(logic_->current(), phase::closing);
}

TEST_F(RateLogicTest, SilentlyDroppedTypingCountsTowardsTheFloodClose) {
    auto o = roomy();
    o.typing = {60, 1};
    o.max_rate_limited = 3;
    start(o);
    send(R"({"type":"typing","conversation_id":"c1"})");
    EXPECT_FALSE(send(R"({"type":"typing","conversation_id":"c1"})").close);
    EXPECT_FALSE(send(R"({"type":"typing","conversation_id":"c1"})").close);
    auto last = send(R"({"type":"typing","conversation_id":"c1"})");
    EXPECT_TRUE(last.frames.empty());
    EXPECT_EQ(last.close, ks::close_codes::policy);
}

TEST_F(RateLogicTest, AnAdmittedFrameResetsTheFloodCount) {
    auto o = roomy();
    o.send = {60, 1};
    o.max_rate_limited = 3;
    start(o);
    send(send_msg);
    for (int round = 0; round < 3; ++round) {
        EXPECT_FALSE(send(send_msg).close);
        EXPECT_FALSE(send(send_msg).close);
        EXPECT_EQ(frame(send(R"({"type":"ping","id":"p"})"), 0).at("type"), "pong");
        EXPECT_EQ(logic_->rate_limited_in_a_row(), 0u);
    }
}

TEST_F(RateLogicTest, UnknownAndInvalidFramesSpendOnlyTheGeneralBucket) {
    auto o = roomy();
    o.send = {60, 1};
    start(o);
    // An unknown type that happens to be named like nothing: general only.
    EXPECT_EQ(frame(send(R"({"type":"sendx","id":"u"})"), 0).at("code"), "unknown_type");
    // Bad JSON: general only; the send bucket is still full.
    EXPECT_EQ(frame(send("{nope"), 0).at("code"), "bad_json");
    EXPECT_FALSE(limited(send(send_msg)));
}

TEST(RateLanes, TypesMapToTheirBuckets) {
    EXPECT_EQ(ks::lane_of("send"), ks::rate_lane::send);
    EXPECT_EQ(ks::lane_of("typing"), ks::rate_lane::typing);
    EXPECT_EQ(ks::lane_of("request_match"), ks::rate_lane::request_match);
    EXPECT_EQ(ks::lane_of("escalate"), ks::rate_lane::escalate);
    EXPECT_EQ(ks::lane_of("report"), ks::rate_lane::report);
    EXPECT_EQ(ks::lane_of("consult"), ks::rate_lane::consult);
    for (const char* lane : {"moderator_keys", "acknowledge", "resolve", "watch"})
        EXPECT_EQ(ks::lane_of(lane), ks::rate_lane::escalation) << lane;
    for (const char* general : {"ping", "hello", "join", "ban", "block", "sync", "", "Send"})
        EXPECT_EQ(ks::lane_of(general), ks::rate_lane::general) << general;
}

TEST(RateLanes, OptionsComeFromTheConfiguration) {
    ks::limits_config l;
    l.max_bad_messages = 7;
    l.messages_per_second = 3;
    l.message_burst = 4;
    l.send_per_minute = 11;
    l.send_burst = 12;
    l.typing_per_minute = 13;
    l.escalation_lane_burst = 99;
    l.max_rate_limited = 21;
    auto o = ks::make_logic_options(l);
    EXPECT_EQ(o.max_bad_messages, 7u);
    EXPECT_EQ(o.messages_per_second, 3);
    EXPECT_EQ(o.message_burst, 4);
    EXPECT_EQ(o.send.per_minute, 11);
    EXPECT_EQ(o.send.burst, 12);
    EXPECT_EQ(o.typing.per_minute, 13);
    EXPECT_EQ(o.escalation_lane.burst, 99);
    EXPECT_EQ(o.max_rate_limited, 21u);
    EXPECT_FALSE(o.served);
}

TEST(RateLanes, ConfigDefaultsAreTheLogicDefaults) {
    const auto from_config = ks::make_logic_options(ks::limits_config{});
    const ks::logic_options defaults;
    for (auto member :
         {&ks::logic_options::send, &ks::logic_options::typing, &ks::logic_options::request_match,
          &ks::logic_options::escalate, &ks::logic_options::report, &ks::logic_options::consult,
          &ks::logic_options::escalation_lane}) {
        EXPECT_EQ((from_config.*member).per_minute, (defaults.*member).per_minute);
        EXPECT_EQ((from_config.*member).burst, (defaults.*member).burst);
    }
    EXPECT_EQ(from_config.max_rate_limited, defaults.max_rate_limited);
    EXPECT_EQ(from_config.messages_per_second, defaults.messages_per_second);
    EXPECT_EQ(from_config.message_burst, defaults.message_burst);
}

// ---- sends held after one was not stored (a retry must never meet a later stored seq) ----

namespace {

ks::logic_options relay_served() {
    ks::logic_options o{10, 1000, 1000, {}};
    o.send = {6000, 1000};
    o.served = [](std::string_view type) { return type == "send"; };
    return o;
}

std::string send_text(int seq, std::string_view conversation = "c1") {
    return R"({"type":"send","id":"s)" + std::to_string(seq) + R"(","conversation_id":")" +
           std::string(conversation) + R"(","seq":)" + std::to_string(seq) +
           R"(,"copies":[{"to":"peer","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","ciphertext":"AAAAAAAAAAAAAAAAAAAAAA=="}]})";
}

class HeldSendTest : public ConnectionLogicTest {
protected:
    void SetUp() override {
        auto out = relay_.on_text(R"({"type":"hello","id":"h","v":1,"role":"seeker"})", now_);
        ASSERT_TRUE(out.session);
        relay_.on_session_result(ok_result("S7", kindred::protocol::role::seeker, "S7.secret"));
        ASSERT_EQ(relay_.current(), phase::authenticated);
    }
    // Sends seq and answers it with `answer` (ok or an error code); returns the final output.
    ks::logic_output dispatched(int seq, std::optional<kindred::protocol::error_code> error,
                                std::string_view conversation = "c1") {
        auto out = relay_.on_text(send_text(seq, conversation), now_);
        EXPECT_TRUE(out.service) << "seq " << seq << " was not dispatched";
        ks::service_answer answer;
        const std::string id = "s" + std::to_string(seq);
        answer.frames.push_back(error ? ks::make_error_frame(id, *error, "x")
                                      : ks::make_ok_frame(id, json::object{{"offset", seq}}));
        return relay_.on_service_result(std::move(answer));
    }
    ks::connection_logic relay_{relay_served(), now_};
};

} // namespace

TEST_F(HeldSendTest, AfterAnUnavailableSendLaterSeqsAreHeldUntilTheRetryIsStored) {
    dispatched(1, std::nullopt);
    dispatched(2, kindred::protocol::error_code::unavailable);
    // seq 3 would be stored before 2's retry: refused without reaching a service.
    auto held = relay_.on_text(send_text(3), now_);
    EXPECT_FALSE(held.service);
    ASSERT_EQ(held.frames.size(), 1u);
    EXPECT_EQ(frame(held, 0).at("code"), "unavailable");
    EXPECT_EQ(frame(held, 0).at("re"), "s3");
    EXPECT_TRUE(frame(held, 0).contains("retry_after_ms"));
    EXPECT_EQ(relay_.current(), phase::authenticated);
    // Another conversation is not held.
    dispatched(1, std::nullopt, "c2");
    // The retry of 2 is stored: 3 goes through again.
    dispatched(2, std::nullopt);
    dispatched(3, std::nullopt);
}

TEST_F(HeldSendTest, AnOlderSeqStoredDoesNotLiftTheHoldOfANewerOne) {
    dispatched(4, kindred::protocol::error_code::unavailable);
    dispatched(3, std::nullopt); // a late retry of an earlier message: allowed (seq below 4)
    EXPECT_FALSE(relay_.on_text(send_text(5), now_).service);
    dispatched(4, std::nullopt);
    dispatched(5, std::nullopt);
}

TEST_F(HeldSendTest, APermanentErrorDoesNotHold) {
    dispatched(1, kindred::protocol::error_code::conflict);
    dispatched(2, std::nullopt);
}

TEST_F(HeldSendTest, ARateLimitedSendHoldsLaterSeqsWithRateLimited) {
    ks::logic_options o = relay_served();
    o.send = {60, 1}; // one send, then 1 per second
    ks::connection_logic logic{o, now_};
    logic.on_text(R"({"type":"hello","id":"h","v":1,"role":"seeker"})", now_);
    logic.on_session_result(ok_result("S8", kindred::protocol::role::seeker, "S8.secret"));
    ASSERT_TRUE(logic.on_text(send_text(1), now_).service);
    ks::service_answer ok1;
    ok1.frames.push_back(ks::make_ok_frame(std::string("s1"), json::object{{"offset", 1}}));
    logic.on_service_result(std::move(ok1));
    auto limited = logic.on_text(send_text(2), now_);
    ASSERT_EQ(limited.frames.size(), 1u);
    EXPECT_EQ(frame(limited, 0).at("code"), "rate_limited");
    // A second later the bucket has a token, but seq 3 must not overtake seq 2.
    const auto later = now_ + 1s;
    auto held = logic.on_text(send_text(3), later);
    EXPECT_FALSE(held.service);
    ASSERT_EQ(held.frames.size(), 1u);
    EXPECT_EQ(frame(held, 0).at("code"), "rate_limited");
    EXPECT_TRUE(logic.on_text(send_text(2), later + 1s).service);
}
