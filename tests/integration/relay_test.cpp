// relay_test.cpp — issue #4, contract §7 against two real instances sharing one Redis: a seeker
// on A and a peer on B are matched, then talk end-to-end encrypted (client/e2e.hpp) both ways;
// a retried seq is not stored twice; the seeker drops, the peer keeps sending, the seeker
// resumes on B and `sync` returns every message exactly once, in order; a stranger gets
// not_found for everything; end → ended to both and the peer's slot comes back; no canary
// plaintext ever reaches Redis or a log.
#include "integration_support.hpp"
#include <kindred/client/e2e.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/codec.hpp>

#include <map>

namespace kindred::itest {
namespace {

namespace json = boost::json;
namespace e2e = kindred::client::e2e;
namespace kp = kindred::protocol;

class Relay : public relay_fixture {};

TEST_F(Relay, EncryptedBothWaysAndSyncAfterResumeOnTheOtherInstance) {
    start_server();
    auto b = another_server();
    auto peer = ready_peer(b->port());

    hello_result h;
    auto seeker_ws = std::make_unique<ws_client>(seeker(&h));
    auto own = e2e::generate_kx_key_pair();
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = own.public_key;
    expect_ok(last(seeker_ws->request(kp::encode_client_message(rm, "m"))), "m");
    auto sm = event_of<kp::seeker_matched>(next_of(*seeker_ws, "matched"));
    auto pm = event_of<kp::peer_matched>(next_of(peer, "matched"));
    const std::string conv = sm.conversation_id;
    ASSERT_FALSE(conv.empty());
    ASSERT_EQ(pm.conversation_id, conv);

    auto seeker_crypto = e2e::conversation_crypto::for_seeker(conv, own, sm.peer);
    ASSERT_TRUE(seeker_crypto) << seeker_crypto.error().message();
    auto prekey = prekeys_.find(kp::base64_encode(pm.prekey));
    ASSERT_NE(prekey, prekeys_.end());
    auto peer_crypto = e2e::conversation_crypto::for_peer(conv, prekey->second,
                                                          identity_.public_key, pm.seeker.pubkey);
    ASSERT_TRUE(peer_crypto) << peer_crypto.error().message();
    EXPECT_EQ(seeker_crypto->safety_code(), peer_crypto->safety_code());

    const std::string canary = "CANARY-plaintext-5b1e77";
    // Seeker → peer.
    auto s1 = seeker_crypto->make_send(1, canary + " from the seeker");
    ASSERT_TRUE(s1);
    auto ok1 = expect_ok(last(seeker_ws->request(kp::encode_client_message(*s1, "s1"))), "s1");
    EXPECT_EQ(ok1.at("offset").as_int64(), 1);
    auto m1 = event_of<kp::message_event>(next_of(peer, "message"));
    EXPECT_EQ(m1.offset, 1);
    EXPECT_EQ(m1.from, kp::role::seeker);
    auto text1 = peer_crypto->decrypt(m1);
    ASSERT_TRUE(text1) << text1.error().message();
    EXPECT_EQ(*text1, canary + " from the seeker");
    // A retry of the same seq: the original offset, nothing stored again.
    auto retry = expect_ok(last(seeker_ws->request(kp::encode_client_message(*s1, "s1b"))), "s1b");
    EXPECT_EQ(retry.at("offset").as_int64(), 1);

    // Peer → seeker.
    auto p1 = peer_crypto->make_send(1, canary + " from the peer 1");
    ASSERT_TRUE(p1);
    EXPECT_EQ(expect_ok(last(peer.request(kp::encode_client_message(*p1, "p1"))), "p1")
                  .at("offset")
                  .as_int64(),
              2);
    auto m2 = event_of<kp::message_event>(next_of(*seeker_ws, "message"));
    auto text2 = seeker_crypto->decrypt(m2);
    ASSERT_TRUE(text2) << text2.error().message();
    EXPECT_EQ(*text2, canary + " from the peer 1");

    // The seeker drops; the peer keeps sending.
    seeker_ws.reset();
    for (int seq = 2; seq <= 3; ++seq) {
        auto p = peer_crypto->make_send(seq, canary + " from the peer " + std::to_string(seq));
        ASSERT_TRUE(p);
        expect_ok(last(peer.request(kp::encode_client_message(*p, "p" + std::to_string(seq)))),
                  "p" + std::to_string(seq));
    }
    // Resume on the other instance and sync from the start: every peer message once, in order
    // (the seeker's own message holds no copy for it and is skipped).
    auto resumed = ws_client::open(b->port());
    auto resumed_ok = expect_ok(last(resumed.request(resume_json(h.resume_token, "h2"))), "h2");
    // The hello answer lists the session's conversations.
    ASSERT_TRUE(resumed_ok.contains("conversations"));
    const auto& list = resumed_ok.at("conversations").as_array();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(str(list[0].as_object(), "conversation_id"), conv);
    EXPECT_EQ(str(list[0].as_object(), "state"), "active");
    EXPECT_EQ(list[0].as_object().at("last_offset").as_int64(), 4);
    auto fresh = e2e::conversation_crypto::for_seeker(conv, own, sm.peer);
    ASSERT_TRUE(fresh);
    auto [offsets, texts, frames] = sync_and_decrypt(resumed, conv, *fresh);
    EXPECT_EQ(offsets, (std::vector<std::int64_t>{2, 3, 4}));
    EXPECT_EQ(texts,
              (std::vector<std::string>{canary + " from the peer 1", canary + " from the peer 2",
                                        canary + " from the peer 3"}));
    auto done = expect_ok(last(frames), "y");
    EXPECT_EQ(done.at("offset").as_int64(), 4);
    EXPECT_TRUE(done.at("recovered").as_bool());

    // Live delivery now reaches the seeker on B.
    auto p4 = peer_crypto->make_send(4, "after resume");
    ASSERT_TRUE(p4);
    expect_ok(last(peer.request(kp::encode_client_message(*p4, "p4"))), "p4");
    auto m5 = event_of<kp::message_event>(next_of(resumed, "message"));
    EXPECT_EQ(m5.offset, 5);

    // A stranger: not_found for everything.
    auto stranger = seeker();
    expect_error(last(stranger.request(kp::encode_client_message(*s1, "x1"))), "not_found", "x1");
    expect_error(last(stranger.request(kp::encode_client_message(kp::sync{conv, 0}, "x2"))),
                 "not_found", "x2");
    expect_error(last(stranger.request(kp::encode_client_message(kp::end{conv, "done"}, "x3"))),
                 "not_found", "x3");
    expect_error(last(stranger.request(kp::encode_client_message(kp::receipt{conv, 1}, "x4"))),
                 "not_found", "x4");

    // No plaintext anywhere on the server side.
    EXPECT_EQ(dump_redis(redis_).find(canary), std::string::npos);
    EXPECT_EQ(server_->log().find(canary), std::string::npos);
    EXPECT_EQ(b->log().find(canary), std::string::npos);

    // The seeker ends: both get ended; the peer's slot is free again.
    expect_ok(last(resumed.request(kp::encode_client_message(kp::end{conv, "done"}, "e"))), "e");
    auto e1 = event_of<kp::ended>(next_of(resumed, "ended"));
    EXPECT_EQ(e1.by, kp::ended_by::seeker);
    EXPECT_EQ(e1.reason, "done");
    auto e2 = event_of<kp::ended>(next_of(peer, "ended"));
    EXPECT_EQ(e2.conversation_id, conv);
    auto shift = event_of<kp::shift_state>(next_of(peer, "shift"));
    EXPECT_EQ(shift.active, 0);
    // Ending again: ok, nothing sent again. The seeker may ask for a new peer.
    expect_ok(last(resumed.request(kp::encode_client_message(kp::end{conv, "done"}, "e2"))), "e2");
    rm.pubkey = e2e::generate_kx_key_pair().public_key;
    expect_ok(last(resumed.request(kp::encode_client_message(rm, "again"))), "again");
}

TEST_F(Relay, KilledPeerInstanceEndsWithPeerUnavailableAndRequeuesTheSeeker) {
    start_server({"--peer-grace-s", "3"});
    auto b = another_server({"--peer-grace-s", "3"});
    auto peer = ready_peer(b->port());
    auto seeker_ws = seeker();
    auto own = e2e::generate_kx_key_pair();
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = own.public_key;
    expect_ok(last(seeker_ws.request(kp::encode_client_message(rm, "m"))), "m");
    auto sm = event_of<kp::seeker_matched>(next_of(seeker_ws, "matched"));
    ASSERT_FALSE(sm.conversation_id.empty());
    b->kill9();
    auto e = event_of<kp::ended>(next_of(seeker_ws, "ended"));
    EXPECT_EQ(e.conversation_id, sm.conversation_id);
    EXPECT_EQ(e.by, kp::ended_by::system);
    EXPECT_EQ(e.reason, "peer_unavailable");
    // Re-queued (no other peer): the seeker waits at the front.
    auto q = next_of(seeker_ws, "queued");
    EXPECT_EQ(q.body.at("position").as_int64(), 1);
}

// This instance's grace scans so far (kindred_grace_scans_total), -1 if unreadable.
double grace_scans_on(unsigned short port) {
    const auto body = kindred::client::http_get("127.0.0.1", port, "/metrics", {}).body;
    return metric_value(body, "kindred_grace_scans_total", {}).value_or(-1);
}

// What is done: two instances share one Redis and tick for a few seconds; then the one that
//   holds the grace lease is killed.
// What must hold: one instance at a time runs the grace scan (its kindred_grace_scans_total
//   grows, the other's stays 0, and grace:{lease} names one instance); after the kill the
//   other takes the lease over (it expires 3 s after the holder's last tick) and scans.
TEST_F(Relay, GraceScanRunsOnOneInstanceAtATimeAndMovesWhenItsHolderDies) {
    start_server();
    auto b = another_server();
    ASSERT_TRUE(testsupport::eventually(
        [&] { return grace_scans_on(port()) + grace_scans_on(b->port()) >= 3; },
        std::chrono::seconds(10)));
    const double a_scans = grace_scans_on(port());
    const double b_scans = grace_scans_on(b->port());
    EXPECT_TRUE((a_scans > 0) != (b_scans > 0)) << "scans: A " << a_scans << ", B " << b_scans;
    const auto holder = redis_.command({"GET", "grace:{lease}"});
    EXPECT_NE(holder, "(nil)");

    const unsigned short survivor = a_scans > 0 ? b->port() : port();
    if (a_scans > 0)
        server_->kill9();
    else
        b->kill9();
    EXPECT_TRUE(testsupport::eventually([&] { return grace_scans_on(survivor) > 0; },
                                        std::chrono::seconds(10)))
        << "nobody took the grace scan over";
    const auto taken = redis_.command({"GET", "grace:{lease}"});
    EXPECT_NE(taken, holder);
    EXPECT_NE(taken, "(nil)");
}

// What is done: as above, but the holder is stopped with SIGTERM (a rolling restart).
// What must hold: by the time it has exited, the lease no longer names it (it handed it back
//   when it started draining, rather than leaving it to expire 3 s later), and the other
//   instance scans.
TEST_F(Relay, ADrainingInstanceHandsTheGraceLeaseBack) {
    start_server();
    auto b = another_server();
    ASSERT_TRUE(testsupport::eventually(
        [&] { return grace_scans_on(port()) + grace_scans_on(b->port()) >= 2; },
        std::chrono::seconds(10)));
    const bool a_holds = grace_scans_on(port()) > 0;
    const auto holder = redis_.command({"GET", "grace:{lease}"});
    ASSERT_NE(holder, "(nil)");
    const unsigned short survivor = a_holds ? b->port() : port();
    EXPECT_EQ(a_holds ? server_->stop() : b->stop(), 0);
    EXPECT_NE(redis_.command({"GET", "grace:{lease}"}), holder);
    EXPECT_TRUE(testsupport::eventually([&] { return grace_scans_on(survivor) > 0; },
                                        std::chrono::seconds(10)));
}

TEST_F(Relay, PeerReachedThroughANewLogin) {
    // The peer's first socket (on A) is gone; it logs in again on B without a shift change:
    // messages still reach it there.
    start_server();
    auto b = another_server();
    auto first = ready_peer(port());
    auto seeker_ws = seeker();
    auto own = e2e::generate_kx_key_pair();
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = own.public_key;
    expect_ok(last(seeker_ws.request(kp::encode_client_message(rm, "m"))), "m");
    auto sm = event_of<kp::seeker_matched>(next_of(seeker_ws, "matched"));
    ASSERT_FALSE(sm.conversation_id.empty());
    first.close();
    auto again = staff_socket("peer", login("river", "river-password-for-tests"), b->port());
    auto crypto = e2e::conversation_crypto::for_seeker(sm.conversation_id, own, sm.peer);
    ASSERT_TRUE(crypto);
    auto s1 = crypto->make_send(1, "hello again");
    ASSERT_TRUE(s1);
    expect_ok(last(seeker_ws.request(kp::encode_client_message(*s1, "s1"))), "s1");
    auto m = event_of<kp::message_event>(next_of(again, "message"));
    EXPECT_EQ(m.offset, 1);
}

TEST_F(Relay, TransferEndsAndRequeuesTheSeekerFirst) {
    start_server();
    auto peer = ready_peer(port());
    auto seeker_ws = seeker();
    auto own = e2e::generate_kx_key_pair();
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = own.public_key;
    expect_ok(last(seeker_ws.request(kp::encode_client_message(rm, "m"))), "m");
    auto sm = event_of<kp::seeker_matched>(next_of(seeker_ws, "matched"));
    ASSERT_FALSE(sm.conversation_id.empty());
    // Only the peer may transfer.
    expect_error(
        last(seeker_ws.request(kp::encode_client_message(kp::transfer{sm.conversation_id}, "t0"))),
        "forbidden", "t0");
    expect_ok(last(peer.request(kp::encode_client_message(kp::transfer{sm.conversation_id}, "t"))),
              "t");
    auto e = event_of<kp::ended>(next_of(seeker_ws, "ended"));
    EXPECT_EQ(e.reason, "transfer");
    EXPECT_EQ(e.by, kp::ended_by::peer);
    // Re-queued (the only peer is avoided now, so it waits).
    auto q = next_of(seeker_ws, "queued");
    EXPECT_EQ(q.body.at("position").as_int64(), 1);
    // The conversation is over for sending.
    auto late = e2e::generate_kx_key_pair();
    (void)late;
    kp::send s;
    s.conversation_id = sm.conversation_id;
    s.seq = 1;
    s.copies.push_back(kp::message_copy{kp::role::seeker, {}, std::vector<std::uint8_t>(32, 1)});
    expect_error(last(peer.request(kp::encode_client_message(s, "late"))), "conflict", "late");
}

} // namespace
} // namespace kindred::itest
