// lexicon_triage_test.cpp — issue #5, first piece, against the real kindred-server and Redis:
// GET /v1/lexicon serves the shipped file with an ETag and answers If-None-Match with 304,
// /v1/config names its version, a missing lexicon stops the server (exit 2), and an intake
// triaged `imminent` puts its seeker ahead of an earlier one, the peer seeing the level — while
// the intake text reaches no Redis key and no log.
#include "integration_support.hpp"
#include <kindred/protocol/base64.hpp>

#include <sodium.h>

#include <array>

namespace kindred::itest {
namespace {

namespace json = boost::json;

// The shipped lexicon (the test server is given the same file by server_process).
std::string shipped_lexicon() {
    return read_text_file(std::filesystem::path(KINDRED_SOURCE_DIR) / "moderation" / "lexicon" /
                          "lexicon.json");
}

// An English vector of moderation/lexicon/vectors.json at level imminent.
constexpr std::string_view imminent_intake = "I wrote my suicide note and put it on the desk";

class LexiconTriage : public integration_test {
protected:
    std::string certified_peer(const std::string& name) {
        const auto pw = add_staff(name, "peer");
        auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                            {"user", "certify", name, "--tags", "grief", "--until", "2099-01-01"});
        EXPECT_EQ(r.code, 0) << r.output;
        return login(name, pw);
    }

    void ready_peer(ws_client& ws, const ed25519_pair& key) {
        expect_ok(last(ws.request(R"({"type":"register_identity","id":"r","identity_key":")" +
                                  b64(key.pk) + R"("})")),
                  "r");
        expect_ok(last(ws.request(R"({"type":"prekeys","id":"k","keys":[)" + prekey_json(key) +
                                  "," + prekey_json(key) + "]}")),
                  "k");
        expect_ok(
            last(ws.request(
                R"({"type":"shift_start","id":"s","capacity":1,"tags":["grief"],"languages":["en"]})")),
            "s");
    }

    static std::string request_json(const std::array<std::uint8_t, 32>& pub,
                                    std::string_view intake = {}) {
        std::string s = R"({"type":"request_match","id":"m","tags":["grief"],"languages":["en"],)"
                        R"("pubkey":")" +
                        b64(pub) + "\"";
        if (!intake.empty()) s += R"(,"intake":")" + std::string(intake) + "\"";
        return s + "}";
    }
};

TEST_F(LexiconTriage, LexiconServedWithEtagAndNotModified) {
    start_server();
    auto r = kindred::client::http_get("127.0.0.1", port(), "/v1/lexicon");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, shipped_lexicon());
    EXPECT_EQ(r.header("Content-Type").value_or(""), "application/json");
    EXPECT_TRUE(r.header("Cache-Control").has_value());
    const auto version =
        std::string(json::parse(r.body).as_object().at("version").as_string().c_str());
    const auto etag = r.header("ETag").value_or("");
    EXPECT_EQ(etag, "\"" + version + "\"");

    auto again =
        kindred::client::http_get("127.0.0.1", port(), "/v1/lexicon", {{"If-None-Match", etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(again.header("ETag").value_or(""), etag);
    auto head = kindred::client::http_request("HEAD", "127.0.0.1", port(), "/v1/lexicon");
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(kindred::client::http_get("127.0.0.1", port(), "/v1/lexicon",
                                        {{"If-None-Match", "\"older\""}})
                  .status,
              200);

    auto config = kindred::client::http_get("127.0.0.1", port(), "/v1/config");
    ASSERT_EQ(config.status, 200);
    EXPECT_EQ(str(json::parse(config.body).as_object(), "lexicon_version"), version);
}

TEST_F(LexiconTriage, MissingLexiconExitsTwoNamingTheOption) {
    testsupport::temp_dir dir("kindred-lexicon");
    auto p = testsupport::child_process::spawn(
        {(testsupport::build_bin_dir() / "kindred-server").string(), "--lexicon",
         (dir.path() / "absent.json").string()},
        dir.path() / "out.log");
    EXPECT_EQ(p.wait_for(10s), 2) << p.log();
    EXPECT_NE(p.log().find("lexicon"), std::string::npos) << p.log();
}

TEST_F(LexiconTriage, ImminentIntakeIsMatchedFirstAndThePeerSeesTheLevel) {
    start_server();
    std::array<std::uint8_t, 32> pk1{}, sk1{}, pk2{}, sk2{};
    crypto_kx_keypair(pk1.data(), sk1.data());
    crypto_kx_keypair(pk2.data(), sk2.data());

    auto earlier = seeker();
    expect_ok(last(earlier.request(request_json(pk1))), "m");
    EXPECT_EQ(wait_for(earlier, "queued").at("position").as_int64(), 1);
    auto urgent = seeker();
    expect_ok(last(urgent.request(request_json(pk2, imminent_intake))), "m");
    wait_for(urgent, "queued");

    const auto token = certified_peer("river");
    auto peer = staff_socket("peer", token, port());
    ed25519_pair identity;
    ready_peer(peer, identity);

    auto pm = wait_for(peer, "matched");
    ASSERT_FALSE(pm.empty());
    const auto& s = pm.at("seeker").as_object();
    EXPECT_EQ(str(s, "pubkey"), b64(pk2)); // the later, urgent seeker
    EXPECT_EQ(str(s, "risk"), "imminent");
    EXPECT_EQ(str(pm, "intake"), imminent_intake);
    auto sm = wait_for(urgent, "matched");
    EXPECT_EQ(str(sm, "conversation_id"), str(pm, "conversation_id"));

    EXPECT_EQ(dump_redis(redis_).find(imminent_intake), std::string::npos);
    EXPECT_EQ(server_->log().find(imminent_intake), std::string::npos);
    EXPECT_NE(server_->log().find("risk=imminent"), std::string::npos);
}

} // namespace
} // namespace kindred::itest
