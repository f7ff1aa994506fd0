// config_test.cpp — precedence (defaults < file < env < flags), validation messages that name
// the option, JSON errors with a position, and --help. Pure: no files, no process environment.
#include <kindred/server/config.hpp>

#include <gtest/gtest.h>

#include <map>

namespace ks = kindred::server;

namespace {

struct fake_files {
    std::map<std::string, std::string> files;
    ks::file_reader reader() {
        return [this](const std::string& p) -> std::optional<std::string> {
            auto it = files.find(p);
            if (it == files.end()) return std::nullopt;
            return it->second;
        };
    }
};

ks::load_result load(const std::vector<std::string>& args, const ks::env_map& env = {},
                     std::map<std::string, std::string> files = {}) {
    fake_files f{std::move(files)};
    return ks::load_config(args, env, f.reader());
}

} // namespace

TEST(Config, DefaultsWithoutAnySource) {
    auto r = load({});
    ASSERT_EQ(r.what, ks::load_result::action::run) << r.text;
    EXPECT_EQ(r.cfg.listen_host, "127.0.0.1");
    EXPECT_EQ(r.cfg.listen_port, 8080);
    EXPECT_EQ(r.cfg.limits.max_frame_bytes, 65536u);
    EXPECT_EQ(r.cfg.limits.max_bad_messages, 10u);
    EXPECT_EQ(r.cfg.timing.seeker_grace_s, 120u);
    EXPECT_EQ(r.cfg.timing.shutdown_grace_s, 5u);
    EXPECT_FALSE(r.cfg.dev_mode);
    EXPECT_TRUE(r.cfg.config_file.empty());
}

TEST(Config, PrecedenceFileThenEnvThenFlags) {
    std::string file = R"({
        // comments and trailing commas are allowed
        "listen": "127.0.0.1:1111",
        "redis": "unix:/file.sock",
        "limits": {"max_frame_bytes": 1000, "message_burst": 7,},
        "timing": {"seeker_grace_s": 9},
    })";
    auto r = load({"--config", "k.json", "--max-frame-bytes", "3000", "--listen", "[::1]:0"},
                  {{"KINDRED_MAX_FRAME_BYTES", "2000"},
                   {"KINDRED_REDIS", "tcp://r:6380"},
                   {"KINDRED_MESSAGE_BURST", "8"}},
                  {{"k.json", file}});
    ASSERT_EQ(r.what, ks::load_result::action::run) << r.text;
    EXPECT_EQ(r.cfg.limits.max_frame_bytes, 3000u); // flag beats env beats file
    EXPECT_EQ(r.cfg.limits.message_burst, 8u);      // env beats file
    EXPECT_EQ(r.cfg.timing.seeker_grace_s, 9u);     // file beats default
    EXPECT_EQ(r.cfg.redis, "tcp://r:6380");
    EXPECT_EQ(r.cfg.listen_host, "::1");
    EXPECT_EQ(r.cfg.listen_port, 0);
    EXPECT_EQ(r.cfg.config_file, "k.json");
}

TEST(Config, ConfigFileFromEnvironment) {
    auto r = load({}, {{"KINDRED_CONFIG", "e.json"}}, {{"e.json", R"({"threads": 3})"}});
    ASSERT_EQ(r.what, ks::load_result::action::run) << r.text;
    EXPECT_EQ(r.cfg.threads, 3u);
}

