// subscriber_redis_test.cpp — kindred::store::subscriber against a real redis-server
// (label: redis): deliveries, resubscription after restarts and hangs, unsubscribe, stop.
#include "store_test_support.hpp"
#include <kindred/testsupport/redis_process.hpp>

#include <atomic>
#include <utility>

using namespace kindred::store;
using namespace kindred::store::test;
using kindred::testsupport::eventually;
using kindred::testsupport::redis_process;

namespace {

using message = std::pair<std::string, std::string>;

subscriber::message_handler collect(shared_list<message>& into) {
    return [&into](std::string_view channel, std::string_view payload) {
        into.push({std::string(channel), std::string(payload)});
    };
}

// Subscribes and waits for Redis's confirmation.
boost::system::error_code subscribe_and_wait(subscriber& s, const std::string& channel,
                                             subscriber::message_handler h) {
    auto p = std::make_shared<std::promise<boost::system::error_code>>();
    auto f = p->get_future();
    s.subscribe(channel, std::move(h), [p](boost::system::error_code ec) { p->set_value(ec); });
    if (f.wait_for(20s) != std::future_status::ready) {
        ADD_FAILURE() << "subscription never confirmed";
        return error::timeout;
    }
    return f.get();
}

} // namespace

TEST(SubscriberRedis, ReceivesPublishedMessagesInOrder) {
    shared_list<message> got;
    io_thread io;
    redis_process redis;
    auto where = unix_endpoint(redis.unix_address());
    client c(io.io, fast_client(where));
    subscriber sub(io.io, fast_subscriber(where));
    // Subscribing before start() is fine: the first connection subscribes everything.
    auto p = std::make_shared<std::promise<boost::system::error_code>>();
    sub.subscribe("bus:one", collect(got), [p](boost::system::error_code ec) { p->set_value(ec); });
    sub.start();
    c.start();
    auto f = p->get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(f.get());
    EXPECT_TRUE(sub.connected());
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    std::string binary("a\0b\r\n", 5);
    for (int i = 0; i < 100; ++i) {
        std::string payload = i == 50 ? binary : "m" + std::to_string(i);
        c.publish("bus:one", payload, [](boost::system::error_code, reply) {});
    }
    auto receivers = std::make_shared<std::promise<result>>();
    c.publish("bus:one", "last", [receivers](boost::system::error_code ec, reply r) {
        receivers->set_value({ec, std::move(r)});
    });
    auto last = receivers->get_future().get();
    EXPECT_FALSE(last.ec);
    EXPECT_EQ(last.value.integer(), 1); // exactly our subscriber

    ASSERT_TRUE(eventually([&] { return got.size() == 101; }));
    auto seen = got.snapshot();
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(seen[i].first, "bus:one");
        EXPECT_EQ(seen[i].second, i == 50 ? binary : "m" + std::to_string(i)) << i;
    }
    EXPECT_EQ(seen[100].second, "last");
}

TEST(SubscriberRedis, ResubscribesAfterRestartThenSignalsAndReceivesAgain) {
    std::atomic<int> resubscribed{0};
    shared_list<bool> states;
    shared_list<message> got;
    io_thread io;
    redis_process redis;
    auto where = unix_endpoint(redis.unix_address());
    auto opts = fast_subscriber(where);
    opts.on_resubscribed = [&resubscribed] { resubscribed++; };
    opts.on_state = [&states](bool up) { states.push(up); };
    subscriber sub(io.io, opts);
    sub.start();
    ASSERT_FALSE(subscribe_and_wait(sub, "bus:a", collect(got)));
    ASSERT_FALSE(subscribe_and_wait(sub, "bus:b", collect(got)));
    EXPECT_EQ(resubscribed.load(), 0); // the first connection is not a REsubscription
    EXPECT_EQ(redis.command({"PUBLISH", "bus:a", "before"}), "1");
    ASSERT_TRUE(eventually([&] { return got.size() == 1; }));

    redis.restart();
    ASSERT_TRUE(eventually([&] { return resubscribed.load() == 1; }, 10s));
    EXPECT_TRUE(sub.connected());
    // on_resubscribed comes after every channel is confirmed again.
    EXPECT_EQ(redis.command({"PUBLISH", "bus:a", "after-a"}), "1");
    EXPECT_EQ(redis.command({"PUBLISH", "bus:b", "after-b"}), "1");
    ASSERT_TRUE(eventually([&] { return got.size() == 3; }));
    auto seen = got.snapshot();
    EXPECT_EQ(seen[1], (message{"bus:a", "after-a"}));
    EXPECT_EQ(seen[2], (message{"bus:b", "after-b"}));
    EXPECT_TRUE(eventually([&] { return states.size() >= 3; }));
    EXPECT_EQ(states.snapshot(), (std::vector<bool>{true, false, true}));
}

