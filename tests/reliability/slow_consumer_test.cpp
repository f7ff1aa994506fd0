// slow_consumer_test.cpp — issue #8 item 6: clients that never read while others chat; their
// outbound budget (limits.outbound_queue_bytes) caps what the server holds for them, they are
// closed, they resume and sync without losing anything, and the others are not slowed down.
#include "chat_load.hpp"

#include <cstdio>

namespace kindred::rtest {
namespace {

class SlowConsumer : public chat_fixture {};

// What is done: one server with outbound_queue_bytes = 256 KiB; first 3 control pairs chat
//   alone (each side 150 messages, one every 20 ms) for the baseline; then 3 "slow" pairs whose
//   seeker never reads while its peer sends 600 messages of ~8 KiB plaintext (~11 KiB per event on
//   the wire, ~6.6 MB toward each slow seeker), and at the same time 3 normal pairs chat (each
//   side 150 messages, one every 20 ms). Afterwards each slow seeker reads what reached its
//   socket, sees the close, resumes on a new socket and syncs from where it is complete.
// What must hold: the server closes exactly the 3 slow sockets (`ws_slow_consumer`); its
//   queue for each held at most the budget when it closed; every message to a slow
//   seeker arrives exactly once after its resume, in order; the normal pairs lose nothing.
// How it is measured: the `queued_bytes` of each `ws_slow_consumer` log line; VmRSS before
//   and VmHWM after (/proc/<pid>/status), printed; the
//   exactly-once check of chat_load.hpp; the normal pairs' delivery latency (send → arrival)
//   p50/p99 printed next to the control pairs' (the issue: "others unaffected"; only a hang
//   guard is asserted).
TEST_F(SlowConsumer, NonReadersAreCappedClosedAndResumeLosslessly) {
    constexpr int slow_pairs = 3, normal_pairs = 3, control_pairs = 3;
    constexpr int slow_messages = 600, normal_messages = 150;
    constexpr std::size_t pad = 8000;
    auto args = unlimited_args();
    args.insert(args.end(), {"--outbound-queue-bytes", "262144"});
    start_server(args);
    std::vector<chat_client> peers, seekers;
    peers.reserve(slow_pairs + normal_pairs + control_pairs);
    seekers.reserve(slow_pairs + normal_pairs + control_pairs);
    for (int i = 0; i < slow_pairs + normal_pairs + control_pairs; ++i) {
        const std::string name = "sp" + std::to_string(i);
        peers.push_back(open_peer(name, make_peer_account(name), port(), 1));
        seekers.push_back(match_seeker(peers.back(), port(), "p" + std::to_string(i)));
        ASSERT_FALSE(HasFailure()) << "set-up of pair " << i;
    }
    // The baseline: the control pairs chat alone, exactly as the normal pairs will.
    const auto normal_chat = [&](int first, int count, steady::time_point until) {
        std::vector<chat_client*> cs;
        std::vector<chatter_options> os;
        for (int i = first; i < first + count; ++i) {
            for (auto* c : {&seekers[i], &peers[i]}) {
                chatter_options o;
                o.messages = normal_messages;
                o.interval = std::chrono::milliseconds(20);
                o.deadline = until;
                cs.push_back(c);
                os.push_back(o);
            }
        }
        return std::pair{cs, os};
    };
    const auto delivery_of = [&](int first, int count) {
        std::vector<double> ms;
        for (int i = first; i < first + count; ++i)
            for (auto d : check_pair(seekers[i].convs.at(0), peers[i].convs.at(0), normal_messages))
                ms.push_back(d);
        return ms;
    };
    const int control_first = slow_pairs + normal_pairs;
    {
        auto [cs, os] =
            normal_chat(control_first, control_pairs, steady::now() + std::chrono::seconds(30));
        for (auto& r : run_chatters(cs, os)) {
            for (auto& e : r.errors)
                ADD_FAILURE() << e;
            EXPECT_TRUE(r.finished);
        }
    }
    const auto control = delivery_of(control_first, control_pairs);

    const pid_t pid = server_->pid();
    const long rss_before = status_kib(pid, "VmRSS");

    std::vector<chat_client*> clients;
    std::vector<chatter_options> options;
    const auto deadline = steady::now() + std::chrono::seconds(40);
    for (int i = 0; i < slow_pairs; ++i) { // the senders toward the slow seekers
        chatter_options o;
        o.messages = slow_messages;
        o.expect_from_other = 0;
        o.window = 4;
        o.pad = pad;
        o.deadline = deadline;
        clients.push_back(&peers[i]);
        options.push_back(o);
    }
    {
        auto [cs, os] = normal_chat(slow_pairs, normal_pairs, deadline);
        clients.insert(clients.end(), cs.begin(), cs.end());
        options.insert(options.end(), os.begin(), os.end());
    }
    auto reports = run_chatters(clients, options);
    for (std::size_t i = 0; i < clients.size(); ++i) {
        SCOPED_TRACE(clients[i]->name);
        for (auto& e : reports[i].errors)
            ADD_FAILURE() << e;
        EXPECT_TRUE(reports[i].finished);
        EXPECT_EQ(reports[i].drops, 0);
    }
    EXPECT_TRUE(kindred::testsupport::eventually(
        [&] { return count_of(server_->log(), "event=ws_slow_consumer") >= slow_pairs; },
        std::chrono::seconds(10)));
    const long hwm = status_kib(pid, "VmHWM");
    EXPECT_EQ(count_of(server_->log(), "event=ws_slow_consumer"),
              static_cast<std::size_t>(slow_pairs))
        << "a socket other than the slow ones was closed as slow";

    // The slow seekers now read: what reached their sockets, then the close, then a resume
    // and a sync.
    std::vector<chat_client*> slow;
    std::vector<chatter_options> slow_options;
    for (int i = 0; i < slow_pairs; ++i) {
        chatter_options o;
        o.messages = 0;
        o.expect_from_other = slow_messages;
        o.deadline = steady::now() + std::chrono::seconds(30);
        o.resume_ports = [p = port()] { return std::vector<unsigned short>{p}; };
        slow.push_back(&seekers[i]);
        slow_options.push_back(o);
    }
    auto slow_reports = run_chatters(slow, slow_options);
    std::size_t before_close = 0;
    for (int i = 0; i < slow_pairs; ++i) {
        SCOPED_TRACE(seekers[i].name);
        for (auto& e : slow_reports[i].errors)
            ADD_FAILURE() << e;
        EXPECT_TRUE(slow_reports[i].finished);
        EXPECT_EQ(slow_reports[i].drops, 1);
        check_direction(peers[i].convs.at(0), seekers[i].convs.at(0), slow_messages);
        before_close += seekers[i].convs.at(0).received.size() -
                        static_cast<std::size_t>(seekers[i].convs.at(0).sync_overlap);
    }
    const auto normal = delivery_of(slow_pairs, normal_pairs);
    // What the server held for each slow socket when it gave up: the log's queued_bytes.
    std::vector<long> queued;
    const auto log = server_->log();
    for (auto at = log.find("event=ws_slow_consumer"); at != std::string::npos;
         at = log.find("event=ws_slow_consumer", at + 1)) {
        auto q = log.find("queued_bytes=", at);
        if (q != std::string::npos) queued.push_back(std::atol(log.c_str() + q + 13));
    }
    const double addressed_mb = slow_pairs * slow_messages * (pad * 4.0 / 3 + 300) / 1e6;
    const double growth_mb = static_cast<double>(hwm - rss_before) / 1024;
    std::printf("[slow consumer] %zu non-readers closed holding at most %ld bytes (budget "
                "262144); %.1f MB addressed to them; server RSS before %.1f MB, peak %.1f MB "
                "(+%.1f MB); after resume + sync each had all %d messages exactly once; normal "
                "pairs: %zu messages, delivery p50 %.1f ms p99 %.1f ms max %.0f ms; the same "
                "chat with no non-readers (control): p50 %.1f ms p99 %.1f ms max %.0f ms\n",
                queued.size(),
                queued.empty() ? 0L : *std::max_element(queued.begin(), queued.end()), addressed_mb,
                rss_before / 1024.0, hwm / 1024.0, growth_mb, slow_messages, normal.size(),
                percentile(normal, 50), percentile(normal, 99), percentile(normal, 100),
                percentile(control, 50), percentile(control, 99), percentile(control, 100));
    EXPECT_EQ(normal.size(), static_cast<std::size_t>(normal_pairs * 2 * normal_messages));
    EXPECT_EQ(control.size(), static_cast<std::size_t>(control_pairs * 2 * normal_messages));
    // The cap: no slow socket held more than its budget when it was closed. (The process's
    // peak RSS is printed but not asserted: this Debug server's peak grows by about the same
    // ~64 MB in a control run where the same seekers read — allocator arenas and the traffic
    // itself — so it cannot tell the budget's effect apart; see docs/reliability.md.)
    EXPECT_EQ(queued.size(), static_cast<std::size_t>(slow_pairs));
    for (auto q : queued)
        EXPECT_LE(q, 262144);
    // Hang guard only (the "unaffected" is read from the printed p99): 2 s.
    EXPECT_LT(percentile(normal, 99), 2000);
}

} // namespace
} // namespace kindred::rtest
