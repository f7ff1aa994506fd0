// auth_test.cpp — staff accounts end to end (issue #3; protocol.md §1, §3, §5) against real
// kindred-server processes and a real Redis, with accounts made by the built kindredctl:
// login/logout over HTTP, staff hello (peer, moderator, wrong role, dead tokens), 4003 on every
// instance within 1 s (logout, disable, expiry, a token deleted without notice), brute-force
// limits, register_identity and prekeys signed with libsodium, Redis down.
#include "integration_support.hpp"
#include <kindred/protocol/base64.hpp>

#include <sodium.h>

#include <array>
#include <chrono>
#include <thread>

namespace kindred::itest {
namespace {

using clock_type = std::chrono::steady_clock;

class Auth : public integration_test {
protected:
    void SetUp() override {
        ASSERT_GE(sodium_init(), 0);
        start_server();
    }
    // Receives until a close (skipping text frames) or the deadline; the close or timeout.
    static ws_frame wait_close(ws_client& ws, std::chrono::milliseconds within) {
        const auto deadline = clock_type::now() + within;
        for (;;) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) return ws_frame{};
            auto f = ws.receive(left);
            if (!f.is_text()) return f;
        }
    }
};

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ---- login / logout over HTTP ----------------------------------------------------------------

TEST_F(Auth, LoginAnswersTokenRoleAndExpiry) {
    const auto pw = add_staff("river", "peer");
    const auto before = unix_ms_now();
    auto r = login_request(port(), "river", pw);
    ASSERT_EQ(r.status, 200) << r.body;
    auto o = parse_object(r.body);
    EXPECT_EQ(str(o, "role"), "peer");
    EXPECT_GE(str(o, "token").size(), 43u); // >= 256 bits
    ASSERT_TRUE(o.contains("expires_at") && o.at("expires_at").is_int64());
    // Default lifetime: 12 h.
    EXPECT_GE(o.at("expires_at").as_int64(), before + 12 * 3600 * 1000 - 5000);
    EXPECT_LE(o.at("expires_at").as_int64(), unix_ms_now() + 12 * 3600 * 1000 + 5000);
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    // Admins log in too (their token is for admin pages, not for hello).
    const auto admin_pw = add_staff("boss", "admin");
    auto a = login_request(port(), "boss", admin_pw);
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(str(parse_object(a.body), "role"), "admin");
}

TEST_F(Auth, UnknownUserAndWrongPasswordGetIdenticalAnswers) {
    add_staff("river", "peer");
    auto unknown = login_request(port(), "nobody", "whatever-password");
    auto wrong = login_request(port(), "river", "whatever-password");
    EXPECT_EQ(unknown.status, 401);
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(unknown.body, wrong.body);
    EXPECT_EQ(str(parse_object(unknown.body), "error"), "not_authenticated");
    EXPECT_FALSE(str(parse_object(unknown.body), "message").empty());
    auto headers_without_date = [](const http_response& r) {
        header_list out;
        for (const auto& h : r.headers)
            if (h.first != "Date") out.push_back(h);
        return out;
    };
    EXPECT_EQ(headers_without_date(unknown), headers_without_date(wrong));
    // A disabled account answers the same.
    ASSERT_EQ(
        kindredctl(redis_.unix_address(), server_->config_path(), {"user", "disable", "river"})
            .code,
        0);
    EXPECT_EQ(login_request(port(), "river", "river-password-for-tests").body, wrong.body);
}

