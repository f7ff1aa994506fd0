// insights_recorder_redis_test.cpp — the server's insights recorder against a real
// redis-server on a hand-stepped clock (label: redis): shift time is counted only while the
// shift is on and the peer's socket is held here, split at hour boundaries, into the shift's
// cells and the peer's own counters; a cancel counts in its request's cells; my_summary
// answers the peer's own figures; feedback for an unknown conversation is not_found.
#include <kindred/accounts/account_store.hpp>
#include <kindred/insights/insights_store.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/relay/conversation_log.hpp>
#include <kindred/server/insights_recorder.hpp>
#include <kindred/store/client.hpp>
#include <kindred/testsupport/io_thread.hpp>
#include <kindred/testsupport/redis_process.hpp>
#include <kindred/testsupport/wait_for.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <atomic>

namespace ks = kindred::server;
namespace ki = kindred::insights;
namespace kp = kindred::protocol;
using namespace std::chrono_literals;
using boost::system::error_code;
using kindred::testsupport::eventually;
using kindred::testsupport::io_thread;
using kindred::testsupport::redis_process;
using kindred::testsupport::wait_for;

namespace {

constexpr std::int64_t day0 = 20785; // 2026-11-28
constexpr std::int64_t t0 = day0 * ki::ms_per_day;
constexpr std::int64_t H = ki::ms_per_hour;
constexpr std::int64_t M = 60'000;

kindred::store::client_options fast_client(const std::string& address) {
    kindred::store::client_options o;
    o.address = kindred::store::parse_endpoint(address).value();
    o.command_timeout = 5000ms; // generous: sanitizer builds on shared cores
    o.connect_timeout = 500ms;
    o.reconnect_initial = 20ms;
    o.name = "insights-recorder-test";
    return o;
}

struct fixture {
    fixture()
        : client(io.io, fast_client(redis.unix_address())) {
        client.start();
        EXPECT_TRUE(eventually([&] { return client.connected(); }));
        store = std::make_unique<ki::insights_store>(client);
        log = std::make_unique<kindred::relay::conversation_log>(client);
        accounts = std::make_unique<kindred::accounts::account_store>(
            client, kindred::accounts::account_store_options{});
        ks::insights_recorder_options o;
        o.clock = [this] { return now.load(); };
        recorder = std::make_unique<ks::insights_recorder>(*store, *log, *accounts, o);
    }
    ~fixture() {
        recorder.reset();
        accounts.reset();
        log.reset();
        store.reset();
        client.stop();
    }
    // The field of the (hour, tag, language) cell, once writes have landed (they are
    // fire-and-forget): polls until it equals `want` or gives up and returns the last value.
    std::int64_t cell(std::int64_t hour, const std::string& tag, const std::string& lang,
                      const std::string& field, std::int64_t want) {
        std::int64_t got = -1;
        eventually([&] {
            auto [ec, cells] = wait_for<error_code, std::vector<ki::counters>>([&](auto h) {
                store->read({store->options().keys.hour_key(hour, {tag, lang})}, h);
            });
            got = cells.empty() || !cells[0].contains(field) ? 0 : cells[0].at(field);
            return got == want;
        });
        return got;
    }
    ks::service_answer ask(kp::client_message m, std::string session,
                           std::optional<ks::staff_identity> staff) {
        ks::service_request r;
        r.id = "1";
        r.message = std::move(m);
        r.session_id = std::move(session);
        r.role = staff ? kp::role::peer : kp::role::seeker;
        r.staff = std::move(staff);
        auto [a] = wait_for<ks::service_answer>(
            [&](auto h) { recorder->handle(std::move(r), std::move(h)); });
        return a;
    }

    io_thread io;
    redis_process redis;
    kindred::store::client client;
    std::atomic<std::int64_t> now{t0};
    std::unique_ptr<ki::insights_store> store;
    std::unique_ptr<kindred::relay::conversation_log> log;
    std::unique_ptr<kindred::accounts::account_store> accounts;
    std::unique_ptr<ks::insights_recorder> recorder;
};

const ks::staff_identity river{"river", "hash", 0};

} // namespace

