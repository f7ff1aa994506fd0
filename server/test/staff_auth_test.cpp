// staff_auth_test.cpp — what a token lookup means for a staff hello (role check, admin never),
// what account answers mean for peer requests, and which notices kill which connections.
#include <kindred/accounts/error.hpp>
#include <kindred/server/staff_auth.hpp>
#include <kindred/store/error.hpp>

#include <gtest/gtest.h>

namespace ks = kindred::server;
namespace ka = kindred::accounts;
namespace kp = kindred::protocol;
using status = ks::session_result::status;

namespace {

ka::token_info info(ka::role r) {
    ka::token_info t;
    t.token_hash = std::string(64, 'c');
    t.expires_at = 777;
    t.account.username = "river";
    t.account.role = r;
    return t;
}

} // namespace

TEST(StaffAuth, ALiveTokenOfTheAskedRoleIsOkWithItsIdentity) {
    auto c = ks::check_staff_token({}, info(ka::role::peer), kp::role::peer);
    EXPECT_EQ(c.what, status::ok);
    ASSERT_TRUE(c.staff);
    EXPECT_EQ(*c.staff, (ks::staff_identity{"river", std::string(64, 'c'), 777}));
    EXPECT_EQ(ks::check_staff_token({}, info(ka::role::moderator), kp::role::moderator).what,
              status::ok);
}

TEST(StaffAuth, AnotherRoleIsForbiddenAndAdminNeverSaysHello) {
    EXPECT_EQ(ks::check_staff_token({}, info(ka::role::peer), kp::role::moderator).what,
              status::forbidden);
    EXPECT_EQ(ks::check_staff_token({}, info(ka::role::moderator), kp::role::peer).what,
              status::forbidden);
    for (auto asked : {kp::role::peer, kp::role::moderator, kp::role::seeker})
        EXPECT_EQ(ks::check_staff_token({}, info(ka::role::admin), asked).what, status::forbidden);
    EXPECT_FALSE(ks::hello_role_of(ka::role::admin));
}

TEST(StaffAuth, LookupErrors) {
    auto t = info(ka::role::peer);
    EXPECT_EQ(ks::check_staff_token(ka::error::not_found, t, kp::role::peer).what,
              status::not_authenticated);
    EXPECT_EQ(ks::check_staff_token(kindred::store::error::not_connected, t, kp::role::peer).what,
              status::unavailable);
    EXPECT_EQ(ks::check_staff_token(kindred::store::error::timeout, t, kp::role::peer).what,
              status::unavailable);
    EXPECT_EQ(ks::check_staff_token(ka::error::corrupt_record, t, kp::role::peer).what,
              status::internal);
    EXPECT_FALSE(ks::check_staff_token(ka::error::not_found, t, kp::role::peer).staff);
}

TEST(StaffAuth, AccountResults) {
    using as = ks::account_result::status;
    EXPECT_EQ(ks::register_identity_result({}).what, as::ok);
    EXPECT_EQ(ks::register_identity_result(ka::error::conflict).what, as::conflict);
    EXPECT_EQ(ks::register_identity_result(ka::error::not_found).what, as::token_dead);
    EXPECT_EQ(ks::register_identity_result(kindred::store::error::disconnected).what,
              as::unavailable);
    EXPECT_EQ(ks::register_identity_result(ka::error::corrupt_record).what, as::internal);

    auto t = info(ka::role::peer);
    auto none = ks::load_identity_result({}, t);
    EXPECT_EQ(none.what, as::ok);
    EXPECT_FALSE(none.identity_key);
    t.account.identity_key = ka::identity_key{};
    t.account.identity_key->fill(9);
    auto some = ks::load_identity_result({}, t);
    ASSERT_TRUE(some.identity_key);
    EXPECT_EQ((*some.identity_key)[0], 9);
    EXPECT_EQ(ks::load_identity_result(ka::error::not_found, t).what, as::token_dead);
    EXPECT_EQ(ks::load_identity_result({}, info(ka::role::moderator)).what, as::token_dead);
    EXPECT_EQ(ks::load_identity_result(kindred::store::error::timeout, t).what, as::unavailable);
}

TEST(StaffAuth, RevocationMatching) {
    ks::staff_identity who{"river", std::string(64, 'a'), 1};
    EXPECT_TRUE(ks::revokes({std::string(64, 'a'), "", "logout"}, who));
    EXPECT_FALSE(ks::revokes({std::string(64, 'b'), "", "logout"}, who));
    EXPECT_TRUE(ks::revokes({"", "river", "disabled"}, who));
    EXPECT_FALSE(ks::revokes({"", "rivers", "disabled"}, who));
    EXPECT_FALSE(ks::revokes({"", "", "logout"}, who));
}
