// session_store_redis_test.cpp — sessions against a real redis-server: create, resume,
// takeover (local and across instances through the bus), release with a 1 s grace and
// expiry, forged and malformed tokens, Redis down; the seeker's device id and bans at hello.
#include <kindred/server/session_store.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/subscriber.hpp>
#include <kindred/testsupport/redis_process.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

namespace ks = kindred::server;
namespace store = kindred::store;
namespace ts = kindred::testsupport;
using namespace std::chrono_literals;
using status = ks::session_result::status;

namespace {

class SessionStoreRedisTest : public ::testing::Test {
protected:
    void SetUp() override {
        redis_.start();
        thread_ = std::thread([this] { io_.run(); });
        client_ = make_client();
        client_->start();
        ASSERT_TRUE(ts::eventually([&] { return client_->connected(); }));
    }
    void TearDown() override {
        stores_.clear();
        client_->stop();
        client_.reset();
        work_.reset();
        io_.stop();
        thread_.join();
    }
    std::unique_ptr<store::client> make_client() {
        store::client_options o;
        o.address = store::endpoint::unix_socket(redis_.socket_path().string());
        o.command_timeout = 1000ms;
        return std::make_unique<store::client>(io_, o);
    }
    ks::session_store& make_store(std::string instance, std::chrono::seconds grace = 120s) {
        ks::session_store_options o;
        o.instance_id = std::move(instance);
        o.grace = grace;
        o.connected_ttl = 60s;
        o.local_takeover = [this](std::uint64_t conn, const std::string& s) {
            std::lock_guard lock(mutex_);
            takeovers_.emplace_back(conn, s);
        };
        stores_.push_back(std::make_unique<ks::session_store>(*client_, o));
        return *stores_.back();
    }
    static ks::session_result create(ks::session_store& s, std::uint64_t conn,
                                     const std::string& device = {}) {
        std::promise<ks::session_result> p;
        s.create(kindred::protocol::role::seeker, device, conn,
                 [&](ks::session_result r) { p.set_value(std::move(r)); });
        return p.get_future().get();
    }
    static ks::session_result resume(ks::session_store& s, const std::string& token,
                                     std::uint64_t conn, const std::string& device = {}) {
        std::promise<ks::session_result> p;
        s.resume(token, device, conn, [&](ks::session_result r) { p.set_value(std::move(r)); });
        return p.get_future().get();
    }
    void ban(const std::string& what) {
        redis_.command({"SET", "mod:{mod}:ban:" + what, "1", "PX", "60000"});
    }
    std::string hget(const std::string& session, const std::string& field) {
        return redis_.command({"HGET", ks::session_store::session_key(session), field});
    }
    long ttl(const std::string& session) {
        return std::stol(redis_.command({"TTL", ks::session_store::session_key(session)}));
    }
    std::vector<std::pair<std::uint64_t, std::string>> takeovers() {
        std::lock_guard lock(mutex_);
        return takeovers_;
    }

    ts::redis_process redis_;
    boost::asio::io_context io_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
        io_.get_executor()};
    std::thread thread_;
    std::unique_ptr<store::client> client_;
    std::vector<std::unique_ptr<ks::session_store>> stores_;
    std::mutex mutex_;
    std::vector<std::pair<std::uint64_t, std::string>> takeovers_;
};

} // namespace

TEST_F(SessionStoreRedisTest, CreateStoresOnlyTheTokenHash) {
    auto& s = make_store("i1");
    auto r = create(s, 7);
    ASSERT_EQ(r.what, status::ok);
    EXPECT_EQ(r.session_id.size(), 22u); // 128 bits, base64url
    ASSERT_EQ(r.resume_token.rfind(r.session_id + ".", 0), 0u);
    EXPECT_GE(r.resume_token.size(), r.session_id.size() + 1 + 43); // 256-bit secret
    EXPECT_EQ(r.role, kindred::protocol::role::seeker);

    EXPECT_EQ(hget(r.session_id, "role"), "seeker");
    EXPECT_EQ(hget(r.session_id, "instance"), "i1");
    EXPECT_EQ(hget(r.session_id, "conn"), "7");
    EXPECT_EQ(hget(r.session_id, "token_hash"), ks::session_store::token_hash(r.resume_token));
    EXPECT_NE(hget(r.session_id, "created_at"), "(nil)");
    // The secret is nowhere in Redis.
    auto secret = r.resume_token.substr(r.session_id.size() + 1);
    auto all = redis_.command({"HGETALL", ks::session_store::session_key(r.session_id)});
    EXPECT_EQ(all.find(secret), std::string::npos);
    EXPECT_GT(ttl(r.session_id), 0);
    EXPECT_LE(ttl(r.session_id), 60);
    EXPECT_NE(create(s, 8).session_id, r.session_id);
}

