// event_bus_redis_test.cpp — event_bus against a real redis-server: local fast path, delivery
// through the holder's bus channel (a real subscriber on instance "b"), notices, nothing for a
// session in its grace (no connection) or unknown, untrusted payloads ignored.
#include "recording_connection.hpp"
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/event_bus.hpp>
#include <kindred/server/session_store.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/subscriber.hpp>
#include <kindred/testsupport/process.hpp>
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

namespace {

using fake_connection = ks::testing::recording_connection;

class EventBusRedisTest : public ::testing::Test {
protected:
    void SetUp() override {
        redis_.start();
        thread_ = std::thread([this] { io_.run(); });
        store::client_options o;
        o.address = store::endpoint::unix_socket(redis_.socket_path().string());
        o.command_timeout = 1000ms;
        client_ = std::make_unique<store::client>(io_, o);
        client_->start();
        ASSERT_TRUE(ts::eventually([&] { return client_->connected(); }));
    }
    void TearDown() override {
        if (subscriber_) subscriber_->stop();
        client_->stop();
        work_.reset();
        io_.stop();
        thread_.join();
    }
    bool reached(ks::event_bus& bus, std::string session, std::string text) {
        std::promise<bool> p;
        bus.deliver(std::move(session), "message", std::move(text),
                    [&](bool r) { p.set_value(r); });
        return p.get_future().get();
    }

    ts::redis_process redis_;
    boost::asio::io_context io_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
        io_.get_executor()};
    std::thread thread_;
    std::unique_ptr<store::client> client_;
    std::unique_ptr<store::subscriber> subscriber_;
};

} // namespace

TEST_F(EventBusRedisTest, LocalSessionIsServedDirectly) {
    ks::connection_registry reg;
    auto conn = std::make_shared<fake_connection>();
    reg.add(1, conn);
    reg.set_session(1, "S1");
    ks::event_bus bus(*client_, reg, "a");
    EXPECT_TRUE(reached(bus, "S1", "{\"x\":1}"));
    EXPECT_EQ(conn->delivered(), (std::vector<std::string>{"S1|message|{\"x\":1}"}));
}

TEST_F(EventBusRedisTest, RemoteSessionGetsItThroughItsInstanceChannel) {
    // Instance b holds S2 (connection 9); instance a has nothing local.
    redis_.command({"HSET", ks::session_store::session_key("S2"), "instance", "b", "conn", "9"});
    ks::connection_registry reg_a, reg_b;
    auto conn = std::make_shared<fake_connection>();
    reg_b.add(9, conn);
    reg_b.set_session(9, "S2");
    ks::event_bus bus_a(*client_, reg_a, "a");
    ks::event_bus bus_b(*client_, reg_b, "b");
    std::atomic<int> notices{0};
    bus_b.on_notice("matched", [&](const std::string& s, const boost::json::object& body) {
        if (s == "S2" && body.contains("k")) ++notices;
    });

    store::subscriber_options so;
    so.address = store::endpoint::unix_socket(redis_.socket_path().string());
    subscriber_ = std::make_unique<store::subscriber>(io_, so);
    subscriber_->subscribe(
        ks::session_store::bus_channel("b"),
        [&](std::string_view, std::string_view payload) { bus_b.handle(payload); });
    subscriber_->start();
    ASSERT_TRUE(ts::eventually([&] {
        return redis_.command({"PUBSUB", "NUMSUB", "bus:{b}"}) == "bus:{b}\n1";
    }));

    EXPECT_TRUE(reached(bus_a, "S2", "hello"));
    ASSERT_TRUE(ts::eventually([&] { return conn->delivered().size() == 1; }));
    EXPECT_EQ(conn->delivered()[0], "S2|message|hello");

    std::promise<bool> p;
    bus_a.notify("S2", "matched", boost::json::object{{"k", 1}}, [&](bool r) { p.set_value(r); });
    EXPECT_TRUE(p.get_future().get());
    EXPECT_TRUE(ts::eventually([&] { return notices.load() == 1; }));
}

TEST_F(EventBusRedisTest, NoLiveHolderIsNotReached) {
    ks::connection_registry reg;
    ks::event_bus bus(*client_, reg, "a");
    EXPECT_FALSE(reached(bus, "unknown", "x"));
    // A session in its grace period: no connection holds it.
    redis_.command({"HSET", ks::session_store::session_key("S3"), "instance", "b", "conn", ""});
    EXPECT_FALSE(reached(bus, "S3", "x"));
    // Held by another instance nobody listens for.
    redis_.command({"HSET", ks::session_store::session_key("S4"), "instance", "zz", "conn", "3"});
    EXPECT_FALSE(reached(bus, "S4", "x"));
}

TEST_F(EventBusRedisTest, UntrustedPayloadsAreIgnored) {
    ks::connection_registry reg;
    auto conn = std::make_shared<fake_connection>();
    reg.add(1, conn);
    reg.set_session(1, "S1");
    ks::event_bus bus(*client_, reg, "a");
    EXPECT_FALSE(bus.handle("not json"));
    EXPECT_FALSE(bus.handle(R"({"type":"takeover","session":"S1","conn":1})"));
    EXPECT_TRUE(bus.handle(R"({"type":"deliver","session":"S1","event_type":7})"));
    EXPECT_TRUE(bus.handle(R"({"type":"notice","session":"S1","kind":"nobody","body":{}})"));
    EXPECT_TRUE(conn->delivered().empty());
    EXPECT_TRUE(bus.handle(ks::event_bus::deliver_message("S1", "typing", "{}")));
    EXPECT_EQ(conn->delivered().size(), 1u);
}