TEST(Config, EveryScalarSampleKeyHasAFlagAndAnEnvVar) {
    auto r = load({"--threads",
                   "2",
                   "--instance-id",
                   "a-1",
                   "--dev",
                   "--web-root",
                   "w",
                   "--allowed-origin",
                   "https://a.example",
                   "--allowed-origin",
                   "http://b.example:8080",
                   "--port-file",
                   "/tmp/p",
                   "--log-level",
                   "debug",
                   "--outbound-queue-bytes",
                   "5000",
                   "--messages-per-second",
                   "3",
                   "--max-bad-messages",
                   "4",
                   "--handshake-timeout-s",
                   "5",
                   "--idle-ping-s",
                   "6",
                   "--peer-grace-s",
                   "7",
                   "--relax-after-s",
                   "8",
                   "--purge-after-end-s",
                   "9",
                   "--conversation-max-s",
                   "100",
                   "--imminent-ack-s",
                   "11",
                   "--high-ack-s",
                   "12",
                   "--redis-command-timeout-ms",
                   "13",
                   "--heartbeat-s",
                   "14",
                   "--shutdown-grace-s",
                   "15",
                   "--seeker-grace-s",
                   "16"});
    ASSERT_EQ(r.what, ks::load_result::action::run) << r.text;
    const auto& c = r.cfg;
    EXPECT_EQ(c.threads, 2u);
    EXPECT_EQ(c.instance_id, "a-1");
    EXPECT_TRUE(c.dev_mode);
    EXPECT_EQ(c.web_root, "w");
    EXPECT_EQ(c.allowed_origins,
              (std::vector<std::string>{"https://a.example", "http://b.example:8080"}));
    EXPECT_EQ(c.port_file, "/tmp/p");
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_EQ(c.limits.outbound_queue_bytes, 5000u);
    EXPECT_EQ(c.limits.messages_per_second, 3u);
    EXPECT_EQ(c.limits.max_bad_messages, 4u);
    EXPECT_EQ(c.limits.handshake_timeout_s, 5u);
    EXPECT_EQ(c.limits.idle_ping_s, 6u);
    EXPECT_EQ(c.timing.peer_grace_s, 7u);
    EXPECT_EQ(c.timing.relax_after_s, 8u);
    EXPECT_EQ(c.timing.purge_after_end_s, 9u);
    EXPECT_EQ(c.timing.conversation_max_s, 100u);
    EXPECT_EQ(c.timing.imminent_ack_s, 11u);
    EXPECT_EQ(c.timing.high_ack_s, 12u);
    EXPECT_EQ(c.timing.redis_command_timeout_ms, 13u);
    EXPECT_EQ(c.timing.heartbeat_s, 14u);
    EXPECT_EQ(c.timing.shutdown_grace_s, 15u);
    EXPECT_EQ(c.timing.seeker_grace_s, 16u);

    auto e = load({}, {{"KINDRED_DEV_MODE", "yes"},
                       {"KINDRED_ALLOWED_ORIGINS", "https://a.example, https://c.example"},
                       {"KINDRED_HEARTBEAT_S", "2"},
                       {"KINDRED_INSTANCE_ID", "x"},
                       {"KINDRED_LISTEN", "0.0.0.0:9"}});
    ASSERT_EQ(e.what, ks::load_result::action::run) << e.text;
    EXPECT_TRUE(e.cfg.dev_mode);
    EXPECT_EQ(e.cfg.allowed_origins,
              (std::vector<std::string>{"https://a.example", "https://c.example"}));
    EXPECT_EQ(e.cfg.timing.heartbeat_s, 2u);
    EXPECT_EQ(e.cfg.instance_id, "x");
    EXPECT_EQ(e.cfg.listen_port, 9);
}