TEST(SubscriberRedis, DetectsAHungRedisAndResubscribesAfterResume) {
    std::atomic<int> resubscribed{0};
    shared_list<message> got;
    io_thread io;
    redis_process redis;
    auto opts = fast_subscriber(unix_endpoint(redis.unix_address()));
    opts.on_resubscribed = [&resubscribed] { resubscribed++; };
    subscriber sub(io.io, opts);
    sub.start();
    ASSERT_FALSE(subscribe_and_wait(sub, "bus:h", collect(got)));

    redis.pause(); // the socket stays open; only the heartbeat can tell
    ASSERT_TRUE(eventually([&] { return !sub.connected(); }));
    redis.resume();
    ASSERT_TRUE(eventually([&] { return resubscribed.load() >= 1 && sub.connected(); }, 10s));
    ASSERT_TRUE(eventually([&] { return redis.command({"PUBLISH", "bus:h", "x"}) == "1"; }));
    ASSERT_TRUE(eventually([&] { return got.size() >= 1; }));
    EXPECT_EQ(got.snapshot().front().second, "x");
}

TEST(SubscriberRedis, UnsubscribeStopsDeliveriesForThatChannelOnly) {
    shared_list<message> kept;
    shared_list<message> dropped;
    io_thread io;
    redis_process redis;
    subscriber sub(io.io, fast_subscriber(unix_endpoint(redis.unix_address())));
    sub.start();
    ASSERT_FALSE(subscribe_and_wait(sub, "keep", collect(kept)));
    ASSERT_FALSE(subscribe_and_wait(sub, "drop", collect(dropped)));

    sub.unsubscribe("drop");
    ASSERT_TRUE(eventually([&] { return redis.command({"PUBLISH", "drop", "x"}) == "0"; }));
    EXPECT_EQ(redis.command({"PUBLISH", "keep", "y"}), "1");
    ASSERT_TRUE(eventually([&] { return kept.size() == 1; }));
    EXPECT_EQ(dropped.size(), 0u);

    // Subscribing again works (and a second subscribe of a live channel just swaps handler).
    ASSERT_FALSE(subscribe_and_wait(sub, "drop", collect(dropped)));
    ASSERT_FALSE(subscribe_and_wait(sub, "drop", collect(kept)));
    EXPECT_EQ(redis.command({"PUBLISH", "drop", "z"}), "1");
    ASSERT_TRUE(eventually([&] { return kept.size() == 2; }));
    EXPECT_EQ(dropped.size(), 0u);
}

TEST(SubscriberRedis, StopFailsPendingSubscriptions) {
    io_thread io;
    redis_process redis;
    redis.stop(); // never confirmed
    subscriber sub(io.io, fast_subscriber(unix_endpoint(redis.unix_address())));
    sub.start();
    auto p = std::make_shared<std::promise<boost::system::error_code>>();
    sub.subscribe(
        "c", [](std::string_view, std::string_view) {},
        [p](boost::system::error_code ec) { p->set_value(ec); });
    sub.stop();
    auto f = p->get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get(), error::stopped);
    EXPECT_FALSE(sub.connected());
    // After stop, subscribe fails at once.
    auto q = std::make_shared<std::promise<boost::system::error_code>>();
    sub.subscribe(
        "d", [](std::string_view, std::string_view) {},
        [q](boost::system::error_code ec) { q->set_value(ec); });
    EXPECT_EQ(q->get_future().get(), error::stopped);
}
