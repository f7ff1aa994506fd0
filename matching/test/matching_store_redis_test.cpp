// matching_store_redis_test.cpp — kindred::matching::matching_store against a real
// redis-server (label: redis): enqueue/cancel/position, the claim script's success and every
// refusal, prekey pops, release, shifts, presence expiry, blocks, requeue-first, relaxation,
// the wait statistics and the peer wellbeing cooldown.
#include "matching_test_support.hpp"
#include <kindred/matching/lua_scripts.hpp>
#include <kindred/testsupport/redis_process.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>

using namespace kindred::matching;
using namespace kindred::matching::test;
using kindred::testsupport::eventually;
using kindred::testsupport::redis_process;
namespace ks = kindred::store;

namespace {

struct fixture {
    explicit fixture(matching_options o = {})
        : env(redis.unix_address(), configure(std::move(o))) {}

    matching_options configure(matching_options o) {
        if (!o.clock) o.clock = clock.fn();
        int* counter = &next_conv;
        if (!o.new_conversation_id)
            o.new_conversation_id = [counter] { return "c" + std::to_string(++*counter); };
        return o;
    }

    outcome<queue_entry> enqueue(std::string session, std::vector<std::string> tags,
                                 std::vector<std::string> languages = {"en"},
                                 risk level = risk::none, std::string payload = "") {
        enqueue_request r{std::move(session), std::move(tags), std::move(languages), level,
                          std::move(payload)};
        return wait_for<queue_entry>([&](auto h) { env.store.enqueue(r, h); });
    }

    outcome<peer_view> shift(std::string peer, int capacity, std::vector<std::string> tags,
                             int prekeys = 5, std::vector<std::string> languages = {"en"}) {
        if (prekeys > 0) {
            std::vector<std::string> keys;
            for (int i = 0; i < prekeys; ++i)
                keys.push_back(peer + "-k" + std::to_string(i));
            auto n = wait_for<std::int64_t>([&](auto h) { env.store.add_prekeys(peer, keys, h); });
            EXPECT_FALSE(n.ec);
        }
        shift_request s;
        s.peer_id = std::move(peer);
        s.capacity = capacity;
        s.tags = std::move(tags);
        s.languages = std::move(languages);
        return wait_for<peer_view>([&](auto h) { env.store.shift_start(s, h); });
    }

    boost::system::error_code cool(const std::string& peer, std::chrono::milliseconds d) {
        return wait_done([&](auto h) { env.store.set_cooldown(peer, d, h); });
    }

    outcome<std::chrono::milliseconds> cooldown_left(const std::string& peer) {
        return wait_for<std::chrono::milliseconds>(
            [&](auto h) { env.store.cooldown_left(peer, h); });
    }

    sweep_report pass() {
        return wait_pass([&](auto h) { env.store.match_relaxed_due(0, h); });
    }

    outcome<release_result> release(const std::string& conv) {
        return wait_for<release_result>([&](auto h) { env.store.release(conv, h); });
    }

    outcome<peer_state> peer(const std::string& id) {
        return wait_for<peer_state>([&](auto h) { env.store.peer(id, h); });
    }

    std::string k(const std::string& rest) { return "m:{match}:" + rest; }

    test_clock clock;
    int next_conv = 0;
    redis_process redis;
    instance env;
};

} // namespace

TEST(MatchingStoreRedis, EnqueueAnswersPositionAndRejectsDuplicates) {
    fixture f;
    auto a = f.enqueue("s1", {"grief"}, {"en"}, risk::none, "PUBKEY-1");
    ASSERT_FALSE(a.ec) << a.ec.message();
    EXPECT_EQ(a.value.session, "s1");
    EXPECT_EQ(a.value.position, 1u);
    EXPECT_EQ(a.value.estimated_wait_s, std::nullopt); // no match recorded yet: unknown
    f.clock.advance(1s);
    EXPECT_EQ(f.enqueue("s2", {"grief"}).value.position, 2u);
    f.clock.advance(1s);
    EXPECT_EQ(f.enqueue("s3", {"grief"}, {"en"}, risk::high).value.position, 1u);

    EXPECT_EQ(f.enqueue("s1", {"grief"}).ec, error::already_queued);
    EXPECT_EQ(f.enqueue("s4", {}).ec, error::bad_input);
    EXPECT_EQ(f.enqueue("s4", {"Not A Tag"}).ec, error::bad_input);
    EXPECT_EQ(f.enqueue("s4", {"grief"}, {"english please"}).ec, error::bad_input);
    EXPECT_EQ(f.enqueue("", {"grief"}).ec, error::bad_input);

    auto pos = wait_for<queue_entry>([&](auto h) { f.env.store.position("s1", h); });
    EXPECT_EQ(pos.value.position, 2u);
    auto all = wait_for<std::vector<queue_entry>>([&](auto h) { f.env.store.queue(h); });
    ASSERT_EQ(all.value.size(), 3u);
    EXPECT_EQ(all.value[0].session, "s3");
    EXPECT_EQ(all.value[1].session, "s1");
    EXPECT_EQ(all.value[2].session, "s2");

    // Only the risk level is stored; every key shares the hash tag.
    EXPECT_EQ(f.redis.command({"HGET", f.k("req:s3"), "risk"}), "high");
    for (const auto& key : f.redis.keys())
        EXPECT_EQ(key.rfind("m:{match}:", 0), 0u) << key;
}

TEST(MatchingStoreRedis, CancelRemovesTheRequestOnce) {
    fixture f;
    f.enqueue("s1", {"grief"});
    f.clock.advance(1s);
    f.enqueue("s2", {"grief"});
    EXPECT_FALSE(wait_done([&](auto h) { f.env.store.cancel("s1", h); }));
    EXPECT_EQ(wait_done([&](auto h) { f.env.store.cancel("s1", h); }), error::not_waiting);
    EXPECT_EQ(wait_for<queue_entry>([&](auto h) { f.env.store.position("s1", h); }).ec,
              error::not_waiting);
    EXPECT_EQ(wait_for<queue_entry>([&](auto h) { f.env.store.position("s2", h); }).value.position,
              1u);
    EXPECT_EQ(f.redis.command({"EXISTS", f.k("req:s1")}), "0");
    // Cancelled, it may ask again.
    EXPECT_FALSE(f.enqueue("s1", {"grief"}).ec);
}

