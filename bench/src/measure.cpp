// measure.cpp — /proc readings and percentiles; see measure.hpp.
#include "measure.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

namespace kindred::bench {

std::optional<std::int64_t> process_rss_bytes(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            std::istringstream ss(line.substr(6));
            std::int64_t kb = 0;
            if (ss >> kb) return kb * 1024;
        }
    }
    return std::nullopt;
}

std::optional<double> process_cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text)) return std::nullopt;
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    auto close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream ss(text.substr(close + 2));
    std::string field;
    // Fields after the name start at 3 (state); utime and stime are fields 14 and 15.
    std::uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15; ++i) {
        if (!(ss >> field)) return std::nullopt;
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    const long hz = ::sysconf(_SC_CLK_TCK);
    return static_cast<double>(utime + stime) / static_cast<double>(hz > 0 ? hz : 100);
}

latency_summary summarize(std::vector<std::int64_t>& ns) {
    latency_summary s;
    s.count = ns.size();
    if (ns.empty()) return s;
    std::sort(ns.begin(), ns.end());
    auto at = [&](double p) {
        auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(ns.size())));
        rank = std::clamp<std::size_t>(rank, 1, ns.size());
        return static_cast<double>(ns[rank - 1]) / 1e6;
    };
    s.min_ms = static_cast<double>(ns.front()) / 1e6;
    s.max_ms = static_cast<double>(ns.back()) / 1e6;
    s.p50_ms = at(0.50);
    s.p90_ms = at(0.90);
    s.p99_ms = at(0.99);
    s.p999_ms = at(0.999);
    const long double sum = std::accumulate(ns.begin(), ns.end(), 0.0L);
    s.mean_ms = static_cast<double>(sum / static_cast<long double>(ns.size()) / 1e6L);
    return s;
}

double rounded(double v, int digits) {
    const double f = std::pow(10.0, digits);
    return std::round(v * f) / f;
}

boost::json::object to_json(const latency_summary& s) {
    return {{"count", s.count},
            {"min_ms", rounded(s.min_ms)},
            {"p50_ms", rounded(s.p50_ms)},
            {"p90_ms", rounded(s.p90_ms)},
            {"p99_ms", rounded(s.p99_ms)},
            {"p99_9_ms", rounded(s.p999_ms)},
            {"max_ms", rounded(s.max_ms)},
            {"mean_ms", rounded(s.mean_ms)}};
}

std::string describe(const latency_summary& s) {
    if (s.count == 0) return "no samples";
    char buf[256];
    std::snprintf(
        buf, sizeof buf,
        "p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (%zu samples)",
        s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms, s.count);
    return buf;
}

} // namespace kindred::bench
