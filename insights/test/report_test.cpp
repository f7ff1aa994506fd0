// report_test.cpp — the coordinator's report (label: unit): suppression at its thresholds,
// quantiles from bins (and their suppression), waits over N minutes, coverage gaps, and that
// JSON, CSV and text agree on what is suppressed.
#include <kindred/insights/report.hpp>

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

using namespace kindred::insights;
namespace json = boost::json;

namespace {

constexpr std::int64_t day0 = 20785; // 2026-11-28, a Saturday

bool listed_suppressed(const json::object& o, std::string_view name) {
    if (auto* s = o.if_contains("suppressed"))
        for (const auto& n : s->as_array())
            if (n.as_string() == name) return true;
    return false;
}

report_input one_day(std::int64_t min_cell = 5) {
    report_input in;
    in.query.from_day = day0;
    in.query.to_day = day0;
    in.query.min_cell = min_cell;
    return in;
}

} // namespace

TEST(Suppression, Thresholds) {
    EXPECT_EQ(suppress(0, 5), (figure{0, false})) << "zero is published";
    EXPECT_EQ(suppress(1, 5), (figure{1, true}));
    EXPECT_EQ(suppress(4, 5), (figure{4, true}));
    EXPECT_EQ(suppress(5, 5), (figure{5, false}));
    EXPECT_EQ(suppress(6, 5), (figure{6, false}));
    EXPECT_FALSE(suppress(1, 1).suppressed) << "min_cell 1 turns suppression off";
}

TEST(Quantiles, BinOfMedianAndP90) {
    // 10 waits: 6 in bin 0, 3 in bin 2, 1 in bin 4 (min_cell 1: nothing suppressed).
    const std::vector<std::int64_t> bins{6, 0, 3, 0, 1};
    EXPECT_EQ(quantile_bin(bins, 0.5, 1).bin, 0u);
    EXPECT_EQ(quantile_bin(bins, 0.6, 1).bin, 0u);
    EXPECT_EQ(quantile_bin(bins, 0.7, 1).bin, 2u);
    EXPECT_EQ(quantile_bin(bins, 0.9, 1).bin, 2u);
    EXPECT_EQ(quantile_bin(bins, 1.0, 1).bin, 4u);
    EXPECT_FALSE(quantile_bin({0, 0}, 0.5, 1).bin);
}

TEST(Quantiles, DerivedFromSuppressedBinsIsSuppressed) {
    // Median in bin 0 (6 ≥ 5: fine); p90 passes through bin 2 (3 < 5: suppressed).
    const std::vector<std::int64_t> bins{6, 0, 3, 0, 1};
    EXPECT_FALSE(quantile_bin(bins, 0.5, 5).suppressed);
    EXPECT_TRUE(quantile_bin(bins, 0.9, 5).suppressed);
    EXPECT_TRUE(quantile_bin({2, 0}, 0.5, 5).suppressed) << "total below the minimum";
}

TEST(CountOver, UsesBinLowerBounds) {
    const std::vector<std::int64_t> bounds(wait_bounds_s.begin(), wait_bounds_s.end());
    //                                  10 30 60 120 300 600 1800 inf
    const std::vector<std::int64_t> bins{1, 1, 1, 1, 1, 2, 3, 4};
    EXPECT_EQ(count_over(bins, bounds, 300), 2 + 3 + 4);
    EXPECT_EQ(count_over(bins, bounds, 1800), 4);
    EXPECT_EQ(count_over(bins, bounds, 60), 1 + 1 + 2 + 3 + 4);
}

TEST(Query, RangeAndParameters) {
    report_query q;
    q.from_day = day0;
    q.to_day = day0;
    EXPECT_EQ(check_query(q), "");
    q.to_day = day0 - 1;
    EXPECT_NE(check_query(q).find("to:"), std::string::npos);
    q.to_day = day0 + max_report_days - 1;
    EXPECT_EQ(check_query(q), "");
    q.to_day = day0 + max_report_days;
    EXPECT_NE(check_query(q).find("400 days"), std::string::npos);
    q.to_day = day0;
    q.wait_over_s = 400;
    EXPECT_NE(check_query(q).find("wait_over"), std::string::npos);
    q.wait_over_s = 30;
    EXPECT_NE(check_query(q).find("wait_over"), std::string::npos) << "under a minute";
}

