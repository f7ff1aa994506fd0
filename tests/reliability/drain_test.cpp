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

    two_instance_chat chat;
    ASSERT_NO_FATAL_FAILURE(set_up_two_instance_chat(chat, a_port, b_port, pairs, per_side, "dp",
                                                     "d", std::chrono::seconds(50)));

    const int total = chat.total();
    steady::time_point term_at{};
    std::thread terminator([&] {
        kindred::testsupport::eventually([&] { return chat.acked.load() >= total / 2; },
                                         std::chrono::seconds(40));
        term_at = steady::now();
        server_->signal(SIGTERM);
    });
    auto reports = run_chatters(chat.clients, chat.options);
    terminator.join();
    ASSERT_NE(term_at, steady::time_point{});
    // Grace 3 s + the hard stop's 0.5 s; the rest is margin for a loaded machine.
    EXPECT_EQ(server_->wait_exit(std::chrono::seconds(15)), 0) << server_->log();
    const auto log = server_->log();
    EXPECT_NE(log.find("event=shutdown_begin"), std::string::npos);
    EXPECT_NE(log.find("code=1012"), std::string::npos) << log;
    EXPECT_NE(log.find("event=deregistered"), std::string::npos);

    const auto resume_ms = chat.check_resumed_on_b(reports, term_at);
    const std::size_t delivered = chat.check_pairs().delivery_ms.size();
    std::printf("[drain] %d messages; %zu clients resumed on B after SIGTERM: median %.0f ms, "
                "max %.0f ms after the signal\n",
                total, resume_ms.size(), percentile(resume_ms, 50), percentile(resume_ms, 100));
    EXPECT_EQ(resume_ms.size(), static_cast<std::size_t>(pairs)); // half the clients were on A
    EXPECT_EQ(delivered, static_cast<std::size_t>(total));
}

} // namespace
} // namespace kindred::rtest
