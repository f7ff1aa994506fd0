// server_metrics.hpp — reads the server's GET /metrics (Prometheus text) after a run, so a
// scenario can report where the server says its time went next to what the clients measured
// (match: kindred_match_stage_seconds and kindred_match_pass_seconds).
// Threading: free functions, blocking I/O; call from the main thread after the run.
#pragma once

#include <boost/json/object.hpp>

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::bench {

// GET PATH over HTTP/1.0 from the server the run already resolved (the server closes after
// the answer). The body of a 200 answer; nullopt on any failure (2 s timeout per read).
std::optional<std::string> http_get_body(const sockaddr* server, socklen_t size,
                                         std::string_view host_header, std::string_view path);

// One histogram of a labelled family: cumulative counts at each `le` bound (seconds,
// ascending, +Inf last as infinity), the count and the sum.
struct bucketed_histogram {
    std::vector<std::pair<double, std::uint64_t>> cumulative;
    std::uint64_t count = 0;
    double sum_seconds = 0;
};

// Every histogram of `family` by the value of `label` (e.g. family
// "kindred_match_stage_seconds", label "stage"). Lines it does not understand are skipped.
std::map<std::string, bucketed_histogram>
parse_histograms(std::string_view text, std::string_view family, std::string_view label);

// The upper bound (seconds) of the first bucket holding at least q of the observations:
// "at most this". Infinity when only +Inf does; 0 with no observations.
double bucket_quantile(const bucketed_histogram& h, double q);

// {label: {count, mean_ms, p50_at_most_ms, p99_at_most_ms}} and one human line per label
// ("stage  n  mean  p50 ≤  p99 ≤"), in `order` first, then any others.
boost::json::object histograms_json(const std::map<std::string, bucketed_histogram>& hs);
std::vector<std::string> describe_histograms(const std::map<std::string, bucketed_histogram>& hs,
                                             const std::vector<std::string>& order);

} // namespace kindred::bench
