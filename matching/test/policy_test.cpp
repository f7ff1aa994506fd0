// policy_test.cpp — table tests of the pure matching policy (label: unit): eligibility rule by
// rule, peer ranking, seeker order, relaxation timing, the planned-end window, won't-take,
// blocks, the wellbeing cooldown, fairness, planning, queue positions and the wait estimate. No
// clock: times are plain numbers.
#include <kindred/matching/policy.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

using namespace kindred::matching;
using namespace std::chrono_literals;

namespace {

seeker_request request(std::string session, std::vector<std::string> tags,
                       std::vector<std::string> languages = {"en"}, risk level = risk::none,
                       std::int64_t at = 0) {
    seeker_request r;
    r.session = std::move(session);
    r.tags = std::move(tags);
    r.languages = std::move(languages);
    r.risk_level = level;
    r.enqueued_at_ms = at;
    return r;
}

peer_state peer(std::string id, std::vector<std::string> tags,
                std::vector<std::string> languages = {"en"}, int capacity = 1, int active = 0) {
    peer_state p;
    p.peer_id = std::move(id);
    p.shift = shift_status::on;
    p.capacity = capacity;
    p.active = active;
    p.tags = std::move(tags);
    p.languages = std::move(languages);
    p.prekeys = 10;
    return p;
}

policy_config config() {
    policy_config c;
    c.relax_after = 60s;
    c.end_window = 10min;
    return c;
}

std::vector<std::string> ids(const std::vector<const peer_state*>& v) {
    std::vector<std::string> out;
    for (auto* p : v)
        out.push_back(p->peer_id);
    return out;
}

std::vector<std::string> sessions(const std::vector<const seeker_request*>& v) {
    std::vector<std::string> out;
    for (auto* r : v)
        out.push_back(r->session);
    return out;
}

constexpr std::int64_t now = 1'000'000;

} // namespace

TEST(Eligibility, BaselinePairIsEligible) {
    EXPECT_EQ(
        ineligible_because(peer("p", {"grief"}), request("s", {"grief"}), now, false, config()),
        std::nullopt);
}

