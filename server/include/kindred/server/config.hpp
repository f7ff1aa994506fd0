// config.hpp — kindred-server configuration: defaults < config file < KINDRED_* env < flags.
// Loading is pure (argv, an env map and a file reader go in; a config or one error message
// comes out), so every precedence and error rule is unit-tested without touching the process.
// Threading: a loaded config is immutable and shared read-only by every thread.
#pragma once

#include <boost/json/array.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kindred::server {

struct language {
    std::string id;
    std::string label;
};

struct tag {
    std::string id;
    std::vector<std::pair<std::string, std::string>> labels; // language id → text, file order
};

struct limits_config {
    std::uint32_t max_frame_bytes = 65536;
    std::uint32_t outbound_queue_bytes = 1048576;
    std::uint32_t messages_per_second = 20;
    std::uint32_t message_burst = 40;
    std::uint32_t max_bad_messages = 10;
    std::uint32_t handshake_timeout_s = 10;
    std::uint32_t idle_ping_s = 30;
    // Staff login (issue #3).
    std::uint32_t login_failures_per_user = 5;     // then the username is locked (Redis)
    std::uint32_t login_failures_per_address = 20; // then the address is refused (memory only)
    std::uint32_t login_window_s = 900;            // both counts run over this window
    std::uint32_t hash_threads = 2;                // Argon2id threads (never the I/O threads)
    std::uint32_t hash_queue = 32;                 // logins waiting for them; more: 503
    // Per-connection, per-type token buckets (issue #5), spent besides the general one.
    std::uint32_t send_per_minute = 120;
    std::uint32_t send_burst = 20;
    std::uint32_t typing_per_minute = 60;
    std::uint32_t typing_burst = 10;
    std::uint32_t request_match_per_minute = 12;
    std::uint32_t request_match_burst = 6;
    std::uint32_t escalate_per_minute = 6;
    std::uint32_t escalate_burst = 5;
    std::uint32_t report_per_minute = 6;
    std::uint32_t report_burst = 3;
    std::uint32_t consult_per_minute = 12;
    std::uint32_t consult_burst = 5;
    // escalate, moderator_keys, acknowledge, resolve, watch: this instead of the general one.
    std::uint32_t escalation_lane_per_minute = 120;
    std::uint32_t escalation_lane_burst = 60;
    std::uint32_t max_rate_limited = 50; // refused frames in a row; then close 1008
};

struct timing_config {
    std::uint32_t seeker_grace_s = 120;
    std::uint32_t peer_grace_s = 60;
    std::uint32_t relax_after_s = 60;
    std::uint32_t no_new_match_before_end_s = 600; // a planned shift end: no new match this close
    std::uint32_t purge_after_end_s = 300;
    std::uint32_t conversation_max_s = 86400;
    std::uint32_t imminent_ack_s = 30;
    std::uint32_t high_ack_s = 120;
    std::uint32_t moderator_presence_s = 30; // a moderator console's duty presence lives this long
    std::uint32_t peer_cooldown_s = 600;     // after a high/imminent escalation: no new match
    std::uint32_t redis_command_timeout_ms = 1000;
    // A chat send waits at most this long for a Redis that answers nothing at all before it
    // is answered `unavailable` (the client retries it; sends are idempotent by seq). 0: off,
    // the send waits redis_command_timeout_ms.
    std::uint32_t redis_stall_timeout_ms = 150;
    std::uint32_t heartbeat_s = 5;
    std::uint32_t shutdown_grace_s = 5;
    std::uint32_t token_lifetime_s = 43200; // staff login tokens (12 h)
    std::uint32_t token_recheck_ms = 500;   // open staff sockets' tokens: expiry checked this often
    std::uint32_t token_lookup_ms = 5000;   // and looked up in Redis this often (revocations
                                            // arrive at once over the bus; this is the net)
    std::uint32_t status_poll_s = 5;        // cluster gauges of /metrics are read this often
};

struct config {
    std::string listen = "127.0.0.1:8080"; // as given; listen_host/listen_port are parsed
    std::string listen_host = "127.0.0.1";
    std::uint16_t listen_port = 8080;
    std::uint32_t threads = 0; // 0 = one per core (resolved by main)
    // Programme insights (insights/README.md): counter retention, and the smallest figure
    // published (0 < n < min → suppressed).
    std::uint32_t insights_retention_days = 400;
    std::uint32_t insights_min_cell = 5;
    std::string redis = "tcp://127.0.0.1:6379";
    std::string instance_id; // empty = random at start-up (resolved by main)
    bool dev_mode = false;
    std::vector<std::string> allowed_origins;
    std::string web_root = "web";
    // The crisis lexicon (moderation/lexicon/SPEC.md), loaded once at start-up; relative paths
    // are resolved against the working folder, like web_root.
    std::string lexicon = "moderation/lexicon/lexicon.json";
    // TLS (issue #9): both set → HTTPS and WSS on the listen port, plain text refused.
    std::string tls_cert; // PEM certificate chain file
    std::string tls_key;  // PEM private key file
    std::string log_level = "info";
    std::string port_file;   // empty = none
    std::string config_file; // the file that was loaded, empty when none
    limits_config limits;
    timing_config timing;
    std::vector<language> languages;
    std::vector<tag> tags;
    boost::json::array crisis_resources; // passed through to /v1/config as written
};

using env_map = std::map<std::string, std::string>;
// Returns the file's text, or nullopt when it cannot be read.
using file_reader = std::function<std::optional<std::string>(const std::string& path)>;

struct load_result {
    enum class action { run, help, fail };
    action what = action::fail;
    config cfg;       // valid when what == run
    std::string text; // help text (help) or one error message naming the option (fail)
};

// args excludes argv[0]. Precedence: defaults < file (--config or KINDRED_CONFIG) < env < flags.
load_result load_config(const std::vector<std::string>& args, const env_map& env,
                        const file_reader& read_file);

// The environment of this process as a map (only KINDRED_* variables are kept).
env_map process_environment();
// Reads a whole file; nullopt when it cannot be opened.
std::optional<std::string> read_text_file(const std::string& path);

// Help text listing every option (what --help prints).
std::string help_text();

} // namespace kindred::server
