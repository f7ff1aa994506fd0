// insights_test.cpp — issue #10 against a real kindred-server and redis-server: the seeker's
// feedback is accepted once, only for its own ended conversation; the peer sees its own
// summary; GET /v1/insights[.csv] is 401 without a token, 403 for staff who are not admins,
// 200 for an admin (JSON and CSV, no-store) and 400 for a bad range; and after the run no
// ins:* key or value holds a conversation id, session id, account name, device hash or token.
#include "integration_support.hpp"
#include <kindred/client/e2e.hpp>

#include <array>
#include <string>
#include <thread>

namespace kindred::itest {
namespace {

namespace json = boost::json;
namespace e2e = kindred::client::e2e;
namespace kp = kindred::protocol;

class Insights : public relay_fixture {};

std::string feedback_json(std::string_view conversation, std::string_view id,
                          std::string_view extra = R"(,"helped":4,"feeling":"better")") {
    return R"({"type":"feedback","id":")" + std::string(id) + R"(","conversation_id":")" +
           std::string(conversation) + "\"" + std::string(extra) + "}";
}

std::string today_utc() {
    const auto now = std::chrono::system_clock::now();
    const auto days = std::chrono::floor<std::chrono::days>(now);
    const std::chrono::year_month_day ymd{days};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    return buf;
}

} // namespace

TEST_F(Insights, FeedbackOnceForOwnEndedConversationAndNothingIdentifyingIsStored) {
    start_server();
    hello_result peer_hello;
    auto peer = ready_peer(port(), 1, &peer_hello);

    // A seeker with a device secret, so its device hash exists to be searched for.
    auto seeker_ws = connect();
    std::array<std::uint8_t, 32> device{};
    device.fill(0x5a);
    const std::string hello_text =
        R"({"type":"hello","id":"1","v":1,"role":"seeker","device":")" + b64(device) + "\"}";
    auto hello_ok = expect_ok(last(seeker_ws.request(hello_text)), "1");
    const std::string session = str(hello_ok, "session");
    const std::string resume_token = str(hello_ok, "resume_token");
    ASSERT_FALSE(session.empty());

    auto pair = match(seeker_ws, peer);
    const std::string conv = pair.conversation_id;
    ASSERT_FALSE(conv.empty());

    // Before the end: conflict. Missing both fields: bad_message. A peer: forbidden.
    expect_error(last(seeker_ws.request(feedback_json(conv, "f1"))), "conflict", "f1");
    expect_error(last(seeker_ws.request(feedback_json(conv, "f2", ""))), "bad_message", "f2");
    expect_error(last(peer.request(feedback_json(conv, "f3"))), "forbidden", "f3");
    // Another seeker: not_found (never a hint that the conversation exists).
    auto stranger = seeker();
    expect_error(last(stranger.request(feedback_json(conv, "f4"))), "not_found", "f4");
    expect_error(last(stranger.request(feedback_json("no-such-conversation", "f5"))), "not_found",
                 "f5");

    // An escalation in the conversation counts in the conversation's cells (by level).
    expect_ok(last(seeker_ws.request(R"({"type":"escalate","id":"x","conversation_id":")" + conv +
                                     R"(","level":"high","category":"other"})")),
              "x");

    expect_ok(
        last(seeker_ws.request(R"({"type":"end","id":"e","conversation_id":")" + conv + "\"}")),
        "e");
    next_of(peer, "ended");

    expect_ok(last(seeker_ws.request(feedback_json(conv, "f6"))), "f6");
    auto again = expect_error(last(seeker_ws.request(feedback_json(conv, "f7", R"(,"helped":1)"))),
                              "conflict", "f7");
    EXPECT_EQ(str(again, "message"), "feedback already given");
    // A stranger still cannot, after the end.
    expect_error(last(stranger.request(feedback_json(conv, "f8"))), "not_found", "f8");

    // The peer's own summary: one chat today; a seeker may not ask.
    auto summary = expect_ok(last(peer.request(R"({"type":"my_summary","id":"s"})")), "s");
    EXPECT_EQ(summary.at("today").at("chats").as_int64(), 1);
    EXPECT_GE(summary.at("week").at("chats").as_int64(), 1);
    EXPECT_GE(summary.at("today").at("seconds_on_shift").as_int64(), 0);
    expect_error(last(seeker_ws.request(R"({"type":"my_summary","id":"s2"})")), "forbidden", "s2");

    // Shift time: at least a second on shift, then the end of the shift writes it.
    std::this_thread::sleep_for(1100ms); // so the shift spans a whole second (not a timing check)
    expect_ok(last(peer.request(R"({"type":"shift_end","id":"se"})")), "se");

    // The counters arrive (writes are fire-and-forget): feedback, request, match, end.
    std::string fb_key;
    for (int i = 0; i < 100 && fb_key.empty(); ++i) {
        for (const auto& k : redis_.keys("ins:{ins}:fb:*:grief:en"))
            fb_key = k;
        if (fb_key.empty()) std::this_thread::sleep_for(50ms);
    }
    ASSERT_FALSE(fb_key.empty());
    EXPECT_EQ(redis_.command({"HGET", fb_key, "helped_4"}), "1");
    EXPECT_EQ(redis_.command({"HGET", fb_key, "feeling_better"}), "1");
    std::string conversations;
    for (int i = 0; i < 100 && conversations != "1"; ++i) {
        conversations.clear();
        for (const auto& k : redis_.keys("ins:{ins}:h:*:*:*"))
            if (auto v = redis_.command({"HGET", k, "conversations"}); !v.empty())
                conversations = v;
        if (conversations != "1") std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(conversations, "1");
    // The (hour, grief, en) cells: requests, matches, the high escalation, length, peer time.
    auto cell_sum = [&](const std::string& field) {
        long long sum = 0;
        for (const auto& k : redis_.keys("ins:{ins}:h:*:grief:en"))
            if (auto v = redis_.command({"HGET", k, field}); !v.empty()) sum += std::stoll(v);
        return sum;
    };
    long long peer_seconds = 0;
    for (int i = 0; i < 100 && peer_seconds == 0; ++i) {
        peer_seconds = cell_sum("peer_seconds");
        if (peer_seconds == 0) std::this_thread::sleep_for(50ms);
    }
    EXPECT_GE(peer_seconds, 1);
    EXPECT_EQ(cell_sum("requests"), 1);
    EXPECT_EQ(cell_sum("matches"), 1);
    EXPECT_EQ(cell_sum("esc_high"), 1);
    EXPECT_EQ(cell_sum("conv_le_5m"), 1);

    // Privacy: no ins:* key or value names the conversation, the session, the peer, the
    // device hash, a login token or the resume token.
    const std::string device_hash = redis_.command({"HGET", "sess:{" + session + "}", "device"});
    std::vector<std::string> secrets{conv, session, "river", resume_token};
    if (!device_hash.empty()) secrets.push_back(device_hash);
    const auto keys = redis_.keys("ins:*");
    ASSERT_GT(keys.size(), 4u);
    for (const auto& k : keys) {
        std::string all = k + "\n" + redis_.command({"HGETALL", k});
        for (const auto& s : secrets)
            EXPECT_EQ(all.find(s), std::string::npos) << k << " holds an identifier";
        EXPECT_TRUE(k.rfind("ins:{ins}:h:", 0) == 0 || k.rfind("ins:{ins}:fb:", 0) == 0) << k;
    }
    (void)peer_hello;
}