TEST_F(Auth, BadLoginRequests) {
    auto post = [&](std::string_view body) {
        return kindred::client::http_request("POST", "127.0.0.1", port(), "/v1/auth/login", {},
                                             body);
    };
    auto missing = post(R"({"username":"river"})");
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(str(parse_object(missing.body), "error"), "bad_message");
    EXPECT_EQ(str(parse_object(missing.body), "message").rfind("password", 0), 0u) << missing.body;
    auto wrong_type = post(R"({"username":["river"],"password":"x"})");
    EXPECT_EQ(wrong_type.status, 400);
    EXPECT_EQ(str(parse_object(wrong_type.body), "message").rfind("username", 0), 0u);
    auto not_json = post("username=river&password=x");
    EXPECT_EQ(not_json.status, 400);
    EXPECT_EQ(str(parse_object(not_json.body), "error"), "bad_json");
    auto huge = post(R"({"username":"river","password":")" + std::string(5000, 'x') + "\"}");
    EXPECT_EQ(huge.status, 413);
    EXPECT_EQ(str(parse_object(huge.body), "error"), "too_large");
    auto get_login = get("/v1/auth/login");
    EXPECT_EQ(get_login.status, 405);
    EXPECT_EQ(get_login.header("Allow"), "POST");
}

TEST_F(Auth, LogoutKillsTheTokenEverywhere) {
    const auto pw = add_staff("river", "peer");
    const auto token = login("river", pw);
    ASSERT_FALSE(token.empty());
    auto out = logout_request(port(), token);
    EXPECT_EQ(out.status, 204) << out.body;
    EXPECT_TRUE(out.body.empty());
    // Dead: a second logout and a hello both fail.
    auto again = logout_request(port(), token);
    EXPECT_EQ(again.status, 401);
    EXPECT_EQ(str(parse_object(again.body), "error"), "not_authenticated");
    auto ws = connect();
    auto frames = ws.request(staff_hello_json("peer", token));
    expect_error(last(frames), "not_authenticated", "1");
    expect_close(ws.receive(), 1008);
    // Without a bearer token: 401 with WWW-Authenticate.
    auto none = kindred::client::http_request("POST", "127.0.0.1", port(), "/v1/auth/logout");
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer");
}

TEST_F(Auth, TokensInUrlsAreRefused) {
    for (const char* target : {"/v1/ws?token=abc", "/healthz?access_token=abc", "/?token=abc"}) {
        auto r = get(target);
        EXPECT_EQ(r.status, 400) << target;
        EXPECT_EQ(str(parse_object(r.body), "error"), "bad_message") << target;
    }
    // Also as a WebSocket handshake.
    ws_client ws;
    kindred::client::ws_options o;
    o.port = port();
    o.target = "/v1/ws?token=abc";
    auto c = ws.connect(o);
    EXPECT_FALSE(c.ok());
    EXPECT_EQ(c.http_status, 400);
}

// ---- staff hello --------------------------------------------------------------------------

TEST_F(Auth, PeerAndModeratorSayHelloWithTheirTokens) {
    const auto peer_pw = add_staff("river", "peer");
    const auto mod_pw = add_staff("mona", "moderator");
    hello_result peer;
    auto p = staff_socket("peer", login("river", peer_pw), 0, &peer);
    ASSERT_TRUE(peer.ok);
    EXPECT_FALSE(peer.session.empty());
    EXPECT_FALSE(peer.resume_token.empty());
    hello_result mod;
    auto m = staff_socket("moderator", login("mona", mod_pw), 0, &mod);
    ASSERT_TRUE(mod.ok);
    // They are authenticated: ping works, and role checks apply.
    expect_ok(last(p.request(R"({"type":"ping","id":"p"})")), "p");
    expect_error(last(m.request(R"({"type":"shift_end","id":"s"})")), "forbidden", "s");
    // The session records who, never the token.
    auto key = find_key(redis_, "sess", peer.session);
    ASSERT_FALSE(key.empty());
    EXPECT_EQ(redis_.command({"HGET", key, "user"}), "river");
    EXPECT_EQ(redis_.command({"HGET", key, "role"}), "peer");
}

TEST_F(Auth, AWrongRoleIsForbiddenAndCloses1008) {
    const auto peer_token = login("river", add_staff("river", "peer"));
    const auto admin_token = login("boss", add_staff("boss", "admin"));
    struct {
        const char* role;
        std::string token;
    } cases[] = {{"moderator", peer_token}, {"peer", admin_token}, {"moderator", admin_token}};
    for (const auto& c : cases) {
        auto ws = connect();
        expect_error(last(ws.request(staff_hello_json(c.role, c.token))), "forbidden", "1");
        expect_close(ws.receive(), 1008);
    }
}

