// ops_test.cpp — issue #9's operations surface against a real server: /metrics moves with a
// chat (sessions by role, matches, queue wait, relayed messages, the cluster gauges read from
// Redis, escalations and their time to acknowledge), `kindredctl status` shows the same
// cluster, and every metric named in deploy/prometheus/alerts.yaml and
// deploy/grafana/kindred.json exists in a real scrape.
#include "integration_support.hpp"
#include <kindred/client/e2e.hpp>
#include <kindred/protocol/codec.hpp>

#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace kindred::itest {
namespace {

namespace json = boost::json;
namespace kp = kindred::protocol;
using testsupport::eventually;

class Ops : public relay_fixture {
protected:
    std::string scrape() { return get("/metrics").body; }
    double metric(const std::string& name, const std::vector<std::string>& labels = {}) {
        return metric_value(scrape(), name, labels).value_or(-1);
    }
    bool metric_is(const std::string& name, const std::vector<std::string>& labels, double v) {
        return eventually([&] { return metric(name, labels) == v; }, 10s);
    }
};

// What is done: a peer on shift (grief/en, capacity 1) is matched with seeker 1, which sends
//   one message; seeker 2 then waits in the queue (the peer is full) and raises a high
//   escalation; a moderator on duty acknowledges it.
// What must hold: the scrape counts every step (by role, tag and language, level), the
//   Redis-read gauges follow within a few status polls, and kindredctl status (table and
//   --json) shows the same instance, shift, queue and escalation.
TEST_F(Ops, MetricsAndStatusFollowAChatAQueueAndAnEscalation) {
    start_server({"--status-poll-s", "1", "--heartbeat-s", "1"});
    auto peer = ready_peer(port());
    auto s1 = seeker();
    auto c = match(s1, peer);
    ASSERT_FALSE(c.conversation_id.empty());
    auto send = c.seeker_crypto->make_send(1, "hello from the ops test");
    ASSERT_TRUE(send) << send.error().message();
    auto answer = object_of(last(s1.request(kp::encode_client_message(*send, "m1"))));
    ASSERT_EQ(str(answer, "type"), "ok") << json::serialize(answer);

    auto s2 = seeker();
    expect_ok(
        last(s2.request(R"({"type":"request_match","id":"q","tags":["grief"],)"
                        R"("languages":["en"],"pubkey":")" +
                        b64(kindred::client::e2e::generate_kx_key_pair().public_key) + R"("})")),
        "q");
    const auto mod_pw = add_staff("mara", "moderator");
    auto mod = staff_socket("moderator", login("mara", mod_pw));
    expect_ok(
        last(mod.request(R"({"type":"watch","id":"w","pubkey":")" +
                         b64(kindred::client::e2e::generate_kx_key_pair().public_key) + R"("})")),
        "w");
    auto esc = expect_ok(last(s2.request(R"({"type":"escalate","id":"e","level":"high",)"
                                         R"("category":"suicide_risk","excerpts":[],)"
                                         R"("conversation_id":null})")),
                         "e");
    const auto escalation_id = str(esc, "escalation_id");
    ASSERT_FALSE(escalation_id.empty());

    // Counted where they happen.
    const auto text = scrape();
    EXPECT_EQ(metric_value(text, "kindred_sessions", {"role=\"seeker\""}), 2) << text;
    EXPECT_EQ(metric_value(text, "kindred_sessions", {"role=\"peer\""}), 1);
    EXPECT_EQ(metric_value(text, "kindred_sessions", {"role=\"moderator\""}), 1);
    EXPECT_EQ(metric_value(text, "kindred_matches_total", {"relaxed=\"false\""}), 1);
    EXPECT_EQ(metric_value(text, "kindred_queue_wait_seconds_count", {"tag=\"grief\""}), 1);
    EXPECT_EQ(metric_value(text, "kindred_messages_relayed_total"), 1);
    EXPECT_EQ(metric_value(text, "kindred_redis_up"), 1);
    // Read from Redis by the status timer (every second here).
    EXPECT_TRUE(metric_is("kindred_queue_length", {"tag=\"grief\"", "language=\"en\""}, 1))
        << scrape();
    EXPECT_TRUE(metric_is("kindred_peers_on_shift", {"tag=\"grief\""}, 1)) << scrape();
    EXPECT_TRUE(metric_is("kindred_peer_free_slots", {"tag=\"grief\""}, 0)) << scrape();
    EXPECT_TRUE(metric_is("kindred_escalations_open", {"level=\"high\"", "state=\"open\""}, 1))
        << scrape();
    EXPECT_TRUE(metric_is("kindred_instances", {}, 1)) << scrape();
    EXPECT_EQ(metric("kindred_cluster_status_ok"), 1);

    // kindredctl status, as JSON. The instance's counts are as of its last heartbeat (every
    // second here): read again until the moderator's connection is in them.
    ctl_result r;
    json::object st;
    ASSERT_TRUE(eventually(
        [&] {
            r = kindredctl(redis_.unix_address(), server_->config_path(), {"status", "--json"});
            st = parse_object(r.output);
            const auto* list = st.if_contains("instances");
            return r.code == 0 && list && list->is_array() && list->as_array().size() == 1 &&
                   list->as_array().at(0).at("connections").as_int64() == 4;
        },
        10s))
        << r.output;
    ASSERT_TRUE(st.contains("instances")) << r.output;
    const auto& instances = st.at("instances").as_array();
    ASSERT_EQ(instances.size(), 1u) << r.output;
    const auto& inst = instances.at(0).as_object();
    EXPECT_EQ(str(inst, "id"), server_->instance_id());
    EXPECT_EQ(inst.at("connections").as_int64(), 4) << r.output;
    EXPECT_EQ(inst.at("sessions").at("seeker").as_int64(), 2) << r.output;
    EXPECT_FALSE(inst.at("draining").as_bool());
    ASSERT_EQ(st.at("shifts").as_array().size(), 1u) << r.output;
    EXPECT_EQ(str(st.at("shifts").at(0).as_object(), "tag"), "grief");
    EXPECT_EQ(st.at("shifts").at(0).at("on").as_int64(), 1);
    EXPECT_EQ(st.at("waiting").as_int64(), 1);
    ASSERT_EQ(st.at("queues").as_array().size(), 1u) << r.output;
    EXPECT_EQ(str(st.at("queues").at(0).as_object(), "language"), "en");
    ASSERT_EQ(st.at("escalations").as_array().size(), 1u) << r.output;
    const auto& e = st.at("escalations").at(0).as_object();
    EXPECT_EQ(str(e, "id"), escalation_id);
    EXPECT_EQ(str(e, "level"), "high");
    EXPECT_EQ(str(e, "state"), "open");
    EXPECT_FALSE(e.at("overdue").as_bool()); // high: 120 s deadline
    // The privacy contract: no session ids, tokens or notes in the status.
    for (const auto& key : {"session", "note", "peer", "conversation"})
        EXPECT_FALSE(e.contains(key)) << key;

    // And as a table.
    auto table = kindredctl(redis_.unix_address(), server_->config_path(), {"status"});
    ASSERT_EQ(table.code, 0) << table.output;
    EXPECT_NE(table.output.find(server_->instance_id()), std::string::npos) << table.output;
    EXPECT_NE(table.output.find("QUEUE (1 waiting)"), std::string::npos) << table.output;
    EXPECT_NE(table.output.find("OPEN ESCALATIONS (1)"), std::string::npos) << table.output;

    // Acknowledged: time to acknowledge observed, the gauge moves to "acknowledged".
    expect_ok(last(mod.request(R"({"type":"acknowledge","id":"a","escalation_id":")" +
                               escalation_id + R"("})")),
              "a");
    EXPECT_EQ(metric("kindred_escalation_ack_seconds_count", {"level=\"high\""}), 1);
    EXPECT_TRUE(
        metric_is("kindred_escalations_open", {"level=\"high\"", "state=\"acknowledged\""}, 1))
        << scrape();
    EXPECT_TRUE(metric_is("kindred_escalations_open", {"level=\"high\"", "state=\"open\""}, 0));

    // Sessions by role fall when sockets close.
    s1.close(1000);
    EXPECT_TRUE(metric_is("kindred_sessions", {"role=\"seeker\""}, 1)) << scrape();
}