TEST(Eligibility, EachRuleRefusesOnItsOwn) {
    struct row {
        const char* name;
        std::function<void(peer_state&, seeker_request&)> change;
        rule expected;
    };
    const std::vector<row> table{
        {"presence lapsed", [](peer_state& p, seeker_request&) { p.present = false; },
         rule::not_present},
        {"paused", [](peer_state& p, seeker_request&) { p.shift = shift_status::paused; },
         rule::shift_not_on},
        {"ending", [](peer_state& p, seeker_request&) { p.shift = shift_status::ending; },
         rule::shift_not_on},
        {"off", [](peer_state& p, seeker_request&) { p.shift = shift_status::off; },
         rule::shift_not_on},
        {"cooling down", [](peer_state& p, seeker_request&) { p.cooling_down = true; },
         rule::cooling_down},
        {"full", [](peer_state& p, seeker_request&) { p.active = p.capacity; }, rule::no_capacity},
        {"over capacity (capacity lowered)",
         [](peer_state& p, seeker_request&) {
             p.capacity = 1;
             p.active = 2;
         },
         rule::no_capacity},
        {"no prekey", [](peer_state& p, seeker_request&) { p.prekeys = 0; }, rule::no_prekey},
        {"no common language", [](peer_state& p, seeker_request&) { p.languages = {"es"}; },
         rule::no_language},
        {"blocked by this peer",
         [](peer_state&, seeker_request& r) {
             r.blocked_by = {"other", "p"};
         },
         rule::blocked},
        {"won't take one of the tags",
         [](peer_state& p, seeker_request& r) {
             r.tags = {"grief", "addiction"};
             p.wont_take = {"addiction"};
         },
         rule::wont_take},
        {"inside the planned-end window",
         [](peer_state& p, seeker_request&) { p.planned_end_ms = now + 5 * 60'000; },
         rule::shift_ending_soon},
        {"no shared tag before relaxation",
         [](peer_state& p, seeker_request&) { p.tags = {"veterans"}; }, rule::no_shared_tag},
    };
    for (const auto& t : table) {
        auto p = peer("p", {"grief"}, {"en", "es"}, 2);
        auto r = request("s", {"grief"}, {"en"});
        t.change(p, r);
        EXPECT_EQ(ineligible_because(p, r, now, false, config()), t.expected) << t.name;
        EXPECT_FALSE(eligible(p, r, now, false, config())) << t.name;
    }
}

TEST(Eligibility, RelaxationDropsOnlyTheTagRule) {
    auto p = peer("p", {"veterans"});
    auto r = request("s", {"grief"});
    EXPECT_EQ(ineligible_because(p, r, now, false, config()), rule::no_shared_tag);
    EXPECT_TRUE(eligible(p, r, now, true, config()));

    // Every hard rule still holds when relaxed.
    auto full = p;
    full.active = 1;
    EXPECT_EQ(ineligible_because(full, r, now, true, config()), rule::no_capacity);
    auto other_language = r;
    other_language.languages = {"de"};
    EXPECT_EQ(ineligible_because(p, other_language, now, true, config()), rule::no_language);
    auto blocked = r;
    blocked.blocked_by = {"p"};
    EXPECT_EQ(ineligible_because(p, blocked, now, true, config()), rule::blocked);
    auto wont = p;
    wont.wont_take = {"grief"};
    EXPECT_EQ(ineligible_because(wont, r, now, true, config()), rule::wont_take);
    auto no_keys = p;
    no_keys.prekeys = 0;
    EXPECT_EQ(ineligible_because(no_keys, r, now, true, config()), rule::no_prekey);
    auto cooling = p;
    cooling.cooling_down = true;
    EXPECT_EQ(ineligible_because(cooling, r, now, true, config()), rule::cooling_down);
}

TEST(Eligibility, RuleNamesAreDistinctAndKnown) {
    const rule all[] = {rule::not_present,  rule::shift_not_on, rule::cooling_down,
                        rule::no_capacity,  rule::no_prekey,    rule::no_language,
                        rule::blocked,      rule::wont_take,    rule::shift_ending_soon,
                        rule::no_shared_tag};
    std::vector<std::string> names;
    for (auto r : all) {
        std::string n = to_string(r);
        EXPECT_NE(n, "unknown");
        EXPECT_EQ(std::find(names.begin(), names.end(), n), names.end()) << n;
        names.push_back(n);
    }
    EXPECT_STREQ(to_string(rule::cooling_down), "cooling_down");
}

TEST(Eligibility, CoolingDownIsAboutThePeerNotTheRequest) {
    // Every request is refused by a cooling peer; the same peer without it takes them all.
    auto p = peer("p", {"grief"}, {"en", "es"}, 3);
    p.cooling_down = true;
    for (auto r : {request("a", {"grief"}), request("b", {"grief"}, {"es"}, risk::imminent),
                   request("c", {"veterans"}, {"en"}, risk::high, 0)}) {
        EXPECT_EQ(ineligible_because(p, r, now, true, config()), rule::cooling_down) << r.session;
        auto warm = p;
        warm.cooling_down = false;
        EXPECT_TRUE(eligible(warm, r, now, true, config())) << r.session;
    }
}

TEST(Eligibility, WontTakeAppliesToAnyTagOfTheRequestEvenAShareOne) {
    auto p = peer("p", {"grief", "addiction"});
    p.wont_take = {"abuse_survivor"};
    EXPECT_TRUE(eligible(p, request("s", {"grief"}), now, false, config()));
    EXPECT_EQ(
        ineligible_because(p, request("s", {"grief", "abuse_survivor"}), now, false, config()),
        rule::wont_take);
}

TEST(Eligibility, BlocksAreOnlyForTheBlockingPeer) {
    auto r = request("s", {"grief"});
    r.blocked_by = {"a"};
    EXPECT_FALSE(eligible(peer("a", {"grief"}), r, now, false, config()));
    EXPECT_TRUE(eligible(peer("b", {"grief"}), r, now, false, config()));
}

TEST(Eligibility, PlannedEndWindowBoundaries) {
    auto p = peer("p", {"grief"});
    auto r = request("s", {"grief"});
    const std::int64_t end = now + 60 * 60'000; // an hour from now
    p.planned_end_ms = end;
    const std::int64_t window = 10 * 60'000;
    EXPECT_TRUE(eligible(p, r, end - window - 1, false, config()));
    EXPECT_EQ(ineligible_because(p, r, end - window, false, config()), rule::shift_ending_soon);
    EXPECT_EQ(ineligible_because(p, r, end + 1, false, config()), rule::shift_ending_soon);
    auto zero_window = config();
    zero_window.end_window = 0ms;
    EXPECT_TRUE(eligible(p, r, end - 1, false, zero_window));
    p.planned_end_ms.reset();
    EXPECT_TRUE(eligible(p, r, end + 1, false, config()));
}

TEST(Ranking, MoreSharedTagsBeatsLowerLoad) {
    auto r = request("s", {"grief", "addiction"});
    std::vector<peer_state> peers{peer("one_tag_idle", {"grief"}, {"en"}, 5, 0),
                                  peer("two_tags_busy", {"grief", "addiction"}, {"en"}, 5, 4)};
    EXPECT_EQ(ids(rank_peers(r, peers, now, false, config())),
              (std::vector<std::string>{"two_tags_busy", "one_tag_idle"}));
}

TEST(Ranking, LeastLoadedByFractionThenByActive) {
    auto r = request("s", {"grief"});
    std::vector<peer_state> peers{
        peer("half", {"grief"}, {"en"}, 2, 1), peer("third", {"grief"}, {"en"}, 3, 1),
        peer("half_of_four", {"grief"}, {"en"}, 4, 2), peer("empty", {"grief"}, {"en"}, 1, 0)};
    // empty (0) < third (1/3) < half (1/2, active 1) < half_of_four (1/2, active 2).
    EXPECT_EQ(ids(rank_peers(r, peers, now, false, config())),
              (std::vector<std::string>{"empty", "third", "half", "half_of_four"}));
}

TEST(Ranking, IdleLongestThenIdBreakTies) {
    auto r = request("s", {"grief"});
    auto a = peer("a", {"grief"});
    a.idle_since_ms = 500;
    auto b = peer("b", {"grief"});
    b.idle_since_ms = 100;
    auto c = peer("c", {"grief"});
    c.idle_since_ms = 500;
    std::vector<peer_state> peers{a, c, b};
    EXPECT_EQ(ids(rank_peers(r, peers, now, false, config())),
              (std::vector<std::string>{"b", "a", "c"}));
}

TEST(Ranking, LeavesOutIneligiblePeers) {
    auto r = request("s", {"grief"});
    auto paused = peer("paused", {"grief"});
    paused.shift = shift_status::paused;
    std::vector<peer_state> peers{paused, peer("spanish", {"grief"}, {"es"}), peer("ok", {"grief"}),
                                  peer("other_tag", {"veterans"})};
    EXPECT_EQ(ids(rank_peers(r, peers, now, false, config())), (std::vector<std::string>{"ok"}));
    EXPECT_EQ(ids(rank_peers(r, peers, now, true, config())),
              (std::vector<std::string>{"ok", "other_tag"}));
}

TEST(SeekerOrder, RiskThenRequeuedThenLongestWaitThenSession) {
    auto low_old = request("low_old", {"grief"}, {"en"}, risk::low, 100);
    auto high_new = request("high_new", {"grief"}, {"en"}, risk::high, 900);
    auto imminent = request("imminent", {"grief"}, {"en"}, risk::imminent, 999);
    auto none_old = request("none_old", {"grief"}, {"en"}, risk::none, 1);
    auto low_requeued = request("low_requeued", {"grief"}, {"en"}, risk::low, 800);
    low_requeued.requeued_first = true;
    auto low_same_time_b = request("low_b", {"grief"}, {"en"}, risk::low, 500);
    auto low_same_time_a = request("low_a", {"grief"}, {"en"}, risk::low, 500);
    std::vector<seeker_request> waiting{low_old,      high_new,        imminent,       none_old,
                                        low_requeued, low_same_time_b, low_same_time_a};
    EXPECT_EQ(sessions(seeker_order(waiting)),
              (std::vector<std::string>{"imminent", "high_new", "low_requeued", "low_old", "low_a",
                                        "low_b", "none_old"}));
}

TEST(Fairness, EqualRiskIsFirstComeFirstServed) {
    std::vector<seeker_request> waiting{request("third", {"grief"}, {"en"}, risk::none, 300),
                                        request("first", {"grief"}, {"en"}, risk::none, 100),
                                        request("second", {"grief"}, {"en"}, risk::none, 200)};
    std::vector<peer_state> peers{peer("p", {"grief"})};
    auto plan = plan_matches(waiting, peers, now, config());
    ASSERT_EQ(plan.size(), 1u);
    EXPECT_EQ(plan[0].session, "first");
}

TEST(Fairness, RequeuedGoesAheadOfEqualRiskButNotAheadOfHigherRisk) {
    auto requeued = request("requeued", {"grief"}, {"en"}, risk::low, 900);
    requeued.requeued_first = true;
    std::vector<seeker_request> waiting{request("early_low", {"grief"}, {"en"}, risk::low, 100),
                                        requeued};
    std::vector<peer_state> one{peer("p", {"grief"})};
    EXPECT_EQ(plan_matches(waiting, one, now, config()).at(0).session, "requeued");
    waiting.push_back(request("medium", {"grief"}, {"en"}, risk::medium, 950));
    EXPECT_EQ(plan_matches(waiting, one, now, config()).at(0).session, "medium");
}

TEST(Relaxation, DueExactlyAfterTheConfiguredWait) {
    auto r = request("s", {"grief"}, {"en"}, risk::none, 10'000);
    EXPECT_EQ(relax_at_ms(r, config()), 70'000);
    EXPECT_FALSE(relaxed_due(r, 69'999, config()));
    EXPECT_TRUE(relaxed_due(r, 70'000, config()));
}

TEST(Relaxation, PickForSeekerWaitsThenTakesAnyEligiblePeer) {
    auto r = request("s", {"grief"}, {"en"}, risk::none, 10'000);
    std::vector<peer_state> peers{peer("veteran", {"veterans"})};
    EXPECT_EQ(pick_for_seeker(r, peers, 69'999, config()), std::nullopt);
    auto c = pick_for_seeker(r, peers, 70'000, config());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->peer_id, "veteran");
    EXPECT_TRUE(c->relaxed);
    EXPECT_TRUE(c->shared_tags.empty());
}

TEST(Relaxation, ARelaxedSeekerStillPrefersASharedTagAndIsThenNotRelaxed) {
    auto r = request("s", {"grief"}, {"en"}, risk::none, 0);
    std::vector<peer_state> peers{peer("veteran", {"veterans"}, {"en"}, 5, 0),
                                  peer("griever", {"grief"}, {"en"}, 5, 4)};
    auto c = pick_for_seeker(r, peers, 10 * 60'000, config());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->peer_id, "griever");
    EXPECT_FALSE(c->relaxed);
    EXPECT_EQ(c->shared_tags, (std::vector<std::string>{"grief"}));
}

TEST(PickForPeer, HighestPriorityRequestThePeerMayTake) {
    auto p = peer("p", {"grief"}, {"en"});
    std::vector<seeker_request> waiting{request("spanish_high", {"grief"}, {"es"}, risk::high, 0),
                                        request("low_new", {"grief"}, {"en"}, risk::low, 500),
                                        request("low_old", {"grief"}, {"en"}, risk::low, 100),
                                        request("none_oldest", {"grief"}, {"en"}, risk::none, 0)};
    auto c = pick_for_peer(p, waiting, now, config());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->session, "low_old");
    EXPECT_FALSE(c->relaxed);
}

TEST(PickForPeer, RelaxationIsPerRequest) {
    auto p = peer("p", {"veterans"});
    std::vector<seeker_request> waiting{
        request("high_grief", {"grief"}, {"en"}, risk::high, 50'000),
        request("none_veteran", {"veterans"}, {"en"}, risk::none, 0)};
    // high_grief is not relaxed until 110 000: the peer takes the veteran first.
    auto before = pick_for_peer(p, waiting, 109'999, config());
    ASSERT_TRUE(before);
    EXPECT_EQ(before->session, "none_veteran");
    auto after = pick_for_peer(p, waiting, 110'000, config());
    ASSERT_TRUE(after);
    EXPECT_EQ(after->session, "high_grief");
    EXPECT_TRUE(after->relaxed);
    EXPECT_EQ(pick_for_peer(peer("es", {"grief"}, {"es"}), waiting, now, config()), std::nullopt);
}

TEST(Plan, RespectsCapacityAndPrekeysAndSpreadsLoad) {
    std::vector<seeker_request> waiting;
    for (int i = 0; i < 6; ++i)
        waiting.push_back(request("s" + std::to_string(i), {"grief"}, {"en"}, risk::none, i));
    auto big = peer("big", {"grief"}, {"en"}, 3);
    auto small = peer("small", {"grief"}, {"en"}, 2);
    small.prekeys = 1; // one prekey: one match, whatever its capacity
    std::vector<peer_state> peers{big, small};
    auto plan = plan_matches(waiting, peers, now, config());
    ASSERT_EQ(plan.size(), 4u);
    int on_big = 0, on_small = 0;
    for (const auto& c : plan)
        (c.peer_id == "big" ? on_big : on_small)++;
    EXPECT_EQ(on_big, 3);
    EXPECT_EQ(on_small, 1);
    // Least loaded first: s0 → big (0/3 ties 0/2 on load and active; id "big" < "small"),
    // s1 → small (0/2 beats 1/3).
    EXPECT_EQ(plan[0].peer_id, "big");
    EXPECT_EQ(plan[1].peer_id, "small");
    // The two lowest-priority requests are left waiting.
    EXPECT_EQ(plan.back().session, "s3");
}

TEST(Plan, HigherRiskGetsTheBetterPeer) {
    std::vector<seeker_request> waiting{
        request("calm", {"grief", "addiction"}, {"en"}, risk::none, 0),
        request("urgent", {"grief", "addiction"}, {"en"}, risk::high, 9)};
    std::vector<peer_state> peers{peer("both", {"grief", "addiction"}), peer("one", {"grief"})};
    auto plan = plan_matches(waiting, peers, now, config());
    ASSERT_EQ(plan.size(), 2u);
    EXPECT_EQ(plan[0], (choice{"urgent", "both", false, {"grief", "addiction"}}));
    EXPECT_EQ(plan[1], (choice{"calm", "one", false, {"grief"}}));
}

TEST(Plan, SkipsACoolingPeerForTheNextBest) {
    std::vector<seeker_request> waiting{request("s1", {"grief"}, {"en"}, risk::imminent, 0),
                                        request("s2", {"grief"}, {"en"}, risk::none, 5)};
    // "best" shares both tags and is idle longest: it would take s1 were it not cooling down.
    auto best = peer("best", {"grief", "addiction"}, {"en"}, 5);
    best.idle_since_ms = 0;
    best.cooling_down = true;
    auto other = peer("other", {"grief"}, {"en"}, 1);
    other.idle_since_ms = 100;
    std::vector<peer_state> peers{best, other};
    auto plan = plan_matches(waiting, peers, now, config());
    ASSERT_EQ(plan.size(), 1u); // other's one slot; s2 waits: best takes nobody
    EXPECT_EQ(plan[0], (choice{"s1", "other", false, {"grief"}}));
    EXPECT_EQ(pick_for_peer(best, waiting, now, config()), std::nullopt);
    // Only the cooling peer: nothing planned at all, also once every request has relaxed.
    std::vector<peer_state> only{best};
    EXPECT_TRUE(plan_matches(waiting, only, now, config()).empty());
    EXPECT_TRUE(plan_matches(waiting, only, now + 10 * 60'000, config()).empty());
    // Its cooldown over (the next snapshot says so): it is planned again.
    only[0].cooling_down = false;
    EXPECT_EQ(plan_matches(waiting, only, now, config()).size(), 2u);
}

TEST(Plan, NothingWhenNoPeerIsEligible) {
    // Enqueued just now: not relaxed, so the veteran does not count either.
    std::vector<seeker_request> waiting{request("s", {"grief"}, {"en"}, risk::none, now)};
    std::vector<peer_state> peers{peer("full", {"grief"}, {"en"}, 1, 1),
                                  peer("other", {"veterans"})};
    EXPECT_TRUE(plan_matches(waiting, peers, now, config()).empty());
    EXPECT_EQ(plan_matches(waiting, peers, now + 60'000, config()).size(), 1u);
    EXPECT_TRUE(plan_matches({}, peers, now, config()).empty());
}

TEST(QueuePosition, CountsOnlyRequestsAheadThatShareALanguage) {
    std::vector<seeker_request> waiting{request("a", {"grief"}, {"en"}, risk::none, 1),
                                        request("b", {"grief"}, {"es"}, risk::none, 2),
                                        request("c", {"grief"}, {"en", "es"}, risk::none, 3),
                                        request("d", {"grief"}, {"en"}, risk::none, 4),
                                        request("e", {"grief"}, {"en"}, risk::high, 5)};
    EXPECT_EQ(queue_position(waiting[4], waiting), 1u); // high risk: first
    EXPECT_EQ(queue_position(waiting[0], waiting), 2u); // behind e
    EXPECT_EQ(queue_position(waiting[1], waiting), 1u); // Spanish: nobody ahead speaks it
    EXPECT_EQ(queue_position(waiting[2], waiting), 4u); // e, a, b
    EXPECT_EQ(queue_position(waiting[3], waiting), 4u); // e, a, c
}

TEST(WaitEstimate, UnknownWithoutRecentComparableMatches) {
    auto r = request("s", {"grief"}, {"en"}, risk::none, now);
    estimate_config ec;
    ec.window = 10min;
    EXPECT_EQ(estimate_for(r, 1, {}, now, std::nullopt, config(), ec), std::nullopt);
    // A Spanish-only match tells nothing about an English request.
    std::vector<recent_match> spanish{{now - 1000, 5000, {"es"}, {"grief"}, false}};
    EXPECT_EQ(estimate_for(r, 1, spanish, now, now - 3'600'000, config(), ec), std::nullopt);
    // Nor does a match older than the window.
    std::vector<recent_match> old{{now - 11 * 60'000, 5000, {"en"}, {"grief"}, false}};
    EXPECT_EQ(estimate_for(r, 1, old, now, now - 3'600'000, config(), ec), std::nullopt);
}

TEST(WaitEstimate, PositionOverTheRecentRate) {
    estimate_config ec;
    ec.window = 10min;
    std::vector<recent_match> recent;
    for (int i = 0; i < 10; ++i)
        recent.push_back({now - i * 30'000, 20'000, {"en"}, {"grief"}, false});
    // 10 comparable matches in 600 s: one every 60 s.
    auto r = request("s", {"grief"}, {"en"}, risk::none, now);
    auto rate = comparable_rate(r, recent, now, now - 3'600'000, true, ec);
    EXPECT_EQ(rate.matches, 10u);
    EXPECT_EQ(rate.span_ms, 600'000);
    EXPECT_EQ(estimate_wait_s(1, rate), 60);
    EXPECT_EQ(estimate_for(r, 3, recent, now, now - 3'600'000, config(), ec), 180);
    // Statistics that started 5 minutes ago: the same 10 matches in 300 s.
    EXPECT_EQ(estimate_for(r, 3, recent, now, now - 300'000, config(), ec), 90);
    // Rounded up, never zero for a non-empty rate.
    EXPECT_EQ(estimate_wait_s(1, match_rate{7, 1000}), 1);
    EXPECT_EQ(estimate_wait_s(1, match_rate{0, 1000}), std::nullopt);
}

TEST(WaitEstimate, FallsBackToLanguageRateButNotBeforeRelaxation) {
    estimate_config ec;
    ec.window = 10min;
    // Only veterans were matched recently, one every 60 s.
    std::vector<recent_match> recent;
    for (int i = 0; i < 10; ++i)
        recent.push_back({now - i * 30'000, 1000, {"en"}, {"veterans"}, false});
    auto r = request("s", {"grief"}, {"en"}, risk::none, now - 10'000); // relaxes in 50 s
    // Language rate says 60 s for position 1; the relaxation floor (50 s) is below it.
    EXPECT_EQ(estimate_for(r, 1, recent, now, now - 3'600'000, config(), ec), 60);
    // A fresh request with relax_after 5 min: at least 300 s.
    auto slow = config();
    slow.relax_after = 5min;
    auto fresh = request("t", {"grief"}, {"en"}, risk::none, now);
    EXPECT_EQ(estimate_for(fresh, 1, recent, now, now - 3'600'000, slow, ec), 300);
}