TEST_F(SessionStoreRedisTest, ResumeKeepsSessionRoleAndTokenAndTakesOver) {
    auto& s = make_store("i1");
    auto first = create(s, 1);
    auto again = resume(s, first.resume_token, 2);
    ASSERT_EQ(again.what, status::ok);
    EXPECT_EQ(again.session_id, first.session_id);
    EXPECT_EQ(again.role, kindred::protocol::role::seeker);
    EXPECT_EQ(again.resume_token, first.resume_token);
    EXPECT_EQ(hget(first.session_id, "conn"), "2");
    auto t = takeovers();
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0], (std::pair<std::uint64_t, std::string>{1, first.session_id}));
}

TEST_F(SessionStoreRedisTest, ResumeOnAnotherInstancePublishesTakeoverToTheHolder) {
    auto& a = make_store("ia");
    auto& b = make_store("ib");
    store::subscriber_options so;
    so.address = store::endpoint::unix_socket(redis_.socket_path().string());
    store::subscriber bus(io_, so);
    std::promise<std::string> got;
    std::promise<void> subscribed;
    bus.subscribe(
        ks::session_store::bus_channel("ia"),
        [&](std::string_view, std::string_view payload) { got.set_value(std::string(payload)); },
        [&](boost::system::error_code) { subscribed.set_value(); });
    bus.start();
    subscribed.get_future().get();

    auto first = create(a, 11);
    auto r = resume(b, first.resume_token, 22);
    ASSERT_EQ(r.what, status::ok);
    EXPECT_EQ(hget(first.session_id, "instance"), "ib");
    auto payload = got.get_future().get();
    auto parsed = ks::session_store::parse_takeover(payload);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->first, first.session_id);
    EXPECT_EQ(parsed->second, 11u);
    EXPECT_TRUE(takeovers().empty()); // not a local connection
    bus.stop();
}

TEST_F(SessionStoreRedisTest, ReleasedSessionExpiresAfterTheGrace) {
    auto& s = make_store("i1", 1s);
    auto r = create(s, 5);
    s.release(r.session_id, 5);
    ASSERT_TRUE(ts::eventually([&] { return s.in_flight() == 0; }));
    EXPECT_EQ(hget(r.session_id, "conn"), "");
    EXPECT_LE(ttl(r.session_id), 1);
    ASSERT_TRUE(ts::eventually(
        [&] { return redis_.keys(ks::session_store::session_key(r.session_id)).empty(); }, 5s));
    EXPECT_EQ(resume(s, r.resume_token, 6).what, status::not_found);
}

TEST_F(SessionStoreRedisTest, ResumeWithinTheGraceWorks) {
    auto& s = make_store("i1", 30s);
    auto r = create(s, 5);
    s.release(r.session_id, 5);
    ASSERT_TRUE(ts::eventually([&] { return s.in_flight() == 0; }));
    auto back = resume(s, r.resume_token, 6);
    ASSERT_EQ(back.what, status::ok);
    EXPECT_EQ(back.session_id, r.session_id);
    EXPECT_GT(ttl(r.session_id), 30); // connected again: the connected TTL
    EXPECT_TRUE(takeovers().empty()); // nobody held it
}

TEST_F(SessionStoreRedisTest, ReleaseByAFormerHolderChangesNothing) {
    auto& s = make_store("i1", 1s);
    auto r = create(s, 1);
    ASSERT_EQ(resume(s, r.resume_token, 2).what, status::ok);
    s.release(r.session_id, 1); // the old connection ends after the takeover
    ASSERT_TRUE(ts::eventually([&] { return s.in_flight() == 0; }));
    EXPECT_EQ(hget(r.session_id, "conn"), "2");
    EXPECT_GT(ttl(r.session_id), 1);
}