// Every kindred_* name the alert rules and the dashboard use must exist in a real scrape
// (a histogram's _bucket/_sum/_count series count as the histogram's), so a renamed metric
// cannot silently break an alert.
TEST_F(Ops, DeployFilesNameOnlyMetricsTheServerExports) {
    start_server({"--status-poll-s", "1"});
    // Let the cluster gauges be read once, so label-less families are all present.
    ASSERT_TRUE(metric_is("kindred_cluster_status_ok", {}, 1));
    const auto text = scrape();
    std::set<std::string> exported;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# TYPE ", 0) == 0) {
            auto name = line.substr(7, line.find(' ', 7) - 7);
            exported.insert(name);
            for (const char* suffix : {"_bucket", "_sum", "_count"})
                exported.insert(name + suffix);
        }
    }
    ASSERT_GT(exported.size(), 20u) << text;
    const std::regex name_re("kindred_[a-z0-9_]+");
    for (const char* file : {"deploy/prometheus/alerts.yaml", "deploy/grafana/kindred.json"}) {
        const auto body = read_text_file(std::filesystem::path(KINDRED_SOURCE_DIR) / file);
        ASSERT_FALSE(body.empty()) << file;
        std::set<std::string> used;
        for (std::sregex_iterator it(body.begin(), body.end(), name_re), end; it != end; ++it)
            used.insert(it->str());
        EXPECT_GT(used.size(), 3u) << file;
        for (const auto& name : used)
            EXPECT_TRUE(exported.count(name))
                << file << " names " << name << ", which /metrics does not export";
    }
}