TEST_F(Auth, UnknownAndMalformedTokensAreNotAuthenticated) {
    for (const std::string& token : {std::string(43, 'A'), std::string("short")}) {
        auto ws = connect();
        expect_error(last(ws.request(staff_hello_json("peer", token))), "not_authenticated", "1");
        expect_close(ws.receive(), 1008);
    }
}

TEST_F(Auth, AnExpiredTokenIsNotAuthenticated) {
    start_server({"--token-lifetime-s", "1"});
    const auto pw = add_staff("river", "peer");
    auto r = login_request(port(), "river", pw);
    ASSERT_EQ(r.status, 200);
    auto o = parse_object(r.body);
    const auto expires_at = o.at("expires_at").as_int64();
    ASSERT_TRUE(
        kindred::testsupport::eventually([&] { return unix_ms_now() > expires_at + 50; }, 5s));
    auto ws = connect();
    expect_error(last(ws.request(staff_hello_json("peer", str(o, "token")))), "not_authenticated",
                 "1");
    expect_close(ws.receive(), 1008);
}

TEST_F(Auth, AnOpenSocketIsClosed4003WhenItsTokenExpires) {
    start_server({"--token-lifetime-s", "3"});
    const auto pw = add_staff("river", "peer");
    auto r = login_request(port(), "river", pw);
    ASSERT_EQ(r.status, 200);
    auto o = parse_object(r.body);
    const auto expires_at = o.at("expires_at").as_int64();
    auto ws = staff_socket("peer", str(o, "token"));
    auto f = wait_close(ws, 6s);
    expect_close(f, 4003);
    // Closed at expiry, not before; and within a second after it.
    EXPECT_GE(unix_ms_now(), expires_at);
    EXPECT_LE(unix_ms_now(), expires_at + 1000);
}

TEST_F(Auth, ResumingAStaffSessionRechecksTheToken) {
    const auto pw = add_staff("river", "peer");
    const auto token = login("river", pw);
    hello_result h;
    {
        auto ws = staff_socket("peer", token, 0, &h);
        ASSERT_TRUE(h.ok);
        ws.close();
    }
    {
        // Same token still live: the resume works and keeps the role.
        auto ws = connect();
        auto o = expect_ok(last(ws.request(resume_json(h.resume_token))), "1");
        EXPECT_EQ(str(o, "role"), "peer");
        EXPECT_EQ(str(o, "session"), h.session);
        ws.close();
    }
    ASSERT_EQ(logout_request(port(), token).status, 204);
    auto ws = connect();
    expect_error(last(ws.request(resume_json(h.resume_token))), "not_authenticated", "1");
    expect_close(ws.receive(), 1008);
}

// ---- dead tokens close sockets on every instance within 1 s -----------------------------

TEST_F(Auth, LogoutOnOneInstanceCloses4003OnAnotherWithinASecond) {
    auto b = another_server();
    const auto pw = add_staff("river", "peer");
    const auto token = login("river", pw); // on A
    const auto other_token = login("river", pw);
    auto on_b = staff_socket("peer", token, b->port());
    auto unaffected = staff_socket("peer", other_token, b->port()); // same user, another token
    ASSERT_EQ(logout_request(port(), token).status, 204);
    expect_close(wait_close(on_b, 1000ms), 4003);
    // Only that token's sockets.
    expect_ok(last(unaffected.request(R"({"type":"ping","id":"p"})")), "p");
}

