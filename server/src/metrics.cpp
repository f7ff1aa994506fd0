// metrics.cpp — Prometheus text rendering; see metrics.hpp.
#include <kindred/server/metrics.hpp>

#include <cstdio>

namespace kindred::server {

void labelled_counter::add(std::string_view label, std::uint64_t n) {
    std::lock_guard lock(mutex_);
    auto it = values_.find(label);
    if (it == values_.end()) {
        if (values_.size() >= max_labels)
            it = values_.try_emplace("other", 0).first;
        else
            it = values_.emplace(std::string(label), 0).first;
    }
    it->second += n;
}

std::uint64_t labelled_counter::value(std::string_view label) const {
    std::lock_guard lock(mutex_);
    auto it = values_.find(label);
    return it == values_.end() ? 0 : it->second;
}

std::map<std::string, std::uint64_t> labelled_counter::snapshot() const {
    std::lock_guard lock(mutex_);
    return {values_.begin(), values_.end()};
}

void latency_histogram::observe(std::chrono::nanoseconds d) {
    auto ns = d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count());
    double s = static_cast<double>(ns) / 1e9;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (s <= bounds[i]) {
            buckets_[i].fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t latency_histogram::cumulative(std::size_t i) const {
    std::uint64_t total = 0;
    for (std::size_t j = 0; j <= i && j < bounds.size(); ++j)
        total += buckets_[j].load(std::memory_order_relaxed);
    return total;
}

double latency_histogram::sum_seconds() const {
    return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

void metrics::http_response(unsigned status) {
    http_responses_.add(std::to_string(status));
}

void metrics::ws_closed(std::uint16_t close_code) {
    ws_closes_.add(std::to_string(close_code));
}

std::string escape_label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void labelled(std::string& out, const char* name, const char* label,
              const labelled_counter& counter) {
    for (const auto& [value, n] : counter.snapshot()) {
        out += name;
        out += '{';
        out += label;
        out += "=\"";
        out += escape_label_value(value);
        out += "\"} ";
        out += std::to_string(n);
        out += '\n';
    }
}

std::string format_double(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

} // namespace

std::string metrics::render() const {
    std::string out;
    out.reserve(4096);
    family(out, "kindred_up", "gauge", "1 while the process runs.");
    out += "kindred_up 1\n";
    family(out, "kindred_ready", "gauge", "1 while /readyz answers 200.");
    out += "kindred_ready ";
    out += ready_.load(std::memory_order_relaxed) ? "1\n" : "0\n";
    family(out, "kindred_connections", "gauge", "Open WebSocket connections.");
    out += "kindred_connections " + std::to_string(connections()) + "\n";
    family(out, "kindred_frames_in_total", "counter", "WebSocket messages received, by type.");
    labelled(out, "kindred_frames_in_total", "type", frames_in_);
    family(out, "kindred_frames_out_total", "counter", "WebSocket messages sent, by type.");
    labelled(out, "kindred_frames_out_total", "type", frames_out_);
    family(out, "kindred_errors_total", "counter", "Protocol errors sent, by code.");
    labelled(out, "kindred_errors_total", "code", errors_);
    family(out, "kindred_http_responses_total", "counter", "HTTP responses, by status.");
    labelled(out, "kindred_http_responses_total", "status", http_responses_);
    family(out, "kindred_ws_closes_total", "counter", "WebSocket closes, by close code.");
    labelled(out, "kindred_ws_closes_total", "code", ws_closes_);
    family(out, "kindred_login_attempts_total", "counter", "Staff login attempts, by outcome.");
    labelled(out, "kindred_login_attempts_total", "outcome", logins_);
    family(out, "kindred_staff_sockets_revoked_total", "counter",
           "Staff sockets closed 4003 because their token died, by reason.");
    labelled(out, "kindred_staff_sockets_revoked_total", "reason", staff_revoked_);
    family(out, "kindred_insights_write_failures_total", "counter",
           "Insights counter writes that failed (the user's action went on), by event kind.");
    labelled(out, "kindred_insights_write_failures_total", "kind", insights_failed_);

    family(out, "kindred_redis_command_seconds", "histogram", "Redis command latency.");
    for (std::size_t i = 0; i < latency_histogram::bounds.size(); ++i) {
        out += "kindred_redis_command_seconds_bucket{le=\"" +
               format_double(latency_histogram::bounds[i]) + "\"} " +
               std::to_string(redis_latency_.cumulative(i)) + "\n";
    }
    // Read count once so +Inf and _count agree even while other threads observe.
    auto count = redis_latency_.count();
    auto finite = redis_latency_.cumulative(latency_histogram::bounds.size() - 1);
    if (count < finite) count = finite;
    out += "kindred_redis_command_seconds_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n";
    out +=
        "kindred_redis_command_seconds_sum " + format_double(redis_latency_.sum_seconds()) + "\n";
    out += "kindred_redis_command_seconds_count " + std::to_string(count) + "\n";
    return out;
}

} // namespace kindred::server
