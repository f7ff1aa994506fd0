// model_test.cpp — the insights arithmetic (label: unit): dates and stamps, bins at their
// bounds, shift time split at hour boundaries, the cells an event counts in, the increments.
#include <kindred/insights/model.hpp>

#include <gtest/gtest.h>

#include <numeric>
#include <set>

using namespace kindred::insights;

namespace {

// 2026-11-28 is day 20785 since the epoch (a Saturday).
constexpr std::int64_t day0 = 20785;
constexpr std::int64_t t0 = day0 * ms_per_day; // 2026-11-28T00:00Z

} // namespace

TEST(Dates, RoundTripAndStrictParse) {
    EXPECT_EQ(parse_date("2026-11-28"), day0);
    EXPECT_EQ(format_date(day0), "2026-11-28");
    EXPECT_EQ(day_stamp(day0), "20261128");
    EXPECT_EQ(hour_stamp(day0 * 24 + 13), "2026112813");
    EXPECT_EQ(parse_date("1970-01-01"), 0);
    EXPECT_EQ(parse_date("2024-02-29"), days_from_civil(2024, 2, 29));
    for (auto bad : {"2026-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "26-11-28",
                     "2026/11/28", "2026-11-2x", "", "1969-12-31", "2026-11-31"})
        EXPECT_FALSE(parse_date(bad)) << bad;
    EXPECT_EQ(weekday_of(day0), 5);     // Saturday
    EXPECT_EQ(weekday_of(day0 + 2), 0); // Monday
    EXPECT_EQ(weekday_of(0), 3);        // 1970-01-01, a Thursday
    EXPECT_EQ(hour_of(t0 + ms_per_hour - 1), day0 * 24);
    EXPECT_EQ(day_of(t0 - 1), day0 - 1);
}

TEST(Bins, WaitBoundsAreInclusiveUpper) {
    EXPECT_EQ(wait_field(0), "wait_le_10s");
    EXPECT_EQ(wait_field(-5), "wait_le_10s");
    EXPECT_EQ(wait_field(10), "wait_le_10s");
    EXPECT_EQ(wait_field(11), "wait_le_30s");
    EXPECT_EQ(wait_field(300), "wait_le_300s");
    EXPECT_EQ(wait_field(301), "wait_le_600s");
    EXPECT_EQ(wait_field(1800), "wait_le_1800s");
    EXPECT_EQ(wait_field(1801), "wait_le_inf");
    EXPECT_EQ(wait_bin_labels().size(), wait_bounds_s.size() + 1);
}

TEST(Bins, ConversationLengths) {
    EXPECT_EQ(conv_field(0), "conv_le_5m");
    EXPECT_EQ(conv_field(300), "conv_le_5m");
    EXPECT_EQ(conv_field(301), "conv_le_15m");
    EXPECT_EQ(conv_field(3600), "conv_le_60m");
    EXPECT_EQ(conv_field(3601), "conv_le_inf");
}

TEST(SplitByHour, WithinOneHour) {
    EXPECT_EQ(split_by_hour(t0 + 1000, t0 + 61'000), (std::vector<hour_share>{{day0 * 24, 60}}));
    EXPECT_TRUE(split_by_hour(t0, t0).empty());
    EXPECT_TRUE(split_by_hour(t0 + 5, t0).empty());
}

TEST(SplitByHour, AcrossBoundariesAddsUpExactly) {
    // 10:59:30.500 → 13:00:10.250: 29.5 s, 3600, 3600, 10.25 s; the whole is 7239.75 s.
    const std::int64_t from = t0 + 10 * ms_per_hour + 59 * 60'000 + 30'500;
    const std::int64_t to = t0 + 13 * ms_per_hour + 10'250;
    const auto parts = split_by_hour(from, to);
    ASSERT_EQ(parts.size(), 4u);
    EXPECT_EQ(parts[0].hour, day0 * 24 + 10);
    EXPECT_EQ(parts[0].seconds, 29);
    EXPECT_EQ(parts[1].seconds, 3600);
    EXPECT_EQ(parts[2].seconds, 3600);
    EXPECT_EQ(parts[3].hour, day0 * 24 + 13);
    const auto sum =
        std::accumulate(parts.begin(), parts.end(), std::int64_t{0},
                        [](std::int64_t a, const hour_share& s) { return a + s.seconds; });
    EXPECT_EQ(sum, (to - from) / 1000);
}

TEST(SplitByHour, ExactHourBoundaryStartsTheNextHour) {
    const auto parts = split_by_hour(t0 + ms_per_hour - 2000, t0 + ms_per_hour + 2000);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], (hour_share{day0 * 24, 2}));
    EXPECT_EQ(parts[1], (hour_share{day0 * 24 + 1, 2}));
}

