// model_test.cpp — the relay's pure rules (label: unit): parties, id shapes, key names, the
// gap check behind `recovered`, reader events, and the error table.
#include <kindred/relay/error.hpp>
#include <kindred/relay/model.hpp>
#include <kindred/store/error.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace kindred::relay;
namespace kp = kindred::protocol;

namespace {

batch_check check(std::int64_t after, std::int64_t last, std::size_t count,
                  std::vector<std::int64_t> offsets) {
    return check_batch(after, last, count, offsets);
}

} // namespace

TEST(Parties, OthersAreThePartiesPresentOtherThanTheSender) {
    parties p{"s1", "p1", ""};
    EXPECT_EQ(p.others(role::seeker), (std::vector<member>{{role::peer, "p1"}}));
    EXPECT_EQ(p.others(role::peer), (std::vector<member>{{role::seeker, "s1"}}));
    p.moderator = "m1";
    EXPECT_EQ(p.others(role::moderator),
              (std::vector<member>{{role::seeker, "s1"}, {role::peer, "p1"}}));
    EXPECT_EQ(p.others(role::seeker),
              (std::vector<member>{{role::peer, "p1"}, {role::moderator, "m1"}}));
    EXPECT_EQ(p.all().size(), 3u);
}

TEST(Parties, HasNeedsTheRoleHeldByExactlyThatId) {
    parties p{"s1", "p1", ""};
    EXPECT_TRUE(p.has({role::seeker, "s1"}));
    EXPECT_FALSE(p.has({role::peer, "s1"}));
    EXPECT_FALSE(p.has({role::seeker, "s2"}));
    // Nobody holds moderator yet: not even an empty id matches.
    EXPECT_FALSE(p.has({role::moderator, ""}));
}

TEST(Ids, ConversationAndPartyIdShapes) {
    EXPECT_TRUE(valid_conversation_id("AbC-09_x.~@"));
    EXPECT_FALSE(valid_conversation_id(""));
    EXPECT_FALSE(valid_conversation_id(std::string(65, 'a')));
    EXPECT_TRUE(valid_conversation_id(std::string(64, 'a')));
    // Characters that would forge a hash tag or a ':'-separated field.
    for (const char* bad : {"a}b", "a{b", "a:b", "a b", "a\nb", "a/b"})
        EXPECT_FALSE(valid_conversation_id(bad)) << bad;
    EXPECT_TRUE(valid_party_id(std::string(128, 'z')));
    EXPECT_FALSE(valid_party_id(std::string(129, 'z')));
    EXPECT_FALSE(valid_party_id("x:y"));
}

TEST(Keys, ShareTheConversationHashTag) {
    const auto k = keys_for("t:", "c1");
    EXPECT_EQ(k.meta, "t:conv:{c1}");
    EXPECT_EQ(k.log, "t:conv:{c1}:log");
    EXPECT_EQ(k.seq, "t:conv:{c1}:seq");
    EXPECT_EQ(index_key("", {role::peer, "alice"}), "party:{peer:alice}:convs");
}

TEST(BatchCheck, CompleteWhenContiguousToLastOffset) {
    auto c = check(0, 3, 10, {1, 2, 3});
    EXPECT_TRUE(c.complete);
    EXPECT_FALSE(c.more);
}

TEST(BatchCheck, FullBatchBelowLastOffsetAsksForMore) {
    auto c = check(4, 20, 3, {5, 6, 7});
    EXPECT_TRUE(c.complete);
    EXPECT_TRUE(c.more);
    // A full batch that ends at last_offset is done.
    c = check(4, 7, 3, {5, 6, 7});
    EXPECT_TRUE(c.complete);
    EXPECT_FALSE(c.more);
}

TEST(BatchCheck, NothingAfterTheLastOffsetIsComplete) {
    EXPECT_TRUE(check(7, 7, 10, {}).complete);
    EXPECT_TRUE(check(0, 0, 10, {}).complete);
}

TEST(BatchCheck, GapInTheMiddleIsIncomplete) {
    EXPECT_FALSE(check(0, 5, 10, {1, 2, 4, 5}).complete);
    // The first entry is not after+1.
    EXPECT_FALSE(check(0, 3, 10, {2, 3}).complete);
}

TEST(BatchCheck, MissingTailOrMissingStreamIsIncomplete) {
    EXPECT_FALSE(check(0, 5, 10, {1, 2, 3}).complete);
    EXPECT_FALSE(check(2, 5, 10, {}).complete);
}

