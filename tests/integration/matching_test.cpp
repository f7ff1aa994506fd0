// matching_test.cpp — issue #4 against two real kindred-server instances sharing one Redis:
// a certified peer on instance B (identity key, signed prekeys, shift), a seeker on instance A
// asking by a shared tag → both get `matched` with what the other side needs for the key
// exchange; the intake reaches the peer but never Redis or a log; validation of tags,
// languages and capacity; conflict and cancel; shift states.
#include "integration_support.hpp"
#include <kindred/protocol/base64.hpp>

#include <sodium.h>

#include <array>

namespace kindred::itest {
namespace {

namespace json = boost::json;

std::vector<std::uint8_t> unb64(const std::string& text) {
    auto d = protocol::base64_decode(text);
    EXPECT_TRUE(d) << text;
    return d.value_or(std::vector<std::uint8_t>{});
}

// Every key and value in Redis as one text, for "never stored" checks.
std::string dump_redis(redis_process& redis) {
    std::string all;
    for (auto& k : redis.keys()) {
        auto type = redis.command({"TYPE", k});
        all += k + "\n";
        if (type == "string")
            all += redis.command({"GET", k});
        else if (type == "hash")
            all += redis.command({"HGETALL", k});
        else if (type == "list")
            all += redis.command({"LRANGE", k, "0", "-1"});
        else if (type == "set")
            all += redis.command({"SMEMBERS", k});
        else if (type == "zset")
            all += redis.command({"ZRANGE", k, "0", "-1", "WITHSCORES"});
        else if (type == "stream")
            all += redis.command({"XRANGE", k, "-", "+"});
        else
            all += "(type " + type + ")";
        all += "\n";
    }
    return all;
}

class Matching : public integration_test {
protected:
    // A peer account certified for grief, logged in.
    std::string certified_peer(const std::string& name) {
        const auto pw = add_staff(name, "peer");
        auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                            {"user", "certify", name, "--tags", "grief", "--until", "2099-01-01"});
        EXPECT_EQ(r.code, 0) << r.output;
        return login(name, pw);
    }

    // Registers `key`, uploads `count` prekeys signed by it and starts a shift.
    void ready_peer(ws_client& ws, const ed25519_pair& key, int count, int capacity = 1) {
        expect_ok(last(ws.request(R"({"type":"register_identity","id":"r","identity_key":")" +
                                  b64(key.pk) + R"("})")),
                  "r");
        std::string keys;
        for (int i = 0; i < count; ++i)
            keys += (i ? "," : "") + prekey_json(key);
        auto ok = expect_ok(
            last(ws.request(R"({"type":"prekeys","id":"k","keys":[)" + keys + "]}")), "k");
        EXPECT_EQ(ok.at("verified").as_int64(), count);
        EXPECT_EQ(ok.at("remaining").as_int64(), count);
        auto frames =
            ws.request(R"({"type":"shift_start","id":"s","capacity":)" + std::to_string(capacity) +
                       R"(,"tags":["grief"],"languages":["en"]})");
        expect_ok(last(frames), "s");
        auto shift = wait_for(ws, "shift");
        EXPECT_EQ(str(shift, "state"), "on");
        EXPECT_EQ(shift.at("capacity").as_int64(), capacity);
    }

    static std::string request_json(std::string_view id, std::string_view tags,
                                    const std::array<std::uint8_t, 32>& pub,
                                    std::string_view intake = {}) {
        std::string s = R"({"type":"request_match","id":")" + std::string(id) + R"(","tags":)" +
                        std::string(tags) + R"(,"languages":["en"],"pubkey":")" + b64(pub) + "\"";
        if (!intake.empty()) s += R"(,"intake":")" + std::string(intake) + "\"";
        return s + "}";
    }
};

TEST_F(Matching, SeekerOnOneInstanceIsMatchedWithPeerOnTheOther) {
    start_server();
    auto b = another_server();
    const auto token = certified_peer("river");
    auto peer = staff_socket("peer", token, b->port());
    ed25519_pair identity;
    ready_peer(peer, identity, 3);

    auto seeker_ws = seeker();
    std::array<std::uint8_t, 32> seeker_pk{}, seeker_sk{};
    crypto_kx_keypair(seeker_pk.data(), seeker_sk.data());
    const std::string canary = "CANARY-intake-7f3a9c-never-stored";
    expect_ok(last(seeker_ws.request(request_json("m", R"(["grief"])", seeker_pk, canary))), "m");

    auto sm = wait_for(seeker_ws, "matched");
    ASSERT_FALSE(sm.empty());
    const auto conversation = str(sm, "conversation_id");
    EXPECT_FALSE(conversation.empty());
    EXPECT_FALSE(sm.at("relaxed").as_bool());
    const auto& p = sm.at("peer").as_object();
    EXPECT_EQ(str(p, "alias"), "Alias river");
    EXPECT_EQ(json::serialize(p.at("shared_tags")), R"(["grief"])");
    EXPECT_EQ(json::serialize(p.at("tags")), R"(["grief"])");
    EXPECT_EQ(str(p, "identity_key"), b64(identity.pk));
    // The prekey handed out is signed by the peer's registered identity key.
    auto prekey = unb64(str(p, "prekey"));
    auto sig = unb64(str(p, "signature"));
    ASSERT_EQ(prekey.size(), 32u);
    ASSERT_EQ(sig.size(), 64u);
    EXPECT_EQ(
        crypto_sign_verify_detached(sig.data(), prekey.data(), prekey.size(), identity.pk.data()),
        0);

    auto pm = wait_for(peer, "matched");
    ASSERT_FALSE(pm.empty());
    EXPECT_EQ(str(pm, "conversation_id"), conversation);
    EXPECT_EQ(str(pm, "prekey"), str(p, "prekey"));
    EXPECT_EQ(str(pm, "intake"), canary);
    const auto& s = pm.at("seeker").as_object();
    EXPECT_EQ(str(s, "pubkey"), b64(seeker_pk));
    EXPECT_EQ(json::serialize(s.at("shared_tags")), R"(["grief"])");
    EXPECT_EQ(str(s, "risk"), "none");
    EXPECT_GE(s.at("waited_s").as_int64(), 0);

    // A second request while in a conversation: conflict.
    expect_error(last(seeker_ws.request(request_json("m2", R"(["grief"])", seeker_pk))), "conflict",
                 "m2");

    // The intake is forwarded, never stored or logged.
    EXPECT_EQ(dump_redis(redis_).find(canary), std::string::npos);
    EXPECT_EQ(server_->log().find(canary), std::string::npos);
    EXPECT_EQ(b->log().find(canary), std::string::npos);
}

