// staff_redis_test.cpp — staff authentication against a real redis-server: staff sessions
// (create for a token, role check, resume re-checks the token), auth_service's HTTP answers
// (login ok, one 401 for unknown user and wrong password, per-address and per-username 429,
// busy 503, logout 204/401, Redis down 503) and staff_monitor closing sockets with 4003
// (revocation notice, the periodic re-check of a silently deleted token, expiry).
#include "recording_connection.hpp"
#include <kindred/accounts/account_store.hpp>
#include <kindred/accounts/keys.hpp>
#include <kindred/accounts/token.hpp>
#include <kindred/server/auth_service.hpp>
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/session_store.hpp>
#include <kindred/server/staff_monitor.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/subscriber.hpp>
#include <kindred/testsupport/process.hpp>
#include <kindred/testsupport/redis_process.hpp>
#include <kindred/testsupport/wait_for.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

namespace ks = kindred::server;
namespace ka = kindred::accounts;
namespace kp = kindred::protocol;
namespace store = kindred::store;
namespace ts = kindred::testsupport;
namespace json = boost::json;
using namespace std::chrono_literals;
using status = ks::session_result::status;

namespace {

constexpr const char* password = "correct horse battery";

using fake_connection = ks::testing::recording_connection;

class StaffRedisTest : public ::testing::Test {
protected:
    void SetUp() override {
        redis_.start();
        thread_ = std::thread([this] { io_.run(); });
        store::client_options o;
        o.address = store::endpoint::unix_socket(redis_.socket_path().string());
        o.command_timeout = 1000ms;
        o.connect_timeout = 500ms;
        o.reconnect_initial = 20ms;
        o.reconnect_max = 200ms;
        client_ = std::make_unique<store::client>(io_, o);
        client_->start();
        ASSERT_TRUE(ts::eventually([&] { return client_->connected(); }));

        ka::account_store_options ao;
        ao.catalog = {{"grief"}, {"en"}};
        ao.limits = ka::password_limits::test_only_minimum();
        ao.lockout = {3, std::chrono::seconds(60)};
        accounts_ = std::make_unique<ka::account_store>(*client_, ao);
        add("river", ka::role::peer);
        add("mona", ka::role::moderator);
        add("boss", ka::role::admin);

        ks::session_store_options so;
        so.instance_id = "i1";
        so.grace = 60s;
        so.connected_ttl = 60s;
        so.accounts = accounts_.get();
        sessions_ = std::make_unique<ks::session_store>(*client_, so);
    }
    void TearDown() override {
        monitor_.reset();
        bus_.reset();
        auth_.reset();
        sessions_.reset();
        accounts_.reset();
        client_->stop();
        client_.reset();
        work_.reset();
        io_.stop();
        thread_.join();
    }

    void add(const std::string& name, ka::role r) {
        auto ec = ts::wait_for_value<boost::system::error_code>([&](auto h) {
            accounts_->create("test", ka::new_account{name, r, "Alias", {"en"}}, password,
                              std::move(h));
        });
        ASSERT_FALSE(ec) << ec.message();
    }
    ka::login_result login(const std::string& name) {
        auto [ec, r] =
            ts::wait_for_value<std::pair<boost::system::error_code, ka::login_result>>([&](auto h) {
                accounts_->login(name, password, [h](auto e, auto res) { h({e, std::move(res)}); });
            });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    ks::session_result create_staff(kp::role role, const std::string& token, std::uint64_t conn) {
        return ts::wait_for_value<ks::session_result>(
            [&](auto h) { sessions_->create_staff(role, token, conn, std::move(h)); });
    }
    ks::session_result resume(const std::string& token, std::uint64_t conn,
                              const std::string& device = {}) {
        return ts::wait_for_value<ks::session_result>(
            [&](auto h) { sessions_->resume(token, device, conn, std::move(h)); });
    }
    ks::auth_service& auth(ks::auth_options o = {}) {
        o.clock = [this] { return now_; };
        auth_ = std::make_unique<ks::auth_service>(*accounts_, stats_, o);
        return *auth_;
    }
    ks::http_response_spec http_login(const std::string& user, const std::string& pw,
                                      const std::string& address = "192.0.2.1") {
        return ts::wait_for_value<ks::http_response_spec>([&](auto h) {
            auth_->login({user, pw}, address, std::move(h));
        });
    }
    ks::http_response_spec http_logout(const std::string& token) {
        return ts::wait_for_value<ks::http_response_spec>(
            [&](auto h) { auth_->logout(token, std::move(h)); });
    }
    static std::optional<std::string> header(const ks::http_response_spec& r,
                                             std::string_view name) {
        for (const auto& [k, v] : r.headers)
            if (k == name) return v;
        return std::nullopt;
    }
    void start_monitor(std::int64_t fixed_now_ms = 0) {
        store::subscriber_options so;
        so.address = store::endpoint::unix_socket(redis_.socket_path().string());
        bus_ = std::make_unique<store::subscriber>(io_, so);
        ks::staff_monitor_options mo;
        mo.recheck = 100ms;
        mo.lookup = 200ms;
        if (fixed_now_ms) mo.now_ms = [fixed_now_ms] { return fixed_now_ms; };
        monitor_ = std::make_unique<ks::staff_monitor>(io_, *accounts_, registry_, stats_, mo);
        monitor_->start(*bus_);
        bus_->start();
        ASSERT_TRUE(ts::eventually([&] { return bus_->connected(); }));
    }

    ts::redis_process redis_;
    boost::asio::io_context io_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
        io_.get_executor()};
    std::thread thread_;
    std::unique_ptr<store::client> client_;
    std::unique_ptr<ka::account_store> accounts_;
    std::unique_ptr<ks::session_store> sessions_;
    ks::metrics stats_;
    std::unique_ptr<ks::auth_service> auth_;
    std::chrono::steady_clock::time_point now_{};
    ks::connection_registry registry_;
    std::unique_ptr<store::subscriber> bus_;
    std::unique_ptr<ks::staff_monitor> monitor_;
};

} // namespace

