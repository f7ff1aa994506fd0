// peer_resume_test.cpp — issue #4, contract §3 and §7 from the peer's side: the peer's socket
// drops mid-conversation (with one send whose `ok` it never read) while the seeker keeps
// sending; the peer resumes on the OTHER instance, `sync` returns every seeker message exactly
// once and in order, and re-sending the unacknowledged message with the same `seq` returns the
// original offset without the seeker receiving it twice.
#include "integration_support.hpp"
#include <kindred/protocol/base64.hpp>

namespace kindred::itest {
namespace {

namespace e2e = kindred::client::e2e;
namespace kp = kindred::protocol;

class PeerResume : public relay_fixture {};

TEST_F(PeerResume, PeerResumesOnTheOtherInstanceSyncsOnceAndRetryIsNotDuplicated) {
    start_server();
    auto b = another_server();
    hello_result peer_hello;
    auto peer = std::make_unique<ws_client>(ready_peer(port(), 1, &peer_hello));
    ASSERT_FALSE(peer_hello.resume_token.empty());
    auto seeker_ws = ws_client::open(b->port());
    ASSERT_TRUE(hello(seeker_ws).ok);
    auto c = match(seeker_ws, *peer);
    ASSERT_FALSE(c.conversation_id.empty());
    const auto& conv = c.conversation_id;

    // Seeker → peer (offset 1), peer → seeker (offset 2).
    auto s1 = c.seeker_crypto->make_send(1, "seeker 1");
    ASSERT_TRUE(s1);
    EXPECT_EQ(expect_ok(last(seeker_ws.request(kp::encode_client_message(*s1, "s1"))), "s1")
                  .at("offset")
                  .as_int64(),
              1);
    EXPECT_EQ(event_of<kp::message_event>(next_of(*peer, "message")).offset, 1);
    auto p1 = c.peer_crypto->make_send(1, "peer 1");
    ASSERT_TRUE(p1);
    EXPECT_EQ(expect_ok(last(peer->request(kp::encode_client_message(*p1, "p1"))), "p1")
                  .at("offset")
                  .as_int64(),
              2);
    auto m2 = event_of<kp::message_event>(next_of(seeker_ws, "message"));
    EXPECT_EQ(m2.offset, 2);
    auto t2 = c.seeker_crypto->decrypt(m2);
    ASSERT_TRUE(t2);
    EXPECT_EQ(*t2, "peer 1");

    // The peer sends seq 2 and drops before reading its ok; the seeker's copy (offset 3)
    // shows that it was stored.
    auto p2 = c.peer_crypto->make_send(2, "peer 2");
    ASSERT_TRUE(p2);
    ASSERT_FALSE(peer->send_text(kp::encode_client_message(*p2, "p2")));
    auto m3 = event_of<kp::message_event>(next_of(seeker_ws, "message"));
    EXPECT_EQ(m3.offset, 3);
    EXPECT_EQ(m3.seq, 2);
    auto t3 = c.seeker_crypto->decrypt(m3);
    ASSERT_TRUE(t3);
    EXPECT_EQ(*t3, "peer 2");
    peer.reset();

    // The seeker keeps sending while the peer is away: offsets 4, 5, 6.
    for (int seq = 2; seq <= 4; ++seq) {
        auto s = c.seeker_crypto->make_send(seq, "seeker " + std::to_string(seq));
        ASSERT_TRUE(s);
        const auto id = "s" + std::to_string(seq);
        EXPECT_EQ(expect_ok(last(seeker_ws.request(kp::encode_client_message(*s, id))), id)
                      .at("offset")
                      .as_int64(),
                  seq + 2);
    }

    // The peer resumes on B: the hello lists the conversation.
    auto resumed = ws_client::open(b->port());
    auto ok = expect_ok(last(resumed.request(resume_json(peer_hello.resume_token, "h2"))), "h2");
    EXPECT_EQ(str(ok, "role"), "peer");
    ASSERT_TRUE(ok.contains("conversations")) << boost::json::serialize(ok);
    const auto& list = ok.at("conversations").as_array();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(str(list[0].as_object(), "conversation_id"), conv);
    EXPECT_EQ(str(list[0].as_object(), "state"), "active");
    EXPECT_EQ(list[0].as_object().at("last_offset").as_int64(), 6);
    // The resumed console learns its shift at once.
    auto shift = wait_for(resumed, "shift");
    EXPECT_EQ(str(shift, "state"), "on");
    EXPECT_EQ(shift.at("active").as_int64(), 1);

    // sync from the start with fresh keys: the seeker's four messages, once each, in order
    // (the peer's own messages hold no copy for it).
    auto prekey = prekeys_.find(kp::base64_encode(c.seeker_matched.peer.prekey));
    ASSERT_NE(prekey, prekeys_.end());
    auto fresh = e2e::conversation_crypto::for_peer(conv, prekey->second, identity_.public_key,
                                                    c.seeker_keys.public_key);
    ASSERT_TRUE(fresh);
    auto [offsets, texts, frames] = sync_and_decrypt(resumed, conv, *fresh);
    EXPECT_EQ(offsets, (std::vector<std::int64_t>{1, 4, 5, 6}));
    EXPECT_EQ(texts, (std::vector<std::string>{"seeker 1", "seeker 2", "seeker 3", "seeker 4"}));
    auto done = expect_ok(last(frames), "y");
    EXPECT_EQ(done.at("offset").as_int64(), 6);
    EXPECT_TRUE(done.at("recovered").as_bool());

    // The unacknowledged seq 2 again: its original offset, nothing stored or sent again.
    EXPECT_EQ(expect_ok(last(resumed.request(kp::encode_client_message(*p2, "p2b"))), "p2b")
                  .at("offset")
                  .as_int64(),
              3);
    auto p3 = c.peer_crypto->make_send(3, "peer 3");
    ASSERT_TRUE(p3);
    EXPECT_EQ(expect_ok(last(resumed.request(kp::encode_client_message(*p3, "p3"))), "p3")
                  .at("offset")
                  .as_int64(),
              7);
    // The seeker's next message is seq 3 at offset 7: seq 2 did not come a second time.
    auto m7 = event_of<kp::message_event>(next_of(seeker_ws, "message"));
    EXPECT_EQ(m7.offset, 7);
    EXPECT_EQ(m7.seq, 3);
    auto t7 = c.seeker_crypto->decrypt(m7);
    ASSERT_TRUE(t7) << t7.error().message();
    EXPECT_EQ(*t7, "peer 3");

    // Live delivery reaches the peer on B.
    auto s5 = c.seeker_crypto->make_send(5, "seeker 5");
    ASSERT_TRUE(s5);
    expect_ok(last(seeker_ws.request(kp::encode_client_message(*s5, "s5"))), "s5");
    auto m8 = event_of<kp::message_event>(next_of(resumed, "message"));
    EXPECT_EQ(m8.offset, 8);
    auto t8 = fresh->decrypt(m8);
    ASSERT_TRUE(t8) << t8.error().message();
    EXPECT_EQ(*t8, "seeker 5");
}

} // namespace
} // namespace kindred::itest
