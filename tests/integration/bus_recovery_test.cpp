// bus_recovery_test.cpp — issue #4, server-side recovery of what the at-most-once bus loses,
// against real instances sharing one Redis:
//  - the receiving instance's subscriber connection is killed in Redis (CLIENT KILL TYPE
//    pubsub) again and again while the other side keeps sending: the receiver still gets
//    every message live, in order, none twice (gaps and tails are read from the stored log);
//  - the seeker's grace period: a seeker whose session expires while in a conversation ends
//    it (`ended` by system, reason seeker_unavailable) and the peer's slot comes back; a
//    seeker still queued when its session expires leaves the queue.
#include "integration_support.hpp"
#include <kindred/client/e2e.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/testsupport/process.hpp>

namespace kindred::itest {
namespace {

namespace e2e = kindred::client::e2e;
namespace kp = kindred::protocol;

class BusRecovery : public integration_test {
protected:
    ws_client ready_peer(unsigned short on_port) {
        const auto pw = add_staff("river", "peer");
        auto r =
            kindredctl(redis_.unix_address(), server_->config_path(),
                       {"user", "certify", "river", "--tags", "grief", "--until", "2099-01-01"});
        EXPECT_EQ(r.code, 0) << r.output;
        auto ws = staff_socket("peer", login("river", pw), on_port);
        auto identity = e2e::generate_identity_key_pair();
        expect_ok(last(ws.request(R"({"type":"register_identity","id":"r","identity_key":")" +
                                  kp::base64_encode(identity.public_key) + R"("})")),
                  "r");
        kp::prekeys upload;
        for (int i = 0; i < 2; ++i) {
            auto pair = e2e::generate_kx_key_pair();
            upload.keys.push_back({pair.public_key, e2e::sign_prekey(pair.public_key, identity)});
        }
        expect_ok(last(ws.request(kp::encode_client_message(upload, "k"))), "k");
        expect_ok(
            last(ws.request(
                R"({"type":"shift_start","id":"s","capacity":1,"tags":["grief"],"languages":["en"]})")),
            "s");
        return ws;
    }

    static std::string request_match_json() {
        kp::request_match rm;
        rm.tags = {"grief"};
        rm.languages = {"en"};
        rm.pubkey = e2e::generate_kx_key_pair().public_key;
        return kp::encode_client_message(rm, "m");
    }

    static std::string send_json(const std::string& conv, std::int64_t seq, kp::role to) {
        kp::send s;
        s.conversation_id = conv;
        s.seq = seq;
        s.copies.push_back(kp::message_copy{to, {}, std::vector<std::uint8_t>(64, 7)});
        return kp::encode_client_message(s, "p" + std::to_string(seq));
    }
};

TEST_F(BusRecovery, SubscriberKilledWhileThePeerSendsLosesNothing) {
    const std::vector<std::string> fast{
        "--messages-per-second", "100000",  "--message-burst", "100000",
        "--send-per-minute",     "1000000", "--send-burst",    "100000"};
    start_server(fast);
    auto b = another_server(fast);
    auto peer = ready_peer(b->port()); // sends from B
    auto seeker_ws = seeker();         // receives on A, through A's bus subscriber
    expect_ok(last(seeker_ws.request(request_match_json())), "m");
    const std::string conv = str(next_of(seeker_ws, "matched").body, "conversation_id");
    ASSERT_FALSE(conv.empty());

    // The first message arrives live: from here on A tracks what it delivered.
    expect_ok(last(peer.request(send_json(conv, 1, kp::role::seeker))), "p1");
    EXPECT_EQ(next_of(seeker_ws, "message").body.at("offset").as_int64(), 1);

    constexpr int count = 300;
    for (int seq = 2; seq <= count; ++seq) {
        if (seq % 25 == 0) redis_.command({"CLIENT", "KILL", "TYPE", "pubsub"});
        expect_ok(last(peer.request(send_json(conv, seq, kp::role::seeker))),
                  "p" + std::to_string(seq));
    }
    std::vector<std::int64_t> offsets;
    while (offsets.empty() || offsets.back() < count) {
        auto frame = next_of(seeker_ws, "message", 15s);
        if (frame.type != "message") break;
        offsets.push_back(frame.body.at("offset").as_int64());
    }
    ASSERT_EQ(offsets.size(), static_cast<std::size_t>(count - 1));
    for (int i = 0; i < count - 1; ++i)
        ASSERT_EQ(offsets[i], i + 2) << "at " << i;
    // Nothing more (no late duplicate) once everything arrived.
    auto extra = seeker_ws.request(R"({"type":"ping","id":"z"})");
    for (auto& f : extra) {
        auto frame = kp::decode_server_frame(f.text);
        EXPECT_FALSE(frame && frame->type == "message") << f.text;
    }
    EXPECT_NE(server_->log().find("event=bus_resubscribed"), std::string::npos);
}

TEST_F(BusRecovery, ExpiredSeekerEndsItsConversationAndFreesThePeer) {
    start_server({"--seeker-grace-s", "3"});
    auto peer = ready_peer(port());
    auto seeker_ws = std::make_unique<ws_client>(seeker());
    expect_ok(last(seeker_ws->request(request_match_json())), "m");
    const std::string conv = str(next_of(*seeker_ws, "matched").body, "conversation_id");
    ASSERT_FALSE(conv.empty());
    next_of(peer, "matched");
    seeker_ws.reset(); // gone, never resumes

    auto ended = next_of(peer, "ended", 20s);
    EXPECT_EQ(str(ended.body, "conversation_id"), conv);
    EXPECT_EQ(str(ended.body, "by"), "system");
    EXPECT_EQ(str(ended.body, "reason"), "seeker_unavailable");
    auto shift = next_of(peer, "shift");
    EXPECT_EQ(shift.body.at("active").as_int64(), 0);

    // The freed slot takes the next seeker.
    auto next = seeker();
    expect_ok(last(next.request(request_match_json())), "m");
    EXPECT_FALSE(str(next_of(next, "matched").body, "conversation_id").empty());
}

TEST_F(BusRecovery, ExpiredQueuedSeekerLeavesTheQueue) {
    // A seeker still connected keeps its request: it is refreshed every third of the grace.
    start_server({"--seeker-grace-s", "3"});
    hello_result first;
    auto gone = std::make_unique<ws_client>(seeker(&first));
    expect_ok(last(gone->request(request_match_json())), "m");
    gone.reset(); // queued first, never resumes
    auto waiting = seeker();
    expect_ok(last(waiting.request(request_match_json())), "m");
    // Its session expires after the grace period.
    EXPECT_TRUE(kindred::testsupport::eventually(
        [&] { return find_key(redis_, "sess", first.session).empty(); }, 20s));
    // A peer comes on shift: the seeker still here is matched, not the expired one ahead of it.
    auto peer = ready_peer(port());
    EXPECT_FALSE(str(next_of(waiting, "matched").body, "conversation_id").empty());
}

} // namespace
} // namespace kindred::itest