// ---- staff sessions -------------------------------------------------------------------------

TEST_F(StaffRedisTest, StaffSessionRemembersTheTokenHashNeverTheToken) {
    auto l = login("river");
    auto r = create_staff(kp::role::peer, l.token, 5);
    ASSERT_EQ(r.what, status::ok);
    EXPECT_EQ(r.role, kp::role::peer);
    ASSERT_TRUE(r.staff);
    EXPECT_EQ(r.staff->username, "river");
    EXPECT_EQ(r.staff->token_hash, ka::token_hash(l.token));
    EXPECT_EQ(r.staff->expires_at, l.expires_at);
    auto key = ks::session_store::session_key(r.session_id);
    EXPECT_EQ(redis_.command({"HGET", key, "user"}), "river");
    EXPECT_EQ(redis_.command({"HGET", key, "auth_hash"}), ka::token_hash(l.token));
    EXPECT_EQ(redis_.command({"HGET", key, "role"}), "peer");
    EXPECT_EQ(redis_.command({"HGETALL", key}).find(l.token), std::string::npos);
}

TEST_F(StaffRedisTest, StaffHelloChecksTheTokenAndTheRole) {
    auto peer = login("river");
    auto mod = login("mona");
    auto admin = login("boss");
    EXPECT_EQ(create_staff(kp::role::moderator, mod.token, 1).what, status::ok);
    EXPECT_EQ(create_staff(kp::role::moderator, peer.token, 2).what, status::forbidden);
    EXPECT_EQ(create_staff(kp::role::peer, mod.token, 3).what, status::forbidden);
    EXPECT_EQ(create_staff(kp::role::peer, admin.token, 4).what, status::forbidden);
    EXPECT_EQ(create_staff(kp::role::moderator, admin.token, 4).what, status::forbidden);
    EXPECT_EQ(create_staff(kp::role::peer, std::string(43, 'A'), 5).what,
              status::not_authenticated);
    EXPECT_EQ(create_staff(kp::role::peer, "not a token", 6).what, status::not_authenticated);
}

TEST_F(StaffRedisTest, ResumeOfAStaffSessionRechecksItsToken) {
    auto l = login("river");
    auto first = create_staff(kp::role::peer, l.token, 1);
    ASSERT_EQ(first.what, status::ok);
    auto again = resume(first.resume_token, 2);
    ASSERT_EQ(again.what, status::ok);
    EXPECT_EQ(again.role, kp::role::peer);
    ASSERT_TRUE(again.staff);
    EXPECT_EQ(again.staff->username, "river");

    auto ec = ts::wait_for_value<boost::system::error_code>(
        [&](auto h) { accounts_->logout(l.token, std::move(h)); });
    ASSERT_FALSE(ec);
    auto dead = resume(first.resume_token, 3);
    EXPECT_EQ(dead.what, status::not_authenticated);
    EXPECT_FALSE(dead.staff);
    // Released at once: nobody holds it.
    EXPECT_TRUE(ts::eventually([&] {
        return redis_.command({"HGET", ks::session_store::session_key(first.session_id), "conn"}) ==
               "";
    }));
}

TEST_F(StaffRedisTest, ResumeOfAStaffSessionOfADisabledAccountIsNotAuthenticated) {
    auto l = login("mona");
    auto first = create_staff(kp::role::moderator, l.token, 1);
    ASSERT_EQ(first.what, status::ok);
    auto ec = ts::wait_for_value<boost::system::error_code>(
        [&](auto h) { accounts_->set_disabled("test", "mona", true, std::move(h)); });
    ASSERT_FALSE(ec);
    EXPECT_EQ(resume(first.resume_token, 2).what, status::not_authenticated);
}