TEST(MatchingStoreRedis, MatchSeekerClaimsTheBestPeerAndPopsAPrekey) {
    fixture f;
    ASSERT_FALSE(f.shift("busy", 2, {"grief"}).ec);
    ASSERT_FALSE(f.shift("best", 2, {"grief", "addiction"}).ec);
    ASSERT_FALSE(f.shift("other", 2, {"veterans"}).ec);
    f.clock.advance(1s);
    ASSERT_FALSE(f.enqueue("s1", {"grief", "addiction"}, {"en"}, risk::low, "PUB1").ec);
    auto report = wait_pass([&](auto h) { f.env.store.match_seeker("s1", h); });
    EXPECT_FALSE(report.ec);
    ASSERT_EQ(report.matches.size(), 1u);
    auto m = report.matches[0];
    EXPECT_EQ(m.session, "s1");
    EXPECT_EQ(m.peer_id, "best");
    EXPECT_EQ(m.prekey, "best-k0");
    EXPECT_FALSE(m.relaxed);
    EXPECT_EQ(m.shared_tags, (std::vector<std::string>{"grief", "addiction"}));
    EXPECT_EQ(m.payload, "PUB1");
    EXPECT_EQ(m.risk_level, risk::low);
    EXPECT_EQ(m.peer_active, 1);
    EXPECT_EQ(m.peer_capacity, 2);
    EXPECT_EQ(m.prekeys_left, 4);
    EXPECT_EQ(m.waited_s(), 0);
    // Delivered once through on_match too.
    ASSERT_EQ(f.env.matches.size(), 1u);
    EXPECT_EQ(f.env.matches.snapshot()[0].conversation_id, m.conversation_id);

    // Redis agrees.
    EXPECT_EQ(f.redis.command({"ZCARD", f.k("queue")}), "0");
    EXPECT_EQ(f.redis.command({"EXISTS", f.k("req:s1")}), "0");
    EXPECT_EQ(f.redis.command({"HGET", f.k("peer:best"), "active"}), "1");
    EXPECT_EQ(f.redis.command({"LRANGE", f.k("prekeys:best"), "0", "0"}), "best-k1");
    EXPECT_EQ(f.redis.command({"GET", f.k("seeker:s1")}), m.conversation_id);
    EXPECT_EQ(f.redis.command({"HGET", f.k("conv:" + m.conversation_id), "prekey"}), "best-k0");

    auto found = wait_for<match_record>([&](auto h) { f.env.store.find_match("s1", h); });
    ASSERT_FALSE(found.ec);
    EXPECT_EQ(found.value.conversation_id, m.conversation_id);
    EXPECT_EQ(found.value.peer_id, "best");
    auto got = wait_for<match_record>([&](auto h) { f.env.store.get_match(m.conversation_id, h); });
    EXPECT_EQ(got.value.session, "s1");
    EXPECT_EQ(wait_for<match_record>([&](auto h) { f.env.store.get_match("nope", h); }).ec,
              error::not_found);

    // In a conversation: a second request is a conflict.
    EXPECT_EQ(f.enqueue("s1", {"grief"}).ec, error::in_conversation);
}

