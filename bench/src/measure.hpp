// measure.hpp — what the load generator reads and computes: a process's RSS and CPU time from
// /proc, latency percentiles over a sorted vector (exact, not bucketed: a run keeps at most a
// few million samples), clocks, and small JSON helpers.
// Threading: free functions; latency_summary is a plain value.
#pragma once

#include <boost/json/object.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kindred::bench {

// steady clock in ns (the timestamp inside every benchmark message) and Unix ms (what
// chat_session wants as "now").
inline std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
inline std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// VmRSS of /proc/<pid>/status in bytes; nullopt when the process is not readable.
std::optional<std::int64_t> process_rss_bytes(pid_t pid);
// utime + stime of /proc/<pid>/stat in seconds (children not included).
std::optional<double> process_cpu_seconds(pid_t pid);

struct latency_summary {
    std::size_t count = 0;
    double min_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
};
// Sorts `ns` in place. Percentile p is the smallest sample with at least p of all samples at
// or below it (nearest rank), so p99.9 of 1,000 samples is the largest one.
latency_summary summarize(std::vector<std::int64_t>& ns);
boost::json::object to_json(const latency_summary& s);
// "p50 1.23 ms  p90 …" for the human summary.
std::string describe(const latency_summary& s);

// A number rounded to `digits` decimals, for tidy JSON and summaries.
double rounded(double v, int digits = 3);

} // namespace kindred::bench
