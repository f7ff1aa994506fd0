// session_store_redis_test.cpp — sessions against a real redis-server: create, resume,
// takeover (local and across instances through the bus), release with a 1 s grace and
// expiry, forged and malformed tokens, Redis down.
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
    static ks::session_result create(ks::session_store& s, std::uint64_t conn) {
        std::promise<ks::session_result> p;
        s.create(kindred::protocol::role::seeker, conn,
                 [&](ks::session_result r) { p.set_value(std::move(r)); });
        return p.get_future().get();
    }
    static ks::session_result resume(ks::session_store& s, const std::string& token,
                                     std::uint64_t conn) {
        std::promise<ks::session_result> p;
        s.resume(token, conn, [&](ks::session_result r) { p.set_value(std::move(r)); });
        return p.get_future().get();
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