TEST_F(Insights, AdminEndpointsNeedAnAdminToken) {
    start_server();
    const auto admin_pw = add_staff("coordinator", "admin");
    const auto mod_pw = add_staff("mira", "moderator");
    const auto admin = login("coordinator", admin_pw);
    const auto moderator = login("mira", mod_pw);
    ASSERT_FALSE(admin.empty());
    const std::string range = "?from=" + today_utc() + "&to=" + today_utc();

    auto none = get("/v1/insights" + range);
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(parse_object(none.body).at("error").as_string(), "not_authenticated");
    auto bogus = get("/v1/insights" + range, {{"Authorization", "Bearer not-a-token"}});
    EXPECT_EQ(bogus.status, 401);
    auto staff = get("/v1/insights" + range, {{"Authorization", "Bearer " + moderator}});
    EXPECT_EQ(staff.status, 403);
    EXPECT_EQ(parse_object(staff.body).at("error").as_string(), "forbidden");

    auto ok = get("/v1/insights" + range, {{"Authorization", "Bearer " + admin}});
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.header("Cache-Control").value_or(""), "no-store");
    const auto report = parse_object(ok.body);
    EXPECT_EQ(str(report, "from"), today_utc());
    EXPECT_TRUE(report.at("totals").as_object().contains("requests"));
    EXPECT_EQ(report.at("coverage").at("hours_of_week").as_array().size(), 168u);

    auto csv =
        get("/v1/insights.csv" + range + "&tag=grief", {{"Authorization", "Bearer " + admin}});
    ASSERT_EQ(csv.status, 200);
    EXPECT_NE(csv.header("Content-Type").value_or("").find("text/csv"), std::string::npos);
    EXPECT_NE(csv.header("Content-Disposition").value_or("").find("attachment"), std::string::npos);
    EXPECT_EQ(csv.body.rfind("section,item,measure,value", 0), 0u);

    auto bad =
        get("/v1/insights?from=2020-01-01&to=2026-01-01", {{"Authorization", "Bearer " + admin}});
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("400 days"), std::string::npos);

    // An admin token still opens no WebSocket session.
    auto ws = connect();
    auto refused = ws.request(staff_hello_json("moderator", admin));
    expect_error(refused.front(), "forbidden", "1");
}

} // namespace kindred::itest