TEST(MatchingStoreRedis, NothingToMatchLeavesTheRequestWaiting) {
    fixture f;
    ASSERT_FALSE(f.shift("spanish", 1, {"grief"}, 5, {"es"}).ec);
    ASSERT_FALSE(f.enqueue("s1", {"grief"}).ec);
    auto report = wait_pass([&](auto h) { f.env.store.match_seeker("s1", h); });
    EXPECT_FALSE(report.ec);
    EXPECT_TRUE(report.matches.empty());
    ASSERT_EQ(report.queue.size(), 1u);
    EXPECT_EQ(report.queue[0].session, "s1");
    EXPECT_EQ(report.next_relax_at_ms, f.clock.get() + 60'000);
    EXPECT_EQ(f.redis.command({"ZCARD", f.k("queue")}), "1");
}

// The claim script on its own: every refusal changes nothing; then a success.
TEST(MatchingStoreRedis, ClaimScriptRefusesEachBrokenRuleAndChangesNothing) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 1, {"grief"}, 2).ec);
    ASSERT_FALSE(f.enqueue("s", {"grief"}).ec);
    const std::string req_id = f.redis.command({"HGET", f.k("req:s"), "id"});
    const std::string shift_id = f.redis.command({"HGET", f.k("peer:p"), "shift"});
    ks::script claim{std::string(lua::claim)};

    auto run_claim = [&](std::string rid, std::string sid, std::string conv) {
        const auto now = std::to_string(f.clock.get());
        return wait_for<ks::reply>([&](auto h) {
            f.env.client.eval(claim,
                              {f.k("queue"), f.k("req:s"), f.k("peer:p"), f.k("alive:p"),
                               f.k("prekeys:p"), f.k("blocked:s"), f.k("conv:" + conv),
                               f.k("seeker:s"),
                               f.k("rate:" + std::to_string(f.clock.get() / 60000)),
                               f.k("stats_since"), f.k("cooldown:p")},
                              {"s", rid, "p", sid, conv, "0", "grief", now, "600000", "86400000",
                               "900000", "m:{match}:"},
                              h);
        });
    };
    auto state = [&] {
        std::string s;
        auto keys = f.redis.keys();
        std::sort(keys.begin(), keys.end());
        for (const auto& key : keys)
            s += key + ";";
        return s + f.redis.command({"HGETALL", f.k("peer:p")}) + "|" +
               f.redis.command({"LRANGE", f.k("prekeys:p"), "0", "-1"}) + "|" +
               f.redis.command({"ZRANGE", f.k("queue"), "0", "-1"});
    };
    auto expect_refused = [&](const char* why, std::string rid, std::string sid,
                              std::string conv = "cx") {
        const auto before = state();
        auto r = run_claim(rid, sid, conv);
        ASSERT_FALSE(r.ec) << why << ": " << r.ec.message();
        EXPECT_EQ(r.value.at(0).str(), "fail") << why;
        EXPECT_EQ(r.value.at(1).str(), why);
        EXPECT_EQ(state(), before) << why;
    };

    expect_refused("not_waiting", "wrong-request-id", shift_id);
    expect_refused("stale_shift", req_id, "old-shift");

    f.redis.command({"HSET", f.k("peer:p"), "state", "paused"});
    expect_refused("shift_not_on", req_id, shift_id);
    f.redis.command({"HSET", f.k("peer:p"), "state", "on"});

    f.redis.command({"DEL", f.k("alive:p")});
    expect_refused("not_present", req_id, shift_id);
    f.redis.command({"SET", f.k("alive:p"), "1"});

    f.redis.command({"SET", f.k("cooldown:p"), "1", "PX", "600000"});
    expect_refused("cooling_down", req_id, shift_id);
    f.redis.command({"DEL", f.k("cooldown:p")});

    f.redis.command({"HSET", f.k("peer:p"), "active", "1"});
    expect_refused("no_capacity", req_id, shift_id);
    f.redis.command({"HSET", f.k("peer:p"), "active", "0"});

    f.redis.command({"HSET", f.k("peer:p"), "end", std::to_string(f.clock.get() + 60'000)});
    expect_refused("shift_ending_soon", req_id, shift_id);
    f.redis.command({"HSET", f.k("peer:p"), "end", ""});

    f.redis.command({"SADD", f.k("blocked:s"), "p"});
    expect_refused("blocked", req_id, shift_id);
    f.redis.command({"DEL", f.k("blocked:s")});

    f.redis.command({"RENAME", f.k("prekeys:p"), f.k("stash")});
    expect_refused("no_prekey", req_id, shift_id);
    f.redis.command({"RENAME", f.k("stash"), f.k("prekeys:p")});

    f.redis.command({"HSET", f.k("conv:taken"), "session", "x"});
    expect_refused("conversation_exists", req_id, shift_id, "taken");

    auto ok = run_claim(req_id, shift_id, "c-ok");
    ASSERT_FALSE(ok.ec);
    EXPECT_EQ(ok.value.at(0).str(), "ok");
    EXPECT_EQ(ok.value.at(1).str(), "p-k0");
    EXPECT_EQ(ok.value.at(2).integer(), 1);
    // The same claim again: the request is gone.
    auto again = run_claim(req_id, shift_id, "c-again");
    EXPECT_EQ(again.value.at(1).str(), "not_waiting");
    EXPECT_EQ(f.redis.command({"HGET", f.k("peer:p"), "active"}), "1");
}

TEST(MatchingStoreRedis, PrekeysArePoppedOldestFirstAndCapped) {
    matching_options o;
    o.max_prekeys = 4;
    fixture f(o);
    auto n = wait_for<std::int64_t>([&](auto h) {
        f.env.store.add_prekeys("p", {"k1", "k2", "k3"}, h);
    });
    EXPECT_EQ(n.value, 3);
    n = wait_for<std::int64_t>([&](auto h) { f.env.store.add_prekeys("p", {"k4", "k5"}, h); });
    EXPECT_EQ(n.value, 4); // k1 dropped: only the newest max_prekeys are kept
    EXPECT_EQ(wait_for<std::int64_t>([&](auto h) { f.env.store.prekey_count("p", h); }).value, 4);
    EXPECT_EQ(wait_for<std::int64_t>([&](auto h) { f.env.store.add_prekeys("p", {}, h); }).ec,
              error::bad_input);

    ASSERT_FALSE(f.shift("p", 2, {"grief"}, 0).ec);
    f.enqueue("s1", {"grief"});
    f.clock.advance(1s);
    f.enqueue("s2", {"grief"});
    auto r = f.pass();
    ASSERT_EQ(r.matches.size(), 2u);
    EXPECT_EQ(r.matches[0].prekey, "k2");
    EXPECT_EQ(r.matches[1].prekey, "k3");
    EXPECT_EQ(f.redis.command({"LRANGE", f.k("prekeys:p"), "0", "-1"}), "k4\nk5");
}

TEST(MatchingStoreRedis, APeerWithoutPrekeysIsNotMatchedUntilItUploads) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 1, {"grief"}, 0).ec);
    f.enqueue("s1", {"grief"});
    EXPECT_TRUE(f.pass().matches.empty());
    ASSERT_FALSE(
        wait_for<std::int64_t>([&](auto h) { f.env.store.add_prekeys("p", {"fresh"}, h); }).ec);
    auto r = wait_pass([&](auto h) { f.env.store.match_peer("p", h); });
    ASSERT_EQ(r.matches.size(), 1u);
    EXPECT_EQ(r.matches[0].prekey, "fresh");
    EXPECT_EQ(r.matches[0].prekeys_left, 0);
}

