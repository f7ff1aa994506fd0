// delivery_tracker_test.cpp — the bus recovery rules on a fake log: duplicates dropped, gaps
// read from the log before anything newer, recover_all re-reads tails, each message once.
#include <kindred/server/delivery_tracker.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace ks = kindred::server;

namespace {

std::string event_of(std::int64_t offset) {
    return R"({"type":"message","conversation_id":"c1","offset":)" + std::to_string(offset) + "}";
}

// A fake conversation: offsets 1..n, `own` ones belong to the reader. Reads are answered when
// the test says so (pending), like a Redis round trip.
struct fake {
    std::int64_t stored = 0;
    std::vector<std::int64_t> own;
    std::vector<std::int64_t> pushed;
    std::vector<std::pair<std::int64_t, ks::delivery_tracker_deps::read_done>> pending;
    int reads = 0;

    ks::delivery_tracker make() {
        ks::delivery_tracker_deps d;
        d.read = [this](const std::string&, const std::string&, std::int64_t after,
                        ks::delivery_tracker_deps::read_done done) {
            ++reads;
            pending.emplace_back(after, std::move(done));
        };
        d.push = [this](const std::string&, std::string event) {
            auto ref = ks::delivery_tracker::message_ref(event);
            ASSERT_TRUE(ref);
            pushed.push_back(ref->second);
        };
        return ks::delivery_tracker(std::move(d));
    }
    void answer_reads() {
        while (!pending.empty()) {
            auto [after, done] = std::move(pending.front());
            pending.erase(pending.begin());
            std::vector<ks::tracked_message> out;
            for (auto o = after + 1; o <= stored; ++o) {
                const bool mine = std::find(own.begin(), own.end(), o) != own.end();
                out.push_back(ks::tracked_message{o, mine ? std::string() : event_of(o)});
            }
            done(true, std::move(out));
        }
    }
    // Answers every pending read with Redis trouble.
    void fail_reads() {
        auto failing = std::move(pending);
        pending.clear();
        for (auto& [after, done] : failing)
            done(false, {});
    }
};

} // namespace

TEST(DeliveryTracker, MessageRefParsesOnlyMessageEvents) {
    auto ref = ks::delivery_tracker::message_ref(event_of(7));
    ASSERT_TRUE(ref);
    EXPECT_EQ(ref->first, "c1");
    EXPECT_EQ(ref->second, 7);
    EXPECT_FALSE(ks::delivery_tracker::message_ref(R"({"type":"typing","conversation_id":"c"})"));
    EXPECT_FALSE(ks::delivery_tracker::message_ref("not json"));
    EXPECT_FALSE(ks::delivery_tracker::message_ref(
        R"({"type":"message","conversation_id":"c","offset":"1"})"));
}

TEST(DeliveryTracker, ContiguousLiveMessagesArePushedAndDuplicatesDropped) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    t.on_live("s", "c1", 2, event_of(2));
    t.on_live("s", "c1", 2, event_of(2));
    t.on_live("s", "c1", 1, event_of(1));
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(f.reads, 0);
}

TEST(DeliveryTracker, GapIsReadFromTheLogInOrderOnce) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    f.stored = 5;
    t.on_live("s", "c1", 4, event_of(4)); // 2 and 3 were lost
    t.on_live("s", "c1", 5, event_of(5)); // arrives while the gap is read
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1}));
    f.answer_reads();
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
    t.on_live("s", "c1", 5, event_of(5));
    EXPECT_EQ(f.pushed.size(), 5u);
    EXPECT_EQ(t.last("s", "c1"), 5);
}

TEST(DeliveryTracker, OwnMessagesAdvanceWithoutARead) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    t.on_own("s", "c1", 2);
    t.on_live("s", "c1", 3, event_of(3));
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 3}));
    EXPECT_EQ(f.reads, 0);
}

TEST(DeliveryTracker, OwnOffsetAheadOfALiveMessageStillOnItsWayNeedsNoRead) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    // Its own 3 is acknowledged before the other's 2 arrives, and its own 6 before 4 and 5.
    t.on_own("s", "c1", 3);
    t.on_own("s", "c1", 6);
    t.on_live("s", "c1", 2, event_of(2));
    t.on_live("s", "c1", 4, event_of(4));
    t.on_live("s", "c1", 5, event_of(5));
    t.on_live("s", "c1", 7, event_of(7));
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2, 4, 5, 7}));
    EXPECT_EQ(f.reads, 0);
    EXPECT_EQ(t.last("s", "c1"), 7);
}

