// metrics.hpp — process-wide counters, gauges and histograms, rendered as Prometheus text
// (format 0.0.4) for GET /metrics.
// Threading: every member is safe to call from any thread. Counters are atomics; labelled
// families take a short mutex, and cap their label count so hostile input cannot grow them.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::server {

// One counter per label value, up to max_labels values; later values count under "other".
class labelled_counter {
public:
    static constexpr std::size_t max_labels = 64;
    void add(std::string_view label, std::uint64_t n = 1);
    std::uint64_t value(std::string_view label) const;
    std::map<std::string, std::uint64_t> snapshot() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t, std::less<>> values_;
};

// Fixed buckets in seconds (Prometheus "le" bounds); the +Inf bucket is the count.
class latency_histogram {
public:
    static constexpr std::array<double, 12> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
    void observe(std::chrono::nanoseconds d);
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
    // Cumulative count of observations <= bounds[i].
    std::uint64_t cumulative(std::size_t i) const;
    double sum_seconds() const;

private:
    std::array<std::atomic<std::uint64_t>, bounds.size()> buckets_{}; // non-cumulative
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_ns_{0};
};

// A histogram with bounds chosen at construction (seconds, ascending). observe() costs a few
// relaxed atomic adds; rendering reads them without a lock.
class histogram {
public:
    explicit histogram(std::vector<double> bounds);
    void observe_seconds(double s);
    const std::vector<double>& bounds() const { return bounds_; }
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
    std::uint64_t cumulative(std::size_t i) const;
    double sum_seconds() const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_; // non-cumulative, bounds_.size()
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_us_{0};
};

// One histogram per label value (up to labelled_counter::max_labels; later ones: "other").
class labelled_histogram {
public:
    explicit labelled_histogram(std::vector<double> bounds)
        : bounds_(std::move(bounds)) {}
    void observe_seconds(std::string_view label, double s);
    // label → histogram; the histograms live as long as this object.
    std::map<std::string, const histogram*> snapshot() const;

private:
    std::vector<double> bounds_;
    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<histogram>, std::less<>> values_;
};

// Gauges read from Redis on a timer: the whole family is replaced at once, so a label that
// disappears (a tag nobody waits for any more) disappears from the scrape too. Keys are the
// rendered label sets, e.g. `tag="grief",language="en"`.
class gauge_family {
public:
    void replace(std::map<std::string, double> values);
    std::map<std::string, double> snapshot() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, double> values_;
};

// The cluster-wide numbers an instance reads from Redis every few seconds (ops_status).
struct cluster_gauges {
    std::map<std::string, double> queue_length;            // {tag, language}
    std::map<std::string, double> queue_oldest_wait_s;     // {tag, language}
    std::map<std::string, double> peers_on_shift;          // {tag}
    std::map<std::string, double> free_slots;              // {tag}
    std::map<std::string, double> escalations_open;        // {level, state}
    std::map<std::string, double> escalations_overdue;     // {level}: open past the deadline
    std::map<std::string, double> oldest_unacknowledged_s; // {level}
    double instances = 0;
};

class metrics {
public:
    metrics();

    void connection_opened() { connections_.fetch_add(1, std::memory_order_relaxed); }
    void connection_closed() { connections_.fetch_sub(1, std::memory_order_relaxed); }
    std::int64_t connections() const { return connections_.load(std::memory_order_relaxed); }

    // type: a message type name the server knows (never raw client text), or "invalid".
    void frame_in(std::string_view type) { frames_in_.add(type); }
    void frame_out(std::string_view type) { frames_out_.add(type); }
    void error_sent(std::string_view code) { errors_.add(code); }
    void http_response(unsigned status);
    void ws_closed(std::uint16_t close_code);
    void redis_command(std::chrono::nanoseconds latency) { redis_latency_.observe(latency); }
    void set_ready(bool ready) { ready_.store(ready, std::memory_order_relaxed); }
    // outcome: ok, bad_credentials, locked (per username), address_limited, busy,
    // unavailable, internal — a closed set chosen by the server.
    void login_attempt(std::string_view outcome) { logins_.add(outcome); }
    // reason: logout, disabled, deleted, password_changed, expired, recheck.
    void staff_socket_revoked(std::string_view reason) { staff_revoked_.add(reason); }
    // An insights write that failed (never fails the user's action); kind: a closed set
    // (request, match, cancel, end, escalation, outcome, shift, feedback, peer).
    void insights_write_failed(std::string_view kind) { insights_failed_.add(kind); }
    const labelled_counter& insights_failures() const { return insights_failed_; }