TEST(Report, TotalsSeriesAndSuppressionInJsonCsvText) {
    auto in = one_day();
    in.hours[day0 * 24 + 9] = {
        {"requests", 7}, {"matches", 3}, {"wait_le_10s", 3}, {"peer_seconds", 1800}};
    in.hours[day0 * 24 + 10] = {{"requests", 5}, {"matches", 6}, {"wait_le_600s", 6}};
    const auto r = report_json(in);
    const auto& t = r.at("totals").as_object();
    EXPECT_EQ(t.at("requests").as_int64(), 12);
    EXPECT_EQ(t.at("matches").as_int64(), 9);
    EXPECT_TRUE(t.at("cancels").is_int64()) << "zero is published";
    EXPECT_DOUBLE_EQ(t.at("peer_hours").as_double(), 0.5);

    // Waits: bins 3 (suppressed) and 6 (published); the median is in the 600 s bin but its
    // cumulative path includes the suppressed bin → suppressed.
    const auto& w = r.at("waits").as_object();
    const auto& bins = w.at("bins").as_array();
    EXPECT_TRUE(bins[0].at("count").is_null());
    EXPECT_TRUE(listed_suppressed(bins[0].as_object(), "count"));
    EXPECT_EQ(bins[5].at("count").as_int64(), 6);
    EXPECT_TRUE(w.at("median_le").is_null());
    EXPECT_TRUE(listed_suppressed(w, "median_le"));
    EXPECT_EQ(w.at("waited_over").at("count").as_int64(), 6);

    const auto& series = r.at("series").as_array();
    ASSERT_EQ(series.size(), 1u);
    EXPECT_EQ(series[0].at("day").as_string(), "2026-11-28");
    EXPECT_EQ(series[0].at("requests").as_int64(), 12);

    const auto csv = report_csv(r);
    EXPECT_EQ(csv.rfind("section,item,measure,value\r\n", 0), 0u);
    EXPECT_NE(csv.find("totals,,requests,12\r\n"), std::string::npos) << csv;
    EXPECT_NE(csv.find("waits,bins/10s,count,suppressed\r\n"), std::string::npos);
    EXPECT_NE(csv.find("waits,,median_le,suppressed\r\n"), std::string::npos);
    EXPECT_NE(csv.find("waits,bins/600s,count,6\r\n"), std::string::npos);

    const auto text = report_text(r);
    EXPECT_NE(text.find("requests: 12"), std::string::npos) << text;
    EXPECT_NE(text.find("<= 10s: suppressed"), std::string::npos) << text;
}

TEST(Report, CoverageGapsByTagAndHourOfWeek) {
    auto in = one_day();
    auto& grief = in.tag_hours["grief"];
    // 09h: 6 requests, a peer on shift; 10h: 5 requests, no peer (unmet); 11h: a peer, no demand.
    grief[day0 * 24 + 9] = {{"requests", 6}, {"peer_seconds", 3600}, {"wait_le_inf", 5}};
    grief[day0 * 24 + 10] = {{"requests", 5}};
    grief[day0 * 24 + 11] = {{"peer_seconds", 600}};
    in.tag_hours["loss"] = {};
    in.hours = grief;
    const auto r = report_json(in);
    const auto& tags = r.at("coverage").at("tags").as_array();
    ASSERT_EQ(tags.size(), 2u);
    const auto& g = tags[0].as_object();
    EXPECT_EQ(g.at("tag").as_string(), "grief");
    EXPECT_EQ(g.at("requests").as_int64(), 11);
    EXPECT_EQ(g.at("hours_without_peer").as_int64(), 22) << "24 hours minus 09h and 11h";
    EXPECT_EQ(g.at("unmet_hours").as_int64(), 1);
    EXPECT_EQ(g.at("unmet_requests").as_int64(), 5);
    EXPECT_EQ(g.at("waited_over").as_int64(), 5);
    EXPECT_EQ(g.at("hours_of_week").as_array().size(), 3u);
    const auto& l = tags[1].as_object();
    EXPECT_EQ(l.at("hours_without_peer").as_int64(), 24);
    EXPECT_EQ(l.at("unmet_hours").as_int64(), 0);

    // Saturday (weekday 5) 10h of the selected cell: unmet demand, published (5 ≥ 5).
    const auto& how = r.at("coverage").at("hours_of_week").as_array();
    ASSERT_EQ(how.size(), 168u);
    const auto& sat10 = how[5 * 24 + 10].as_object();
    EXPECT_EQ(sat10.at("requests").as_int64(), 5);
    EXPECT_TRUE(sat10.at("unmet").as_bool());
    EXPECT_FALSE(how[5 * 24 + 9].at("unmet").as_bool());
}

TEST(Report, UnmetFlagFromASuppressedCountIsSuppressed) {
    auto in = one_day();
    in.hours[day0 * 24 + 3] = {{"requests", 2}};
    const auto r = report_json(in);
    const auto& cell = r.at("coverage").at("hours_of_week").as_array()[5 * 24 + 3].as_object();
    EXPECT_TRUE(cell.at("requests").is_null());
    EXPECT_TRUE(cell.at("unmet").is_null());
    EXPECT_TRUE(listed_suppressed(cell, "unmet"));
}

TEST(Report, FeedbackAndEscalations) {
    auto in = one_day();
    in.feedback[day0] = {{"helped_5", 7}, {"helped_1", 1}, {"feeling_better", 6}};
    in.hours[day0 * 24] = {{"esc_high", 5}, {"esc_out_referred", 2}};
    const auto r = report_json(in);
    const auto& fb = r.at("feedback").as_object();
    EXPECT_EQ(fb.at("helped_answers").as_int64(), 8);
    EXPECT_EQ(fb.at("helped").as_array()[4].at("count").as_int64(), 7);
    EXPECT_TRUE(fb.at("helped").as_array()[0].at("count").is_null());
    EXPECT_EQ(fb.at("helped").as_array()[1].at("count").as_int64(), 0);
    EXPECT_EQ(fb.at("feeling").as_array()[2].at("count").as_int64(), 6);
    const auto& esc = r.at("escalations").as_object();
    EXPECT_EQ(esc.at("raised").as_array()[2].at("count").as_int64(), 5);
    EXPECT_TRUE(esc.at("outcomes").as_array()[2].at("count").is_null());
}

TEST(Report, CsvQuotesFields) {
    json::object r{{"from", "a,b"}};
    EXPECT_NE(report_csv(r).find("query,,from,\"a,b\"\r\n"), std::string::npos);
}
