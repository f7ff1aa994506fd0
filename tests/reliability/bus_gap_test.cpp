// bus_gap_test.cpp — issue #8 item 5: both instances' bus subscriber connections are cut for
// about 2 s while messages flow in both directions between them; receivers still get every
// message (gaps and tails re-read from the stored log), none twice. Extends
// tests/integration/bus_recovery_test.cpp (single kills, one direction, one sender at a time)
// with a sustained cut, concurrent senders and both directions.
#include "chat_load.hpp"

#include <cstdio>

namespace kindred::rtest {
namespace {

class BusGap : public chat_fixture {};

// What is done: instances A and B; 4 pairs whose seeker and peer are on different instances
//   (so every live message crosses the bus); all 8 clients send 500 sequenced messages each
//   (window 4, one send every 2 ms). Once 500 are acknowledged, `CLIENT KILL TYPE pubsub` is
//   issued every 20 ms for 2 s: each subscriber is cut again as soon as it reconnects, so
//   for those 2 s almost every publish reaches nobody.
// What must hold: every client finishes; every acknowledged message arrives exactly once,
//   in order, at its acknowledged offset, with no sync by the client (only live delivery and
//   the server's own recovery); no message offset arrives twice; both instances log
//   `bus_resubscribed`.
// How it is measured: the decrypted plaintexts' labels and sequence numbers in offset order
//   (chat_load.hpp); how many sends were acknowledged during the cut; delivery latency
//   (send → arrival) p50/p99/max, printed.
TEST_F(BusGap, SubscribersCutForTwoSecondsLoseNothingAndDuplicateNothing) {
    constexpr int pairs = 4;
    constexpr int per_side = 500;
    start_server(unlimited_args());
    auto b = another_server(unlimited_args());
    std::vector<chat_client> peers, seekers;
    peers.reserve(pairs);
    seekers.reserve(pairs);
    for (int i = 0; i < pairs; ++i) {
        const bool seeker_on_a = i % 2 == 0;
        const std::string name = "gp" + std::to_string(i);
        peers.push_back(
            open_peer(name, make_peer_account(name), seeker_on_a ? b->port() : port(), 1));
        seekers.push_back(
            match_seeker(peers.back(), seeker_on_a ? port() : b->port(), "p" + std::to_string(i)));
        ASSERT_FALSE(HasFailure()) << "set-up of pair " << i;
    }

    std::atomic<int> acked{0};
    std::vector<chat_client*> clients;
    std::vector<chatter_options> options;
    for (int i = 0; i < pairs; ++i) {
        for (auto* c : {&seekers[i], &peers[i]}) {
            chatter_options o;
            o.messages = per_side;
            o.window = 4;
            o.interval = std::chrono::milliseconds(2);
            o.deadline = steady::now() + std::chrono::seconds(40);
            o.acked_counter = &acked;
            clients.push_back(c);
            options.push_back(o);
        }
    }
    int acked_at_cut = 0, acked_after_cut = 0, kills = 0;
    std::thread cutter([&] {
        kindred::testsupport::eventually([&] { return acked.load() >= 500; },
                                         std::chrono::seconds(30));
        acked_at_cut = acked.load();
        const auto end = steady::now() + std::chrono::seconds(2);
        while (steady::now() < end) {
            redis_.command({"CLIENT", "KILL", "TYPE", "pubsub"});
            ++kills;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        acked_after_cut = acked.load();
    });
    auto reports = run_chatters(clients, options);
    cutter.join();

    for (std::size_t i = 0; i < clients.size(); ++i) {
        SCOPED_TRACE(clients[i]->name);
        for (auto& e : reports[i].errors)
            ADD_FAILURE() << e;
        EXPECT_TRUE(reports[i].finished) << "not everything arrived before the deadline";
        EXPECT_EQ(reports[i].drops, 0);
    }
    std::vector<double> delivery;
    for (int i = 0; i < pairs; ++i) {
        auto& s = seekers[i].convs.at(0);
        auto& p = peers[i].convs.at(0);
        for (auto d : check_direction(s, p, per_side).delivery_ms)
            delivery.push_back(d);
        for (auto d : check_direction(p, s, per_side).delivery_ms)
            delivery.push_back(d);
    }
    const auto resub_a = count_of(server_->log(), "event=bus_resubscribed");
    const auto resub_b = count_of(b->log(), "event=bus_resubscribed");
    std::printf("[bus gap] %d messages; subscribers cut for 2 s (%d CLIENT KILLs) after %d "
                "acks, %d acknowledged during the cut; resubscribed A %zu / B %zu times; "
                "delivery p50 %.1f ms p99 %.1f ms max %.0f ms; 0 duplicates allowed\n",
                pairs * 2 * per_side, kills, acked_at_cut, acked_after_cut - acked_at_cut, resub_a,
                resub_b, percentile(delivery, 50), percentile(delivery, 99),
                percentile(delivery, 100));
    EXPECT_EQ(delivery.size(), static_cast<std::size_t>(pairs * 2 * per_side));
    EXPECT_GT(acked_after_cut - acked_at_cut, 0) << "nothing was sent during the cut";
    EXPECT_GT(resub_a, 0u);
    EXPECT_GT(resub_b, 0u);
}

} // namespace
} // namespace kindred::rtest