    // ---- operations (issue #9) ----
    // role: 0 seeker, 1 peer, 2 moderator (protocol::role's order). A connection counts under
    // its role from its successful hello until it closes.
    void session_role_opened(int role);
    void session_role_closed(int role);
    std::int64_t sessions_of_role(int role) const;
    // A match claimed by this instance: counted once cluster-wide; its wait under every tag
    // the seeker asked for.
    void match_made(bool relaxed, const std::vector<std::string>& tags, double waited_s);
    // Where a match's time went: stage is one of matching_service_options::on_stage's names; part
    // of a matching pass: waited, snapshots or claims (closed sets chosen by the server).
    void match_stage(std::string_view stage, std::chrono::microseconds d) {
        match_stages_.observe_seconds(stage, std::chrono::duration<double>(d).count());
    }
    void match_pass(std::string_view part, std::chrono::microseconds d) {
        match_passes_.observe_seconds(part, std::chrono::duration<double>(d).count());
    }
    // A claim this instance sent that did not become a match: refused (another instance took
    // the slot or the request first, or a rule changed; its early conversation is discarded)
    // or unknown (its answer was lost; settled by a later lookup).
    void match_claim_lost(std::string_view outcome) { claims_lost_.add(outcome); }
    // A grace scan this instance started (it held the grace lease; relay_service::grace_tick).
    void grace_scan() { grace_scans_.fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t grace_scans() const { return grace_scans_.load(std::memory_order_relaxed); }
    const labelled_counter& match_claims_lost() const { return claims_lost_; }
    // The relay hot path: one relaxed add per stored message. Every 16th message also carries
    // its receive time (sampled by the caller with relay_sample()), and only those are timed.
    static bool relay_sample() {
        // Per thread, not atomic: "about one in 16" is all a latency distribution needs, and
        // it costs the hot path nothing shared.
        thread_local std::uint32_t n = 0;
        return (n++ & 15u) == 0;
    }
    void message_relayed() { relayed_.fetch_add(1, std::memory_order_relaxed); }
    void message_relayed(std::chrono::steady_clock::time_point received);
    std::uint64_t messages_relayed() const { return relayed_.load(std::memory_order_relaxed); }
    // level: low/medium/high/imminent (closed set).
    void escalation_acknowledged(std::string_view level, double after_s) {
        time_to_ack_.observe_seconds(level, after_s);
    }
    void redis_error(std::string_view connection) { redis_errors_.add(connection); }
    void set_redis_up(bool up) { redis_up_.store(up, std::memory_order_relaxed); }
    void set_cluster(cluster_gauges g);
    void config_reloaded(bool ok) { reloads_.add(ok ? "ok" : "failed"); }
    void set_draining() { draining_.store(true, std::memory_order_relaxed); }
    bool draining() const { return draining_.load(std::memory_order_relaxed); }

    const labelled_counter& frames_in() const { return frames_in_; }
    const labelled_counter& frames_out() const { return frames_out_; }
    const labelled_counter& errors() const { return errors_; }
    const labelled_counter& logins() const { return logins_; }
    const latency_histogram& redis_latency() const { return redis_latency_; }

    std::string render() const;

private:
    std::atomic<std::int64_t> connections_{0};
    std::atomic<bool> ready_{false};
    labelled_counter frames_in_;
    labelled_counter frames_out_;
    labelled_counter errors_;
    labelled_counter http_responses_;
    labelled_counter ws_closes_;
    labelled_counter logins_;
    labelled_counter staff_revoked_;
    labelled_counter insights_failed_;
    latency_histogram redis_latency_;
    std::array<std::atomic<std::int64_t>, 3> roles_{};
    labelled_counter matches_;
    labelled_histogram wait_;
    labelled_histogram match_stages_;
    labelled_histogram match_passes_;
    labelled_counter claims_lost_;
    std::atomic<std::uint64_t> grace_scans_{0};
    std::atomic<std::uint64_t> relayed_{0};
    histogram relay_latency_;
    labelled_histogram time_to_ack_;
    labelled_counter redis_errors_;
    std::atomic<bool> redis_up_{false};
    std::atomic<bool> draining_{false};
    labelled_counter reloads_;
    gauge_family queue_length_, queue_oldest_, peers_on_shift_, free_slots_, escalations_open_,
        escalations_overdue_, oldest_unacked_;
    std::atomic<double> instances_{0};
    std::atomic<bool> cluster_read_{false};
};

// `name="value"` with the value escaped, for gauge_family keys.
std::string label_pair(std::string_view name, std::string_view value);

// Prometheus label-value escaping: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);

} // namespace kindred::server