TEST_F(Auth, DisablingWithKindredctlCloses4003OnEveryInstanceWithinASecond) {
    auto b = another_server();
    const auto pw = add_staff("river", "peer");
    auto on_a = staff_socket("peer", login("river", pw));
    auto on_b = staff_socket("peer", login("river", pw), b->port());
    auto r =
        kindredctl(redis_.unix_address(), server_->config_path(), {"user", "disable", "river"});
    ASSERT_EQ(r.code, 0) << r.output;
    expect_close(wait_close(on_b, 1000ms), 4003);
    expect_close(wait_close(on_a, 1000ms), 4003);
    // And the account cannot log in or say hello again.
    EXPECT_EQ(login_request(port(), "river", pw).status, 401);
}

// The periodic lookup (token_lookup_ms, 5 s by default: revocations arrive over the bus) is
// shortened here so the test stays fast.
TEST_F(Auth, ATokenDeletedWithoutNoticeIsCaughtByTheRecheck) {
    start_server({"--token-lookup-ms", "300"});
    const auto pw = add_staff("river", "peer");
    auto ws = staff_socket("peer", login("river", pw));
    // Pub/sub is at-most-once: delete the token as if its notice had been lost.
    auto tokens = redis_.keys("token:*");
    ASSERT_EQ(tokens.size(), 1u);
    redis_.command({"DEL", tokens[0]});
    expect_close(wait_close(ws, 1000ms), 4003);
}

// ---- brute force ----------------------------------------------------------------------------

TEST_F(Auth, TheSixthFailedLoginForAUsernameIs429WithRetryAfter) {
    const auto pw = add_staff("river", "peer");
    for (int i = 1; i <= 5; ++i)
        ASSERT_EQ(login_request(port(), "river", "wrong-password-" + std::to_string(i)).status, 401)
            << i;
    auto sixth = login_request(port(), "river", pw); // even with the right password
    ASSERT_EQ(sixth.status, 429) << sixth.body;
    ASSERT_TRUE(sixth.header("Retry-After"));
    const int retry = std::stoi(*sixth.header("Retry-After"));
    EXPECT_GT(retry, 0);
    EXPECT_LE(retry, 900);
    auto o = parse_object(sixth.body);
    EXPECT_EQ(str(o, "error"), "rate_limited");
    ASSERT_TRUE(o.contains("retry_after_ms"));
    EXPECT_EQ(o.at("retry_after_ms").as_int64(), retry * 1000);
    // Another name is not locked.
    const auto mod_pw = add_staff("mona", "moderator");
    EXPECT_EQ(login_request(port(), "mona", mod_pw).status, 200);
}

TEST_F(Auth, ThePerAddressLimitIs429ForEveryName) {
    start_server({"--login-failures-per-address", "3"});
    const auto pw = add_staff("river", "peer");
    for (int i = 1; i <= 3; ++i)
        ASSERT_EQ(login_request(port(), "name" + std::to_string(i), "wrong").status, 401) << i;
    auto limited = login_request(port(), "river", pw);
    ASSERT_EQ(limited.status, 429) << limited.body;
    EXPECT_TRUE(limited.header("Retry-After"));
    EXPECT_EQ(str(parse_object(limited.body), "error"), "rate_limited");
    // The address is never written to Redis or the log.
    for (const auto& k : redis_.keys())
        EXPECT_EQ(k.find("127.0.0.1"), std::string::npos) << k;
    EXPECT_EQ(server_->log().find("127.0.0.1"), std::string::npos);
}

// ---- identity keys and prekeys (§5) ---------------------------------------------------------

struct ed25519 {
    std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
    std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
    ed25519() { crypto_sign_keypair(pk.data(), sk.data()); }
    std::string public_b64() const { return kindred::protocol::base64_encode(pk); }
};

std::string register_json(const ed25519& k, std::string_view id) {
    return R"({"type":"register_identity","id":")" + std::string(id) + R"(","identity_key":")" +
           k.public_b64() + R"("})";
}