TEST_F(StaffRedisTest, BannedStaffAccountIsRefusedAtHelloAndResume) {
    auto l = login("river");
    auto first = create_staff(kp::role::peer, l.token, 1);
    ASSERT_EQ(first.what, status::ok);
    redis_.command({"SET", "mod:{mod}:ban:p:river", "1", "PX", "60000"});
    EXPECT_EQ(create_staff(kp::role::peer, l.token, 2).what, status::banned);
    EXPECT_EQ(resume(first.resume_token, 3).what, status::banned);
    // The resume that was refused took nothing over.
    EXPECT_EQ(redis_.command({"HGET", ks::session_store::session_key(first.session_id), "conn"}),
              "1");
    // Another account is not affected.
    auto mod = login("mona");
    EXPECT_EQ(create_staff(kp::role::moderator, mod.token, 4).what, status::ok);
    redis_.command({"DEL", "mod:{mod}:ban:p:river"});
    EXPECT_EQ(resume(first.resume_token, 5).what, status::ok);
}

TEST_F(StaffRedisTest, StaffSessionsIgnoreADevice) {
    auto l = login("river");
    auto first = create_staff(kp::role::peer, l.token, 1);
    ASSERT_EQ(first.what, status::ok);
    const std::string device(32, 'a');
    redis_.command({"SET", "mod:{mod}:ban:d:" + device, "1", "PX", "60000"});
    auto again = resume(first.resume_token, 2, device);
    ASSERT_EQ(again.what, status::ok);
    EXPECT_EQ(again.device_id, "");
    EXPECT_EQ(
        redis_.command({"HEXISTS", ks::session_store::session_key(first.session_id), "device"}),
        "0");
}

// ---- auth_service ---------------------------------------------------------------------------

TEST_F(StaffRedisTest, LoginOkAnswersTokenRoleAndExpiry) {
    auth();
    auto r = http_login("river", password);
    ASSERT_EQ(r.status, 200u) << r.body;
    auto b = json::parse(r.body).as_object();
    EXPECT_EQ(b.at("role"), "peer");
    EXPECT_EQ(b.at("token").as_string().size(), ka::token_chars);
    EXPECT_GT(b.at("expires_at").as_int64(), 0);
    EXPECT_EQ(header(r, "Cache-Control"), "no-store");
    EXPECT_EQ(stats_.logins().value("ok"), 1u);
    // The token works.
    EXPECT_EQ(create_staff(kp::role::peer, std::string(b.at("token").as_string()), 1).what,
              status::ok);
}

TEST_F(StaffRedisTest, UnknownUserAndWrongPasswordGetTheSameAnswer) {
    auth();
    auto unknown = http_login("nobody", password);
    auto wrong = http_login("river", "wrong password!");
    auto disabled_like = http_login("NOT A NAME", password);
    EXPECT_EQ(unknown.status, 401u);
    EXPECT_EQ(unknown.status, wrong.status);
    EXPECT_EQ(unknown.body, wrong.body);
    EXPECT_EQ(unknown.headers, wrong.headers);
    EXPECT_EQ(unknown.body, disabled_like.body);
    EXPECT_EQ(json::parse(unknown.body).at("error"), "not_authenticated");
    EXPECT_EQ(stats_.logins().value("bad_credentials"), 3u);
}

TEST_F(StaffRedisTest, PerAddressLimitIs429WithRetryAfterAndOnlyForThatAddress) {
    ks::auth_options o;
    o.address_policy.max_failures = 2;
    o.address_policy.window = 60s;
    auth(o);
    EXPECT_EQ(http_login("a1-user", "x", "198.51.100.7").status, 401u);
    EXPECT_EQ(http_login("a2-user", "x", "198.51.100.7").status, 401u);
    auto limited = http_login("river", password, "198.51.100.7"); // even the right password
    ASSERT_EQ(limited.status, 429u);
    auto b = json::parse(limited.body).as_object();
    EXPECT_EQ(b.at("error"), "rate_limited");
    ASSERT_TRUE(header(limited, "Retry-After"));
    const auto retry = std::stoi(*header(limited, "Retry-After"));
    EXPECT_GT(retry, 0);
    EXPECT_LE(retry, 60);
    EXPECT_EQ(b.at("retry_after_ms").as_int64(), retry * 1000);
    EXPECT_EQ(http_login("river", password, "198.51.100.8").status, 200u);
    EXPECT_EQ(stats_.logins().value("address_limited"), 1u);
    // The window passes (injected clock): the address may try again.
    now_ += 61s;
    EXPECT_EQ(http_login("river", password, "198.51.100.7").status, 200u);
}