TEST(InsightsRecorder, ShiftTimeOnlyWhileOnAndHeldHereSplitByHour) {
    fixture f;
    const auto h = day0 * 24;
    f.now = t0 + 10 * H + 30 * M;
    f.recorder->shift_started("river", "s1", {"grief"}, {"en"});
    f.now = t0 + 12 * H + 15 * M;
    f.recorder->tick(); // 10:30 → 12:15
    f.now = t0 + 12 * H + 45 * M;
    f.recorder->shift_changed("river", kp::shift_status::paused); // + 30 min in hour 12
    f.now = t0 + 13 * H;
    f.recorder->tick(); // paused: nothing
    f.recorder->shift_changed("river", kp::shift_status::on);
    f.now = t0 + 13 * H + 10 * M;
    f.recorder->connection_closed("s1"); // + 10 min in hour 13, then not counted
    f.now = t0 + 14 * H;
    f.recorder->tick(); // not held here: nothing
    f.recorder->session_opened("s2", kp::role::peer, river);
    f.now = t0 + 14 * H + 30 * M;
    f.recorder->shift_changed("river", kp::shift_status::off); // + 30 min in hour 14

    EXPECT_EQ(f.cell(h + 10, "grief", "en", "peer_seconds", 1800), 1800);
    EXPECT_EQ(f.cell(h + 11, "grief", "en", "peer_seconds", 3600), 3600);
    EXPECT_EQ(f.cell(h + 12, "grief", "en", "peer_seconds", 2700), 2700);
    EXPECT_EQ(f.cell(h + 13, "grief", "en", "peer_seconds", 600), 600);
    EXPECT_EQ(f.cell(h + 14, "*", "*", "peer_seconds", 1800), 1800);
    EXPECT_EQ(f.cell(h + 15, "*", "*", "peer_seconds", 0), 0);

    // The peer's own summary: the same 10,500 s today, and nothing pending (the shift is off).
    auto a = f.ask(kp::my_summary{}, "s2", river);
    ASSERT_EQ(a.frames.size(), 1u);
    const auto ok = boost::json::parse(a.frames[0].text).as_object();
    EXPECT_EQ(ok.at("today").at("seconds_on_shift").as_int64(), 10'500);
    EXPECT_EQ(ok.at("week").at("seconds_on_shift").as_int64(), 10'500);
    EXPECT_EQ(ok.at("today").at("chats").as_int64(), 0);
}

TEST(InsightsRecorder, MySummaryAddsTimeNotWrittenYet) {
    fixture f;
    f.now = t0 + 9 * H;
    f.recorder->shift_started("river", "s1", {"grief"}, {"en"});
    f.now = t0 + 9 * H + 20 * M; // no tick yet
    auto a = f.ask(kp::my_summary{}, "s1", river);
    const auto ok = boost::json::parse(a.frames.at(0).text).as_object();
    EXPECT_EQ(ok.at("today").at("seconds_on_shift").as_int64(), 1200);
}

TEST(InsightsRecorder, CancelCountsInItsRequestsCells) {
    fixture f;
    f.now = t0 + 3 * H;
    f.recorder->requested("seeker-1", {"grief", "loss"}, {"es"});
    f.recorder->cancelled("seeker-1");
    f.recorder->cancelled("never-requested-here"); // counted untagged only
    const auto h = day0 * 24 + 3;
    EXPECT_EQ(f.cell(h, "grief", "es", "requests", 1), 1);
    EXPECT_EQ(f.cell(h, "loss", "es", "cancels", 1), 1);
    EXPECT_EQ(f.cell(h, "*", "es", "cancels", 1), 1);
    EXPECT_EQ(f.cell(h, "*", "*", "cancels", 2), 2);
}

TEST(InsightsRecorder, FeedbackForAnUnknownConversationIsNotFound) {
    fixture f;
    auto a = f.ask(kp::feedback{"no-such-conversation", 5, std::nullopt}, "seeker-1", std::nullopt);
    ASSERT_EQ(a.frames.size(), 1u);
    EXPECT_EQ(a.frames[0].error_code, "not_found");
}
