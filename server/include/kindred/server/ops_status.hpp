// ops_status.hpp — the cluster's state as an operator sees it, read from Redis: live
// instances, peers on shift by tag, the queue by tag and language, unresolved escalations.
// Used by `kindredctl status` and by every server's gauge timer (cluster_gauges).
// Threading: read_cluster_status may be called from any thread; `done` runs once, on the
// Redis client's strand. Read-only scripts: nothing in Redis changes.
#pragma once

#include <kindred/server/metrics.hpp>

#include <boost/json/object.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kindred::store {
class client;
}

namespace kindred::server {

struct instance_status {
    std::string id;
    std::int64_t started_at_ms = 0;
    std::int64_t heartbeat_at_ms = 0; // 0: the instance wrote no info yet (or an old version)
    std::int64_t connections = 0;
    std::int64_t seekers = 0;
    std::int64_t peers = 0;
    std::int64_t moderators = 0;
    bool draining = false;
    std::int64_t ttl_s = 0; // of its heartbeat key
};

struct queue_status {
    std::string tag;
    std::string language;
    std::int64_t waiting = 0;
    std::int64_t oldest_enqueued_ms = 0;
};

struct shift_status {
    std::string tag;
    std::int64_t on = 0;     // on shift and present
    std::int64_t paused = 0; // paused and present
    std::int64_t free_slots = 0;
};

struct escalation_status {
    std::string id;
    std::string level; // low, medium, high, imminent
    std::string state; // open, acknowledged
    std::int64_t created_at_ms = 0;
    std::int64_t acknowledged_at_ms = 0; // 0 while open
    std::int64_t repaged = 0;
};

struct cluster_status {
    std::int64_t now_ms = 0;
    std::vector<instance_status> instances;
    std::int64_t waiting = 0; // distinct waiting requests
    std::vector<queue_status> queues;
    std::vector<shift_status> shifts;
    std::vector<escalation_status> escalations;
};

struct ops_status_options {
    std::string matching_prefix = "m:{match}:";
    std::string moderation_prefix = "mod:{mod}:";
    // Acknowledgement deadlines by level (seconds, 0: none), for "overdue".
    std::int64_t imminent_ack_s = 30;
    std::int64_t high_ack_s = 120;
    bool with_instances = true;
};

// Runs the three read-only scripts (pipelined) and parses their answers.
void read_cluster_status(store::client& redis, const ops_status_options& options,
                         std::int64_t now_ms,
                         std::function<void(boost::system::error_code, cluster_status)> done);

// The gauges /metrics exports from a status read.
cluster_gauges gauges_of(const cluster_status& s, const ops_status_options& options);

// `kindredctl status --json`'s object, and its human table.
boost::json::object status_json(const cluster_status& s, const ops_status_options& options);
std::string status_table(const cluster_status& s, const ops_status_options& options);

// Parsers of the scripts' JSON answers (exposed for the unit test); false on malformed input.
bool parse_queue_answer(std::string_view text, cluster_status& out);
bool parse_escalations_answer(std::string_view text, cluster_status& out);
bool parse_instances_answer(std::string_view text, cluster_status& out);

} // namespace kindred::server
