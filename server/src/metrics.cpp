// metrics.cpp — Prometheus text rendering; see metrics.hpp.
#include <kindred/server/metrics.hpp>

#include <cstdio>
#include <span>

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

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds))
    , buckets_(new std::atomic<std::uint64_t>[bounds_.size()]) {
    for (std::size_t i = 0; i < bounds_.size(); ++i)
        buckets_[i].store(0, std::memory_order_relaxed);
}

void histogram::observe_seconds(double s) {
    if (!(s >= 0)) s = 0; // negative or NaN (a clock step): counted as zero
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        if (s <= bounds_[i]) {
            buckets_[i].fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }
    // Microseconds: 2^64 µs is half a million years of summed waits.
    sum_us_.fetch_add(static_cast<std::uint64_t>(s * 1e6), std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t histogram::cumulative(std::size_t i) const {
    std::uint64_t total = 0;
    for (std::size_t j = 0; j <= i && j < bounds_.size(); ++j)
        total += buckets_[j].load(std::memory_order_relaxed);
    return total;
}

double histogram::sum_seconds() const {
    return static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6;
}

void labelled_histogram::observe_seconds(std::string_view label, double s) {
    histogram* h = nullptr;
    {
        std::lock_guard lock(mutex_);
        auto it = values_.find(label);
        if (it == values_.end()) {
            std::string key = values_.size() >= labelled_counter::max_labels ? std::string("other")
                                                                             : std::string(label);
            it = values_.find(key);
            if (it == values_.end())
                it = values_.emplace(std::move(key), std::make_unique<histogram>(bounds_)).first;
        }
        h = it->second.get();
    }
    h->observe_seconds(s);
}

std::map<std::string, const histogram*> labelled_histogram::snapshot() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, const histogram*> out;
    for (const auto& [k, v] : values_)
        out.emplace(k, v.get());
    return out;
}

void gauge_family::replace(std::map<std::string, double> values) {
    std::lock_guard lock(mutex_);
    values_ = std::move(values);
}

std::map<std::string, double> gauge_family::snapshot() const {
    std::lock_guard lock(mutex_);
    return values_;
}

namespace {
// Queue waits: seconds to an hour. Time to acknowledge: the imminent deadline is 30 s by
// default, high 120 s. Relay latency: like Redis commands (it is one script and a publish).
std::vector<double> wait_bounds() {
    return {1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};
}
std::vector<double> ack_bounds() {
    return {1, 5, 10, 15, 30, 60, 120, 300, 600, 1800};
}
// The parts of a match: a quarter of a millisecond to a few seconds, fine where the goal is
// (a p99 of 5 ms for the whole match).
std::vector<double> match_stage_bounds() {
    return {0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075,
            0.01,    0.015,  0.02,    0.03,  0.05,   0.1,   0.25,  0.5,   1,     2.5};
}
std::vector<double> relay_bounds() {
    return {latency_histogram::bounds.begin(), latency_histogram::bounds.end()};
}
} // namespace

metrics::metrics()
    : wait_(wait_bounds())
    , match_stages_(match_stage_bounds())
    , match_passes_(match_stage_bounds())
    , relay_latency_(relay_bounds())
    , time_to_ack_(ack_bounds()) {}

void metrics::session_role_opened(int role) {
    if (role >= 0 && role < static_cast<int>(roles_.size()))
        roles_[static_cast<std::size_t>(role)].fetch_add(1, std::memory_order_relaxed);
}

void metrics::session_role_closed(int role) {
    if (role >= 0 && role < static_cast<int>(roles_.size()))
        roles_[static_cast<std::size_t>(role)].fetch_sub(1, std::memory_order_relaxed);
}

std::int64_t metrics::sessions_of_role(int role) const {
    if (role < 0 || role >= static_cast<int>(roles_.size())) return 0;
    return roles_[static_cast<std::size_t>(role)].load(std::memory_order_relaxed);
}

void metrics::match_made(bool relaxed, const std::vector<std::string>& tags, double waited_s) {
    matches_.add(relaxed ? "true" : "false");
    for (const auto& t : tags)
        wait_.observe_seconds(t, waited_s);
}

void metrics::message_relayed(std::chrono::steady_clock::time_point received) {
    relayed_.fetch_add(1, std::memory_order_relaxed);
    relay_latency_.observe_seconds(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
}

void metrics::set_cluster(cluster_gauges g) {
    queue_length_.replace(std::move(g.queue_length));
    queue_oldest_.replace(std::move(g.queue_oldest_wait_s));
    peers_on_shift_.replace(std::move(g.peers_on_shift));
    free_slots_.replace(std::move(g.free_slots));
    escalations_open_.replace(std::move(g.escalations_open));
    escalations_overdue_.replace(std::move(g.escalations_overdue));
    oldest_unacked_.replace(std::move(g.oldest_unacknowledged_s));
    instances_.store(g.instances, std::memory_order_relaxed);
    cluster_read_.store(true, std::memory_order_relaxed);
}

std::string label_pair(std::string_view name, std::string_view value) {
    std::string out(name);
    out += "=\"";
    out += escape_label_value(value);
    out += '"';
    return out;
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

// One histogram's series. H is histogram or latency_histogram (fixed bounds): both give
// cumulative(i), count() and sum_seconds(); bounds are passed since only one has a bounds().
template <class H>
void render_histogram(std::string& out, const char* name, const std::string& labels,
                      std::span<const double> bounds, const H& h) {
    const std::string prefix = labels.empty() ? std::string("{") : "{" + labels + ",";
    for (std::size_t i = 0; i < bounds.size(); ++i)
        out += std::string(name) + "_bucket" + prefix + "le=\"" + format_double(bounds[i]) +
               "\"} " + std::to_string(h.cumulative(i)) + "\n";
    // Read count once so +Inf and _count agree even while other threads observe.
    auto count = h.count();
    auto finite = h.cumulative(bounds.size() - 1);
    if (count < finite) count = finite;
    const std::string suffix = labels.empty() ? std::string() : "{" + labels + "}";
    out += std::string(name) + "_bucket" + prefix + "le=\"+Inf\"} " + std::to_string(count) + "\n";
    out += std::string(name) + "_sum" + suffix + " " + format_double(h.sum_seconds()) + "\n";
    out += std::string(name) + "_count" + suffix + " " + std::to_string(count) + "\n";
}

void render_histogram(std::string& out, const char* name, const std::string& labels,
                      const histogram& h) {
    render_histogram(out, name, labels, h.bounds(), h);
}

void render_labelled_histogram(std::string& out, const char* name, const char* label,
                               const labelled_histogram& h) {
    for (const auto& [value, hist] : h.snapshot())
        render_histogram(out, name, label_pair(label, value), *hist);
}

void render_gauges(std::string& out, const char* name, const gauge_family& g) {
    for (const auto& [labels, v] : g.snapshot())
        out += std::string(name) + "{" + labels + "} " + format_double(v) + "\n";
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
    render_histogram(out, "kindred_redis_command_seconds", {}, latency_histogram::bounds,
                     redis_latency_);
    family(out, "kindred_redis_errors_total", "counter",
           "Redis commands that failed (timeout, connection lost, error reply), by connection.");
    labelled(out, "kindred_redis_errors_total", "connection", redis_errors_);
    family(out, "kindred_redis_up", "gauge", "1 while the last Redis PING succeeded.");
    out += "kindred_redis_up ";
    out += redis_up_.load(std::memory_order_relaxed) ? "1\n" : "0\n";

    // ---- operations (issue #9) ----
    family(out, "kindred_draining", "gauge", "1 once SIGTERM started the drain.");
    out += "kindred_draining ";
    out += draining_.load(std::memory_order_relaxed) ? "1\n" : "0\n";
    family(out, "kindred_sessions", "gauge",
           "Connections holding a session (after a successful hello), by role.");
    static constexpr const char* role_names[] = {"seeker", "peer", "moderator"};
    for (std::size_t i = 0; i < roles_.size(); ++i)
        out += std::string("kindred_sessions{role=\"") + role_names[i] + "\"} " +
               std::to_string(roles_[i].load(std::memory_order_relaxed)) + "\n";
    family(out, "kindred_matches_total", "counter",
           "Matches claimed by this instance, by whether the request had relaxed its tags.");
    labelled(out, "kindred_matches_total", "relaxed", matches_);
    family(out, "kindred_queue_wait_seconds", "histogram",
           "Time from request_match to the match, under each tag the seeker asked for.");
    render_labelled_histogram(out, "kindred_queue_wait_seconds", "tag", wait_);
    family(out, "kindred_match_stage_seconds", "histogram",
           "Where a match's time goes, for seekers who asked on this instance: enqueue, to_claim, "
           "create, announce, handoff and total (docs/performance.md).");
    render_labelled_histogram(out, "kindred_match_stage_seconds", "stage", match_stages_);
    family(out, "kindred_match_pass_seconds", "histogram",
           "Matching passes on this instance: how long each waited for the one before it, and "
           "its snapshot reads and claims.");
    render_labelled_histogram(out, "kindred_match_pass_seconds", "part", match_passes_);
    family(out, "kindred_match_claims_lost_total", "counter",
           "Claims this instance sent that did not become a match: refused (another instance was "
           "first, or a rule changed) or unknown (the answer was lost).");
    labelled(out, "kindred_match_claims_lost_total", "outcome", claims_lost_);
    family(out, "kindred_grace_scans_total", "counter",
           "Grace scans of every active conversation this instance ran (one instance at a time "
           "holds the grace lease and scans about every second).");
    out += "kindred_grace_scans_total " +
           std::to_string(grace_scans_.load(std::memory_order_relaxed)) + "\n";
    family(out, "kindred_messages_relayed_total", "counter",
           "Chat messages stored and published by this instance (duplicates not counted).");
    out += "kindred_messages_relayed_total " +
           std::to_string(relayed_.load(std::memory_order_relaxed)) + "\n";
    family(out, "kindred_relay_latency_seconds", "histogram",
           "From a send received to its message stored and published (about 1 in 16 sampled).");
    render_histogram(out, "kindred_relay_latency_seconds", {}, relay_latency_);
    family(out, "kindred_escalation_ack_seconds", "histogram",
           "From an escalation raised to its acknowledgement, by level.");
    render_labelled_histogram(out, "kindred_escalation_ack_seconds", "level", time_to_ack_);
    family(out, "kindred_config_reloads_total", "counter",
           "Reloads of the catalog, crisis resources and lexicon, by result.");
    labelled(out, "kindred_config_reloads_total", "result", reloads_);

    // Cluster-wide, read from Redis on a timer by every instance (aggregate with max()).
    family(out, "kindred_cluster_status_ok", "gauge",
           "1 once the cluster gauges below have been read from Redis at least once.");
    out += "kindred_cluster_status_ok ";
    out += cluster_read_.load(std::memory_order_relaxed) ? "1\n" : "0\n";
    family(out, "kindred_instances", "gauge", "Live instances in the registry (cluster-wide).");
    out += "kindred_instances " + format_double(instances_.load(std::memory_order_relaxed)) + "\n";
    family(out, "kindred_queue_length", "gauge",
           "Waiting requests asking for a tag and language (cluster-wide; a request asking for "
           "two tags counts under both).");
    render_gauges(out, "kindred_queue_length", queue_length_);
    family(out, "kindred_queue_oldest_wait_seconds", "gauge",
           "How long the oldest waiting request for a tag and language has waited.");
    render_gauges(out, "kindred_queue_oldest_wait_seconds", queue_oldest_);
    family(out, "kindred_peers_on_shift", "gauge",
           "Peers on shift (on and present) for a tag (cluster-wide).");
    render_gauges(out, "kindred_peers_on_shift", peers_on_shift_);
    family(out, "kindred_peer_free_slots", "gauge",
           "Free conversation slots of the peers on shift for a tag (cluster-wide).");
    render_gauges(out, "kindred_peer_free_slots", free_slots_);
    family(out, "kindred_escalations_open", "gauge",
           "Unresolved escalations by level and state (open, acknowledged; cluster-wide).");
    render_gauges(out, "kindred_escalations_open", escalations_open_);
    family(out, "kindred_escalations_overdue", "gauge",
           "Open (unacknowledged) escalations past their level's deadline (cluster-wide).");
    render_gauges(out, "kindred_escalations_overdue", escalations_overdue_);
    family(out, "kindred_escalation_oldest_unacknowledged_seconds", "gauge",
           "Age of the oldest unacknowledged escalation, by level (cluster-wide).");
    render_gauges(out, "kindred_escalation_oldest_unacknowledged_seconds", oldest_unacked_);
    return out;
}

} // namespace kindred::server
