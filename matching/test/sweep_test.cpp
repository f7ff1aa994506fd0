// sweep_test.cpp — the matching pass state machine driven by hand (label: unit): snapshot →
// plan → claims → done, a refused claim leads to a fresh snapshot, bounded rounds, Redis
// errors stop the pass and mark the claim uncertain, what the report says is left, and a
// cooling-down peer is not planned (so a pass does not spin on claims that will be refused).
#include <kindred/matching/sweep.hpp>

#include <gtest/gtest.h>

using namespace kindred::matching;
using namespace std::chrono_literals;

namespace {

seeker_request request(std::string session, std::int64_t at, std::string id) {
    seeker_request r;
    r.session = std::move(session);
    r.tags = {"grief"};
    r.languages = {"en"};
    r.enqueued_at_ms = at;
    r.request_id = std::move(id);
    return r;
}

peer_state peer(std::string id, int capacity, std::string shift) {
    peer_state p;
    p.peer_id = std::move(id);
    p.shift = shift_status::on;
    p.capacity = capacity;
    p.tags = {"grief"};
    p.languages = {"en"};
    p.prekeys = 5;
    p.shift_id = std::move(shift);
    return p;
}

sweep::config config(std::size_t rounds = 3) {
    sweep::config c;
    c.policy.relax_after = 60s;
    c.max_rounds = rounds;
    return c;
}

claim_result success(const claim_order& o, std::string conv) {
    claim_result r;
    r.conversation_id = conv;
    match_record m;
    m.conversation_id = std::move(conv);
    m.session = o.pick.session;
    m.peer_id = o.pick.peer_id;
    r.match = std::move(m);
    return r;
}

claim_result refused(std::string conv, claim_failure f) {
    claim_result r;
    r.conversation_id = std::move(conv);
    r.failure = f;
    return r;
}

} // namespace

TEST(Sweep, EmptySnapshotIsDoneAtOnce) {
    sweep s(config());
    EXPECT_EQ(s.start(), sweep::step::snapshot);
    EXPECT_EQ(s.on_snapshot({}, 1000), sweep::step::done);
    EXPECT_EQ(s.report().rounds, 1u);
    EXPECT_TRUE(s.report().matches.empty());
    EXPECT_FALSE(s.report().ec);
    EXPECT_FALSE(s.report().gave_up);
}

TEST(Sweep, ClaimsCarryTheVersionsTheSnapshotSaw) {
    sweep s(config());
    s.start();
    snapshot snap;
    snap.waiting = {request("s1", 0, "req-7"), request("s2", 10, "req-8")};
    snap.peers = {peer("p", 2, "shift-3")};
    ASSERT_EQ(s.on_snapshot(snap, 1000), sweep::step::claim);
    ASSERT_EQ(s.claims().size(), 2u);
    EXPECT_EQ(s.claims()[0].pick.session, "s1");
    EXPECT_EQ(s.claims()[0].request_id, "req-7");
    EXPECT_EQ(s.claims()[0].shift_id, "shift-3");
    EXPECT_EQ(s.claims()[1].request_id, "req-8");
    auto a = success(s.claims()[0], "c1");
    auto b = success(s.claims()[1], "c2");
    EXPECT_EQ(s.on_claims({a, b}), sweep::step::done);
    EXPECT_EQ(s.report().matches.size(), 2u);
    EXPECT_TRUE(s.report().queue.empty());
    EXPECT_EQ(s.report().conflicts, 0u);
}

TEST(Sweep, ARefusedClaimTakesAFreshSnapshot) {
    sweep s(config());
    s.start();
    snapshot snap;
    snap.waiting = {request("s1", 0, "r1"), request("s2", 10, "r2")};
    snap.peers = {peer("p", 2, "sh")};
    ASSERT_EQ(s.on_snapshot(snap, 1000), sweep::step::claim);
    auto ok = success(s.claims()[0], "c1");
    EXPECT_EQ(s.on_claims({ok, refused("c2", claim_failure::no_capacity)}), sweep::step::snapshot);
    // The world changed: s2 was matched elsewhere.
    EXPECT_EQ(s.on_snapshot({}, 1100), sweep::step::done);
    EXPECT_EQ(s.report().rounds, 2u);
    EXPECT_EQ(s.report().conflicts, 1u);
    EXPECT_EQ(s.report().matches.size(), 1u);
    EXPECT_FALSE(s.report().gave_up);
}

