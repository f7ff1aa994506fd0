// metrics_test.cpp — Prometheus text rendering of every family /metrics promises.
#include <kindred/server/metrics.hpp>

#include <gtest/gtest.h>

namespace ks = kindred::server;
using namespace std::chrono_literals;

TEST(Metrics, RendersConnectionsFramesErrorsAndUp) {
    ks::metrics m;
    m.connection_opened();
    m.connection_opened();
    m.connection_closed();
    m.frame_in("hello");
    m.frame_in("hello");
    m.frame_out("ok");
    m.error_sent("bad_json");
    auto text = m.render();
    EXPECT_NE(text.find("\nkindred_up 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("# TYPE kindred_connections gauge\nkindred_connections 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("# TYPE kindred_frames_in_total counter"), std::string::npos);
    EXPECT_NE(text.find("kindred_frames_in_total{type=\"hello\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_frames_out_total{type=\"ok\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_errors_total{code=\"bad_json\"} 1\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    ks::metrics m;
    m.redis_command(200us); // <= 0.0005
    m.redis_command(3ms);   // <= 0.005
    m.redis_command(10s);   // only +Inf
    auto text = m.render();
    EXPECT_NE(text.find("# TYPE kindred_redis_command_seconds histogram"), std::string::npos);
    EXPECT_NE(text.find("kindred_redis_command_seconds_bucket{le=\"0.0005\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("kindred_redis_command_seconds_bucket{le=\"0.0025\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("kindred_redis_command_seconds_bucket{le=\"0.005\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("kindred_redis_command_seconds_bucket{le=\"2.5\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_redis_command_seconds_bucket{le=\"+Inf\"} 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("kindred_redis_command_seconds_count 3\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_redis_command_seconds_sum 10.0032\n"), std::string::npos) << text;
}

TEST(Metrics, LabelValuesAreEscapedAndCapped) {
    ks::labelled_counter c;
    for (std::size_t i = 0; i < ks::labelled_counter::max_labels + 10; ++i)
        c.add("t" + std::to_string(i));
    EXPECT_EQ(c.snapshot().size(), ks::labelled_counter::max_labels + 1);
    EXPECT_EQ(c.value("other"), 10u);
    EXPECT_EQ(ks::escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}