TEST(MatchingStoreRedis, ReleaseFreesTheSlotOnceAndRecordsIdleSince) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 1, {"grief"}).ec);
    f.enqueue("s1", {"grief"});
    f.clock.advance(1s);
    f.enqueue("s2", {"grief"});
    auto first = f.pass();
    ASSERT_EQ(first.matches.size(), 1u);
    EXPECT_EQ(first.matches[0].session, "s1");
    ASSERT_EQ(first.queue.size(), 1u); // s2 waits: no capacity
    EXPECT_EQ(first.queue[0].session, "s2");
    EXPECT_EQ(first.queue[0].position, 1u);

    f.clock.advance(5s);
    auto rel = f.release(first.matches[0].conversation_id);
    ASSERT_FALSE(rel.ec);
    EXPECT_TRUE(rel.value.released_now);
    EXPECT_EQ(rel.value.session, "s1");
    EXPECT_EQ(rel.value.peer.peer_id, "p");
    EXPECT_EQ(rel.value.peer.active, 0);
    EXPECT_EQ(rel.value.peer.capacity, 1);
    EXPECT_EQ(f.redis.command({"HGET", f.k("peer:p"), "idle"}), std::to_string(f.clock.get()));
    EXPECT_EQ(f.redis.command({"EXISTS", f.k("seeker:s1")}), "0");

    // Again: no second slot is given back.
    auto again = f.release(first.matches[0].conversation_id);
    ASSERT_FALSE(again.ec);
    EXPECT_FALSE(again.value.released_now);
    EXPECT_EQ(f.redis.command({"HGET", f.k("peer:p"), "active"}), "0");
    EXPECT_EQ(f.release("unknown").ec, error::not_found);

    auto second = wait_pass([&](auto h) { f.env.store.match_peer("p", h); });
    ASSERT_EQ(second.matches.size(), 1u);
    EXPECT_EQ(second.matches[0].session, "s2");
    EXPECT_EQ(second.matches[0].waited_s(), 5); // enqueued 1 s in, matched 6 s in
}

TEST(MatchingStoreRedis, ShiftPauseResumeEndAndRestart) {
    fixture f;
    auto v = f.shift("p", 2, {"grief"});
    ASSERT_FALSE(v.ec);
    EXPECT_EQ(v.value.state, shift_status::on);
    EXPECT_EQ(v.value.capacity, 2);
    EXPECT_EQ(v.value.active, 0);

    auto paused = wait_for<peer_view>([&](auto h) { f.env.store.shift_pause("p", h); });
    EXPECT_EQ(paused.value.state, shift_status::paused);
    f.enqueue("s1", {"grief"});
    EXPECT_TRUE(f.pass().matches.empty());

    auto resumed = wait_for<peer_view>([&](auto h) { f.env.store.shift_resume("p", h); });
    EXPECT_EQ(resumed.value.state, shift_status::on);
    EXPECT_EQ(f.pass().matches.size(), 1u);

    auto ending = wait_for<peer_view>([&](auto h) { f.env.store.shift_end("p", h); });
    EXPECT_EQ(ending.value.state, shift_status::ending);
    EXPECT_EQ(ending.value.active, 1);
    f.enqueue("s2", {"grief"});
    EXPECT_TRUE(f.pass().matches.empty()); // ending: no new matches
    auto bad = wait_for<peer_view>([&](auto h) { f.env.store.shift_resume("p", h); });
    EXPECT_EQ(bad.ec, error::wrong_state);
    EXPECT_EQ(bad.value.state, shift_status::ending);

    auto conv = f.env.matches.snapshot().at(0).conversation_id;
    auto rel = f.release(conv);
    EXPECT_EQ(rel.value.peer.state, shift_status::off); // the last conversation ended
    EXPECT_EQ(f.redis.command({"SISMEMBER", f.k("peers"), "p"}), "0");

    // A new shift: a new shift id, and it matches again.
    auto again = f.shift("p", 1, {"grief"}, 0);
    ASSERT_FALSE(again.ec);
    EXPECT_NE(again.value.shift_id, v.value.shift_id);
    EXPECT_EQ(f.pass().matches.size(), 1u);

    EXPECT_EQ(wait_for<peer_view>([&](auto h) { f.env.store.shift_pause("nobody", h); }).ec,
              error::not_found);
    shift_request too_big;
    too_big.peer_id = "q";
    too_big.capacity = 6;
    too_big.languages = {"en"};
    EXPECT_EQ(wait_for<peer_view>([&](auto h) { f.env.store.shift_start(too_big, h); }).ec,
              error::bad_input);
}

TEST(MatchingStoreRedis, ShiftRestartKeepsConversationsInProgress) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 2, {"grief"}).ec);
    f.enqueue("s1", {"grief"});
    f.clock.advance(1s);
    f.enqueue("s2", {"grief"});
    ASSERT_EQ(f.pass().matches.size(), 2u);
    // Restart with capacity 1 while two conversations go on: not a single new match.
    auto v = f.shift("p", 1, {"grief"}, 0);
    EXPECT_EQ(v.value.active, 2);
    f.enqueue("s3", {"grief"});
    EXPECT_TRUE(f.pass().matches.empty());
}

TEST(MatchingStoreRedis, PresenceExpiryDropsAPeerOutOfMatching) {
    matching_options o;
    o.presence_ttl = 300ms;
    fixture f(o);
    ASSERT_FALSE(f.shift("p", 1, {"grief"}).ec);
    EXPECT_TRUE(f.peer("p").value.present);
    // Nobody refreshes it (its instance was killed): it lapses.
    ASSERT_TRUE(eventually([&] { return !f.peer("p").value.present; }, 5s));
    f.enqueue("s1", {"grief"});
    auto r = f.pass();
    EXPECT_TRUE(r.matches.empty());
    // With no conversation left, the pass also took it off the shift list.
    EXPECT_EQ(f.peer("p").value.shift, shift_status::off);
    // A refresh does not revive an ended shift; a new shift_start does.
    EXPECT_FALSE(wait_done([&](auto h) { f.env.store.refresh_presence({"p"}, {}, h); }));
    EXPECT_FALSE(f.peer("p").value.present);
    ASSERT_FALSE(f.shift("p", 1, {"grief"}, 0).ec);
    EXPECT_EQ(f.pass().matches.size(), 1u);
}

