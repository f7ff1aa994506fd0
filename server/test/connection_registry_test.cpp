// connection_registry_test.cpp — lookup by id, weak references, snapshots.
#include <kindred/server/connection_registry.hpp>

#include <gtest/gtest.h>

namespace ks = kindred::server;

namespace {

struct fake_connection : ks::connection_handle {
    std::vector<std::uint16_t> closes;
    std::vector<std::string> takeovers;
    void close(std::uint16_t code, std::string) override { closes.push_back(code); }
    void taken_over(const std::string& s) override { takeovers.push_back(s); }
};

} // namespace

TEST(ConnectionRegistry, FindsLiveConnectionsById) {
    ks::connection_registry reg;
    auto a = std::make_shared<fake_connection>();
    auto id = reg.next_id();
    EXPECT_NE(reg.next_id(), id);
    reg.add(id, a);
    ASSERT_EQ(reg.find(id), a);
    reg.find(id)->taken_over("S");
    EXPECT_EQ(a->takeovers, std::vector<std::string>{"S"});
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
    EXPECT_EQ(a->closes, std::vector<std::uint16_t>{1012});
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
}
