// insights_store_test.cpp — the insights store against a real redis-server (label: redis): a
// simulated day recorded through the store gives the expected report; retention TTLs; the
// peer's own counters; one feedback claim per conversation; and a scan of every ins:* key and
// value afterwards finds no conversation id, session id or account name.
#include <kindred/insights/insights_store.hpp>
#include <kindred/store/client.hpp>
#include <kindred/testsupport/io_thread.hpp>
#include <kindred/testsupport/redis_process.hpp>
#include <kindred/testsupport/wait_for.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace kindred::insights;
using namespace std::chrono_literals;
using boost::system::error_code;
using kindred::testsupport::eventually;
using kindred::testsupport::io_thread;
using kindred::testsupport::redis_process;
using kindred::testsupport::wait_for;
namespace ks = kindred::store;

namespace {

constexpr std::int64_t day0 = 20785; // 2026-11-28 (a Saturday)
constexpr std::int64_t t0 = day0 * ms_per_day;
constexpr std::int64_t H = ms_per_hour;

ks::client_options fast_client(const std::string& address) {
    ks::client_options o;
    o.address = ks::parse_endpoint(address).value();
    o.command_timeout = 5000ms; // generous: sanitizer builds on shared cores
    o.connect_timeout = 500ms;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 200ms;
    o.name = "insights-test";
    return o;
}

struct fixture {
    fixture()
        : client(io.io, fast_client(redis.unix_address())) {
        client.start();
        EXPECT_TRUE(eventually([&] { return client.connected(); }));
        store = std::make_unique<insights_store>(client, insights_options{});
    }
    ~fixture() {
        store.reset();
        client.stop();
    }
    void add(std::vector<increment> inc) {
        auto [ec] = wait_for<error_code>([&](auto h) { store->add(std::move(inc), h); });
        EXPECT_FALSE(ec) << ec.message();
    }
    ks::reply cmd(std::vector<std::string> args) {
        auto [ec, r] =
            wait_for<error_code, ks::reply>([&](auto h) { client.command(std::move(args), h); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    boost::json::object report(report_query q, std::vector<std::string> tags) {
        auto [ec, in] =
            wait_for<error_code, report_input>([&](auto h) { store->read_report(q, tags, h); });
        EXPECT_FALSE(ec) << ec.message();
        return report_json(in);
    }

    io_thread io;
    redis_process redis;
    ks::client client;
    std::unique_ptr<insights_store> store;
};

const attributes grief_en{{"grief"}, {"en"}};
const attributes grief_loss_en_es{{"grief", "loss"}, {"en", "es"}};

// A simulated day: 12 requests for grief/en (10 matched, 2 cancelled) between 09:00 and
// 11:00, waits 5 s ×6, 45 s ×2, 400 s ×2 (relaxed); 10 conversations ended (8 short, 2 of
// 20 min, 1 of them by transfer); 2 requests for grief+loss in en/es at 22:00 with no peer on
// shift; a peer on grief/en 08:30–12:15; 6 feedbacks; escalations high ×5, 5 resolved referred.
void simulate_day(fixture& f) {
    const key_layout& k = f.store->options().keys;
    std::vector<increment> all;
    auto add = [&](std::vector<increment> v) { all.insert(all.end(), v.begin(), v.end()); };
    for (int i = 0; i < 12; ++i)
        add(request_increments(k, t0 + 9 * H + i * 600'000, grief_en));
    for (int i = 0; i < 10; ++i) {
        const std::int64_t wait = i < 6 ? 5 : i < 8 ? 45 : 400;
        add(match_increments(k, t0 + 9 * H + i * 600'000, grief_en, i >= 8, wait));
        add(end_increments(k, t0 + 10 * H + i * 60'000, grief_en, i < 8 ? 120 : 1200, i == 9));
    }
    for (int i = 0; i < 2; ++i)
        add(cancel_increments(k, t0 + 11 * H, grief_en));
    for (int i = 0; i < 2; ++i)
        add(request_increments(k, t0 + 22 * H, grief_loss_en_es));
    add(shift_increments(k, t0 + 8 * H + 30 * 60'000, t0 + 12 * H + 15 * 60'000, grief_en));
    for (int i = 0; i < 6; ++i)
        add(feedback_increments(k, t0 + 14 * H, grief_en, i < 5 ? 5 : 2,
                                std::string_view(i < 5 ? "better" : "same")));
    for (int i = 0; i < 5; ++i) {
        add(escalation_increments(k, t0 + 9 * H, grief_en, "high"));
        add(outcome_increments(k, t0 + 10 * H, grief_en, "referred"));
    }
    // One event per script call, as the server records them.
    for (auto& inc : all)
        f.add({inc});
}

report_query day_query() {
    report_query q;
    q.from_day = day0;
    q.to_day = day0;
    return q;
}

} // namespace

TEST(InsightsStore, SimulatedDayGivesTheExpectedReport) {
    fixture f;
    simulate_day(f);
    const auto r = f.report(day_query(), {"grief", "loss"});
    const auto& t = r.at("totals").as_object();
    EXPECT_EQ(t.at("requests").as_int64(), 14);
    EXPECT_EQ(t.at("matches").as_int64(), 10);
    EXPECT_TRUE(t.at("relaxed_matches").is_null()) << "2 < 5";
    EXPECT_TRUE(t.at("cancels").is_null());
    EXPECT_EQ(t.at("conversations").as_int64(), 10);
    EXPECT_TRUE(t.at("transfers").is_null());
    EXPECT_DOUBLE_EQ(t.at("peer_hours").as_double(), 3.8); // 3 h 45 min

    const auto& w = r.at("waits").as_object();
    EXPECT_EQ(w.at("bins").as_array()[0].at("count").as_int64(), 6);
    EXPECT_EQ(w.at("median_le").as_string(), "10s");
    EXPECT_TRUE(w.at("p90_le").is_null()) << "the path to p90 holds suppressed bins";
    EXPECT_TRUE(w.at("waited_over").at("count").is_null()) << "2 waited over 5 min: suppressed";

    const auto& len = r.at("conversation_lengths").at("bins").as_array();
    EXPECT_EQ(len[0].at("count").as_int64(), 8);

    const auto& tags = r.at("coverage").at("tags").as_array();
    ASSERT_EQ(tags.size(), 2u);
    const auto& grief = tags[0].as_object();
    EXPECT_EQ(grief.at("requests").as_int64(), 14);
    EXPECT_DOUBLE_EQ(grief.at("peer_hours").as_double(), 3.8);
    // Hours with a peer: 08, 09, 10, 11, 12 → 19 without; 22h had 2 requests and no peer.
    EXPECT_EQ(grief.at("hours_without_peer").as_int64(), 19);
    EXPECT_EQ(grief.at("unmet_hours").as_int64(), 1);
    EXPECT_TRUE(grief.at("unmet_requests").is_null());
    const auto& loss = tags[1].as_object();
    EXPECT_EQ(loss.at("hours_without_peer").as_int64(), 24);
    EXPECT_EQ(loss.at("unmet_hours").as_int64(), 1);

    const auto& fb = r.at("feedback").as_object();
    EXPECT_EQ(fb.at("helped_answers").as_int64(), 6);
    EXPECT_EQ(fb.at("helped").as_array()[4].at("count").as_int64(), 5);
    EXPECT_TRUE(fb.at("helped").as_array()[1].at("count").is_null());
    EXPECT_EQ(fb.at("feeling").as_array()[2].at("count").as_int64(), 5);
    const auto& esc = r.at("escalations").as_object();
    EXPECT_EQ(esc.at("raised").as_array()[2].at("count").as_int64(), 5);
    EXPECT_EQ(esc.at("outcomes").as_array()[2].at("count").as_int64(), 5);

    // Filtered by language es: only the two grief+loss requests.
    auto q = day_query();
    q.language = "es";
    const auto es = f.report(q, {"grief", "loss"});
    EXPECT_TRUE(es.at("totals").at("requests").is_null());
    q.min_cell = 1;
    EXPECT_EQ(f.report(q, {"grief"}).at("totals").at("requests").as_int64(), 2);
    // Filtered by tag loss and min_cell 1: 2 requests, no peer time.
    q = day_query();
    q.tag = "loss";
    q.min_cell = 1;
    const auto loss_only = f.report(q, {"ignored-when-a-tag-is-given"});
    EXPECT_EQ(loss_only.at("totals").at("requests").as_int64(), 2);
    EXPECT_EQ(loss_only.at("coverage").at("tags").as_array().size(), 1u);
}

TEST(InsightsStore, RetentionTtlOnEveryCell) {
    fixture f;
    f.add(request_increments(f.store->options().keys, t0, grief_en));
    const auto keys = f.cmd({"KEYS", "ins:*"});
    ASSERT_EQ(keys.size(), 4u);
    for (const auto& k : keys.elements()) {
        const auto ttl = f.cmd({"TTL", k.str()}).integer();
        EXPECT_GT(ttl, 399 * 24 * 3600) << k.str();
        EXPECT_LE(ttl, 400 * 24 * 3600) << k.str();
    }
}

TEST(InsightsStore, ReadsInRoundsKeepOrder) {
    fixture f;
    // Three rounds of 256 and a part: every answer lands at its own index.
    std::vector<std::string> keys;
    for (int i = 0; i < 700; ++i)
        keys.push_back("ins:{ins}:test:" + std::to_string(i));
    f.add({{keys[3], "n", 3}, {keys[300], "n", 300}, {keys[699], "n", 699}});
    auto [ec, cells] =
        wait_for<error_code, std::vector<counters>>([&](auto h) { f.store->read(keys, h); });
    ASSERT_FALSE(ec);
    ASSERT_EQ(cells.size(), 700u);
    EXPECT_EQ(cells[3].at("n"), 3);
    EXPECT_EQ(cells[300].at("n"), 300);
    EXPECT_EQ(cells[699].at("n"), 699);
    EXPECT_TRUE(cells[4].empty());
    auto [ec2, none] =
        wait_for<error_code, std::vector<counters>>([&](auto h) { f.store->read({}, h); });
    EXPECT_FALSE(ec2);
    EXPECT_TRUE(none.empty());
}

TEST(InsightsStore, PeerOwnCountersSplitAtMidnight) {
    fixture f;
    auto [e1] = wait_for<error_code>([&](auto h) { f.store->add_peer_chat("river", t0 + H, h); });
    auto [e2] = wait_for<error_code>(
        [&](auto h) { f.store->add_peer_seconds("river", t0 - 600'000, t0 + 1'800'000, h); });
    ASSERT_FALSE(e1 || e2);
    auto [ec, days] = wait_for<error_code, std::vector<peer_day>>([&](auto h) {
        f.store->read_peer("river", {day0 - 1, day0}, h);
    });
    ASSERT_FALSE(ec);
    EXPECT_EQ(days[0].seconds_on_shift, 600);
    EXPECT_EQ(days[0].chats, 0);
    EXPECT_EQ(days[1].seconds_on_shift, 1800);
    EXPECT_EQ(days[1].chats, 1);
    const auto ttl = f.cmd({"TTL", f.store->peer_key("river", day0)}).integer();
    EXPECT_GT(ttl, 34 * 24 * 3600);
    EXPECT_LE(ttl, 35 * 24 * 3600);
}

TEST(InsightsStore, OneFeedbackClaimPerConversation) {
    fixture f;
    auto [e0] = wait_for<error_code>(
        [&](auto h) { f.store->remember_conversation("c1", grief_loss_en_es, 3600s, h); });
    ASSERT_FALSE(e0);
    auto [e1, first] = wait_for<error_code, std::pair<bool, attributes>>(
        [&](auto h) { f.store->claim_feedback("c1", 60s, h); });
    ASSERT_FALSE(e1);
    EXPECT_TRUE(first.first);
    EXPECT_EQ(first.second.tags, (std::vector<std::string>{"grief", "loss"}));
    EXPECT_EQ(first.second.languages, (std::vector<std::string>{"en", "es"}));
    auto [e2, second] = wait_for<error_code, std::pair<bool, attributes>>(
        [&](auto h) { f.store->claim_feedback("c1", 60s, h); });
    EXPECT_FALSE(second.first);
    // Unknown conversation: claimed once, no attributes, expiring.
    auto [e3, unknown] = wait_for<error_code, std::pair<bool, attributes>>(
        [&](auto h) { f.store->claim_feedback("c2", 60s, h); });
    EXPECT_TRUE(unknown.first);
    EXPECT_TRUE(unknown.second.tags.empty());
    EXPECT_GT(f.cmd({"TTL", insights_store::conversation_key("c2")}).integer(), 0);
    EXPECT_GT(f.cmd({"TTL", insights_store::conversation_key("c1")}).integer(), 60);
}

TEST(InsightsStore, AggregatesHoldNoIdentifiers) {
    fixture f;
    simulate_day(f);
    // Side data that does hold identifiers lives outside ins:*.
    wait_for<error_code>(
        [&](auto h) { f.store->remember_conversation("conv-7f3a", grief_en, 60s, h); });
    wait_for<error_code>([&](auto h) { f.store->add_peer_chat("river", t0, h); });
    const auto keys = f.cmd({"KEYS", "ins:*"});
    ASSERT_GT(keys.size(), 10u);
    for (const auto& k : keys.elements()) {
        const auto& key = k.str();
        EXPECT_EQ(key.find("conv-7f3a"), std::string::npos);
        EXPECT_EQ(key.find("river"), std::string::npos);
        // Shape: ins:{ins}:h:YYYYMMDDHH:<tag|*>:<lang|*> or ins:{ins}:fb:YYYYMMDD:...
        EXPECT_TRUE(key.rfind("ins:{ins}:h:", 0) == 0 || key.rfind("ins:{ins}:fb:", 0) == 0) << key;
        // Held in a local: a range-for over a temporary's elements() would dangle.
        const auto fields = f.cmd({"HGETALL", key});
        for (const auto& e : fields.elements()) {
            EXPECT_EQ(e.str().find("conv-7f3a"), std::string::npos);
            EXPECT_EQ(e.str().find("river"), std::string::npos);
        }
    }
}