TEST_F(SessionStoreRedisTest, ForgedAndMalformedTokensAreNotFound) {
    auto& s = make_store("i1");
    auto r = create(s, 1);
    std::string forged = r.resume_token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    EXPECT_EQ(resume(s, forged, 2).what, status::not_found);
    EXPECT_EQ(hget(r.session_id, "conn"), "1"); // untouched
    for (const std::string& bad : {std::string(""), std::string("nodot"), r.session_id,
                                   r.session_id + ".", "." + r.resume_token, r.resume_token + "x",
                                   std::string(600, 'a'), std::string("sess:{x}.y")}) {
        EXPECT_EQ(resume(s, bad, 3).what, status::not_found) << bad;
    }
    EXPECT_TRUE(takeovers().empty());
}

TEST_F(SessionStoreRedisTest, RedisDownIsUnavailable) {
    auto& s = make_store("i1");
    auto r = create(s, 1);
    redis_.stop();
    ASSERT_TRUE(ts::eventually([&] { return !client_->connected(); }));
    EXPECT_EQ(create(s, 2).what, status::unavailable);
    EXPECT_EQ(resume(s, r.resume_token, 3).what, status::unavailable);
}

TEST_F(SessionStoreRedisTest, RefreshExtendsOnlySessionsStillHeld) {
    auto& s = make_store("i1", 1s);
    auto held = create(s, 1);
    auto released = create(s, 2);
    s.release(released.session_id, 2);
    ASSERT_TRUE(ts::eventually([&] { return s.in_flight() == 0; }));
    redis_.command({"EXPIRE", ks::session_store::session_key(held.session_id), "5"});
    s.refresh({{1, held.session_id}, {2, released.session_id}});
    EXPECT_TRUE(ts::eventually([&] { return ttl(held.session_id) > 5; }));
    EXPECT_LE(ttl(released.session_id), 1); // the grace deadline stands
}

TEST(SessionStore, TakeoverMessagesRoundTripAndRejectJunk) {
    auto m = ks::session_store::takeover_message("S1", 42);
    auto p = ks::session_store::parse_takeover(m);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->first, "S1");
    EXPECT_EQ(p->second, 42u);
    for (const char* junk :
         {"", "x", "[]", R"({"type":"other","session":"S","conn":1})",
          R"({"type":"takeover","conn":1})", R"({"type":"takeover","session":"S","conn":-1})",
          R"({"type":"takeover","session":"S","conn":"1"})"})
        EXPECT_FALSE(ks::session_store::parse_takeover(junk)) << junk;
}

// ---- the seeker's device (issue #5) -----------------------------------------------------------

namespace {
const std::string device_a = "0123456789abcdef0123456789abcdef";
const std::string device_b = "fedcba9876543210fedcba9876543210";
} // namespace

TEST_F(SessionStoreRedisTest, CreateStoresTheDeviceIdAndAnswersIt) {
    auto& s = make_store("i1");
    auto r = create(s, 1, device_a);
    ASSERT_EQ(r.what, status::ok);
    EXPECT_EQ(r.device_id, device_a);
    EXPECT_EQ(hget(r.session_id, "device"), device_a);
    auto none = create(s, 2);
    ASSERT_EQ(none.what, status::ok);
    EXPECT_EQ(none.device_id, "");
    EXPECT_EQ(
        redis_.command({"HEXISTS", ks::session_store::session_key(none.session_id), "device"}),
        "0");
}

TEST_F(SessionStoreRedisTest, AMalformedDeviceIdIsTreatedAsNone) {
    auto& s = make_store("i1");
    for (const std::string& bad :
         {std::string(31, 'a'), std::string(33, 'a'), std::string(32, 'A'), std::string(32, 'g'),
          std::string("0123456789abcdef0123456789abcde}")}) {
        auto r = create(s, 1, bad);
        ASSERT_EQ(r.what, status::ok) << bad;
        EXPECT_EQ(r.device_id, "") << bad;
    }
}