// What is done: the server starts with a copy of the lexicon; the test adds a tag and a crisis
//   resource to the config file and a new version to the lexicon, then sends SIGHUP; then it
//   breaks the lexicon and asks for a reload through `kindredctl reload` (ctl:reload).
// What must hold: after SIGHUP /v1/config serves the new tag, resource and lexicon version,
//   and a request_match for the new tag is accepted (it was bad_message before); the broken
//   file changes nothing (same version served, the server keeps running) and the log says
//   which file failed; /metrics counts both outcomes.
TEST_F(Ops, SighupAndKindredctlReloadTheCatalogAndLexiconAndABadFileKeepsTheOld) {
    namespace fs = std::filesystem;
    kindred::testsupport::temp_dir dir("kindred-reload");
    const auto lexicon = dir.path() / "lexicon.json";
    const auto shipped =
        read_text_file(fs::path(KINDRED_SOURCE_DIR) / "moderation" / "lexicon" / "lexicon.json");
    ASSERT_NE(shipped.find("\"version\""), std::string::npos);
    std::ofstream(lexicon, std::ios::binary) << shipped;
    start_server({"--lexicon", lexicon.string()});

    auto before = parse_object(get("/v1/config").body);
    const auto old_version = str(before, "lexicon_version");
    auto s = seeker();
    const auto pubkey = b64(kindred::client::e2e::generate_kx_key_pair().public_key);
    const auto request = R"({"type":"request_match","id":"q","tags":["anxiety"],)"
                         R"("languages":["en"],"pubkey":")" +
                         pubkey + R"("})";
    expect_error(last(s.request(request)), "bad_message", "q");

    // New catalog and lexicon version on disk.
    auto config = kindred::testsupport::default_test_config();
    const std::string tags_anchor = R"({"id": "test_tag", "labels": {"en": "Test tag"}})";
    ASSERT_NE(config.find(tags_anchor), std::string::npos);
    config.replace(config.find(tags_anchor), tags_anchor.size(),
                   tags_anchor + R"(, {"id": "anxiety", "labels": {"en": "Anxiety"}})");
    const std::string res_anchor = R"("crisis_resources": [)";
    config.replace(config.find(res_anchor), res_anchor.size(),
                   res_anchor + R"({"region": "XX", "name": "Reloaded line", )"
                                R"("url": "https://example.org", "languages": ["en"]},)");
    std::ofstream(server_->config_path(), std::ios::binary | std::ios::trunc) << config;
    auto parsed = boost::json::parse(shipped).as_object();
    parsed["version"] = "reload-test-2";
    std::ofstream(lexicon, std::ios::binary | std::ios::trunc) << boost::json::serialize(parsed);

    server_->signal(SIGHUP);
    ASSERT_TRUE(eventually(
        [&] { return get("/v1/config").body.find("\"anxiety\"") != std::string::npos; }, 10s))
        << server_->log();
    auto after = parse_object(get("/v1/config").body);
    EXPECT_EQ(str(after, "lexicon_version"), "reload-test-2");
    EXPECT_NE(json::serialize(after.at("crisis_resources")).find("Reloaded line"),
              std::string::npos);
    EXPECT_EQ(get("/v1/lexicon").header("ETag"), "\"reload-test-2\"");
    // The new tag is accepted from the next request on (same connection, no new hello).
    expect_ok(last(s.request(request)), "q");
    EXPECT_NE(server_->log().find("event=config_reloaded trigger=sighup"), std::string::npos);
    EXPECT_EQ(metric("kindred_config_reloads_total", {"result=\"ok\""}), 1);

    // A broken lexicon: nothing changes, the log names the file, the server keeps serving.
    std::ofstream(lexicon, std::ios::binary | std::ios::trunc) << "{ not a lexicon";
    auto r = kindredctl(redis_.unix_address(), server_->config_path(), {"reload"});
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("1 instance(s) heard it"), std::string::npos) << r.output;
    ASSERT_TRUE(eventually(
        [&] {
            return server_->log().find("event=config_reload_failed trigger=ctl file=lexicon") !=
                   std::string::npos;
        },
        10s))
        << server_->log();
    EXPECT_EQ(str(parse_object(get("/v1/config").body), "lexicon_version"), "reload-test-2");
    EXPECT_EQ(get("/v1/lexicon").header("ETag"), "\"reload-test-2\"");
    EXPECT_EQ(metric("kindred_config_reloads_total", {"result=\"failed\""}), 1);
    // A broken config file: the same.
    std::ofstream(lexicon, std::ios::binary | std::ios::trunc) << boost::json::serialize(parsed);
    std::ofstream(server_->config_path(), std::ios::binary | std::ios::trunc) << "{ broken";
    server_->signal(SIGHUP);
    ASSERT_TRUE(eventually(
        [&] { return metric("kindred_config_reloads_total", {"result=\"failed\""}) == 2; }, 10s));
    EXPECT_NE(server_->log().find("file=config"), std::string::npos);
    EXPECT_NE(get("/v1/config").body.find("\"anxiety\""), std::string::npos);
    EXPECT_TRUE(server_->running());
    EXPECT_EQ(get("/healthz").status, 200);
}

} // namespace
} // namespace kindred::itest
