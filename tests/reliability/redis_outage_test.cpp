// redis_outage_test.cpp — issue #8 item 4: Redis hangs (SIGSTOP) under chat traffic, and
// later crashes (SIGKILL) and restarts from its append-only file; sockets stay open, sends are
// refused quickly with `unavailable` while it is gone, service comes back soon after it
// returns, and nothing acknowledged — message or escalation — is lost.
#include "chat_load.hpp"

#include <cstdio>

namespace kindred::rtest {
namespace {

class RedisOutage : public chat_fixture {
protected:
    // Two pairs on the fixture's server, matched one after the other.
    void open_pairs(int n) {
        for (int i = 0; i < n; ++i) {
            const std::string name = "op" + std::to_string(i);
            peers_.push_back(open_peer(name, make_peer_account(name), port(), 1));
            seekers_.push_back(match_seeker(peers_.back(), port(), "p" + std::to_string(i)));
        }
    }
    std::vector<std::pair<chat_client*, chat_client*>> pairs() {
        std::vector<std::pair<chat_client*, chat_client*>> out;
        for (std::size_t i = 0; i < seekers_.size(); ++i)
            out.emplace_back(&seekers_[i], &peers_[i]);
        return out;
    }
    // Chatters for every client: stop-and-wait (a refused send is retried before anything
    // newer, so seqs stay in order), one send per `interval`, until `stop` is set.
    std::vector<chatter_report> chat_until(const std::atomic<bool>& stop,
                                           std::chrono::milliseconds interval) {
        std::vector<chat_client*> clients;
        std::vector<chatter_options> options;
        for (auto [s, p] : pairs()) {
            for (auto* c : {s, p}) {
                chatter_options o;
                o.messages = 1'000'000;
                o.interval = interval;
                o.stop_sending = &stop;
                o.deadline = steady::now() + std::chrono::seconds(45);
                clients.push_back(c);
                options.push_back(o);
            }
        }
        return run_chatters(clients, options);
    }
    // Every acknowledged message of every pair arrived exactly once, in order; no socket
    // dropped; no unexpected answer. Returns the number of messages checked.
    std::size_t check_everything(const std::vector<chatter_report>& reports) {
        for (auto& r : reports) {
            for (auto& e : r.errors)
                ADD_FAILURE() << e;
            EXPECT_EQ(r.drops, 0) << "a socket was closed during the outage";
        }
        auto drained = drain_pairs(pairs());
        for (auto& r : drained) {
            for (auto& e : r.errors)
                ADD_FAILURE() << e;
            EXPECT_TRUE(r.finished) << "not everything acknowledged arrived";
        }
        std::size_t n = 0;
        for (auto [s, p] : pairs()) {
            auto& sc = s->convs.at(0);
            auto& pc = p->convs.at(0);
            check_direction(sc, pc, static_cast<int>(sc.acked.size()));
            check_direction(pc, sc, static_cast<int>(pc.acked.size()));
            n += sc.acked.size() + pc.acked.size();
        }
        return n;
    }

