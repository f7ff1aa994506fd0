// race_redis_test.cpp — two "instances" (each its own io_context thread, store::client and
// matching_store) share one real redis-server (label: redis). 300 seekers and 60 peers
// (capacity 1–3, 8 prekeys each) enqueue / start shifts and call match_seeker / match_peer
// all at once, split across both instances.
//   Phase 1, nothing released: capacity (120 slots) is the limit, so exactly that many
//   matches, every peer full, 180 seekers still waiting.
//   Phase 2: every match is released as soon as it is made and match_peer called again, from
//   both instances at once, until all 300 seekers are matched.
// Checked both from the returned matches and from Redis: every seeker matched exactly once,
// no claim ever saw a peer above its capacity, every prekey used at most once.
#include "matching_test_support.hpp"
#include <kindred/testsupport/redis_process.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

using namespace kindred::matching;
using namespace kindred::matching::test;
using kindred::testsupport::eventually;
using kindred::testsupport::redis_process;

namespace {

constexpr int seekers = 300;
constexpr int peers = 60;
constexpr int prekeys_each = 8;
const std::vector<std::string> catalog{"grief", "addiction", "caregiving", "veterans"};

int capacity_of(int peer) {
    return 1 + peer % 3;
}

// Counts asynchronous operations in flight, so the test can wait for quiet.
struct in_flight {
    std::atomic<int> n{0};
    void add() { n.fetch_add(1); }
    void done() { n.fetch_sub(1); }
    bool idle() const { return n.load() == 0; }
};

// Per distinct pass (one pass may answer many match_* calls).
struct pass_stats {
    std::atomic<int> calls{0};
    std::atomic<int> passes{0};
    std::atomic<int> gave_up{0};
    std::atomic<int> errors{0};
    std::atomic<int> conflicts{0};
    std::atomic<int> rounds{0};
    std::mutex m;
    std::set<std::pair<int, std::uint64_t>> seen;
    void add(int instance, const sweep_report& r) {
        calls.fetch_add(1);
        {
            std::lock_guard lock(m);
            if (!seen.insert({instance, r.pass_id}).second) return;
        }
        passes.fetch_add(1);
        if (r.gave_up) gave_up.fetch_add(1);
        if (r.ec) errors.fetch_add(1);
        conflicts.fetch_add(static_cast<int>(r.conflicts));
        rounds.fetch_add(static_cast<int>(r.rounds));
    }
    std::string text() {
        return std::to_string(calls.load()) + " match_* calls served by " +
               std::to_string(passes.load()) + " passes, " + std::to_string(rounds.load()) +
               " snapshots, " + std::to_string(conflicts.load()) + " refused claims, " +
               std::to_string(gave_up.load()) + " gave up, " + std::to_string(errors.load()) +
               " errors";
    }
};

// What on_claim_sent / on_match / on_claim_lost said about each claim (any instance).
struct claim_accounting {
    std::mutex m;
    std::set<std::string> sent, matched, refused, unknown;
    int settled_before_sent = 0; // an outcome for a claim not (yet) reported sent
    void settle(std::set<std::string>& into, const std::string& id) {
        std::lock_guard lock(m);
        if (!sent.contains(id)) ++settled_before_sent;
        EXPECT_TRUE(into.insert(id).second) << id << " settled twice the same way";
    }
};

matching_options race_options(std::function<void(const match_record&)> hook,
                              claim_accounting& claims) {
    matching_options o;
    // Everyone may take any eligible peer at once (shared tags still rank first), so that
    // capacity, not tags, is what limits phase 1.
    o.policy.relax_after = std::chrono::milliseconds(0);
    o.on_match = [&claims, hook = std::move(hook)](const match_record& m) {
        claims.settle(claims.matched, m.conversation_id);
        hook(m);
    };
    o.on_claim_sent = [&claims](const std::string& id, const std::string&, const std::string&) {
        std::lock_guard lock(claims.m);
        EXPECT_TRUE(claims.sent.insert(id).second) << id << " sent twice";
    };
    o.on_claim_lost = [&claims](const std::string& id, claim_loss why) {
        claims.settle(why == claim_loss::refused ? claims.refused : claims.unknown, id);
    };
    return o;
}

// burst: every operation is sent at once (passes coalesce into a few large ones).
// trickle: a short pause every few operations, so many smaller passes of both instances
// interleave with enqueues, shift starts and each other.
void run_race(bool trickle) {
    redis_process redis;
    in_flight work;
    pass_stats stats;
    claim_accounting claims;
    std::atomic<bool> phase2{false};
    std::atomic<int> over_capacity{0};
    // Filled before any operation starts; called on each instance's strand for each match.
    std::function<void(int, const match_record&)> on_phase2;

    auto hook = [&](int which) {
        return [&, which](const match_record& m) {
            if (m.peer_active > m.peer_capacity || m.peer_active < 1) over_capacity.fetch_add(1);
            if (phase2.load()) on_phase2(which, m);
        };
    };
    instance a(redis.unix_address(), race_options(hook(0), claims), "race-a");
    instance b(redis.unix_address(), race_options(hook(1), claims), "race-b");
    instance* both[2] = {&a, &b};

    auto request_pass = [&](instance& in, bool seeker, std::string id) {
        work.add();
        const int which = &in == both[0] ? 0 : 1;
        auto done = [&, which](const sweep_report& r) {
            stats.add(which, r);
            work.done();
        };
        if (seeker)
            in.store.match_seeker(std::move(id), done);
        else
            in.store.match_peer(std::move(id), done);
    };

    // --- phase 1: everyone at once, nothing released ------------------------------------------
    int total_capacity = 0;
    for (int i = 0; i < std::max(seekers, peers); ++i) {
        if (trickle && i % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (i < peers) {
            instance& in = *both[i % 2];
            const std::string id = "peer" + std::to_string(i);
            total_capacity += capacity_of(i);
            std::vector<std::string> keys;
            for (int k = 0; k < prekeys_each; ++k)
                keys.push_back(id + "/k" + std::to_string(k));
            shift_request s;
            s.peer_id = id;
            s.capacity = capacity_of(i);
            s.tags = {catalog[i % 4], catalog[(i + 1) % 4]};
            s.languages =
                i % 5 == 0 ? std::vector<std::string>{"en", "es"} : std::vector<std::string>{"en"};
            work.add();
            instance* pin = &in;
            in.store.add_prekeys(id, keys,
                                 [&, s, id, pin](boost::system::error_code ec, std::int64_t) {
                                     EXPECT_FALSE(ec);
                                     pin->store.shift_start(
                                         s, [&, id, pin](boost::system::error_code ec2, peer_view) {
                                             EXPECT_FALSE(ec2);
                                             request_pass(*pin, false, id);
                                             work.done();
                                         });
                                 });
        }
        if (i < seekers) {
            instance& in = *both[(i / 3) % 2];
            enqueue_request r;
            r.session = "seeker" + std::to_string(i);
            r.tags = {catalog[i % 4]};
            if (i % 7 == 0) r.tags.push_back(catalog[(i + 2) % 4]);
            r.languages = {"en"};
            r.risk_level = static_cast<risk>(i % 5);
            r.payload = "pub" + std::to_string(i);
            work.add();
            instance* pin = &in;
            in.store.enqueue(
                r, [&, pin, session = r.session](boost::system::error_code ec, queue_entry) {
                    EXPECT_FALSE(ec) << ec.message();
                    request_pass(*pin, true, session);
                    work.done();
                });
        }
    }
    ASSERT_TRUE(eventually([&] { return work.idle(); }, 30s)) << "phase 1 never went quiet";
    ASSERT_EQ(total_capacity, 120);

    auto all_matches = [&] {
        auto m = a.matches.snapshot();
        auto more = b.matches.snapshot();
        m.insert(m.end(), more.begin(), more.end());
        return m;
    };
    {
        auto matches = all_matches();
        std::set<std::string> sessions;
        std::map<std::string, int> per_peer;
        for (const auto& m : matches) {
            EXPECT_TRUE(sessions.insert(m.session).second) << m.session << " matched twice";
            per_peer[m.peer_id]++;
        }
        EXPECT_EQ(matches.size(), static_cast<std::size_t>(total_capacity));
        for (int i = 0; i < peers; ++i) {
            const std::string id = "peer" + std::to_string(i);
            EXPECT_EQ(per_peer[id], capacity_of(i)) << id;
            EXPECT_EQ(redis.command({"HGET", "m:{match}:peer:" + id, "active"}),
                      std::to_string(capacity_of(i)))
                << id;
        }
        EXPECT_EQ(redis.command({"ZCARD", "m:{match}:queue"}),
                  std::to_string(seekers - total_capacity));
        EXPECT_EQ(redis.keys("m:{match}:conv:*").size(), static_cast<std::size_t>(total_capacity));
        std::cout << "[ phase 1  ] " << matches.size() << " matches (" << a.matches.size()
                  << " by A, " << b.matches.size() << " by B); " << stats.text() << "\n";
    }

    // --- phase 2: release each match as soon as it is made, from both instances ---------------
    on_phase2 = [&](int which, const match_record& m) {
        instance* pin = both[which];
        work.add();
        pin->store.release(m.conversation_id, [&, pin, peer = m.peer_id](
                                                  boost::system::error_code ec, release_result r) {
            EXPECT_FALSE(ec) << ec.message();
            EXPECT_TRUE(r.released_now);
            request_pass(*pin, false, peer);
            work.done();
        });
    };
    phase2 = true;
    const auto phase1 = all_matches();
    for (std::size_t i = 0; i < phase1.size(); ++i) {
        if (trickle && i % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        on_phase2(static_cast<int>(i % 2), phase1[i]);
    }

    ASSERT_TRUE(eventually([&] { return a.matches.size() + b.matches.size() == seekers; }, 30s))
        << "only " << a.matches.size() + b.matches.size() << " of " << seekers << " matched";
    ASSERT_TRUE(eventually([&] { return work.idle(); }, 30s)) << "phase 2 never went quiet";

    auto matches = all_matches();
    EXPECT_EQ(matches.size(), static_cast<std::size_t>(seekers));
    std::set<std::string> sessions, prekeys, conversations;
    std::map<std::string, int> per_peer;
    for (const auto& m : matches) {
        EXPECT_TRUE(sessions.insert(m.session).second) << m.session << " matched twice";
        EXPECT_TRUE(prekeys.insert(m.prekey).second) << m.prekey << " used twice";
        EXPECT_TRUE(conversations.insert(m.conversation_id).second);
        EXPECT_EQ(m.prekey.rfind(m.peer_id + "/", 0), 0u) << "prekey of another peer";
        EXPECT_EQ(m.payload, "pub" + m.session.substr(6));
        per_peer[m.peer_id]++;
    }
    EXPECT_EQ(sessions.size(), static_cast<std::size_t>(seekers));
    EXPECT_EQ(over_capacity.load(), 0);

    // Redis: queue empty, every conversation recorded once, every slot given back, the unused
    // prekeys exactly those never handed out.
    EXPECT_EQ(redis.command({"ZCARD", "m:{match}:queue"}), "0");
    EXPECT_EQ(redis.keys("m:{match}:conv:*").size(), static_cast<std::size_t>(seekers));
    EXPECT_EQ(redis.keys("m:{match}:req:*").size(), 0u);
    std::size_t left_in_redis = 0;
    for (int i = 0; i < peers; ++i) {
        const std::string id = "peer" + std::to_string(i);
        EXPECT_EQ(redis.command({"HGET", "m:{match}:peer:" + id, "active"}), "0") << id;
        EXPECT_LE(per_peer[id], prekeys_each) << id;
        auto list = redis.command({"LRANGE", "m:{match}:prekeys:" + id, "0", "-1"});
        std::size_t start = 0;
        while (!list.empty() && start <= list.size()) {
            auto end = list.find('\n', start);
            auto key =
                list.substr(start, end == std::string::npos ? std::string::npos : end - start);
            EXPECT_EQ(prekeys.count(key), 0u) << key << " handed out yet still stored";
            ++left_in_redis;
            if (end == std::string::npos) break;
            start = end + 1;
        }
    }
    EXPECT_EQ(left_in_redis + prekeys.size(), static_cast<std::size_t>(peers * prekeys_each));
    std::cout << "[ phase 2  ] " << matches.size() << " matches in all (" << a.matches.size()
              << " by A, " << b.matches.size() << " by B); " << stats.text() << "\n";
    EXPECT_EQ(stats.errors.load(), 0);

    // Every claim sent was reported sent before its outcome, and ended exactly once: matched
    // or refused (no answer was lost here).
    std::lock_guard lock(claims.m);
    EXPECT_EQ(claims.settled_before_sent, 0);
    EXPECT_TRUE(claims.unknown.empty());
    EXPECT_EQ(claims.matched, conversations);
    EXPECT_EQ(claims.matched.size() + claims.refused.size(), claims.sent.size());
    for (const auto& id : claims.refused)
        EXPECT_FALSE(claims.matched.contains(id)) << id << " both matched and refused";
    std::cout << "[ claims   ] " << claims.sent.size() << " sent: " << claims.matched.size()
              << " matched, " << claims.refused.size() << " refused\n";
}

} // namespace

TEST(MatchingRaceRedis, BurstOnTwoInstancesNeverDoubleAssignsOrOverrunsCapacity) {
    run_race(false);
}

TEST(MatchingRaceRedis, TrickleOnTwoInstancesNeverDoubleAssignsOrOverrunsCapacity) {
    run_race(true);
}