TEST(Sweep, GivesUpAfterMaxRounds) {
    sweep s(config(2));
    s.start();
    snapshot snap;
    snap.waiting = {request("s1", 0, "r1")};
    snap.peers = {peer("p", 1, "sh")};
    ASSERT_EQ(s.on_snapshot(snap, 1000), sweep::step::claim);
    ASSERT_EQ(s.on_claims({refused("c1", claim_failure::not_waiting)}), sweep::step::snapshot);
    ASSERT_EQ(s.on_snapshot(snap, 1001), sweep::step::claim);
    EXPECT_EQ(s.on_claims({refused("c2", claim_failure::stale_shift)}), sweep::step::done);
    EXPECT_TRUE(s.report().gave_up);
    EXPECT_EQ(s.report().conflicts, 2u);
    // What is left is still reported, with its place.
    ASSERT_EQ(s.report().queue.size(), 1u);
    EXPECT_EQ(s.report().queue[0].session, "s1");
    EXPECT_EQ(s.report().queue[0].position, 1u);
}

TEST(Sweep, RedisErrorStopsThePassAndMarksTheClaimUncertain) {
    sweep s(config());
    s.start();
    snapshot snap;
    snap.waiting = {request("s1", 0, "r1"), request("s2", 1, "r2")};
    snap.peers = {peer("p", 2, "sh")};
    ASSERT_EQ(s.on_snapshot(snap, 1000), sweep::step::claim);
    claim_result lost;
    lost.conversation_id = "c2";
    lost.ec = make_error_code(boost::system::errc::timed_out);
    auto ok = success(s.claims()[0], "c1");
    EXPECT_EQ(s.on_claims({ok, lost}), sweep::step::done);
    EXPECT_TRUE(s.report().ec);
    EXPECT_EQ(s.report().matches.size(), 1u);
    EXPECT_EQ(s.report().uncertain, (std::vector<std::string>{"c2"}));
    EXPECT_TRUE(s.report().queue.empty());
}

TEST(Sweep, SnapshotErrorIsDone) {
    sweep s(config());
    s.start();
    EXPECT_EQ(s.on_snapshot_error(make_error_code(boost::system::errc::connection_reset)),
              sweep::step::done);
    EXPECT_TRUE(s.report().ec);
}

