// flood_test.cpp — issue #8 item 7: a client flooding `send` at ~1,000 msg/s next to normal
// chat is limited and closed while the others lose nothing; half-open handshakes and silent
// WebSockets (slowloris) are dropped on their timeouts and the server's file descriptors
// return to their baseline.
#include "chat_load.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

namespace kindred::rtest {
namespace {

class Flood : public chat_fixture {};

// What is done: default rate limits. 10 peers with 4 conversations each (40 seekers + 10
//   peers = 50 clients) chat normally — each seeker one send every 500 ms (12 in all), each
//   peer one every 250 ms round the 4 conversations (6 each) — while one more seeker, matched
//   with its own peer, sends valid `send`s at ~1,000 per second without waiting for answers.
// What must hold: the flooder gets `rate_limited` answers and then close 1008; the 50 others
//   are never refused and every message arrives exactly once, in order.
// How it is measured: the flooder's answers and close code; the 50 clients' delivery latency
//   (send → arrival) p50/p99/max printed against the issue's p99 < 50 ms (only a hang guard is
//   asserted). 50 clients as in the issue; each runs on its own thread.
TEST_F(Flood, AFlooderIsLimitedAndClosedWhileFiftyOthersLoseNothing) {
    constexpr int peers_n = 10, per_peer = 4;
    constexpr int seeker_messages = 12, peer_messages = 6;
    start_server();
    std::vector<chat_client> peers, seekers;
    peers.reserve(peers_n + 1);
    seekers.reserve(peers_n * per_peer + 1);
    for (int i = 0; i < peers_n; ++i) {
        const std::string name = "fp" + std::to_string(i);
        peers.push_back(open_peer(name, make_peer_account(name), port(), per_peer));
        for (int k = 0; k < per_peer; ++k)
            seekers.push_back(match_seeker(peers.back(), port(),
                                           "p" + std::to_string(i) + "c" + std::to_string(k)));
        ASSERT_FALSE(HasFailure()) << "set-up of peer " << i;
    }
    auto flood_peer = open_peer("floodpeer", make_peer_account("floodpeer"), port(), 1);
    auto flooder = match_seeker(flood_peer, port(), "flood");
    ASSERT_FALSE(HasFailure());
    const auto drained = count_of(server_->log(), "event=ws_close");

    std::vector<chat_client*> clients;
    std::vector<chatter_options> options;
    const auto deadline = steady::now() + std::chrono::seconds(30);
    for (auto& s : seekers) {
        chatter_options o;
        o.messages = seeker_messages;
        o.expect_from_other = peer_messages;
        o.interval = std::chrono::milliseconds(500);
        o.deadline = deadline;
        clients.push_back(&s);
        options.push_back(o);
    }
    for (auto& p : peers) {
        chatter_options o;
        o.messages = peer_messages;
        o.expect_from_other = seeker_messages;
        o.interval = std::chrono::milliseconds(250);
        o.deadline = deadline;
        clients.push_back(&p);
        options.push_back(o);
    }
    // The flooder: a send every millisecond, answers read in between, until it is closed.
    int flood_sent = 0, flood_ok = 0, flood_limited = 0;
    std::optional<std::uint16_t> flood_close;
    double closed_after_ms = 0;
    std::thread flood([&] {
        std::this_thread::sleep_for(std::chrono::seconds(1)); // normal chat is under way
        auto& conv = flooder.convs.at(0);
        const auto start = steady::now();
        for (std::int64_t seq = 1; steady::now() < start + std::chrono::seconds(10); ++seq) {
            auto s = conv.crypto->make_send(seq, plaintext(conv.label, seq, 0));
            if (!s ||
                flooder.ws.send_text(kp::encode_client_message(*s, "f" + std::to_string(seq))))
                break; // the socket is gone: read the close below
            ++flood_sent;
            bool closed = false;
            for (auto f = flooder.ws.receive(std::chrono::milliseconds(0)); !f.is_timeout();
                 f = flooder.ws.receive(std::chrono::milliseconds(0))) {
                if (!f.is_text()) {
                    closed = true;
                    if (f.is_close()) flood_close = f.close_code;
                    break;
                }
                auto frame = kp::decode_server_frame(f.text);
                if (frame && frame->type == "ok") ++flood_ok;
                if (auto e = frame ? kp::decode_error_frame(*frame) : std::nullopt;
                    e && e->code == kp::error_code::rate_limited)
                    ++flood_limited;
            }
            if (closed) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        for (int i = 0; i < 200 && !flood_close; ++i) {
            auto f = flooder.ws.receive(std::chrono::milliseconds(50));
            if (f.is_close()) flood_close = f.close_code;
            if (f.is_error()) break;
            if (f.is_text()) {
                auto frame = kp::decode_server_frame(f.text);
                if (auto e = frame ? kp::decode_error_frame(*frame) : std::nullopt;
                    e && e->code == kp::error_code::rate_limited)
                    ++flood_limited;
            }
        }
        closed_after_ms = ms_between(start, steady::now());
    });
    auto reports = run_chatters(clients, options);
    flood.join();

    int refused = 0;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        SCOPED_TRACE(clients[i]->name);
        for (auto& e : reports[i].errors)
            ADD_FAILURE() << e;
        EXPECT_TRUE(reports[i].finished);
        EXPECT_EQ(reports[i].drops, 0);
        refused += reports[i].retried;
    }
    std::vector<double> delivery;
    for (int i = 0; i < peers_n; ++i)
        for (int k = 0; k < per_peer; ++k) {
            auto& s = seekers[i * per_peer + k].convs.at(0);
            auto& p = peers[i].convs.at(k);
            for (auto d : check_direction(s, p, seeker_messages).delivery_ms)
                delivery.push_back(d);
            for (auto d : check_direction(p, s, peer_messages).delivery_ms)
                delivery.push_back(d);
        }
    std::printf("[flood] flooder: %d sends in %.0f ms, %d ok, %d rate_limited, closed with %d; "
                "50 others: %zu messages, %d refused, delivery p50 %.1f ms p99 %.1f ms max "
                "%.0f ms (issue bound p99 < 50 ms)\n",
                flood_sent, closed_after_ms, flood_ok, flood_limited,
                flood_close ? *flood_close : -1, delivery.size(), refused, percentile(delivery, 50),
                percentile(delivery, 99), percentile(delivery, 100));
    EXPECT_EQ(flood_close, std::optional<std::uint16_t>(1008));
    EXPECT_GT(flood_limited, 0);
    EXPECT_EQ(refused, 0) << "a normal client was refused";
    EXPECT_EQ(delivery.size(),
              static_cast<std::size_t>(peers_n * per_peer * (seeker_messages + peer_messages)));
    // Hang guard only (the issue's 50 ms is read from the printed p99): 1 s.
    EXPECT_LT(percentile(delivery, 99), 1000);
    // Only the flooder was closed while the others chatted.
    EXPECT_EQ(count_of(server_->log(), "event=ws_close") - drained, 1u);
}

// A raw TCP connection to 127.0.0.1:port (blocking), or -1.
int tcp_connect(unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, const std::string& s) {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

// What is done: handshake_timeout_s = 2, idle_ping_s = 1. 1,000 half-open handshakes (500
//   connections that send nothing, 500 that send an unfinished upgrade request) and 1,000
//   silent WebSockets (upgrade completed, then nothing is ever read or written, so the
//   server's pings go unanswered) are opened at once.
// What must hold: the server drops every one of them — half-open ones at the handshake
//   timeout (2 s), silent ones at the idle timeout (2 × idle_ping_s = 2 s) — and its open file
//   descriptors return to their baseline; a normal client still works afterwards.
// How it is measured: poll() on all 2,000 sockets until each reads EOF or an error; each
//   socket's lifetime (open → dropped) per kind, printed against its timeout; /proc/<pid>/fd
//   of the server before, at the peak and after. 1,000 of each as in the issue (the test
//   process and the server each hold ~2,000 descriptors; the limit here is 20,000).
TEST_F(Flood, HalfOpenHandshakesAndSilentSocketsAreDroppedAndFdsReturnToBaseline) {
    constexpr int half_open = 1000, silent = 1000;
    start_server({"--handshake-timeout-s", "2", "--idle-ping-s", "1"});
    const pid_t pid = server_->pid();
    const auto baseline = open_fds(pid);

    struct probe {
        int fd = -1;
        bool silent_ws = false;
        steady::time_point opened;
        double lifetime_ms = -1;
    };
    std::vector<probe> probes;
    probes.reserve(half_open + silent);
    for (int i = 0; i < half_open; ++i) {
        probe p{tcp_connect(port()), false, steady::now()};
        ASSERT_GE(p.fd, 0) << "connect " << i;
        if (i % 2)
            send_all(p.fd, "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
        probes.push_back(p);
    }
    const std::string upgrade = "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    int upgraded = 0;
    for (int i = 0; i < silent; ++i) {
        probe p{tcp_connect(port()), true, steady::now()};
        ASSERT_GE(p.fd, 0) << "connect " << i;
        ASSERT_TRUE(send_all(p.fd, upgrade));
        // Read the 101 (and nothing after it): the socket is a WebSocket from here on.
        std::string head;
        pollfd pf{p.fd, POLLIN, 0};
        while (head.find("\r\n\r\n") == std::string::npos && ::poll(&pf, 1, 2000) == 1) {
            char c;
            if (::recv(p.fd, &c, 1, 0) != 1) break;
            head += c;
        }
        if (head.rfind("HTTP/1.1 101", 0) == 0) ++upgraded;
        probes.push_back(p);
    }
    const auto peak = open_fds(pid);

    // Wait for every socket to be dropped: EOF or an error (pings are read and ignored).
    std::vector<pollfd> fds;
    for (auto& p : probes)
        fds.push_back({p.fd, POLLIN, 0});
    std::size_t open = probes.size();
    const auto give_up = steady::now() + std::chrono::seconds(20);
    while (open && steady::now() < give_up) {
        if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || !fds[i].revents) continue;
            char buf[512];
            const auto n = ::recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) continue; // a ping (or a close frame): keep reading until the end
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
            probes[i].lifetime_ms = ms_between(probes[i].opened, steady::now());
            ::close(fds[i].fd);
            fds[i].fd = -1;
            --open;
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0) ::close(f.fd);
    std::vector<double> half_life, silent_life;
    for (auto& p : probes)
        if (p.lifetime_ms >= 0) (p.silent_ws ? silent_life : half_life).push_back(p.lifetime_ms);
    const bool back = kindred::testsupport::eventually([&] { return open_fds(pid) <= baseline; },
                                                       std::chrono::seconds(10));
    const auto after = open_fds(pid);
    std::printf("[slowloris] %zu/%d half-open dropped after p50 %.0f ms max %.0f ms (handshake "
                "timeout 2000 ms); %d upgraded, %zu/%d silent dropped after p50 %.0f ms max "
                "%.0f ms (idle timeout 2000 ms); server fds: baseline %zu, peak %zu, after %zu\n",
                half_life.size(), half_open, percentile(half_life, 50), percentile(half_life, 100),
                upgraded, silent_life.size(), silent, percentile(silent_life, 50),
                percentile(silent_life, 100), baseline, peak, after);
    EXPECT_EQ(upgraded, silent);
    EXPECT_EQ(half_life.size(), static_cast<std::size_t>(half_open));
    EXPECT_EQ(silent_life.size(), static_cast<std::size_t>(silent));
    EXPECT_GE(peak, baseline + half_open + silent - 10) << "the sockets were not all open at once";
    // Each must go on its timeout, not sooner and not much later: 3× the 2 s is a hang
    // guard for a loaded machine (the sockets were opened one after the other).
    EXPECT_GT(percentile(half_life, 0), 1500);
    EXPECT_LT(percentile(half_life, 100), 6000);
    EXPECT_GT(percentile(silent_life, 0), 1500);
    EXPECT_LT(percentile(silent_life, 100), 6000);
    EXPECT_TRUE(back) << "fds: baseline " << baseline << ", now " << after;
    // The server still serves.
    auto ws = seeker();
    expect_ok(last(ws.request(R"({"type":"ping","id":"p"})")), "p");
}

} // namespace
} // namespace kindred::rtest