    std::vector<chat_client> peers_, seekers_;
};

// What is done: two pairs chat (each client one send every 10 ms, stop-and-wait); after
//   1.5 s Redis is frozen with SIGSTOP for 8 s (the issue says up to 30 s: 8 s keeps the suite
//   short and already spans every timeout involved — command 1 s, health PING 1 s, reconnect
//   back-off ≤ 1 s), then SIGCONT; chat goes on for 3 s. Refused sends are retried every
//   50 ms with the same seq.
// What must hold: no socket is closed; every send during the outage is answered (no hang):
//   `unavailable`, issue bound 200 ms; every client has a send acknowledged within 5 s of
//   Redis returning; every message acknowledged (before, during or after) arrives exactly once
//   and in order.
// How it is measured: send → `unavailable` time of every refused send (p50/p99/max and how
//   many took over 200 ms are printed); recovery = SIGCONT → each client's first ok after it.
TEST_F(RedisOutage, FrozenRedisRefusesSendsQuicklyAndNothingIsLost) {
    start_server(unlimited_args());
    open_pairs(2);
    ASSERT_FALSE(HasFailure());

    std::atomic<bool> stop{false};
    steady::time_point frozen{}, thawed{};
    std::thread outage([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        frozen = steady::now();
        redis_.pause();
        std::this_thread::sleep_for(std::chrono::seconds(8));
        redis_.resume();
        thawed = steady::now();
        std::this_thread::sleep_for(std::chrono::seconds(3));
        stop = true;
    });
    auto reports = chat_until(stop, std::chrono::milliseconds(10));
    outage.join();

    std::vector<double> unavailable, recovery;
    int acked_before = 0;
    for (auto& r : reports) {
        unavailable.insert(unavailable.end(), r.unavailable_ms.begin(), r.unavailable_ms.end());
        auto first_after =
            std::find_if(r.ok_at.begin(), r.ok_at.end(), [&](auto t) { return t > thawed; });
        EXPECT_NE(first_after, r.ok_at.end()) << "no send succeeded after Redis returned";
        if (first_after != r.ok_at.end()) recovery.push_back(ms_between(thawed, *first_after));
        acked_before += static_cast<int>(
            std::count_if(r.ok_at.begin(), r.ok_at.end(), [&](auto t) { return t < frozen; }));
    }
    const auto over_200 =
        std::count_if(unavailable.begin(), unavailable.end(), [](double v) { return v > 200; });
    const auto checked = check_everything(reports);
    std::printf("[redis frozen 8 s] %zu messages acknowledged (%d before the freeze); %zu sends "
                "refused with unavailable: p50 %.1f ms p99 %.1f ms max %.0f ms, %ld over the "
                "issue's 200 ms; recovery after SIGCONT: max %.0f ms over %zu clients (issue "
                "bound 5000 ms)\n",
                checked, acked_before, unavailable.size(), percentile(unavailable, 50),
                percentile(unavailable, 99), percentile(unavailable, 100),
                static_cast<long>(over_200), percentile(recovery, 100), recovery.size());
    EXPECT_GT(acked_before, 0);
    EXPECT_FALSE(unavailable.empty()) << "no send was refused: was Redis frozen at all?";
    // The issue's 200 ms is printed, not asserted (a loaded machine delays timers). The sends
    // already waiting for Redis when it froze (one per client) are refused by the stall
    // timeout (timing.redis_stall_timeout_ms, 150 ms); later ones at once, while the
    // connection is stalled and after the health PING dropped it. Without the stall timeout
    // they would wait the 1 s command deadline, and a hang until Redis returns 8 s later:
    // 900 ms catches both, with room for scheduling noise.
    EXPECT_LT(percentile(unavailable, 100), 900);
    // 3× the issue's 5 s: a hang guard (the reconnect back-off alone is ≤ 1 s).
    EXPECT_LT(percentile(recovery, 100), 15000);
    EXPECT_EQ(simple_http_status(port(), "/readyz"), 200);
}

// What is done: Redis runs with the append-only file and `appendfsync always` (the
//   recommended production setting, docs/reliability.md); two pairs chat (stop-and-wait, a send
//   every 5 ms per client) while a third seeker raises escalations (panic button, no
//   conversation) one after the other; after 1.5 s Redis is killed with SIGKILL, restarted at
//   once from its AOF, and traffic goes on for 3 s.
// What must hold: no socket is closed; every message acknowledged before the crash (and after
//   it) arrives exactly once, in order; every escalation whose `ok` (with its id) arrived is
//   still there: a moderator who watches afterwards is sent every one of them.
// How it is measured: the exactly-once check of chat_load.hpp; the escalation ids from the
//   `ok`s against the ids in the moderator's replay.
TEST_F(RedisOutage, KilledRedisRestartedFromAofLosesNoAcknowledgedMessageOrEscalation) {
    redis_options aof;
    aof.appendonly = true; // appendfsync always (redis_process)
    redis_.set_options(aof);
    redis_.restart();
    ASSERT_EQ(redis_.command({"CONFIG", "GET", "appendfsync"}), "appendfsync\nalways");
    auto args = unlimited_args();
    args.insert(args.end(),
                {"--escalate-per-minute", "1000000", "--escalate-burst", "100000",
                 "--escalation-lane-per-minute", "1000000", "--escalation-lane-burst", "100000"});
    start_server(args);
    open_pairs(2);
    ASSERT_FALSE(HasFailure());
    auto escalator = seeker();

    std::atomic<bool> stop{false};
    std::vector<std::string> escalation_ids;
    int escalations_refused = 0;
    std::thread escalating([&] {
        for (int n = 0; !stop; ++n) {
            const std::string id = "e" + std::to_string(n);
            auto frames = escalator.request(
                R"({"type":"escalate","id":")" + id +
                    R"(","conversation_id":null,"level":"high","category":"suicide_risk"})",
                std::chrono::seconds(5));
            auto f = frames.empty() ? std::nullopt : kp::decode_server_frame(frames.back().text);
            if (f && f->type == "ok") {
                escalation_ids.push_back(str(f->body, "escalation_id"));
            } else {
                ++escalations_refused; // unavailable while Redis is down: raised again later
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    steady::time_point killed{}, restarted{};
    std::thread crash([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        killed = steady::now();
        redis_.kill9();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        redis_.start(); // same folder: loads the AOF
        restarted = steady::now();
        std::this_thread::sleep_for(std::chrono::seconds(3));
        stop = true;
    });
    auto reports = chat_until(stop, std::chrono::milliseconds(5));
    crash.join();
    escalating.join();

    int acked_before = 0;
    for (auto& r : reports)
        acked_before += static_cast<int>(
            std::count_if(r.ok_at.begin(), r.ok_at.end(), [&](auto t) { return t < killed; }));
    const auto checked = check_everything(reports);

    // A moderator who starts watching now is sent every unresolved escalation.
    const auto pw = add_staff("mod1", "moderator");
    auto mod = staff_socket("moderator", login("mod1", pw));
    auto keys = e2e::generate_kx_key_pair();
    ASSERT_TRUE(mod.send_text(R"({"type":"watch","id":"w","pubkey":")" + b64(keys.public_key) +
                              R"("})") == boost::system::error_code{});
    std::set<std::string> replayed;
    for (;;) {
        auto f = mod.receive(std::chrono::seconds(2));
        if (!f.is_text()) break;
        auto frame = kp::decode_server_frame(f.text);
        if (!frame || frame->type != "escalation") continue;
        if (auto* e = frame->body.if_contains("escalation"); e && e->is_object())
            replayed.insert(str(e->as_object(), "id"));
    }
    int missing = 0;
    for (auto& id : escalation_ids)
        if (!replayed.contains(id)) ++missing;
    std::printf("[redis kill -9 + AOF always] %zu messages acknowledged (%d before the crash), "
                "all delivered once in order; %zu escalations acknowledged, %d refused while "
                "down, %d missing after the restart; Redis down for %.0f ms\n",
                checked, acked_before, escalation_ids.size(), escalations_refused, missing,
                ms_between(killed, restarted));
    EXPECT_GT(acked_before, 0);
    EXPECT_FALSE(escalation_ids.empty());
    EXPECT_EQ(missing, 0) << "acknowledged escalations lost in the crash";
}

// What is done: one pair; Redis is frozen (SIGSTOP) just before the seeker sends its only
//   message, and thawed 600 ms later (before the health PING drops the connection). The send
//   is answered `unavailable` by the stall timeout; the client retries the same seq.
// What must hold: the peer gets the message live, without any later message or sync. The
//   first attempt ran in Redis after the thaw (its answer had already been given), so the
//   retry finds it stored (a duplicate): the server must push it then — before this was fixed
//   it pushed nothing for a duplicate, and the message sat unseen until the next one (found by
//   the benchmark's storm scenario, whose set-up waited forever for such messages).
// How: the chatter's own accounting: the seeker retried at least once, and the peer's run
//   finished (it received the one message) before its 10 s deadline.
TEST_F(RedisOutage, SendStoredAfterItsAnswerTimedOutIsStillDelivered) {
    start_server(unlimited_args());
    open_pairs(1);
    ASSERT_FALSE(HasFailure());
    auto& seeker = seekers_.at(0);
    auto& peer = peers_.at(0);

    redis_.pause();
    std::thread thaw([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
        redis_.resume();
    });
    chatter_options send_one, receive_one;
    send_one.messages = 1;
    send_one.expect_from_other = 0;
    send_one.deadline = steady::now() + std::chrono::seconds(10);
    receive_one.messages = 0;
    receive_one.expect_from_other = 1;
    receive_one.deadline = steady::now() + std::chrono::seconds(10);
    auto reports = run_chatters({&seeker, &peer}, {send_one, receive_one});
    thaw.join();

    for (auto& r : reports)
        for (auto& e : r.errors)
            ADD_FAILURE() << e;
    std::printf("[redis frozen 600 ms around one send] retried %d time(s); first refusal after "
                "%.0f ms; peer received it: %s\n",
                reports[0].retried,
                reports[0].unavailable_ms.empty() ? 0.0 : reports[0].unavailable_ms.front(),
                reports[1].finished ? "yes" : "no");
    EXPECT_GE(reports[0].retried, 1) << "the send was not refused: was Redis frozen?";
    EXPECT_EQ(reports[0].ok, 1);
    EXPECT_TRUE(reports[1].finished) << "the peer never got the message the seeker stored";
    EXPECT_EQ(peer.convs.at(0).received.size(), 1u);
}

// What is done: a peer on shift with one free slot; Redis is frozen (SIGSTOP) just before a
//   seeker sends request_match, and thawed 1.5 s later: after the request's 1 s command
//   deadline, so the seeker is answered `unavailable` while its enqueue, and the matching pass
//   sent right behind it, still wait in Redis's socket buffer and run at the thaw. The seeker
//   then retries the same request (same key) every 200 ms until the answer is not
//   `unavailable`, as the contract's clients do.
// What must hold: the retry's answer is `conflict` (already queued or matched: the first
//   attempt ran late) or `ok` (it did not run); either way the seeker and the peer each get
//   exactly one `matched`, for the same conversation — the late request is neither lost (queued
//   but never matched, or claimed but never announced) nor matched twice.
// How: every frame each side received, kept until a ping fence 1 s after the first `matched`.
TEST_F(RedisOutage, MatchRequestAnsweredUnavailableStillEndsInExactlyOneMatch) {
    start_server();
    auto peer = open_peer("op0", make_peer_account("op0"), port(), 1);
    auto s = seeker();
    ASSERT_FALSE(HasFailure());
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = e2e::generate_kx_key_pair().public_key;

    redis_.pause();
    std::thread thaw([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        redis_.resume();
    });
    std::vector<ws_frame> seen; // the seeker's frames, all of them
    std::vector<std::string> answers;
    const auto started = steady::now();
    for (int attempt = 0; attempt < 50; ++attempt) {
        auto frames = s.request(kp::encode_client_message(rm, "m" + std::to_string(attempt)),
                                std::chrono::seconds(5));
        seen.insert(seen.end(), frames.begin(), frames.end());
        auto f = frames.empty() ? std::nullopt : kp::decode_server_frame(frames.back().text);
        const std::string answer = !f                ? std::string("no answer")
                                   : f->type == "ok" ? std::string("ok")
                                                     : str(f->body, "code");
        answers.push_back(answer);
        if (answer != "unavailable") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    thaw.join();
    const auto count_matched = [](const std::vector<ws_frame>& frames) {
        std::vector<std::string> ids;
        for (auto& f : frames) {
            auto d = f.is_text() ? kp::decode_server_frame(f.text) : std::nullopt;
            if (d && d->type == "matched") ids.push_back(str(d->body, "conversation_id"));
        }
        return ids;
    };
    // Wait (bounded) for the seeker's match, then fence both sockets a second later.
    while (count_matched(seen).empty() && steady::now() - started < std::chrono::seconds(15)) {
        auto f = s.receive(std::chrono::milliseconds(500));
        if (f.is_text()) seen.push_back(f);
    }
    const auto matched_after = ms_between(started, steady::now());
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto fence = [](ws_client& ws) {
        auto frames = ws.request(R"({"type":"ping","id":"fence"})");
        expect_ok(last(frames), "fence");
        return frames;
    };
    auto tail = fence(s);
    seen.insert(seen.end(), tail.begin(), tail.end());
    auto peer_frames = fence(peer.ws);

    std::string sequence;
    for (auto& a : answers)
        sequence += (sequence.empty() ? "" : ", ") + a;
    const auto seeker_matches = count_matched(seen);
    const auto peer_matches = count_matched(peer_frames);
    std::printf("[redis frozen 1.5 s around request_match] answers: %s; seeker matched %zu "
                "time(s) after %.0f ms, peer %zu time(s)\n",
                sequence.c_str(), seeker_matches.size(), matched_after, peer_matches.size());
    ASSERT_FALSE(answers.empty());
    EXPECT_EQ(answers.front(), "unavailable") << "was Redis frozen at all?";
    EXPECT_TRUE(answers.back() == "conflict" || answers.back() == "ok") << answers.back();
    ASSERT_EQ(seeker_matches.size(), 1u) << "the seeker must be matched exactly once";
    ASSERT_EQ(peer_matches.size(), 1u) << "the peer must be matched exactly once";
    EXPECT_EQ(seeker_matches.front(), peer_matches.front());
}

} // namespace
} // namespace kindred::rtest