TEST(MatchingStoreRedis, RefreshedPresenceKeepsAPeerMatchable) {
    matching_options o;
    o.presence_ttl = 1000ms;
    fixture f(o);
    ASSERT_FALSE(f.shift("p", 1, {"grief"}).ec);
    // Refresh several times across what would have been the expiry.
    for (int i = 0; i < 8; ++i) {
        std::this_thread::sleep_for(200ms);
        ASSERT_FALSE(wait_done([&](auto h) { f.env.store.refresh_presence({"p"}, {}, h); }));
    }
    EXPECT_TRUE(f.peer("p").value.present);
    f.enqueue("s1", {"grief"});
    EXPECT_EQ(f.pass().matches.size(), 1u);
}

TEST(MatchingStoreRedis, AnUnrefreshedRequestLeavesTheQueue) {
    matching_options o;
    o.request_ttl = 1000ms;
    fixture f(o);
    f.enqueue("kept", {"grief"});
    f.enqueue("gone", {"grief"});
    for (int i = 0; i < 6; ++i) {
        ASSERT_FALSE(wait_done([&](auto h) { f.env.store.refresh_presence({}, {"kept"}, h); }));
        std::this_thread::sleep_for(250ms);
    }
    ASSERT_TRUE(eventually(
        [&] {
            return wait_for<queue_entry>([&](auto h) { f.env.store.position("gone", h); }).ec ==
                   error::not_waiting;
        },
        5s));
    EXPECT_EQ(f.redis.command({"ZSCORE", f.k("queue"), "gone"}), "(nil)"); // pruned
    ASSERT_FALSE(wait_done([&](auto h) { f.env.store.refresh_presence({}, {"kept"}, h); }));
    EXPECT_EQ(
        wait_for<queue_entry>([&](auto h) { f.env.store.position("kept", h); }).value.position, 1u);
}

TEST(MatchingStoreRedis, ABlockedSeekerGoesToAnotherPeer) {
    fixture f;
    ASSERT_FALSE(f.shift("a", 1, {"grief"}).ec);
    f.clock.advance(1s);
    ASSERT_FALSE(f.shift("b", 1, {"grief"}).ec); // idle for less time than a: ranked second
    EXPECT_FALSE(wait_done([&](auto h) { f.env.store.block("a", "s1", h); }));
    f.enqueue("s1", {"grief"});
    auto r = f.pass();
    ASSERT_EQ(r.matches.size(), 1u);
    EXPECT_EQ(r.matches[0].peer_id, "b");
    EXPECT_EQ(f.redis.command({"SISMEMBER", f.k("blocked:s1"), "a"}), "1");
    EXPECT_NE(f.redis.command({"PTTL", f.k("blocked:s1")}), "-1");
}

TEST(MatchingStoreRedis, RequeueGoesAheadOfEqualRiskSeekers) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 1, {"grief"}).ec);
    f.enqueue("s1", {"grief"}, {"en"}, risk::low, "PUB-OLD");
    auto first = f.pass();
    ASSERT_EQ(first.matches.size(), 1u);
    const auto conv = first.matches[0].conversation_id;
    f.clock.advance(1s);
    f.enqueue("s2", {"grief"}, {"en"}, risk::low);
    f.clock.advance(1s);
    f.enqueue("s3", {"grief"}, {"en"}, risk::medium);

    // The peer vanished: the conversation ends, s1 goes back in, ahead of s2 but not of s3.
    ASSERT_FALSE(f.release(conv).ec);
    requeue_options ro;
    ro.payload = "PUB-NEW";
    // release above freed p: match_peer would run now in the server; hold it to look first.
    auto q = wait_for<queue_entry>([&](auto h) { f.env.store.requeue(conv, ro, h); });
    ASSERT_FALSE(q.ec) << q.ec.message();
    EXPECT_EQ(q.value.session, "s1");
    EXPECT_EQ(q.value.position, 2u);
    EXPECT_EQ(wait_for<queue_entry>([&](auto h) { f.env.store.requeue(conv, {}, h); }).ec,
              error::already_requeued);
    EXPECT_EQ(f.redis.command({"HGET", f.k("req:s1"), "first"}), "1");
    EXPECT_EQ(f.redis.command({"HGET", f.k("req:s1"), "risk"}), "low");

    auto r = f.pass();
    ASSERT_EQ(r.matches.size(), 1u);
    EXPECT_EQ(r.matches[0].session, "s3"); // higher risk still first
    ASSERT_FALSE(f.release(r.matches[0].conversation_id).ec);
    r = f.pass();
    ASSERT_EQ(r.matches.size(), 1u);
    EXPECT_EQ(r.matches[0].session, "s1"); // then the re-queued one, before s2
    EXPECT_TRUE(r.matches[0].requeued_first);
    EXPECT_EQ(r.matches[0].payload, "PUB-NEW");
}

TEST(MatchingStoreRedis, RequeueWithAvoidPeerReachesSomeoneElse) {
    fixture f;
    ASSERT_FALSE(f.shift("a", 2, {"grief"}).ec);
    f.enqueue("s1", {"grief"});
    auto first = f.pass();
    ASSERT_EQ(first.matches.size(), 1u);
    const auto conv = first.matches[0].conversation_id;
    // Transfer: requeue before release (either order works), avoiding the peer.
    requeue_options ro;
    ro.avoid_peer = true;
    auto q = wait_for<queue_entry>([&](auto h) { f.env.store.requeue(conv, ro, h); });
    ASSERT_FALSE(q.ec) << q.ec.message();
    ASSERT_FALSE(f.release(conv).ec);
    EXPECT_TRUE(f.pass().matches.empty()); // only a is on shift, and a is avoided
    ASSERT_FALSE(f.shift("b", 1, {"grief"}).ec);
    auto r = wait_pass([&](auto h) { f.env.store.match_peer("b", h); });
    ASSERT_EQ(r.matches.size(), 1u);
    EXPECT_EQ(r.matches[0].peer_id, "b");
    EXPECT_EQ(r.matches[0].session, "s1");
}