TEST_F(Matching, WaitingSeekerIsQueuedThenMatchedWhenAPeerStarts) {
    start_server();
    auto b = another_server();
    auto seeker_ws = seeker();
    std::array<std::uint8_t, 32> pk{}, sk{};
    crypto_kx_keypair(pk.data(), sk.data());
    auto frames = seeker_ws.request(request_json("m", R"(["grief"])", pk));
    expect_ok(last(frames), "m");
    auto q = wait_for(seeker_ws, "queued");
    EXPECT_EQ(q.at("position").as_int64(), 1);
    EXPECT_TRUE(q.contains("estimated_wait_s"));

    const auto token = certified_peer("river");
    auto peer = staff_socket("peer", token, b->port());
    ed25519_pair identity;
    ready_peer(peer, identity, 2);
    auto sm = wait_for(seeker_ws, "matched");
    auto pm = wait_for(peer, "matched");
    EXPECT_EQ(str(sm, "conversation_id"), str(pm, "conversation_id"));
    EXPECT_FALSE(pm.contains("intake")); // none was written
}

TEST_F(Matching, RequestValidationNamesTheField) {
    start_server();
    auto ws = seeker();
    std::array<std::uint8_t, 32> pk{}, sk{};
    crypto_kx_keypair(pk.data(), sk.data());
    auto bad = expect_error(last(ws.request(request_json("a", R"(["grief","astrology"])", pk))),
                            "bad_message", "a");
    EXPECT_NE(str(bad, "message").find("tags[1]"), std::string::npos) << str(bad, "message");
    auto lang = expect_error(
        last(ws.request(R"({"type":"request_match","id":"b","tags":["grief"],"languages":["fr"],)"
                        R"("pubkey":")" +
                        b64(pk) + R"("})")),
        "bad_message", "b");
    EXPECT_NE(str(lang, "message").find("languages[0]"), std::string::npos);

    // Cancel with nothing waiting; queue, conflict, cancel.
    expect_error(last(ws.request(R"({"type":"cancel_match","id":"c0"})")), "not_found", "c0");
    expect_ok(last(ws.request(request_json("m", R"(["grief"])", pk))), "m");
    expect_error(last(ws.request(request_json("m2", R"(["grief"])", pk))), "conflict", "m2");
    expect_ok(last(ws.request(R"({"type":"cancel_match","id":"c1"})")), "c1");
    expect_ok(last(ws.request(request_json("m3", R"(["grief"])", pk))), "m3");
}

TEST_F(Matching, ShiftStartChecksCertificationAndStatesFollow) {
    start_server();
    const auto token = certified_peer("river");
    auto ws = staff_socket("peer", token);
    auto bad = expect_error(
        last(ws.request(
            R"({"type":"shift_start","id":"1","capacity":1,"tags":["test_tag"],"languages":["en"]})")),
        "bad_message", "1");
    EXPECT_NE(str(bad, "message").find("tags[0]"), std::string::npos) << str(bad, "message");
    auto lang = expect_error(
        last(ws.request(
            R"({"type":"shift_start","id":"2","capacity":1,"tags":["grief"],"languages":["es"]})")),
        "bad_message", "2");
    EXPECT_NE(str(lang, "message").find("languages[0]"), std::string::npos);
    auto cap = expect_error(
        last(ws.request(
            R"({"type":"shift_start","id":"3","capacity":6,"tags":["grief"],"languages":["en"]})")),
        "bad_message", "3");
    EXPECT_NE(str(cap, "message").find("capacity"), std::string::npos);
    // Pause before any shift: conflict.
    expect_error(last(ws.request(R"({"type":"shift_pause","id":"p0"})")), "conflict", "p0");

    expect_ok(
        last(ws.request(
            R"({"type":"shift_start","id":"4","capacity":2,"tags":["grief"],"languages":["en"]})")),
        "4");
    EXPECT_EQ(str(wait_for(ws, "shift"), "state"), "on");
    expect_ok(last(ws.request(R"({"type":"shift_pause","id":"5"})")), "5");
    EXPECT_EQ(str(wait_for(ws, "shift"), "state"), "paused");
    expect_ok(last(ws.request(R"({"type":"shift_resume","id":"6"})")), "6");
    EXPECT_EQ(str(wait_for(ws, "shift"), "state"), "on");
    expect_ok(last(ws.request(R"({"type":"shift_end","id":"7"})")), "7");
    EXPECT_EQ(str(wait_for(ws, "shift"), "state"), "off");
}

TEST_F(Matching, SeekerMayNotStartShiftsNorPeersRequestMatches) {
    start_server();
    auto ws = seeker();
    expect_error(
        last(ws.request(
            R"({"type":"shift_start","id":"1","capacity":1,"tags":["grief"],"languages":["en"]})")),
        "forbidden", "1");
}

} // namespace
} // namespace kindred::itest