TEST(DeliveryTracker, OwnOffsetAheadStillLetsARealGapBeRead) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    t.on_own("s", "c1", 3);
    // 2 was lost on the bus: 4 shows the gap, the read brings 2 (3 is its own), once.
    f.stored = 4;
    f.own = {3};
    t.on_live("s", "c1", 4, event_of(4));
    EXPECT_EQ(f.reads, 1);
    f.answer_reads();
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2, 4}));
    t.on_live("s", "c1", 5, event_of(5));
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2, 4, 5}));
    EXPECT_EQ(f.reads, 1);
}

TEST(DeliveryTracker, OwnMessagesInAReadAreNotPushed) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    f.stored = 3;
    f.own = {2};
    t.on_live("s", "c1", 3, event_of(3));
    f.answer_reads();
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 3}));
}

TEST(DeliveryTracker, RecoverAllReadsEveryTailAfterTheLast) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    f.stored = 4; // 2..4 published while the subscriber was away
    t.recover_all();
    f.answer_reads();
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2, 3, 4}));
    t.on_live("s", "c1", 3, event_of(3)); // a late duplicate
    EXPECT_EQ(f.pushed.size(), 4u);
}

TEST(DeliveryTracker, ForgottenSessionsAreNotRead) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    t.forget("s");
    t.recover_all();
    EXPECT_EQ(f.reads, 0);
    EXPECT_FALSE(t.last("s", "c1"));
}

TEST(DeliveryTracker, FailedReadIsRetriedByTheNextLiveMessage) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    t.on_live("s", "c1", 3, event_of(3));
    ASSERT_EQ(f.pending.size(), 1u);
    f.fail_reads();
    f.stored = 4;
    t.on_live("s", "c1", 4, event_of(4));
    f.answer_reads();
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2, 3, 4}));
}

// The storm benchmark's stall: a failed gap read after the conversation's last message was
// never tried again (no next message came). retry_failed() reads it once more.
TEST(DeliveryTracker, FailedReadIsRetriedByRetryFailedWithoutAnotherMessage) {
    fake f;
    auto t = f.make();
    f.stored = 3;
    t.on_live("s", "c1", 1, event_of(1));
    t.on_live("s", "c1", 3, event_of(3));
    ASSERT_EQ(f.pending.size(), 1u);
    f.fail_reads();
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1}));
    t.retry_failed();
    ASSERT_EQ(f.pending.size(), 1u);
    EXPECT_EQ(f.pending.front().first, 1); // after the last delivered
    f.answer_reads();
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2, 3}));
    t.retry_failed(); // nothing failed any more: no read
    EXPECT_TRUE(f.pending.empty());
}

// Tracking from the match: a first live message that overtook offset 1 (its push waited for
// a session lookup, or a retried send was pushed late) is a gap read from the log, not the
// start of tracking — without on_matched offset 1 would be left to a sync that a fresh
// client never runs.
TEST(DeliveryTracker, AfterMatchedAFirstLiveMessageThatOvertookAnEarlierOneIsAGap) {
    fake f;
    auto t = f.make();
    t.on_matched("s", "c1");
    f.stored = 2;
    t.on_live("s", "c1", 2, event_of(2));
    f.answer_reads();
    t.on_live("s", "c1", 1, event_of(1)); // the late push: a duplicate now
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2}));
}

TEST(DeliveryTracker, OnMatchedNeverMovesBack) {
    fake f;
    auto t = f.make();
    t.on_live("s", "c1", 1, event_of(1));
    t.on_matched("s", "c1"); // e.g. the partner's first message arrived before `matched`
    EXPECT_EQ(t.last("s", "c1"), 1);
    t.on_live("s", "c1", 2, event_of(2));
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(f.reads, 0);
}

TEST(DeliveryTracker, OwnMessageBeforeTrackingDoesNotHideAnEarlierLiveOne) {
    fake f;
    auto t = f.make();
    t.on_own("s", "c1", 6); // the other's offset 5 is still on its way
    t.on_live("s", "c1", 5, event_of(5));
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{5}));
}

TEST(DeliveryTracker, AfterASyncLiveCopiesItReturnedAreDropped) {
    fake f;
    auto t = f.make();
    // A resumed client synced up to 5; the bus still brings 4 and 5, then 6.
    t.on_synced("s", "c1", 5);
    t.on_live("s", "c1", 4, event_of(4));
    t.on_live("s", "c1", 5, event_of(5));
    t.on_live("s", "c1", 6, event_of(6));
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{6}));
    EXPECT_EQ(f.reads, 0);
    // An older sync never moves tracking back.
    t.on_synced("s", "c1", 3);
    t.on_live("s", "c1", 5, event_of(5));
    t.on_live("s", "c1", 7, event_of(7));
    EXPECT_EQ(f.pushed, (std::vector<std::int64_t>{6, 7}));
}
