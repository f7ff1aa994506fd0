// matching_service_redis_test.cpp — the work matching_service starts right behind a claim
// (claim_sent: the conversation created, the peer read) against a real redis-server: a
// refused claim's conversation is discarded, whichever comes first, the create's answer or
// the refusal; an unknown claim (its answer lost) keeps its conversation until the store
// settles it; a create whose answer was lost is discarded all the same (it may have run); a
// conversation somebody already uses is never discarded.
#include <kindred/accounts/account_store.hpp>
#include <kindred/matching/matching_store.hpp>
#include <kindred/relay/conversation_log.hpp>
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/event_bus.hpp>
#include <kindred/server/matching_service.hpp>
#include <kindred/store/client.hpp>
#include <kindred/testsupport/io_thread.hpp>
#include <kindred/testsupport/process.hpp>
#include <kindred/testsupport/redis_process.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace ks = kindred::server;
namespace ts = kindred::testsupport;
using kindred::matching::claim_loss;
using namespace std::chrono_literals;

namespace {

struct matching_fixture {
    explicit matching_fixture(std::chrono::milliseconds command_timeout = 10000ms)
        : client{io.io, client_options(redis.unix_address(), command_timeout)} {
        client.start();
        EXPECT_TRUE(ts::eventually([&] { return client.connected(); }));
    }
    ~matching_fixture() { client.stop(); }

    static kindred::store::client_options client_options(const std::string& address,
                                                         std::chrono::milliseconds timeout) {
        kindred::store::client_options o;
        o.address = kindred::store::parse_endpoint(address).value();
        o.command_timeout = timeout;
        o.ping_interval = 0ms; // a paused Redis must not cost the connection (and what it holds)
        return o;
    }
    static ks::matching_service_options service_options(kindred::relay::conversation_log& log) {
        ks::matching_service_options o;
        o.catalog_tags = {"grief"};
        o.catalog_languages = {"en"};
        o.conversations = &log;
        return o;
    }
    bool exists(const std::string& conversation) {
        return redis.command({"EXISTS", "conv:{" + conversation + "}"}) == "1";
    }
    std::string listed(const std::string& role_and_id) {
        return redis.command({"ZCARD", "party:{" + role_and_id + "}:convs"});
    }
    // Every command sent before this one on the service's connection has run.
    void settle() {
        std::promise<void> p;
        client.command({"PING"},
                       [&](boost::system::error_code, kindred::store::reply) { p.set_value(); });
        ASSERT_EQ(p.get_future().wait_for(10s), std::future_status::ready);
    }

    ts::redis_process redis;
    ts::io_thread io;
    kindred::store::client client;
    kindred::accounts::account_store accounts{client, {}};
    kindred::matching::matching_store matching{client, {}};
    kindred::relay::conversation_log log{client};
    ks::connection_registry connections;
    ks::event_bus bus{client, connections, "a"};
    ks::matching_service service{matching, accounts,    client,
                                 bus,      connections, service_options(log)};
};

} // namespace

TEST(MatchingServiceRedis, ARefusedClaimsConversationIsDiscarded) {
    matching_fixture f;
    // Refused before the create's answer is in (the usual order: the claim's answer comes
    // first on the shared connection).
    f.service.claim_sent("c1", "S1", "river");
    f.service.claim_lost("c1", claim_loss::refused);
    // Refused after it.
    f.service.claim_sent("c2", "S2", "river");
    f.settle();
    ASSERT_TRUE(f.exists("c2"));
    EXPECT_EQ(f.listed("seeker:S2"), "1");
    f.service.claim_lost("c2", claim_loss::refused);

    EXPECT_TRUE(ts::eventually([&] { return !f.exists("c1") && !f.exists("c2"); }));
    EXPECT_TRUE(ts::eventually([&] { return f.listed("peer:river") == "0"; }));
    EXPECT_EQ(f.listed("seeker:S1"), "0");
    EXPECT_EQ(f.listed("seeker:S2"), "0");
}

TEST(MatchingServiceRedis, AnUnknownClaimKeepsItsConversationUntilTheStoreSettlesIt) {
    matching_fixture f;
    f.service.claim_sent("c1", "S1", "river");
    f.service.claim_lost("c1", claim_loss::unknown);
    f.settle();
    f.settle(); // the discard would have been sent by now
    EXPECT_TRUE(f.exists("c1")) << "it may have been matched";
    // The store's lookup found no match record: refused after all.
    f.service.claim_lost("c1", claim_loss::refused);
    EXPECT_TRUE(ts::eventually([&] { return !f.exists("c1"); }));
}

TEST(MatchingServiceRedis, AConversationInUseIsNeverDiscarded) {
    matching_fixture f;
    f.service.claim_sent("c1", "S1", "river");
    f.settle();
    // Something wrote to it (no real path does this before a match; the guard is in Redis).
    f.redis.command({"HSET", "conv:{c1}", "last_offset", "1"});
    f.service.claim_lost("c1", claim_loss::refused);
    f.settle();
    f.settle();
    EXPECT_TRUE(f.exists("c1"));
    EXPECT_EQ(f.listed("seeker:S1"), "1");
    // A refusal for a claim this service never sent changes nothing either.
    f.service.claim_lost("c9", claim_loss::refused);
    f.settle();
    EXPECT_TRUE(f.exists("c1"));
}

TEST(MatchingServiceRedis, ARefusedClaimsConversationIsDiscardedEvenWhenItsCreateTimedOut) {
    matching_fixture f(300ms);
    // Redis hangs: the create (and the reads) reach its socket but are answered only after
    // their deadline, so the service hears "timeout" — and the create runs all the same.
    f.redis.pause();
    f.service.claim_sent("c1", "S1", "river");
    std::this_thread::sleep_for(450ms);
    f.service.claim_lost("c1", claim_loss::refused);
    f.redis.resume();
    EXPECT_TRUE(ts::eventually([&] { return !f.exists("c1"); }, 10s))
        << "a conversation made for a refused claim was left behind";
    EXPECT_TRUE(ts::eventually([&] { return f.listed("seeker:S1") == "0"; }, 10s));
}
