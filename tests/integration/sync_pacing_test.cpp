// sync_pacing_test.cpp — issue #4: a sync longer than the outbound queue budget (1 MiB) is
// paced in batches as the connection drains, so it completes: every message after `after`,
// in order, then ok, and the connection stays open.
#include "integration_support.hpp"
#include <kindred/client/e2e.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/codec.hpp>

namespace kindred::itest {
namespace {

namespace e2e = kindred::client::e2e;
namespace kp = kindred::protocol;

class SyncPacing : public integration_test {
protected:
    ws_client ready_peer() {
        const auto pw = add_staff("river", "peer");
        auto r =
            kindredctl(redis_.unix_address(), server_->config_path(),
                       {"user", "certify", "river", "--tags", "grief", "--until", "2099-01-01"});
        EXPECT_EQ(r.code, 0) << r.output;
        auto ws = staff_socket("peer", login("river", pw));
        auto identity = e2e::generate_identity_key_pair();
        expect_ok(last(ws.request(R"({"type":"register_identity","id":"r","identity_key":")" +
                                  kp::base64_encode(identity.public_key) + R"("})")),
                  "r");
        kp::prekeys upload;
        auto pair = e2e::generate_kx_key_pair();
        upload.keys.push_back({pair.public_key, e2e::sign_prekey(pair.public_key, identity)});
        expect_ok(last(ws.request(kp::encode_client_message(upload, "k"))), "k");
        expect_ok(
            last(ws.request(
                R"({"type":"shift_start","id":"s","capacity":1,"tags":["grief"],"languages":["en"]})")),
            "s");
        return ws;
    }
};

TEST_F(SyncPacing, LongHistorySyncsCompletelyInOrderAndTheConnectionStaysOpen) {
    start_server({"--messages-per-second", "100000", "--message-burst", "100000",
                  "--send-per-minute", "1000000", "--send-burst", "100000"});
    auto peer = ready_peer();
    hello_result h;
    auto seeker_ws = std::make_unique<ws_client>(seeker(&h));
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = e2e::generate_kx_key_pair().public_key;
    expect_ok(last(seeker_ws->request(kp::encode_client_message(rm, "m"))), "m");
    auto matched = next_of(*seeker_ws, "matched");
    const std::string conv = str(matched.body, "conversation_id");
    ASSERT_FALSE(conv.empty());
    seeker_ws.reset(); // offline: nothing is pushed live, everything waits in the log

    // ~2,000 messages of ~1 KiB ciphertext each: about 2.8 MiB of events, well over the
    // 1 MiB outbound budget. The server treats ciphertext as opaque bytes.
    constexpr int count = 2000;
    for (int seq = 1; seq <= count; ++seq) {
        kp::send s;
        s.conversation_id = conv;
        s.seq = seq;
        s.copies.push_back(kp::message_copy{
            kp::role::seeker, {}, std::vector<std::uint8_t>(1024, static_cast<std::uint8_t>(seq))});
        auto ok = expect_ok(last(peer.request(kp::encode_client_message(s, "p"))), "p");
        ASSERT_EQ(ok.at("offset").as_int64(), seq);
    }

    auto resumed = ws_client::open(port());
    expect_ok(last(resumed.request(resume_json(h.resume_token, "h2"))), "h2");
    auto frames = resumed.request(kp::encode_client_message(kp::sync{conv, 0}, "y"), 60s);
    std::vector<std::int64_t> offsets;
    for (auto& f : frames) {
        if (!f.is_text()) continue;
        auto frame = kp::decode_server_frame(f.text);
        if (frame && frame->type == "message")
            offsets.push_back(frame->body.at("offset").as_int64());
    }
    ASSERT_EQ(offsets.size(), static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i)
        ASSERT_EQ(offsets[i], i + 1) << "at " << i;
    auto done = expect_ok(last(frames), "y");
    EXPECT_EQ(done.at("offset").as_int64(), count);
    EXPECT_TRUE(done.at("recovered").as_bool());

    // Still open and answering; a sync from the middle is paced the same way.
    auto tail = resumed.request(kp::encode_client_message(kp::sync{conv, count - 3}, "y2"), 60s);
    auto tail_ok = expect_ok(last(tail), "y2");
    EXPECT_EQ(tail_ok.at("offset").as_int64(), count);
    EXPECT_EQ(tail.size(), 4u);
    expect_ok(last(resumed.request(R"({"type":"ping","id":"z"})")), "z");
}

} // namespace
} // namespace kindred::itest
