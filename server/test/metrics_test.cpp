// metrics_test.cpp — Prometheus text rendering of every family /metrics promises.
#include <kindred/server/metrics.hpp>
#include <kindred/server/ops_status.hpp>

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

// ---- operations (issue #9) ----

TEST(Metrics, RolesMatchesWaitsAndRelayedMessagesMove) {
    ks::metrics m;
    m.session_role_opened(0);
    m.session_role_opened(1);
    m.session_role_opened(1);
    m.session_role_closed(1);
    m.session_role_opened(7); // out of range: ignored, never UB
    m.match_made(false, {"grief", "loss"}, 12.0);
    m.match_made(true, {"grief"}, 90.0);
    m.message_relayed();
    m.message_relayed(std::chrono::steady_clock::now());
    m.escalation_acknowledged("imminent", 20.0);
    m.redis_error("cmd");
    auto text = m.render();
    EXPECT_NE(text.find("kindred_sessions{role=\"seeker\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("kindred_sessions{role=\"peer\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_sessions{role=\"moderator\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_matches_total{relaxed=\"false\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_matches_total{relaxed=\"true\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_queue_wait_seconds_bucket{tag=\"grief\",le=\"30\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("kindred_queue_wait_seconds_bucket{tag=\"grief\",le=\"120\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("kindred_queue_wait_seconds_count{tag=\"loss\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_queue_wait_seconds_sum{tag=\"grief\"} 102\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_messages_relayed_total 2\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_relay_latency_seconds_count 1\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_escalation_ack_seconds_bucket{level=\"imminent\",le=\"30\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("kindred_redis_errors_total{connection=\"cmd\"} 1\n"), std::string::npos);
}

TEST(Metrics, MatchStagesAndPassPartsAreHistogramsByName) {
    ks::metrics m;
    using std::chrono::microseconds;
    m.match_stage("total", microseconds(1800));  // in the 2 ms bucket
    m.match_stage("total", microseconds(12000)); // in the 15 ms bucket
    m.match_stage("enqueue", microseconds(300));
    m.match_pass("waited", microseconds(100));
    auto text = m.render();
    EXPECT_NE(text.find("# TYPE kindred_match_stage_seconds histogram\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_match_stage_seconds_bucket{stage=\"total\",le=\"0.0015\"} 0\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("kindred_match_stage_seconds_bucket{stage=\"total\",le=\"0.002\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("kindred_match_stage_seconds_bucket{stage=\"total\",le=\"0.015\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("kindred_match_stage_seconds_count{stage=\"enqueue\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("kindred_match_pass_seconds_count{part=\"waited\"} 1\n"),
              std::string::npos);
}

TEST(Metrics, LostClaimsAreCountedByOutcome) {
    ks::metrics m;
    m.match_claim_lost("refused");
    m.match_claim_lost("refused");
    m.match_claim_lost("unknown");
    auto text = m.render();
    EXPECT_NE(text.find("# TYPE kindred_match_claims_lost_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("kindred_match_claims_lost_total{outcome=\"refused\"} 2\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("kindred_match_claims_lost_total{outcome=\"unknown\"} 1\n"),
              std::string::npos);
}

TEST(Metrics, RelaySampleIsAboutOneInSixteen) {
    int sampled = 0;
    for (int i = 0; i < 160; ++i)
        sampled += ks::metrics::relay_sample() ? 1 : 0;
    EXPECT_EQ(sampled, 10);
}

TEST(OpsStatus, ParsesTheScriptsAnswersAndBuildsGauges) {
    ks::cluster_status s;
    s.now_ms = 100'000;
    ASSERT_TRUE(ks::parse_queue_answer(
        R"({"waiting":2,"queues":[["grief","en",2,40000],["grief","es",1,70000]],)"
        R"("shifts":[["grief",1,1,2]]})",
        s));
    ASSERT_TRUE(ks::parse_escalations_answer(
        R"([["e1","imminent","open",50000,0,1],["e2","high","acknowledged",10000,20000,0]])", s));
    ASSERT_TRUE(ks::parse_instances_answer(R"([["a",1000,99000,3,1,1,0,false,14]])", s));
    // cjson's empty table is {}: no entries, not an error.
    ks::cluster_status empty;
    EXPECT_TRUE(ks::parse_queue_answer(R"({"waiting":0,"queues":{},"shifts":{}})", empty));
    EXPECT_TRUE(ks::parse_escalations_answer("{}", empty));
    EXPECT_FALSE(ks::parse_escalations_answer("[[1]]", empty));
    EXPECT_FALSE(ks::parse_instances_answer("not json", empty));

    ks::ops_status_options o; // imminent deadline 30 s
    auto g = ks::gauges_of(s, o);
    EXPECT_EQ(g.queue_length.at(R"(tag="grief",language="en")"), 2);
    EXPECT_EQ(g.queue_oldest_wait_s.at(R"(tag="grief",language="en")"), 60);
    EXPECT_EQ(g.peers_on_shift.at(R"(tag="grief")"), 1);
    EXPECT_EQ(g.escalations_open.at(R"(level="imminent",state="open")"), 1);
    EXPECT_EQ(g.escalations_open.at(R"(level="low",state="open")"), 0);
    EXPECT_EQ(g.escalations_overdue.at(R"(level="imminent")"), 1); // 50 s > 30 s
    EXPECT_EQ(g.escalations_overdue.at(R"(level="high")"), 0);     // acknowledged
    EXPECT_EQ(g.oldest_unacknowledged_s.at(R"(level="imminent")"), 50);
    EXPECT_EQ(g.instances, 1);

    auto j = ks::status_json(s, o);
    EXPECT_EQ(j.at("waiting").as_int64(), 2);
    EXPECT_EQ(j.at("escalations").as_array().at(0).at("overdue").as_bool(), true);
    auto table = ks::status_table(s, o);
    EXPECT_NE(table.find("OVERDUE"), std::string::npos) << table;
    EXPECT_NE(table.find("grief"), std::string::npos);
}