TEST(Sweep, ReportsWhatIsLeftAndWhenTheNextRequestRelaxes) {
    sweep s(config());
    s.start();
    snapshot snap;
    snap.waiting = {request("s1", 0, "r1"), request("s2", 5000, "r2"), request("s3", 9000, "r3")};
    snap.waiting[1].tags = {"veterans"}; // nobody shares it: waits for relaxation
    snap.waiting[2].tags = {"veterans"};
    snap.peers = {peer("p", 3, "sh")};
    ASSERT_EQ(s.on_snapshot(snap, 10'000), sweep::step::claim);
    ASSERT_EQ(s.claims().size(), 1u);
    EXPECT_EQ(s.on_claims({success(s.claims()[0], "c1")}), sweep::step::done);
    ASSERT_EQ(s.report().queue.size(), 2u);
    EXPECT_EQ(s.report().queue[0].session, "s2");
    EXPECT_EQ(s.report().queue[0].position, 1u);
    EXPECT_EQ(s.report().queue[1].position, 2u);
    EXPECT_EQ(s.report().next_relax_at_ms, 65'000);
}

TEST(Sweep, ACoolingPeerIsNotClaimedAnotherPeerIs) {
    sweep s(config());
    s.start();
    snapshot snap;
    snap.waiting = {request("s1", 0, "r1")};
    snap.peers = {peer("cool", 1, "sh-c"), peer("warm", 1, "sh-w")};
    snap.peers[0].cooling_down = true; // "cool" < "warm": it would be ranked first
    ASSERT_EQ(s.on_snapshot(snap, 1000), sweep::step::claim);
    ASSERT_EQ(s.claims().size(), 1u);
    EXPECT_EQ(s.claims()[0].pick.peer_id, "warm");
    EXPECT_EQ(s.claims()[0].shift_id, "sh-w");
    EXPECT_EQ(s.on_claims({success(s.claims()[0], "c1")}), sweep::step::done);
    EXPECT_EQ(s.report().matches.size(), 1u);
    EXPECT_EQ(s.report().conflicts, 0u);
}

TEST(Sweep, OnlyACoolingPeerLeavesTheSeekerQueuedWithoutAClaim) {
    sweep s(config());
    s.start();
    snapshot snap;
    snap.waiting = {request("s1", 0, "r1")};
    snap.peers = {peer("cool", 3, "sh")};
    snap.peers[0].cooling_down = true;
    // Nothing to claim: done after one snapshot, no refusal, no second round.
    EXPECT_EQ(s.on_snapshot(snap, 1000), sweep::step::done);
    EXPECT_TRUE(s.claims().empty());
    EXPECT_EQ(s.report().rounds, 1u);
    EXPECT_EQ(s.report().conflicts, 0u);
    EXPECT_FALSE(s.report().gave_up);
    ASSERT_EQ(s.report().queue.size(), 1u);
    EXPECT_EQ(s.report().queue[0].session, "s1");
    EXPECT_EQ(s.report().queue[0].position, 1u);
}

TEST(Sweep, ACooldownThatStartedAfterTheSnapshotIsAConflict) {
    // The claim script refused (the cooldown began after the snapshot); the next snapshot
    // reports it, so the pass ends instead of claiming again.
    sweep s(config());
    s.start();
    snapshot snap;
    snap.waiting = {request("s1", 0, "r1")};
    snap.peers = {peer("p", 1, "sh")};
    ASSERT_EQ(s.on_snapshot(snap, 1000), sweep::step::claim);
    EXPECT_EQ(s.on_claims({refused("c1", claim_failure::cooling_down)}), sweep::step::snapshot);
    snap.peers[0].cooling_down = true;
    EXPECT_EQ(s.on_snapshot(snap, 1001), sweep::step::done);
    EXPECT_EQ(s.report().rounds, 2u);
    EXPECT_EQ(s.report().conflicts, 1u);
    EXPECT_FALSE(s.report().gave_up);
    EXPECT_EQ(s.report().queue.size(), 1u);
    EXPECT_STREQ(to_string(claim_failure::cooling_down), "cooling_down");
}

TEST(QueueView, EstimatesFromTheSnapshotStatistics) {
    snapshot snap;
    snap.waiting = {request("s1", 0, "r1"), request("s2", 100, "r2")};
    for (int i = 0; i < 4; ++i)
        snap.recent.push_back({1'000'000 - i * 1000, 3000, {"en"}, {"grief"}, false});
    snap.stats_since_ms = 1'000'000 - 40'000; // 4 matches in 40 s: one every 10 s
    estimate_config ec;
    ec.window = 10min;
    auto view = queue_view(snap, 1'000'000, policy_config{}, ec);
    ASSERT_EQ(view.size(), 2u);
    EXPECT_EQ(view[0].estimated_wait_s, 10);
    EXPECT_EQ(view[1].estimated_wait_s, 20);
    auto without_s1 = queue_view(snap, 1'000'000, policy_config{}, ec, {"s1"});
    ASSERT_EQ(without_s1.size(), 1u);
    EXPECT_EQ(without_s1[0].session, "s2");
    EXPECT_EQ(without_s1[0].position, 1u);
}

// Issue #7: counts kept by the store give the same estimate as the list of recent matches.
TEST(QueueView, CountedRatesGiveTheSameEstimates) {
    snapshot snap;
    snap.waiting = {request("s1", 0, "r1"), request("s2", 100, "r2")};
    snap.counts["s1"] = {4, 4};
    snap.counts["s2"] = {4, 4};
    snap.stats_since_ms = 1'000'000 - 40'000; // 4 matches in 40 s: one every 10 s
    estimate_config ec;
    ec.window = 10min;
    auto view = queue_view(snap, 1'000'000, policy_config{}, ec);
    ASSERT_EQ(view.size(), 2u);
    EXPECT_EQ(view[0].estimated_wait_s, 10);
    EXPECT_EQ(view[1].estimated_wait_s, 20);
    snap.counts["s1"] = {0, 0}; // nothing comparable: unknown
    EXPECT_EQ(queue_view(snap, 1'000'000, policy_config{}, ec)[0].estimated_wait_s, std::nullopt);
}
