// metrics.hpp — process-wide counters, gauges and one latency histogram, rendered as
// Prometheus text (format 0.0.4) for GET /metrics.
// Threading: every member is safe to call from any thread. Counters are atomics; labelled
// families take a short mutex, and cap their label count so hostile input cannot grow them.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

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

class metrics {
public:
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
};

// Prometheus label-value escaping: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);

} // namespace kindred::server
