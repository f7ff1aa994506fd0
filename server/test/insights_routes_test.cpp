// insights_routes_test.cpp — the admin insights surface without sockets (label: unit): the
// route refuses a missing bearer (401), other methods (405), and hands the token and query on;
// the query parser checks dates, range, tag/language shapes and wait_over.
#include <kindred/server/http_routes.hpp>
#include <kindred/server/insights_recorder.hpp>
#include <kindred/server/metrics.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace ks = kindred::server;
namespace ki = kindred::insights;

namespace {

ks::route_result get(const ks::http_routes& routes, std::string_view target,
                     std::optional<std::string_view> authorization,
                     std::string_view method = "GET") {
    return routes.route(ks::http_request_view{
        method, target, false, {}, authorization, std::nullopt, std::nullopt});
}

bool has_header(const ks::http_response_spec& r, std::string_view name, std::string_view value) {
    return std::any_of(r.headers.begin(), r.headers.end(),
                       [&](const auto& h) { return h.first == name && h.second == value; });
}

std::string error_of(const std::variant<ki::report_query, ks::http_response_spec>& v) {
    const auto* r = std::get_if<ks::http_response_spec>(&v);
    if (!r) return "";
    EXPECT_EQ(r->status, 400u);
    return r->body;
}

} // namespace

TEST(InsightsRoute, NeedsABearerTokenAndGet) {
    ks::config cfg;
    ks::metrics m;
    ks::http_routes routes(cfg, {}, m, [] { return true; });
    const auto none = get(routes, "/v1/insights?from=2026-11-01&to=2026-11-28", std::nullopt);
    EXPECT_FALSE(none.insights);
    EXPECT_EQ(none.response.status, 401u);
    EXPECT_NE(none.response.body.find("not_authenticated"), std::string::npos);
    EXPECT_TRUE(has_header(none.response, "WWW-Authenticate", "Bearer"));
    EXPECT_TRUE(has_header(none.response, "Cache-Control", "no-store"));

    const auto post = get(routes, "/v1/insights.csv", "Bearer abc", "POST");
    EXPECT_EQ(post.response.status, 405u);

    const auto ok = get(routes, "/v1/insights.csv?from=2026-11-01&to=2026-11-28", "Bearer abc");
    ASSERT_TRUE(ok.insights);
    EXPECT_EQ(ok.insights->token, "abc");
    EXPECT_TRUE(ok.insights->csv);
    EXPECT_EQ(ok.insights->query, "/v1/insights.csv?from=2026-11-01&to=2026-11-28");
    const auto json_route = get(routes, "/v1/insights?from=2026-11-01&to=2026-11-28", "Bearer x");
    ASSERT_TRUE(json_route.insights);
    EXPECT_FALSE(json_route.insights->csv);
}

TEST(InsightsQuery, ParsesAndChecks) {
    const auto q = ks::parse_insights_query(
        "/v1/insights?from=2026-11-01&to=2026-11-28&tag=grief&language=pt-BR&wait_over=10", 7);
    ASSERT_TRUE(std::holds_alternative<ki::report_query>(q)) << error_of(q);
    const auto& r = std::get<ki::report_query>(q);
    EXPECT_EQ(ki::format_date(r.from_day), "2026-11-01");
    EXPECT_EQ(ki::format_date(r.to_day), "2026-11-28");
    EXPECT_EQ(r.tag, "grief");
    EXPECT_EQ(r.language, "pt-BR");
    EXPECT_EQ(r.wait_over_s, 600);
    EXPECT_EQ(r.min_cell, 7);

    const auto empty_filters =
        ks::parse_insights_query("/v1/insights?from=2026-11-01&to=2026-11-01&tag=&language=", 5);
    ASSERT_TRUE(std::holds_alternative<ki::report_query>(empty_filters));
    EXPECT_FALSE(std::get<ki::report_query>(empty_filters).tag);

    EXPECT_NE(error_of(ks::parse_insights_query("/v1/insights?to=2026-11-01", 5)).find("from:"),
              std::string::npos);
    EXPECT_NE(error_of(ks::parse_insights_query("/v1/insights?from=2026-11-01", 5)).find("to:"),
              std::string::npos);
    EXPECT_NE(error_of(ks::parse_insights_query("/v1/insights?from=2026-02-30&to=2026-03-01", 5))
                  .find("from:"),
              std::string::npos);
    EXPECT_NE(error_of(ks::parse_insights_query("/v1/insights?from=2026-11-02&to=2026-11-01", 5))
                  .find("to:"),
              std::string::npos);
    EXPECT_NE(error_of(ks::parse_insights_query("/v1/insights?from=2025-01-01&to=2026-11-01", 5))
                  .find("400 days"),
              std::string::npos);
    EXPECT_NE(error_of(ks::parse_insights_query(
                           "/v1/insights?from=2026-11-01&to=2026-11-01&tag=Bad%20Tag", 5))
                  .find("tag:"),
              std::string::npos);
    EXPECT_NE(error_of(ks::parse_insights_query(
                           "/v1/insights?from=2026-11-01&to=2026-11-01&language=e", 5))
                  .find("language:"),
              std::string::npos);
    for (auto w : {"3", "x", "", "0", "1000"})
        EXPECT_NE(
            error_of(
                ks::parse_insights_query(
                    std::string("/v1/insights?from=2026-11-01&to=2026-11-01&wait_over=") + w, 5))
                .find("wait_over"),
            std::string::npos)
            << w;
}