TEST(Config, FlagOriginsReplaceFileOrigins) {
    auto r = load({"--config", "f", "--allowed-origin", "https://x.example"}, {},
                  {{"f", R"({"allowed_origins": ["https://a.example"]})"}});
    ASSERT_EQ(r.what, ks::load_result::action::run) << r.text;
    EXPECT_EQ(r.cfg.allowed_origins, std::vector<std::string>{"https://x.example"});
}

TEST(Config, BadValuesFailNamingTheOption) {
    struct bad {
        std::vector<std::string> args;
        ks::env_map env;
        std::string needle;
    };
    std::vector<bad> cases{
        {{"--max-frame-bytes", "abc"}, {}, "--max-frame-bytes"},
        {{"--max-frame-bytes", "-5"}, {}, "--max-frame-bytes"},
        {{"--max-frame-bytes", "99999999999"}, {}, "--max-frame-bytes"},
        {{"--threads", "1.5"}, {}, "--threads"},
        {{"--log-level", "loud"}, {}, "--log-level"},
        {{"--listen", "nohostport"}, {}, "--listen"},
        {{"--listen", "127.0.0.1:70000"}, {}, "--listen"},
        {{"--listen", "[zz]:80"}, {}, "--listen"},
        {{"--redis", "http://x"}, {}, "--redis"},
        {{"--redis", "tcp://h:0"}, {}, "--redis"},
        {{"--redis", "unix:"}, {}, "--redis"},
        {{"--instance-id", "a b"}, {}, "--instance-id"},
        {{"--allowed-origin", "https://a.example/"}, {}, "--allowed-origin"},
        {{"--dev=maybe"}, {}, "--dev"},
        {{"--heartbeat-s", "0"}, {}, "--heartbeat-s"},
        {{}, {{"KINDRED_SEEKER_GRACE_S", "x"}}, "KINDRED_SEEKER_GRACE_S"},
        {{}, {{"KINDRED_LISTEN", ":80"}}, "KINDRED_LISTEN"},
        {{"--no-such-flag"}, {}, "no-such-flag"},
        {{"--threads"}, {}, "threads"},
        {{"stray"}, {}, "stray"},
        // A token holding one of Boost's message placeholders once made the error message
        // loop forever (the config fuzz target's find); it must fail like any other.
        {{"--log-levelX=%original_token% x"}, {}, "log-levelX"},
        {{"--no-such-flag=%option%"}, {}, "no-such-flag"},
        {{"--threads", "%value%"}, {}, "threads"},
    };
    for (const auto& c : cases) {
        auto r = load(c.args, c.env);
        EXPECT_EQ(r.what, ks::load_result::action::fail) << c.needle;
        EXPECT_NE(r.text.find(c.needle), std::string::npos) << r.text;
    }
}

TEST(Config, UnreadableFileFails) {
    auto r = load({"--config", "missing.json"});
    ASSERT_EQ(r.what, ks::load_result::action::fail);
    EXPECT_NE(r.text.find("--config"), std::string::npos) << r.text;
    EXPECT_NE(r.text.find("missing.json"), std::string::npos) << r.text;
}

TEST(Config, InvalidJsonNamesFileLineAndColumn) {
    auto r = load({"--config", "bad.json"}, {}, {{"bad.json", "{\n  \"threads\": 2,\n  oops\n}"}});
    ASSERT_EQ(r.what, ks::load_result::action::fail);
    EXPECT_NE(r.text.find("bad.json:3:"), std::string::npos) << r.text;
}

TEST(Config, FileErrorsNameTheKey) {
    struct bad {
        std::string text;
        std::string needle;
    };
    std::vector<bad> cases{
        {R"({"limits": {"max_frame_bytes": "big"}})", "limits.max_frame_bytes"},
        {R"({"limits": {"max_frame_bytes": 1.5}})", "limits.max_frame_bytes"},
        {R"({"limits": {"max_frame_bytes": 10}})", "limits.max_frame_bytes"},
        {R"({"timing": {"heartbeat_s": true}})", "timing.heartbeat_s"},
        {R"({"dev_mode": "perhaps"})", "dev_mode"},
        {R"({"listen": 5})", "listen"},
        {R"({"allowed_origins": "https://a.example"})", "allowed_origins"},
        {R"({"limits": {"max_frame_byte": 1000}})", "limits.max_frame_byte"},
        {R"({"lisen": "x"})", "lisen"},
        {R"({"limits": 5})", "limits"},
        {R"({"tags": [{"id": "grief"}]})", "tags[0]"},
        {R"({"languages": [{"id": 3, "label": "x"}]})", "languages[0]"},
        {R"({"crisis_resources": [1]})", "crisis_resources[0]"},
        {R"([1, 2])", "top level"},
    };
    for (const auto& c : cases) {
        auto r = load({"--config", "f.json"}, {}, {{"f.json", c.text}});
        EXPECT_EQ(r.what, ks::load_result::action::fail) << c.text;
        EXPECT_NE(r.text.find("f.json"), std::string::npos) << r.text;
        EXPECT_NE(r.text.find(c.needle), std::string::npos) << r.text;
    }
}

TEST(Config, CatalogsComeFromTheFile) {
    std::string file = R"({
      "languages": [{"id": "en", "label": "English"}, {"id": "es", "label": "Español"}],
      "tags": [{"id": "grief", "labels": {"en": "Grief and loss", "es": "Duelo"}}],
      "crisis_resources": [{"region": "US", "name": "988", "phone": "988"}]
    })";
    auto r = load({"--config", "c.json"}, {}, {{"c.json", file}});
    ASSERT_EQ(r.what, ks::load_result::action::run) << r.text;
    ASSERT_EQ(r.cfg.languages.size(), 2u);
    EXPECT_EQ(r.cfg.languages[1].label, "Español");
    ASSERT_EQ(r.cfg.tags.size(), 1u);
    EXPECT_EQ(r.cfg.tags[0].id, "grief");
    ASSERT_EQ(r.cfg.tags[0].labels.size(), 2u);
    EXPECT_EQ(r.cfg.tags[0].labels[0].first, "en");
    ASSERT_EQ(r.cfg.crisis_resources.size(), 1u);
}

TEST(Config, SampleConfigLoads) {
    auto text = ks::read_text_file(KINDRED_SAMPLE_CONFIG);
    ASSERT_TRUE(text.has_value());
    auto r = load({"--config", "sample"}, {}, {{"sample", *text}});
    ASSERT_EQ(r.what, ks::load_result::action::run) << r.text;
    EXPECT_GE(r.cfg.tags.size(), 8u);
    EXPECT_GE(r.cfg.languages.size(), 2u);
    EXPECT_FALSE(r.cfg.crisis_resources.empty());
    EXPECT_EQ(r.cfg.allowed_origins.size(), 1u);
}

TEST(Config, HelpListsEveryOption) {
    auto r = load({"--help", "--max-frame-bytes", "nonsense"});
    ASSERT_EQ(r.what, ks::load_result::action::help);
    for (const char* needle : {"--config",
                               "--listen",
                               "--redis",
                               "--threads",
                               "--instance-id",
                               "--dev",
                               "--web-root",
                               "--allowed-origin",
                               "--port-file",
                               "--log-level",
                               "--max-frame-bytes",
                               "--outbound-queue-bytes",
                               "--seeker-grace-s",
                               "--shutdown-grace-s",
                               "--heartbeat-s",
                               "--redis-command-timeout-ms",
                               "--max-bad-messages",
                               "--messages-per-second",
                               "--message-burst",
                               "KINDRED_MAX_FRAME_BYTES",
                               "limits.max_frame_bytes"}) {
        EXPECT_NE(r.text.find(needle), std::string::npos) << needle;
    }
}

TEST(Config, StaffLoginOptions) {
    auto d = load({});
    ASSERT_EQ(d.what, ks::load_result::action::run) << d.text;
    EXPECT_EQ(d.cfg.timing.token_lifetime_s, 43200u);
    EXPECT_EQ(d.cfg.timing.token_recheck_ms, 500u);
    EXPECT_EQ(d.cfg.limits.login_failures_per_user, 5u);
    EXPECT_EQ(d.cfg.limits.login_failures_per_address, 20u);
    EXPECT_EQ(d.cfg.limits.login_window_s, 900u);
    EXPECT_EQ(d.cfg.limits.hash_threads, 2u);
    EXPECT_EQ(d.cfg.limits.hash_queue, 32u);

    auto r = load({"--config", "k.json", "--token-lifetime-s", "3", "--hash-threads", "1"},
                  {{"KINDRED_LOGIN_FAILURES_PER_ADDRESS", "4"}},
                  {{"k.json", R"({"timing": {"token_recheck_ms": 200},
                                  "limits": {"login_failures_per_user": 2, "login_window_s": 60,
                                             "hash_queue": 0}})"}});
    ASSERT_EQ(r.what, ks::load_result::action::run) << r.text;
    EXPECT_EQ(r.cfg.timing.token_lifetime_s, 3u);
    EXPECT_EQ(r.cfg.timing.token_recheck_ms, 200u);
    EXPECT_EQ(r.cfg.limits.login_failures_per_user, 2u);
    EXPECT_EQ(r.cfg.limits.login_failures_per_address, 4u);
    EXPECT_EQ(r.cfg.limits.login_window_s, 60u);
    EXPECT_EQ(r.cfg.limits.hash_threads, 1u);
    EXPECT_EQ(r.cfg.limits.hash_queue, 0u);

    auto bad = load({"--token-lifetime-s", "0"});
    ASSERT_EQ(bad.what, ks::load_result::action::fail);
    EXPECT_NE(bad.text.find("--token-lifetime-s"), std::string::npos);
    EXPECT_EQ(load({"--hash-threads", "0"}).what, ks::load_result::action::fail);
    EXPECT_NE(ks::help_text().find("--token-lifetime-s"), std::string::npos);
}

TEST(Config, NoNewMatchBeforeEndFromFileEnvAndFlag) {
    auto d = load({});
    ASSERT_EQ(d.what, ks::load_result::action::run) << d.text;
    EXPECT_EQ(d.cfg.timing.no_new_match_before_end_s, 600u);

    auto f = load({"--config", "k.json"}, {},
                  {{"k.json", R"({"timing": {"no_new_match_before_end_s": 120}})"}});
    ASSERT_EQ(f.what, ks::load_result::action::run) << f.text;
    EXPECT_EQ(f.cfg.timing.no_new_match_before_end_s, 120u);

    auto e = load({}, {{"KINDRED_NO_NEW_MATCH_BEFORE_END_S", "0"}});
    ASSERT_EQ(e.what, ks::load_result::action::run) << e.text;
    EXPECT_EQ(e.cfg.timing.no_new_match_before_end_s, 0u);

    auto g =
        load({"--no-new-match-before-end-s", "30"}, {{"KINDRED_NO_NEW_MATCH_BEFORE_END_S", "0"}});
    ASSERT_EQ(g.what, ks::load_result::action::run) << g.text;
    EXPECT_EQ(g.cfg.timing.no_new_match_before_end_s, 30u);

    auto bad = load({"--no-new-match-before-end-s", "86401"});
    ASSERT_EQ(bad.what, ks::load_result::action::fail);
    EXPECT_NE(bad.text.find("--no-new-match-before-end-s"), std::string::npos);
}

TEST(Config, LexiconPathFromEveryLayer) {
    EXPECT_EQ(load({}).cfg.lexicon, "moderation/lexicon/lexicon.json");
    EXPECT_EQ(
        load({"--config", "c.json"}, {}, {{"c.json", R"({"lexicon": "f.json"})"}}).cfg.lexicon,
        "f.json");
    EXPECT_EQ(load({}, {{"KINDRED_LEXICON", "e.json"}}).cfg.lexicon, "e.json");
    EXPECT_EQ(load({"--lexicon", "x.json"}, {{"KINDRED_LEXICON", "e.json"}}).cfg.lexicon, "x.json");
    auto bad = load({"--lexicon", ""});
    EXPECT_EQ(bad.what, ks::load_result::action::fail);
    EXPECT_NE(bad.text.find("lexicon"), std::string::npos) << bad.text;
}

TEST(Config, PerTypeRateLimitsFromFileEnvAndFlags) {
    auto r =
        load({"--config", "k.json", "--send-burst", "7"}, {{"KINDRED_ESCALATION_LANE_BURST", "9"}},
             {{"k.json", R"({"limits": {"typing_per_minute": 30, "max_rate_limited": 5}})"}});
    ASSERT_EQ(r.what, ks::load_result::action::run) << r.text;
    EXPECT_EQ(r.cfg.limits.send_burst, 7u);
    EXPECT_EQ(r.cfg.limits.escalation_lane_burst, 9u);
    EXPECT_EQ(r.cfg.limits.typing_per_minute, 30u);
    EXPECT_EQ(r.cfg.limits.max_rate_limited, 5u);
    EXPECT_EQ(r.cfg.limits.report_burst, 3u); // default
}

TEST(Config, PerTypeRateLimitsRejectZero) {
    for (const char* flag : {"--send-per-minute", "--typing-burst", "--escalate-burst",
                             "--consult-per-minute", "--escalation-lane-per-minute",
                             "--max-rate-limited", "--request-match-burst", "--report-burst"}) {
        auto r = load({flag, "0"});
        EXPECT_EQ(r.what, ks::load_result::action::fail) << flag;
        EXPECT_NE(r.text.find(flag + 2), std::string::npos) << r.text;
    }
}

// ---- operations (issue #9) ----

TEST(Config, TlsCertAndKeyComeTogether) {
    auto both = load({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--status-poll-s", "2"});
    ASSERT_EQ(both.what, ks::load_result::action::run) << both.text;
    EXPECT_EQ(both.cfg.tls_cert, "c.pem");
    EXPECT_EQ(both.cfg.tls_key, "k.pem");
    EXPECT_EQ(both.cfg.timing.status_poll_s, 2u);
    auto env = load({}, {{"KINDRED_TLS_CERT", "c.pem"}, {"KINDRED_TLS_KEY", "k.pem"}});
    ASSERT_EQ(env.what, ks::load_result::action::run) << env.text;
    EXPECT_EQ(env.cfg.tls_key, "k.pem");
    auto cert_only = load({"--tls-cert", "c.pem"});
    EXPECT_EQ(cert_only.what, ks::load_result::action::fail);
    EXPECT_NE(cert_only.text.find("--tls-cert"), std::string::npos) << cert_only.text;
    auto key_only = load({}, {{"KINDRED_TLS_KEY", "k.pem"}});
    EXPECT_EQ(key_only.what, ks::load_result::action::fail);
    EXPECT_NE(key_only.text.find("--tls-key"), std::string::npos) << key_only.text;
    auto none = load({});
    EXPECT_TRUE(none.cfg.tls_cert.empty());
    EXPECT_EQ(none.cfg.timing.status_poll_s, 5u);
    EXPECT_EQ(load({"--status-poll-s", "0"}).what, ks::load_result::action::fail);
    EXPECT_NE(ks::help_text().find("--tls-cert"), std::string::npos);
}