TEST(Scopes, EveryCellOnceAndMarginalsOnce) {
    const auto s = scopes_of({"grief", "loss", "grief"}, {"en", "es"});
    const std::set<scope> set(s.begin(), s.end());
    EXPECT_EQ(set.size(), s.size()) << "no duplicates";
    EXPECT_EQ(s.size(), 2u * 2 + 2 + 2 + 1);
    EXPECT_TRUE(set.contains(scope{"grief", "es"}));
    EXPECT_TRUE(set.contains(scope{"loss", "*"}));
    EXPECT_TRUE(set.contains(scope{"*", "en"}));
    EXPECT_TRUE(set.contains(scope{"*", "*"}));
}

TEST(Keys, Layout) {
    key_layout k;
    EXPECT_EQ(k.hour_key(day0 * 24 + 7, {"grief", "en"}), "ins:{ins}:h:2026112807:grief:en");
    EXPECT_EQ(k.feedback_key(day0, {"*", "*"}), "ins:{ins}:fb:20261128:*:*");
}

TEST(Increments, MatchCountsWaitBinAndRelaxedInEveryCell) {
    key_layout k;
    const auto inc = match_increments(k, t0 + 3 * ms_per_hour, {{"grief"}, {"en"}}, true, 45);
    // 4 cells (grief/en, grief/*, */en, */*) × (matches, relaxed, wait bin).
    ASSERT_EQ(inc.size(), 12u);
    std::multiset<std::string> fields;
    for (const auto& i : inc) {
        fields.insert(i.field);
        EXPECT_EQ(i.by, 1);
        EXPECT_NE(i.key.find(":2026112803:"), std::string::npos) << i.key;
    }
    EXPECT_EQ(fields.count("matches"), 4u);
    EXPECT_EQ(fields.count("relaxed_matches"), 4u);
    EXPECT_EQ(fields.count("wait_le_60s"), 4u);
}

TEST(Increments, EndTransferAndLength) {
    key_layout k;
    const auto inc = end_increments(k, t0, {{"grief"}, {"en"}}, 20 * 60, true);
    std::multiset<std::string> fields;
    for (const auto& i : inc)
        fields.insert(i.field);
    EXPECT_EQ(fields.count("conversations"), 4u);
    EXPECT_EQ(fields.count("conv_le_30m"), 4u);
    EXPECT_EQ(fields.count("transfers"), 4u);
    EXPECT_EQ(end_increments(k, t0, {{"grief"}, {"en"}}, 20, false).size(), 8u);
}

TEST(Increments, EscalationsOutcomesAndUnknownValues) {
    key_layout k;
    EXPECT_EQ(escalation_increments(k, t0, {{}, {}}, "high").at(0).field, "esc_high");
    EXPECT_EQ(escalation_increments(k, t0, {{}, {}}, "high").size(), 1u) << "(*,*) only";
    EXPECT_TRUE(escalation_increments(k, t0, {{}, {}}, "nonsense").empty());
    EXPECT_EQ(outcome_increments(k, t0, {{}, {}}, "referred").at(0).field, "esc_out_referred");
    EXPECT_EQ(outcome_increments(k, t0, {{}, {}}, "odd").at(0).field, "esc_out_other");
}

TEST(Increments, ShiftTimeSplitsIntoHourCells) {
    key_layout k;
    const auto inc = shift_increments(k, t0 + ms_per_hour - 600'000, t0 + ms_per_hour + 1'200'000,
                                      {{"grief", "loss"}, {"en"}});
    // Two hours × 6 cells (grief/en, loss/en, grief/*, loss/*, */en, */*).
    ASSERT_EQ(inc.size(), 12u);
    for (const auto& i : inc) {
        EXPECT_EQ(i.field, "peer_seconds");
        const bool first = i.key.find(":2026112800:") != std::string::npos;
        EXPECT_EQ(i.by, first ? 600 : 1200) << i.key;
    }
}

TEST(Increments, FeedbackIsPerDayAndIgnoresOutOfRange) {
    key_layout k;
    const auto inc = feedback_increments(k, t0 + 13 * ms_per_hour + 5, {{"grief"}, {"en"}}, 4,
                                         std::string_view("better"));
    ASSERT_EQ(inc.size(), 8u);
    for (const auto& i : inc) {
        EXPECT_NE(i.key.find(":fb:20261128:"), std::string::npos) << "a day, never an hour";
        EXPECT_TRUE(i.field == "helped_4" || i.field == "feeling_better") << i.field;
    }
    EXPECT_TRUE(feedback_increments(k, t0, {{}, {}}, 0, std::nullopt).empty());
    EXPECT_TRUE(feedback_increments(k, t0, {{}, {}}, 6, std::string_view("great")).empty());
    EXPECT_EQ(
        feedback_increments(k, t0, {{}, {}}, std::nullopt, std::string_view("worse")).at(0).field,
        "feeling_worse");
}