TEST_F(SessionStoreRedisTest, ResumeWithoutDeviceKeepsTheStoredOne) {
    auto& s = make_store("i1");
    auto first = create(s, 1, device_a);
    auto again = resume(s, first.resume_token, 2);
    ASSERT_EQ(again.what, status::ok);
    EXPECT_EQ(again.device_id, device_a);
    EXPECT_EQ(hget(first.session_id, "device"), device_a);
}

TEST_F(SessionStoreRedisTest, ResumeRecordsADeviceOnASessionWithoutOneButNeverReplacesOne) {
    auto& s = make_store("i1");
    auto first = create(s, 1);
    auto named = resume(s, first.resume_token, 2, device_a);
    ASSERT_EQ(named.what, status::ok);
    EXPECT_EQ(named.device_id, device_a);
    EXPECT_EQ(hget(first.session_id, "device"), device_a);
    // The first device stays the session's device: blocks and bans follow it.
    auto other = resume(s, first.resume_token, 3, device_b);
    ASSERT_EQ(other.what, status::ok);
    EXPECT_EQ(other.device_id, device_a);
    EXPECT_EQ(hget(first.session_id, "device"), device_a);
}

TEST_F(SessionStoreRedisTest, ABannedDeviceGetsNoNewSession) {
    auto& s = make_store("i1");
    ban("d:" + device_a);
    auto r = create(s, 1, device_a);
    EXPECT_EQ(r.what, status::banned);
    EXPECT_EQ(r.session_id, "");
    EXPECT_TRUE(redis_.keys("sess:*").empty()); // nothing written
    EXPECT_EQ(create(s, 2, device_b).what, status::ok);
    EXPECT_EQ(create(s, 3).what, status::ok);
}

TEST_F(SessionStoreRedisTest, ABannedSessionCannotResumeAndKeepsItsHolder) {
    auto& s = make_store("i1");
    auto first = create(s, 1);
    ban("s:" + first.session_id);
    EXPECT_EQ(resume(s, first.resume_token, 2).what, status::banned);
    EXPECT_EQ(hget(first.session_id, "conn"), "1");
    EXPECT_TRUE(takeovers().empty());
    // A forged token learns nothing about the ban.
    std::string forged = first.resume_token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    EXPECT_EQ(resume(s, forged, 3).what, status::not_found);
}

TEST_F(SessionStoreRedisTest, ResumeIsRefusedForABannedStoredOrGivenDevice) {
    auto& s = make_store("i1");
    auto stored = create(s, 1, device_a);
    auto plain = create(s, 2);
    ban("d:" + device_a);
    // The session's own device is banned: with or without naming a device in the hello.
    EXPECT_EQ(resume(s, stored.resume_token, 3).what, status::banned);
    EXPECT_EQ(resume(s, stored.resume_token, 4, device_b).what, status::banned);
    // A session without a device, resumed from a banned device.
    EXPECT_EQ(resume(s, plain.resume_token, 5, device_a).what, status::banned);
    EXPECT_EQ(
        redis_.command({"HEXISTS", ks::session_store::session_key(plain.session_id), "device"}),
        "0");
    EXPECT_EQ(resume(s, plain.resume_token, 6).what, status::ok);
}

TEST_F(SessionStoreRedisTest, BansUseTheConfiguredModerationPrefix) {
    ks::session_store_options o;
    o.instance_id = "i1";
    o.moderation_prefix = "t:{mod}:";
    ks::session_store s(*client_, o);
    redis_.command({"SET", "t:{mod}:ban:d:" + device_a, "1", "PX", "60000"});
    EXPECT_EQ(create(s, 1, device_a).what, status::banned);
    ban("d:" + device_b); // the default prefix: not this store's
    EXPECT_EQ(create(s, 2, device_b).what, status::ok);
}

TEST_F(SessionStoreRedisTest, AnExpiredBanNoLongerRefuses) {
    auto& s = make_store("i1");
    redis_.command({"SET", "mod:{mod}:ban:d:" + device_a, "1", "PX", "1"});
    ASSERT_TRUE(ts::eventually([&] { return redis_.keys("mod:*").empty(); }));
    EXPECT_EQ(create(s, 1, device_a).what, status::ok);
}
