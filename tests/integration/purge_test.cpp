// purge_test.cpp — issue #4, contract §7 "after `ended`, stored messages are purged after a
// short grace, and every conversation is purged at a hard limit": with --purge-after-end-s 2
// and --conversation-max-s 60 (its minimum), every `conv:{c}*` key of an ended conversation is
// gone within the grace plus slack, while a conversation never ended outlives that and is gone
// at the hard limit (plus slack). Runs about 65 s, so it lives in the slow executable.
#include "integration_support.hpp"
#include <kindred/testsupport/process.hpp>

namespace kindred::itest {
namespace {

namespace kp = kindred::protocol;

class Purge : public relay_fixture {
protected:
    // Every key of the conversation's own data: conv:{c}, conv:{c}:log, conv:{c}:seq, ...
    std::vector<std::string> conv_keys(const std::string& c) {
        std::vector<std::string> out;
        const std::string prefix = "conv:{" + c + "}";
        for (auto& k : redis_.keys())
            if (k.rfind(prefix, 0) == 0) out.push_back(k);
        return out;
    }
    std::string joined(const std::vector<std::string>& keys) {
        std::string s;
        for (auto& k : keys)
            s += k + " ";
        return s;
    }
    void exchange(ws_client& seeker, ws_client& peer, conversation_pair& c) {
        auto s = c.seeker_crypto->make_send(1, "hello");
        ASSERT_TRUE(s);
        expect_ok(last(seeker.request(kp::encode_client_message(*s, "s1"))), "s1");
        next_of(peer, "message");
        auto p = c.peer_crypto->make_send(1, "hi");
        ASSERT_TRUE(p);
        expect_ok(last(peer.request(kp::encode_client_message(*p, "p1"))), "p1");
        next_of(seeker, "message");
    }
};

TEST_F(Purge, EndedConversationGoneAfterGraceAndUnendedGoneAtHardLimit) {
    const std::vector<std::string> flags{"--purge-after-end-s", "2", "--conversation-max-s", "60"};
    start_server(flags);
    auto b = another_server(flags);
    auto peer = ready_peer(b->port(), 2);

    auto seeker1 = seeker();
    auto c1 = match(seeker1, peer);
    ASSERT_FALSE(c1.conversation_id.empty());
    exchange(seeker1, peer, c1);
    auto seeker2 = seeker();
    auto c2 = match(seeker2, peer);
    ASSERT_FALSE(c2.conversation_id.empty());
    const auto c2_started = std::chrono::steady_clock::now();
    exchange(seeker2, peer, c2);

    // Both conversations' data is in Redis (meta, log, seq).
    EXPECT_GE(conv_keys(c1.conversation_id).size(), 3u) << joined(conv_keys(c1.conversation_id));
    EXPECT_GE(conv_keys(c2.conversation_id).size(), 3u) << joined(conv_keys(c2.conversation_id));
    // None outlives the hard limit, even before anything happens.
    for (auto& k : conv_keys(c2.conversation_id)) {
        auto ttl = std::stoll(redis_.command({"PTTL", k}));
        EXPECT_GT(ttl, 0) << k << " has no expiry";
        EXPECT_LE(ttl, 60'000) << k;
    }

    // The seeker ends the first: its keys are gone within 2 s + slack.
    expect_ok(
        last(seeker1.request(kp::encode_client_message(kp::end{c1.conversation_id, "done"}, "e"))),
        "e");
    next_of(peer, "ended");
    EXPECT_TRUE(kindred::testsupport::eventually(
        [&] { return conv_keys(c1.conversation_id).empty(); }, 2s + 5s))
        << "left: " << joined(conv_keys(c1.conversation_id));
    // The second, never ended, is still there (and still usable).
    EXPECT_FALSE(conv_keys(c2.conversation_id).empty());
    auto s2 = c2.seeker_crypto->make_send(2, "still here");
    ASSERT_TRUE(s2);
    expect_ok(last(seeker2.request(kp::encode_client_message(*s2, "s2"))), "s2");

    // The hard limit: gone 60 s after it began (+ slack).
    const auto limit = c2_started + 60s + 8s;
    EXPECT_TRUE(
        kindred::testsupport::eventually([&] { return conv_keys(c2.conversation_id).empty(); },
                                         std::chrono::duration_cast<std::chrono::milliseconds>(
                                             limit - std::chrono::steady_clock::now())))
        << "left: " << joined(conv_keys(c2.conversation_id));
}

} // namespace
} // namespace kindred::itest