TEST_F(StaffRedisTest, PerUsernameLockoutIs429EvenWithTheRightPassword) {
    auth();
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(http_login("river", "wrong password!", "203.0.113." + std::to_string(i)).status,
                  401u);
    auto locked = http_login("river", password, "203.0.113.99");
    ASSERT_EQ(locked.status, 429u);
    EXPECT_TRUE(header(locked, "Retry-After"));
    EXPECT_EQ(stats_.logins().value("locked"), 1u);
}

TEST_F(StaffRedisTest, TooManyPendingLoginsIs503) {
    ks::auth_options o;
    o.max_pending_logins = 0;
    auth(o);
    auto r = http_login("river", password);
    EXPECT_EQ(r.status, 503u);
    EXPECT_EQ(json::parse(r.body).at("error"), "unavailable");
    EXPECT_EQ(header(r, "Retry-After"), "1");
    EXPECT_EQ(auth_->pending_logins(), 0u);
}

TEST_F(StaffRedisTest, LogoutIs204ThenTheTokenIsDead) {
    auth();
    auto l = login("river");
    EXPECT_EQ(http_logout(l.token).status, 204u);
    auto again = http_logout(l.token);
    EXPECT_EQ(again.status, 401u);
    EXPECT_EQ(json::parse(again.body).at("error"), "not_authenticated");
    EXPECT_EQ(create_staff(kp::role::peer, l.token, 1).what, status::not_authenticated);
}

TEST_F(StaffRedisTest, RedisDownIs503) {
    auth();
    redis_.stop();
    ASSERT_TRUE(ts::eventually([&] { return !client_->connected(); }));
    auto r = http_login("river", password);
    EXPECT_EQ(r.status, 503u);
    EXPECT_EQ(json::parse(r.body).at("error"), "unavailable");
    EXPECT_EQ(http_logout(std::string(43, 'A')).status, 503u);
    EXPECT_EQ(create_staff(kp::role::peer, std::string(43, 'A'), 1).what, status::unavailable);
}

// ---- staff_monitor --------------------------------------------------------------------------

TEST_F(StaffRedisTest, MonitorClosesOnARevocationNotice) {
    start_monitor();
    auto l = login("river");
    auto other = login("mona");
    auto a = std::make_shared<fake_connection>();
    auto b = std::make_shared<fake_connection>();
    registry_.add(1, a);
    registry_.add(2, b);
    registry_.set_staff(1, {"river", ka::token_hash(l.token), l.expires_at});
    registry_.set_staff(2, {"mona", ka::token_hash(other.token), other.expires_at});
    auto ec = ts::wait_for_value<boost::system::error_code>(
        [&](auto h) { accounts_->logout(l.token, std::move(h)); });
    ASSERT_FALSE(ec);
    ASSERT_TRUE(ts::eventually([&] { return a->closes().size() == 1; }, 2s));
    EXPECT_EQ(a->closes().at(0).first, 4003);
    EXPECT_EQ(b->closes().size(), 0u);
    // Disabling mo kills every one of its tokens.
    ec = ts::wait_for_value<boost::system::error_code>(
        [&](auto h) { accounts_->set_disabled("test", "mona", true, std::move(h)); });
    ASSERT_FALSE(ec);
    ASSERT_TRUE(ts::eventually([&] { return b->closes().size() == 1; }, 2s));
    EXPECT_EQ(b->closes().at(0).first, 4003);
}

TEST_F(StaffRedisTest, MonitorRecheckCatchesATokenDeletedWithoutNotice) {
    start_monitor();
    auto l = login("river");
    auto a = std::make_shared<fake_connection>();
    registry_.add(1, a);
    registry_.set_staff(1, {"river", ka::token_hash(l.token), l.expires_at});
    // Live tokens are left alone across several re-checks.
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(a->closes().size(), 0u);
    redis_.command({"DEL", ka::keys::token(ka::token_hash(l.token))}); // no notice published
    ASSERT_TRUE(ts::eventually([&] { return a->closes().size() == 1; }, 2s));
    EXPECT_EQ(a->closes().at(0).first, 4003);
}

TEST_F(StaffRedisTest, MonitorClosesAtExpiry) {
    start_monitor(/*fixed_now_ms=*/5000);
    auto a = std::make_shared<fake_connection>();
    auto b = std::make_shared<fake_connection>();
    auto l = login("river");
    registry_.add(1, a);
    registry_.add(2, b);
    registry_.set_staff(1, {"river", ka::token_hash(l.token), 4000}); // expired by the clock
    registry_.set_staff(2, {"river", ka::token_hash(l.token), 6000}); // same token, not yet
    ASSERT_TRUE(ts::eventually([&] { return a->closes().size() == 1; }, 2s));
    EXPECT_EQ(a->closes().at(0), (std::pair<std::uint16_t, std::string>{4003, "token expired"}));
    EXPECT_EQ(b->closes().size(), 0u);
}
