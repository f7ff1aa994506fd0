// drain_test.cpp — issue #9 item 5: SIGTERM drains an instance. Its clients are closed with
// 1012 (service restart), resume on the other instance and lose nothing; the drained
// instance exits 0 having deregistered.
#include "chat_load.hpp"

#include <csignal>
#include <cstdio>

namespace kindred::rtest {
namespace {

class Drain : public chat_fixture {};

// What is done: two instances A and B share one Redis; 4 seeker/peer pairs are spread over
//   them (both on A, seeker A/peer B, seeker B/peer A, both on B); all 8 clients send
//   sequenced, end-to-end encrypted messages (window 4), and A gets SIGTERM once half of all
//   messages are acknowledged. A client whose socket closes resumes on B with its resume
//   token, syncs, and sends again what was in flight (what the C++ chat_session and the web
//   client's connection.js do on any close but 4001/4003/4005).
// What must hold: A exits 0 within its grace and its log shows 1012 closes; every client on
//   A resumes on B exactly once; no client on B drops; every message is acknowledged and
//   arrives exactly once, in order.
TEST_F(Drain, SigtermedInstanceClientsResumeOnTheOtherAndLoseNothing) {
    constexpr int pairs = 4;
    constexpr int per_side = 200;
    auto args = unlimited_args();
    args.insert(args.end(), {"--shutdown-grace-s", "3"});
    start_server(args);
    auto b = another_server(args);
    const unsigned short a_port = port(), b_port = b->port();

    std::vector<chat_client> peers, seekers;
    peers.reserve(pairs);
    seekers.reserve(pairs);
    for (int i = 0; i < pairs; ++i) {
        const unsigned short seeker_port = (i % 4 < 2) ? a_port : b_port;
        const unsigned short peer_port = (i % 4 == 0 || i % 4 == 2) ? a_port : b_port;
        const std::string name = "dp" + std::to_string(i);
        peers.push_back(open_peer(name, make_peer_account(name), peer_port, 1));
        seekers.push_back(match_seeker(peers.back(), seeker_port, "d" + std::to_string(i)));
        ASSERT_FALSE(HasFailure()) << "set-up of pair " << i;
    }

    std::atomic<int> acked{0};
    std::vector<chat_client*> clients;
    std::vector<chatter_options> options;
    const auto deadline = steady::now() + std::chrono::seconds(50);
    for (int i = 0; i < pairs; ++i) {
        for (auto* c : {&seekers[i], &peers[i]}) {
            chatter_options o;
            o.messages = per_side;
            o.window = 4;
            o.deadline = deadline;
            o.acked_counter = &acked;
            o.resume_ports = [b_port] { return std::vector<unsigned short>{b_port}; };
            clients.push_back(c);
            options.push_back(o);
        }
    }
    std::vector<bool> on_a;
    for (auto* c : clients)
        on_a.push_back(c->port == a_port);

    const int total = pairs * 2 * per_side;
    steady::time_point term_at{};
    std::thread terminator([&] {
        kindred::testsupport::eventually([&] { return acked.load() >= total / 2; },
                                         std::chrono::seconds(40));
        term_at = steady::now();
        server_->signal(SIGTERM);
    });
    auto reports = run_chatters(clients, options);
    terminator.join();
    ASSERT_NE(term_at, steady::time_point{});
    // Grace 3 s + the hard stop's 0.5 s; the rest is margin for a loaded machine.
    EXPECT_EQ(server_->wait_exit(std::chrono::seconds(15)), 0) << server_->log();
    const auto log = server_->log();
    EXPECT_NE(log.find("event=shutdown_begin"), std::string::npos);
    EXPECT_NE(log.find("code=1012"), std::string::npos) << log;
    EXPECT_NE(log.find("event=deregistered"), std::string::npos);

    std::vector<double> resume_ms;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        SCOPED_TRACE(clients[i]->name);
        const auto& r = reports[i];
        for (auto& e : r.errors)
            ADD_FAILURE() << e;
        EXPECT_TRUE(r.finished) << "did not finish before the deadline";
        if (on_a[i]) {
            EXPECT_EQ(r.drops, 1);
            EXPECT_EQ(r.resumed_at.size(), 1u);
            for (auto at : r.resumed_at)
                resume_ms.push_back(ms_between(term_at, at));
        } else {
            EXPECT_EQ(r.drops, 0) << "a client on B lost its socket";
        }
        EXPECT_EQ(clients[i]->port, b_port);
    }
    std::size_t delivered = 0;
    for (int i = 0; i < pairs; ++i) {
        auto& s = seekers[i].convs.at(0);
        auto& p = peers[i].convs.at(0);
        delivered += check_direction(s, p, per_side).delivery_ms.size();
        delivered += check_direction(p, s, per_side).delivery_ms.size();
    }
    std::printf("[drain] %d messages; %zu clients resumed on B after SIGTERM: median %.0f ms, "
                "max %.0f ms after the signal\n",
                total, resume_ms.size(), percentile(resume_ms, 50), percentile(resume_ms, 100));
    EXPECT_EQ(resume_ms.size(), static_cast<std::size_t>(pairs)); // half the clients were on A
    EXPECT_EQ(delivered, static_cast<std::size_t>(total));
}

} // namespace
} // namespace kindred::rtest