TEST(MatchingStoreRedis, RelaxationAfterTheConfiguredWait) {
    matching_options o;
    o.policy.relax_after = 30s;
    fixture f(o);
    ASSERT_FALSE(f.shift("veteran", 1, {"veterans"}).ec);
    f.enqueue("s1", {"grief"});
    auto before = wait_pass([&](auto h) { f.env.store.match_seeker("s1", h); });
    EXPECT_TRUE(before.matches.empty());
    ASSERT_TRUE(before.next_relax_at_ms);
    f.clock.advance(29'999ms);
    EXPECT_TRUE(f.pass().matches.empty());
    f.clock.advance(1ms);
    auto after = f.pass();
    ASSERT_EQ(after.matches.size(), 1u);
    EXPECT_TRUE(after.matches[0].relaxed);
    EXPECT_TRUE(after.matches[0].shared_tags.empty());
    EXPECT_EQ(f.redis.command({"HGET", f.k("conv:" + after.matches[0].conversation_id), "relaxed"}),
              "1");
}

TEST(MatchingStoreRedis, RelaxedDuePassUsesTheGivenTime) {
    matching_options o;
    o.policy.relax_after = 30s;
    fixture f(o);
    ASSERT_FALSE(f.shift("veteran", 1, {"veterans"}).ec);
    f.enqueue("s1", {"grief"});
    auto r = wait_pass([&](auto h) { f.env.store.match_relaxed_due(f.clock.get() + 30'000, h); });
    ASSERT_EQ(r.matches.size(), 1u);
    EXPECT_TRUE(r.matches[0].relaxed);
}

TEST(MatchingStoreRedis, WaitEstimateComesFromRecordedMatches) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 5, {"grief"}, 10).ec);
    // Four grief matches over 40 s of statistics.
    for (int i = 0; i < 4; ++i) {
        f.enqueue("m" + std::to_string(i), {"grief"});
        ASSERT_EQ(f.pass().matches.size(), 1u);
        f.clock.advance(10s);
    }
    // Counted per minute, in running counters (no list of matches to read back).
    std::int64_t counted = 0;
    for (const auto& key : f.redis.keys()) {
        if (key.rfind(f.k("rate:"), 0) == 0)
            counted += std::stoll(f.redis.command({"HGET", key, "en|grief"}));
    }
    EXPECT_EQ(counted, 4);
    ASSERT_FALSE(wait_for<peer_view>([&](auto h) { f.env.store.shift_pause("p", h); }).ec);
    auto a = f.enqueue("a", {"grief"});
    auto b = f.enqueue("b", {"grief"});
    ASSERT_TRUE(a.value.estimated_wait_s);
    // 4 matches in 40 s: one every 10 s; second in line waits twice as long.
    EXPECT_EQ(*a.value.estimated_wait_s, 10);
    EXPECT_EQ(b.value.estimated_wait_s, 20);
    // Nothing comparable for Spanish: unknown.
    EXPECT_EQ(f.enqueue("c", {"grief"}, {"es"}).value.estimated_wait_s, std::nullopt);
    // No session or peer id in the statistics.
    for (const auto& key : f.redis.keys()) {
        if (key.rfind(f.k("rate:"), 0) != 0) continue;
        const auto stats = f.redis.command({"HGETALL", key});
        EXPECT_EQ(stats.find("m0"), std::string::npos);
        EXPECT_EQ(stats.find("|p|"), std::string::npos);
    }
}

TEST(MatchingStoreRedis, CoalescedPassesServeEveryCaller) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 5, {"grief"}, 10).ec);
    for (int i = 0; i < 5; ++i)
        f.enqueue("s" + std::to_string(i), {"grief"});
    // Many callers at once: every handler runs, the five matches are made once.
    std::vector<std::future<sweep_report>> reports;
    std::vector<std::shared_ptr<std::promise<sweep_report>>> promises;
    for (int i = 0; i < 20; ++i) {
        auto p = std::make_shared<std::promise<sweep_report>>();
        reports.push_back(p->get_future());
        promises.push_back(p);
        f.env.store.match_seeker("s" + std::to_string(i % 5),
                                 [p](const sweep_report& r) { p->set_value(r); });
    }
    for (auto& r : reports)
        ASSERT_EQ(r.wait_for(20s), std::future_status::ready);
    EXPECT_EQ(f.env.matches.size(), 5u);
    EXPECT_EQ(f.redis.command({"HGET", f.k("peer:p"), "active"}), "5");
}

TEST(MatchingStoreRedis, RedisDownAnswersAnErrorFast) {
    fixture f;
    f.redis.stop();
    ASSERT_TRUE(eventually([&] { return !f.env.client.connected(); }, 5s));
    auto r = f.enqueue("s1", {"grief"});
    EXPECT_TRUE(r.ec);
    EXPECT_EQ(r.ec.category(), ks::store_category());
    auto pass = f.pass();
    EXPECT_TRUE(pass.ec);
}

// --- peer wellbeing cooldown (issue #5) -----------------------------------------------------

TEST(MatchingStoreRedis, CooldownOnlyGrowsAndIsReported) {
    fixture f;
    EXPECT_EQ(f.cooldown_left("p").value, 0ms); // none
    ASSERT_FALSE(f.cool("p", 10min));
    auto left = f.cooldown_left("p");
    ASSERT_FALSE(left.ec);
    EXPECT_GT(left.value, 9min);
    EXPECT_LE(left.value, 10min);
    // A shorter one does not shorten it; a longer one extends it.
    ASSERT_FALSE(f.cool("p", 1s));
    EXPECT_GT(f.cooldown_left("p").value, 9min);
    ASSERT_FALSE(f.cool("p", 20min));
    EXPECT_GT(f.cooldown_left("p").value, 19min);
    EXPECT_EQ(f.redis.command({"GET", f.k("cooldown:p")}), "1");
    // Invalid arguments answer at once and write nothing.
    EXPECT_EQ(f.cool("q", 0ms), error::bad_input);
    EXPECT_EQ(f.cool("q", -5s), error::bad_input);
    EXPECT_EQ(f.cool("", 1min), error::bad_input);
    EXPECT_EQ(f.cooldown_left("").ec, error::bad_input);
    EXPECT_EQ(f.redis.command({"EXISTS", f.k("cooldown:q")}), "0");
    // peer() reports it as the policy sees it.
    ASSERT_FALSE(f.shift("p", 1, {"grief"}).ec);
    ASSERT_FALSE(f.shift("q", 1, {"grief"}).ec);
    EXPECT_TRUE(f.peer("p").value.cooling_down);
    EXPECT_FALSE(f.peer("q").value.cooling_down);
}

