// replies_test.cpp — parsing the matching scripts' replies (label: unit). Replies are
// untrusted: a wrong shape gives nullopt or an error, never a throw.
#include "replies.hpp"

#include <gtest/gtest.h>

using namespace kindred::matching;
using namespace kindred::matching::detail;
using kindred::store::reply;

namespace {

reply str(std::string s) {
    return reply::make_string(std::move(s));
}
reply arr(std::vector<reply> v) {
    return reply::make_array(std::move(v));
}

reply request_entry(std::string session, std::string risk = "high") {
    return arr({str(std::move(session)), str("42"), str("grief,addiction"), str("en,es"),
                str(std::move(risk)), str("1700000000000"), str("1"), arr({str("p9")})});
}

reply peer_entry(std::string id, std::string state = "on", long long cooling = 0) {
    return arr({str(std::move(id)), str("7"), str(std::move(state)), str("3"), str("1"),
                str("grief"), str("en"), str("abuse_survivor"), str("1699999999000"), str(""),
                reply::make_integer(1), reply::make_integer(4), reply::make_integer(cooling)});
}

} // namespace

TEST(Replies, JoinAndSplitRoundTrip) {
    EXPECT_EQ(join({"a", "b", "c"}), "a,b,c");
    EXPECT_EQ(split("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(split("").empty());
    EXPECT_EQ(split(",a,,b,"), (std::vector<std::string>{"a", "b"}));
}

TEST(Replies, SnapshotParsesEveryField) {
    auto r = arr({arr({request_entry("s1")}), arr({peer_entry("p1")}),
                  arr({str("c1|1700000000500|2500|en|grief|0")}), str("1690000000000")});
    auto s = parse_snapshot(r);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->waiting.size(), 1u);
    const auto& q = s->waiting[0];
    EXPECT_EQ(q.session, "s1");
    EXPECT_EQ(q.request_id, "42");
    EXPECT_EQ(q.tags, (std::vector<std::string>{"grief", "addiction"}));
    EXPECT_EQ(q.languages, (std::vector<std::string>{"en", "es"}));
    EXPECT_EQ(q.risk_level, risk::high);
    EXPECT_EQ(q.enqueued_at_ms, 1700000000000);
    EXPECT_TRUE(q.requeued_first);
    EXPECT_EQ(q.blocked_by, (std::vector<std::string>{"p9"}));
    ASSERT_EQ(s->peers.size(), 1u);
    const auto& p = s->peers[0];
    EXPECT_EQ(p.peer_id, "p1");
    EXPECT_EQ(p.shift_id, "7");
    EXPECT_EQ(p.shift, shift_status::on);
    EXPECT_EQ(p.capacity, 3);
    EXPECT_EQ(p.active, 1);
    EXPECT_EQ(p.wont_take, (std::vector<std::string>{"abuse_survivor"}));
    EXPECT_EQ(p.idle_since_ms, 1699999999000);
    EXPECT_FALSE(p.planned_end_ms);
    EXPECT_TRUE(p.present);
    EXPECT_EQ(p.prekeys, 4);
    EXPECT_FALSE(p.cooling_down);
    ASSERT_EQ(s->recent.size(), 1u);
    EXPECT_EQ(s->recent[0].waited_ms, 2500);
    EXPECT_EQ(s->recent[0].tags, (std::vector<std::string>{"grief"}));
    EXPECT_EQ(s->stats_since_ms, 1690000000000);
}

TEST(Replies, PeerCooldownFlag) {
    auto cooling = parse_peer(peer_entry("p1", "on", 1));
    ASSERT_TRUE(cooling);
    EXPECT_TRUE(cooling->cooling_down);
    // The flag is required (a script/library mismatch otherwise) and must be an integer.
    auto e = peer_entry("p1");
    std::vector<reply> short_entry(e.elements().begin(), e.elements().end() - 1);
    EXPECT_FALSE(parse_peer(arr(short_entry)));
    short_entry.push_back(str("yes"));
    EXPECT_FALSE(parse_peer(arr(short_entry)));
}

TEST(Replies, MalformedEntriesAreSkippedNotFatal) {
    auto r = arr({arr({request_entry("ok"), request_entry("bad-risk", "urgent"), str("junk"),
                       arr({str("short")})}),
                  arr({peer_entry("p1"), peer_entry("p2", "dancing"), reply::make_integer(3)}),
                  arr({str("not|a|stat"), reply::make_integer(5)}), reply()});
    auto s = parse_snapshot(r);
    ASSERT_TRUE(s);
    ASSERT_EQ(s->waiting.size(), 1u);
    EXPECT_EQ(s->waiting[0].session, "ok");
    ASSERT_EQ(s->peers.size(), 1u);
    EXPECT_EQ(s->peers[0].peer_id, "p1");
    EXPECT_TRUE(s->recent.empty());
    EXPECT_FALSE(s->stats_since_ms);
}

TEST(Replies, WrongSnapshotShapeIsRejected) {
    EXPECT_FALSE(parse_snapshot(reply()));
    EXPECT_FALSE(parse_snapshot(str("x")));
    EXPECT_FALSE(parse_snapshot(arr({arr({}), arr({})})));
    EXPECT_FALSE(parse_snapshot(arr({str("a"), arr({}), arr({}), str("")})));
    EXPECT_FALSE(parse_snapshot(reply::make_error("ERR boom")));
}

TEST(Replies, ClaimSuccessRefusalAndGarbage) {
    claim_order o;
    o.pick = {"s1", "p1", true, {}};
    auto ok = parse_claim(arr({str("ok"), str("PREKEY"), reply::make_integer(2),
                               reply::make_integer(3), reply::make_integer(9), str("grief"),
                               str("en"), str("medium"), str("1000"), str("0"), str("PUB")}),
                          o, "c1");
    ASSERT_TRUE(ok.match);
    EXPECT_FALSE(ok.ec);
    EXPECT_EQ(ok.match->conversation_id, "c1");
    EXPECT_EQ(ok.match->session, "s1");
    EXPECT_EQ(ok.match->peer_id, "p1");
    EXPECT_EQ(ok.match->prekey, "PREKEY");
    EXPECT_EQ(ok.match->peer_active, 2);
    EXPECT_EQ(ok.match->peer_capacity, 3);
    EXPECT_EQ(ok.match->prekeys_left, 9);
    EXPECT_EQ(ok.match->risk_level, risk::medium);
    EXPECT_TRUE(ok.match->relaxed);
    EXPECT_EQ(ok.match->payload, "PUB");

    auto no = parse_claim(arr({str("fail"), str("no_capacity")}), o, "c2");
    EXPECT_FALSE(no.match);
    EXPECT_EQ(no.failure, claim_failure::no_capacity);

    auto cooling = parse_claim(arr({str("fail"), str("cooling_down")}), o, "c5");
    EXPECT_FALSE(cooling.match);
    EXPECT_FALSE(cooling.ec);
    EXPECT_EQ(cooling.failure, claim_failure::cooling_down);

    auto unknown = parse_claim(arr({str("fail"), str("martians")}), o, "c3");
    EXPECT_TRUE(unknown.failure);

    auto garbage = parse_claim(reply::make_integer(1), o, "c4");
    EXPECT_TRUE(garbage.ec);
    EXPECT_FALSE(garbage.match);
}

TEST(Replies, MatchRecordFromHgetall) {
    auto r = arr({str("session"),  str("s1"),    str("peer"),       str("p1"),
                  str("prekey"),   str("K"),     str("relaxed"),    str("0"),
                  str("shared"),   str("grief"), str("tags"),       str("grief,loneliness"),
                  str("langs"),    str("en"),    str("risk"),       str("low"),
                  str("at"),       str("1000"),  str("matched_at"), str("13000"),
                  str("first"),    str("0"),     str("payload"),    str("PUB"),
                  str("released"), str("1")});
    auto m = parse_record("c1", r);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->session, "s1");
    EXPECT_EQ(m->shared_tags, (std::vector<std::string>{"grief"}));
    EXPECT_EQ(m->seeker_tags, (std::vector<std::string>{"grief", "loneliness"}));
    EXPECT_EQ(m->waited_s(), 12);
    EXPECT_TRUE(m->released);
    EXPECT_FALSE(parse_record("c1", arr({})));
    EXPECT_FALSE(parse_record("c1", arr({str("session")})));
    EXPECT_FALSE(parse_record("c1", arr({str("session"), str("s1")}))); // no peer
}

// Issue #7: a request entry may carry its wait-estimate counts (by tag, by language); a
// negative or non-numeric count is ignored, the request still parsed.
TEST(Replies, SnapshotRequestCountsAreParsed) {
    auto with = [](reply by_tag, reply by_language) {
        auto e = request_entry("s1");
        auto v = e.elements();
        v.push_back(std::move(by_tag));
        v.push_back(std::move(by_language));
        return arr(std::move(v));
    };
    auto s = parse_snapshot(
        arr({arr({with(reply::make_integer(3), reply::make_integer(7)), request_entry("s2")}),
             arr({}), arr({}), str("")}));
    ASSERT_TRUE(s);
    ASSERT_EQ(s->waiting.size(), 2u);
    ASSERT_EQ(s->counts.count("s1"), 1u);
    EXPECT_EQ(s->counts.at("s1").by_tag, 3u);
    EXPECT_EQ(s->counts.at("s1").by_language, 7u);
    EXPECT_EQ(s->counts.count("s2"), 0u);
    s = parse_snapshot(
        arr({arr({with(reply::make_integer(-1), str("x"))}), arr({}), arr({}), str("")}));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->waiting.size(), 1u);
    EXPECT_TRUE(s->counts.empty());
}
