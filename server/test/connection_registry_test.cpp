// connection_registry_test.cpp — lookup by id, weak references, snapshots.
#include "recording_connection.hpp"
#include <kindred/server/connection_registry.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace ks = kindred::server;

namespace {

using fake_connection = ks::testing::recording_connection;

} // namespace

TEST(ConnectionRegistry, FindsLiveConnectionsById) {
    ks::connection_registry reg;
    auto a = std::make_shared<fake_connection>();
    auto id = reg.next_id();
    EXPECT_NE(reg.next_id(), id);
    reg.add(id, a);
    ASSERT_EQ(reg.find(id), a);
    reg.find(id)->taken_over("S");
    EXPECT_EQ(a->takeovers(), std::vector<std::string>{"S"});
    EXPECT_EQ(reg.find(id + 100), nullptr);
    reg.remove(id);
    EXPECT_EQ(reg.find(id), nullptr);
    EXPECT_EQ(reg.size(), 0u);
}

TEST(ConnectionRegistry, HoldsOnlyWeakReferences) {
    ks::connection_registry reg;
    auto a = std::make_shared<fake_connection>();
    auto b = std::make_shared<fake_connection>();
    reg.add(1, a);
    reg.add(2, b);
    b.reset();
    EXPECT_EQ(reg.find(2), nullptr);
    auto all = reg.snapshot();
    ASSERT_EQ(all.size(), 1u);
    all[0]->close(1012, "bye");
    EXPECT_EQ(a->close_codes(), std::vector<std::uint16_t>{1012});
}

TEST(ConnectionRegistry, ListsHeldSessions) {
    ks::connection_registry reg;
    auto a = std::make_shared<fake_connection>();
    auto b = std::make_shared<fake_connection>();
    reg.add(1, a);
    reg.add(2, b);
    reg.set_session(2, "S2");
    reg.set_session(9, "nobody"); // unknown connection: ignored
    auto held = reg.sessions();
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held[0], (std::pair<std::uint64_t, std::string>{2, "S2"}));
    // In slices (the refresh spreads over ticks): every held session in exactly one slice.
    reg.set_session(1, "S1");
    EXPECT_EQ(reg.sessions(2, 0), (std::vector<std::pair<std::uint64_t, std::string>>{{2, "S2"}}));
    EXPECT_EQ(reg.sessions(2, 1), (std::vector<std::pair<std::uint64_t, std::string>>{{1, "S1"}}));
    EXPECT_TRUE(reg.sessions(3, 0).empty());
}

// find_session is an index lookup now: it must follow set_session (a new session, a change,
// two connections briefly holding one session during a takeover), remove and a re-added id.
TEST(ConnectionRegistry, FindSessionFollowsSetSessionRemoveAndReAdd) {
    ks::connection_registry reg;
    auto a = std::make_shared<fake_connection>();
    auto b = std::make_shared<fake_connection>();
    reg.add(1, a);
    reg.add(2, b);
    EXPECT_TRUE(reg.find_session("S").empty());
    reg.set_session(1, "S");
    ASSERT_EQ(reg.find_session("S").size(), 1u);
    EXPECT_EQ(reg.find_session("S")[0], a);
    reg.set_session(2, "S"); // a takeover in progress: both hold it
    EXPECT_EQ(reg.find_session("S").size(), 2u);
    reg.set_session(1, "T"); // connection 1 now holds another session
    ASSERT_EQ(reg.find_session("S").size(), 1u);
    EXPECT_EQ(reg.find_session("S")[0], b);
    EXPECT_EQ(reg.find_session("T").size(), 1u);
    reg.remove(2);
    EXPECT_TRUE(reg.find_session("S").empty());
    reg.add(1, b); // the same id added again starts without a session
    EXPECT_TRUE(reg.find_session("T").empty());
    EXPECT_TRUE(reg.find_session("").empty());
    b.reset(); // a dead handle is not returned
    reg.set_session(1, "U");
    EXPECT_TRUE(reg.find_session("U").empty());
}

TEST(ConnectionRegistry, FindsStaffConnectionsByNoticeExpiryAndHash) {
    ks::connection_registry reg;
    auto a = std::make_shared<fake_connection>();
    auto b = std::make_shared<fake_connection>();
    auto c = std::make_shared<fake_connection>();
    auto seeker = std::make_shared<fake_connection>();
    reg.add(1, a);
    reg.add(2, b);
    reg.add(3, c);
    reg.add(4, seeker);
    const std::string h1(64, '1'), h2(64, '2');
    reg.set_staff(1, {"river", h1, 1000});
    reg.set_staff(2, {"river", h2, 5000}); // the same user logged in twice
    reg.set_staff(3, {"mo", std::string(64, '3'), 9000});
    reg.set_staff(9, {"ghost", h1, 0}); // unknown connection: ignored
    EXPECT_EQ(reg.staff_count(), 3u);

    using ids = std::vector<std::uint64_t>;
    auto sorted = [](ids v) {
        std::sort(v.begin(), v.end());
        return v;
    };
    EXPECT_EQ(reg.revoked_by({h1, "", "logout"}), ids{1});
    EXPECT_EQ(sorted(reg.revoked_by({"", "river", "disabled"})), (ids{1, 2}));
    EXPECT_TRUE(reg.revoked_by({"", "nobody", "deleted"}).empty());
    EXPECT_TRUE(reg.revoked_by({"", "", "logout"}).empty()); // names nothing: kills nothing

    EXPECT_TRUE(reg.expired(999).empty());
    EXPECT_EQ(reg.expired(1000), ids{1}); // at expires_at the token is dead
    EXPECT_EQ(sorted(reg.expired(5000)), (ids{1, 2}));

    EXPECT_EQ(reg.staff_token_hashes(), (std::vector<std::string>{h1, h2, std::string(64, '3')}));
    EXPECT_EQ(reg.with_token_hash(h2), ids{2});
    reg.remove(2);
    EXPECT_TRUE(reg.with_token_hash(h2).empty());
    EXPECT_EQ(reg.staff_count(), 2u);
}

TEST(ConnectionRegistry, TokenDeadClosesWith4003ByDefault) {
    auto a = std::make_shared<fake_connection>();
    static_cast<ks::connection_handle&>(*a).token_dead("token revoked");
    EXPECT_EQ(a->close_codes(), std::vector<std::uint16_t>{4003});
}