TEST(MatchingStoreRedis, ACoolingPeerIsNotMatchedWhileAnotherEligiblePeerIs) {
    fixture f;
    ASSERT_FALSE(f.shift("cool", 2, {"grief", "addiction"}).ec); // idle longest, more tags
    f.clock.advance(1s);
    ASSERT_FALSE(f.shift("warm", 2, {"grief"}).ec);
    ASSERT_FALSE(f.cool("cool", 10min));
    f.enqueue("s1", {"grief", "addiction"}, {"en"}, risk::imminent);
    f.clock.advance(1s);
    f.enqueue("s2", {"grief"});
    auto r = wait_pass([&](auto h) { f.env.store.match_seeker("s1", h); });
    EXPECT_FALSE(r.ec);
    ASSERT_EQ(r.matches.size(), 2u);
    for (const auto& m : r.matches)
        EXPECT_EQ(m.peer_id, "warm") << m.session;
    EXPECT_EQ(r.conflicts, 0u); // the snapshot told the plan: no refused claim
    EXPECT_EQ(f.redis.command({"HGET", f.k("peer:cool"), "active"}), "0");
    EXPECT_EQ(f.redis.command({"LLEN", f.k("prekeys:cool")}), "5");
}

TEST(MatchingStoreRedis, ConversationsInProgressGoOnDuringACooldown) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 2, {"grief"}).ec);
    f.enqueue("s1", {"grief"});
    auto first = f.pass();
    ASSERT_EQ(first.matches.size(), 1u);
    const auto conv = first.matches[0].conversation_id;
    // The escalation in that conversation: cooldown. The conversation is untouched.
    ASSERT_FALSE(f.cool("p", 10min));
    EXPECT_EQ(f.redis.command({"HGET", f.k("conv:" + conv), "released"}), "0");
    EXPECT_EQ(wait_for<match_record>([&](auto h) {
                  f.env.store.find_match("s1", h);
              }).value.conversation_id,
              conv);
    f.enqueue("s2", {"grief"});
    EXPECT_TRUE(f.pass().matches.empty()); // a free slot, but cooling down
    auto released = f.release(conv);
    ASSERT_FALSE(released.ec);
    EXPECT_TRUE(released.value.released_now);
    EXPECT_EQ(released.value.peer.active, 0);
    EXPECT_TRUE(wait_pass([&](auto h) { f.env.store.match_peer("p", h); }).matches.empty());
}

TEST(MatchingStoreRedis, APendingSeekerStaysQueuedWhileTheOnlyPeerCoolsDown) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 3, {"grief"}).ec);
    ASSERT_FALSE(f.cool("p", 10min));
    auto q = f.enqueue("s1", {"grief"}, {"en"}, risk::high);
    ASSERT_FALSE(q.ec);
    EXPECT_EQ(q.value.position, 1u);
    auto r = wait_pass([&](auto h) { f.env.store.match_seeker("s1", h); });
    EXPECT_FALSE(r.ec);
    EXPECT_TRUE(r.matches.empty());
    // Planned nothing rather than claiming and being refused: one snapshot, no conflict.
    EXPECT_EQ(r.rounds, 1u);
    EXPECT_EQ(r.conflicts, 0u);
    EXPECT_FALSE(r.gave_up);
    ASSERT_EQ(r.queue.size(), 1u);
    EXPECT_EQ(r.queue[0].session, "s1");
    // Relaxation does not lift it either.
    f.clock.advance(2min);
    EXPECT_TRUE(f.pass().matches.empty());
    EXPECT_EQ(wait_for<queue_entry>([&](auto h) { f.env.store.position("s1", h); }).value.position,
              1u);
    EXPECT_EQ(f.redis.command({"ZCARD", f.k("queue")}), "1");
    EXPECT_EQ(f.env.matches.size(), 0u);
}

TEST(MatchingStoreRedis, AfterTheCooldownThePeriodicPassMatchesThePeerAgain) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 1, {"grief"}).ec);
    // Short, so the test can wait it out (Redis expires it on its own clock).
    ASSERT_FALSE(f.cool("p", 300ms));
    f.enqueue("s1", {"grief"});
    // The pass right after the enqueue finds nothing: the seeker waits.
    auto before = wait_pass([&](auto h) { f.env.store.match_seeker("s1", h); });
    ASSERT_FALSE(before.ec);
    ASSERT_TRUE(before.matches.empty());
    // Nothing happens when the key lapses by itself (no event, no pass) ...
    ASSERT_TRUE(eventually([&] { return f.cooldown_left("p").value == 0ms; }, 5s));
    EXPECT_EQ(f.redis.command({"EXISTS", f.k("cooldown:p")}), "0");
    EXPECT_EQ(f.env.matches.size(), 0u);
    EXPECT_EQ(f.redis.command({"ZCARD", f.k("queue")}), "1");
    // ... until the server's periodic pass (match_relaxed_due, every ~1 s): a full pass.
    auto after = wait_pass([&](auto h) { f.env.store.match_relaxed_due(0, h); });
    ASSERT_FALSE(after.ec);
    ASSERT_EQ(after.matches.size(), 1u);
    EXPECT_EQ(after.matches[0].session, "s1");
    EXPECT_EQ(after.matches[0].peer_id, "p");
    EXPECT_FALSE(after.matches[0].relaxed); // not a relaxation: the request is 0 s old
    EXPECT_EQ(f.env.matches.size(), 1u);
}