// One {"prekey","signature"} signed by `signer`.
std::string prekey_json(const ed25519& signer) {
    std::array<std::uint8_t, crypto_box_PUBLICKEYBYTES> pk{};
    std::array<std::uint8_t, crypto_box_SECRETKEYBYTES> sk{};
    crypto_box_keypair(pk.data(), sk.data());
    std::array<std::uint8_t, crypto_sign_BYTES> sig{};
    crypto_sign_detached(sig.data(), nullptr, pk.data(), pk.size(), signer.sk.data());
    return R"({"prekey":")" + kindred::protocol::base64_encode(pk) + R"(","signature":")" +
           kindred::protocol::base64_encode(sig) + R"("})";
}

TEST_F(Auth, RegisterIdentitySameKeyOkDifferentKeyConflict) {
    const auto pw = add_staff("river", "peer");
    auto ws = staff_socket("peer", login("river", pw));
    ed25519 key, other;
    expect_ok(last(ws.request(register_json(key, "r1"))), "r1");
    expect_ok(last(ws.request(register_json(key, "r2"))), "r2");
    expect_error(last(ws.request(register_json(other, "r3"))), "conflict", "r3");
    // Stored on the account, as base64.
    EXPECT_EQ(redis_.command({"HGET", "user:{river}", "identity_key"}), key.public_b64());
    // An admin reset lets the peer register a new key.
    auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                        {"user", "reset-identity", "river"});
    ASSERT_EQ(r.code, 0) << r.output;
    expect_ok(last(ws.request(register_json(other, "r4"))), "r4");
}

TEST_F(Auth, PrekeysAreVerifiedAgainstTheRegisteredIdentityKey) {
    const auto pw = add_staff("river", "peer");
    auto ws = staff_socket("peer", login("river", pw));
    ed25519 key, impostor;
    // Before register_identity: conflict.
    expect_error(
        last(ws.request(R"({"type":"prekeys","id":"k0","keys":[)" + prekey_json(key) + "]}")),
        "conflict", "k0");
    expect_ok(last(ws.request(register_json(key, "r"))), "r");
    auto ok = expect_ok(last(ws.request(R"({"type":"prekeys","id":"k1","keys":[)" +
                                        prekey_json(key) + "," + prekey_json(key) + "]}")),
                        "k1");
    EXPECT_EQ(ok.at("verified").as_int64(), 2);
    auto bad = expect_error(last(ws.request(R"({"type":"prekeys","id":"k2","keys":[)" +
                                            prekey_json(key) + "," + prekey_json(impostor) + "]}")),
                            "bad_message", "k2");
    EXPECT_EQ(str(bad, "message").rfind("keys[1].signature", 0), 0u) << str(bad, "message");
    // The connection stays usable.
    expect_ok(last(ws.request(R"({"type":"ping","id":"p"})")), "p");
}

// ---- outages and hygiene --------------------------------------------------------------------

TEST_F(Auth, RedisDownLoginIs503) {
    const auto pw = add_staff("river", "peer");
    redis_.stop();
    auto r = login_request(port(), "river", pw);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(str(parse_object(r.body), "error"), "unavailable");
}

TEST_F(Auth, LoginsAreCountedAndSecretsNeverLogged) {
    const auto pw = add_staff("river", "peer");
    const auto token = login("river", pw);
    const std::string typo = "my-password-typed-as-a-name";
    EXPECT_EQ(login_request(port(), typo, "x").status, 401);
    auto m = get("/metrics");
    EXPECT_EQ(metric_value(m.body, "kindred_login_attempts_total", {"outcome=\"ok\""}), 1.0);
    EXPECT_EQ(metric_value(m.body, "kindred_login_attempts_total", {"outcome=\"bad_credentials\""}),
              1.0);
    ASSERT_EQ(logout_request(port(), token).status, 204);
    const auto log = server_->log();
    EXPECT_NE(log.find("event=login_ok user=river"), std::string::npos) << log;
    EXPECT_NE(log.find("event=login_failed reason=bad_credentials"), std::string::npos);
    for (const auto& secret : {pw, token, typo})
        EXPECT_EQ(log.find(secret), std::string::npos) << "leaked: " << secret;
}

} // namespace
} // namespace kindred::itest