TEST(BatchCheck, CallerAheadOfTheStoreIsIncomplete) {
    // The client saw offset 9; the store says the last is 6 (data lost in a failover).
    EXPECT_FALSE(check(9, 6, 10, {}).complete);
}

TEST(BatchCheck, OffsetsBeyondLastOffsetAreIncomplete) {
    EXPECT_FALSE(check(0, 2, 10, {1, 2, 3}).complete);
}

TEST(BatchCheck, ZeroCountIsTakenAsOne) {
    auto c = check(0, 2, 0, {1});
    EXPECT_TRUE(c.complete);
    EXPECT_TRUE(c.more);
}

TEST(Entry, ReaderGetsOnlyItsOwnCopy) {
    entry e;
    e.offset = 5;
    e.from = role::seeker;
    e.seq = 2;
    e.sent_at = 1764300000000;
    kp::message_copy to_peer;
    to_peer.to = role::peer;
    to_peer.nonce.fill(7);
    to_peer.ciphertext = {1, 2, 3};
    kp::message_copy to_mod;
    to_mod.to = role::moderator;
    to_mod.ciphertext = {9};
    e.copies = {to_peer, to_mod};

    auto ev = to_event("c1", e, role::peer);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->conversation_id, "c1");
    EXPECT_EQ(ev->offset, 5);
    EXPECT_EQ(ev->from, role::seeker);
    EXPECT_EQ(ev->seq, 2);
    EXPECT_EQ(ev->sent_at, 1764300000000);
    EXPECT_EQ(ev->nonce, to_peer.nonce);
    EXPECT_EQ(ev->ciphertext, to_peer.ciphertext);
    EXPECT_EQ(to_event("c1", e, role::moderator)->ciphertext, to_mod.ciphertext);
    // The sender's own message holds no copy for it.
    EXPECT_FALSE(to_event("c1", e, role::seeker));
}

TEST(Entry, EntryOfAnAppendMatchesWhatAReadGivesBack) {
    append_request r;
    r.conversation_id = "c1";
    r.from = {role::peer, "p1"};
    r.seq = 4;
    r.sent_at = 99;
    kp::message_copy m;
    m.to = role::moderator;
    m.ciphertext = {2};
    kp::message_copy s;
    s.to = role::seeker;
    s.ciphertext = {1};
    r.copies = {m, s};
    const entry e = entry_of(r, 12);
    EXPECT_EQ(e.offset, 12);
    EXPECT_EQ(e.from, role::peer);
    EXPECT_EQ(e.seq, 4);
    EXPECT_EQ(e.sent_at, 99);
    ASSERT_EQ(e.copies.size(), 2u);
    EXPECT_EQ(e.copies[0], s); // role order: seeker before moderator
    EXPECT_EQ(e.copies[1], m);
}

TEST(RelayError, ContractTable) {
    using kp::error_code;
    const auto code = [](boost::system::error_code ec) { return to_contract(ec).code; };
    EXPECT_EQ(code(error::not_found), error_code::not_found);
    EXPECT_EQ(code(error::ended), error_code::conflict);
    EXPECT_EQ(to_contract(error::ended).message, "conversation ended");
    EXPECT_EQ(code(error::seq_conflict), error_code::conflict);
    EXPECT_EQ(code(error::bad_copies), error_code::bad_message);
    EXPECT_EQ(to_contract(error::bad_copies).message, "copies");
    EXPECT_EQ(to_contract(error::invalid_seq).message, "seq");
    EXPECT_EQ(to_contract(error::invalid_after).message, "after");
    EXPECT_EQ(to_contract(error::invalid_reason).message, "reason");
    EXPECT_EQ(code(error::corrupt), error_code::internal);
    EXPECT_EQ(code(error::already_exists), error_code::internal);
    EXPECT_EQ(code(kindred::store::error::not_connected), error_code::unavailable);
    EXPECT_EQ(code(kindred::store::error::timeout), error_code::unavailable);
    EXPECT_EQ(code(kindred::store::error::disconnected), error_code::unavailable);
    EXPECT_EQ(code(kindred::store::error::reply_error), error_code::internal);
    EXPECT_TRUE(kindred::relay::is_unavailable(kindred::store::error::stopped));
    EXPECT_FALSE(kindred::relay::is_unavailable(error::not_found));
}

TEST(RelayError, CategoryNamesEveryCode) {
    EXPECT_STREQ(relay_category().name(), "kindred.relay");
    for (int v = 1; v <= static_cast<int>(error::corrupt); ++v)
        EXPECT_NE(relay_category().message(v), "unknown relay error") << v;
}