// Issue #7: a position comes from the seeker-order index qo:<language> (no read of the
// queue), and must say what the full queue view says, also for a request in two languages.
TEST(MatchingStoreRedis, QueuePositionFromTheIndexMatchesTheQueueView) {
    fixture f;
    EXPECT_EQ(f.enqueue("a", {"grief"}, {"en"}).value.position, 1u);
    f.clock.advance(1s);
    EXPECT_EQ(f.enqueue("b", {"grief"}, {"de"}).value.position, 1u);
    f.clock.advance(1s);
    EXPECT_EQ(f.enqueue("c", {"grief"}, {"en", "de"}).value.position, 3u); // a and b ahead
    f.clock.advance(1s);
    EXPECT_EQ(f.enqueue("d", {"grief"}, {"de"}, risk::high).value.position, 1u);
    f.clock.advance(1s);
    EXPECT_EQ(f.enqueue("e", {"grief"}, {"en"}).value.position, 3u); // a and c, not b or d

    auto all = wait_for<std::vector<queue_entry>>([&](auto h) { f.env.store.queue(h); });
    ASSERT_EQ(all.value.size(), 5u);
    for (const auto& q : all.value) {
        auto one = wait_for<queue_entry>([&](auto h) { f.env.store.position(q.session, h); });
        ASSERT_FALSE(one.ec) << q.session;
        EXPECT_EQ(one.value.position, q.position) << q.session;
    }
    // Leaving the queue leaves the index too.
    EXPECT_FALSE(wait_done([&](auto h) { f.env.store.cancel("a", h); }));
    EXPECT_EQ(f.redis.command({"ZSCORE", f.k("qo:en"), "a"}), "(nil)");
    EXPECT_EQ(wait_for<queue_entry>([&](auto h) { f.env.store.position("c", h); }).value.position,
              3u); // d (high risk) and b, both German
    EXPECT_EQ(wait_for<queue_entry>([&](auto h) { f.env.store.position("e", h); }).value.position,
              2u);
}

// Issue #7: the free-slot zsets hold exactly the peers on shift with a free slot.
TEST(MatchingStoreRedis, FreeSlotIndexFollowsShiftsClaimsAndReleases) {
    fixture f;
    ASSERT_FALSE(f.shift("p", 2, {"grief"}).ec);
    auto indexed = [&] {
        const bool by_tag = f.redis.command({"ZSCORE", f.k("pf:en|grief"), "p"}) != "(nil)";
        const bool by_language = f.redis.command({"ZSCORE", f.k("pf:en"), "p"}) != "(nil)";
        EXPECT_EQ(by_tag, by_language);
        return by_tag;
    };
    EXPECT_TRUE(indexed());
    f.enqueue("s1", {"grief"});
    auto first = f.pass();
    ASSERT_EQ(first.matches.size(), 1u);
    EXPECT_TRUE(indexed()); // 1 of 2
    f.clock.advance(1s);
    f.enqueue("s2", {"grief"});
    ASSERT_EQ(f.pass().matches.size(), 1u);
    EXPECT_FALSE(indexed()); // full
    ASSERT_FALSE(f.release(first.matches[0].conversation_id).ec);
    EXPECT_TRUE(indexed());
    ASSERT_FALSE(wait_for<peer_view>([&](auto h) { f.env.store.shift_pause("p", h); }).ec);
    EXPECT_FALSE(indexed());
    ASSERT_FALSE(wait_for<peer_view>([&](auto h) { f.env.store.shift_resume("p", h); }).ec);
    EXPECT_TRUE(indexed());
    // A new shift with other tags leaves the old tag's zset.
    ASSERT_FALSE(f.shift("p", 2, {"anxiety"}, 0).ec);
    EXPECT_EQ(f.redis.command({"ZSCORE", f.k("pf:en|grief"), "p"}), "(nil)");
    EXPECT_NE(f.redis.command({"ZSCORE", f.k("pf:en|anxiety"), "p"}), "(nil)");
    ASSERT_FALSE(wait_for<peer_view>([&](auto h) { f.env.store.shift_end("p", h); }).ec);
    EXPECT_EQ(f.redis.command({"ZSCORE", f.k("pf:en|anxiety"), "p"}), "(nil)"); // ending
}

// Issue #7: a pass reads candidates for the waiting requests, not every peer on shift, and
// still picks the policy's best (least loaded, then idle longest).
TEST(MatchingStoreRedis, APassReadsCandidatesNotEveryPeer) {
    fixture f;
    constexpr int peers = 200;
    for (int i = 0; i < peers; ++i) {
        char id[8];
        std::snprintf(id, sizeof id, "p%03d", i);
        ASSERT_FALSE(f.shift(id, 2, {"grief"}, 2).ec);
        f.clock.advance(1ms);
    }
    f.enqueue("warm", {"grief"});
    ASSERT_EQ(f.pass().matches.size(), 1u); // p000: idle longest
    f.clock.advance(1s);
    f.enqueue("s1", {"grief"});
    f.redis.command({"CONFIG", "RESETSTAT"});
    auto r = f.pass();
    ASSERT_EQ(r.matches.size(), 1u);
    EXPECT_EQ(r.matches[0].peer_id, "p001"); // p000 now carries one: more loaded
    // Commands run inside scripts are counted too; before the index every peer was read.
    const auto stats = f.redis.command({"INFO", "commandstats"});
    const auto at = stats.find("cmdstat_hmget:calls=");
    ASSERT_NE(at, std::string::npos);
    const auto hmgets = std::stoi(stats.substr(at + std::strlen("cmdstat_hmget:calls=")));
    std::cout << "HMGETs for one pass with " << peers << " peers on shift: " << hmgets << "\n";
    EXPECT_LT(hmgets, peers / 2);
}
