// scenario_idle.cpp — `idle`: N seekers connect, say hello and wait. Measures the server's
// resident memory per connection (VmRSS before any connection vs after all are ready and a
// second has passed), handshakes per second (TCP connect + WebSocket upgrade + hello answered,
// from the first connect started to the last session ready), and the server's CPU while the
// connections sit idle.
#include "scenarios.hpp"

namespace kindred::bench {

using namespace std::chrono_literals;

scenario_result run_idle(const bench_options& o, harness& h) {
    scenario_result r;
    const auto n = o.connections;
    // -1: not known (no --server-pid / --redis-pid, or /proc not readable).
    const auto rss_of = [](std::optional<pid_t> pid) -> std::int64_t {
        return pid ? process_rss_bytes(*pid).value_or(-1) : -1;
    };
    const std::int64_t rss_before = rss_of(o.server_pid);
    const std::int64_t redis_rss_before = rss_of(o.redis_pid);
    h.progress_extra = [&o] {
        if (!o.server_pid) return std::string();
        auto rss = process_rss_bytes(*o.server_pid);
        return rss ? "server_rss " + std::to_string(*rss / 1024) + " KiB" : std::string();
    };

    for (std::size_t i = 0; i < n; ++i)
        h.add(client::chat_session::seeker());
    const auto connect_cpu = take_cpu_mark(o);
    connect_parties(o, h, 0, n, o.connect_rate, "connect");
    const auto timeout = std::chrono::milliseconds(static_cast<long>(o.setup_timeout_s * 1000));
    h.wait_until(
        [&] {
            return h.count.ready.load() + h.count.connect_failed.load() + h.count.lost.load() >=
                   static_cast<long>(n);
        },
        timeout, "hello");
    const auto connected_cpu = take_cpu_mark(o);
    const auto ready = h.count.ready.load();

    h.run_for(1s, "settle"); // let the server's allocator and Redis writes settle
    const std::int64_t rss_after = rss_of(o.server_pid);
    const std::int64_t redis_rss_after = rss_of(o.redis_pid);
    const auto idle_from = take_cpu_mark(o);
    h.run_for(std::chrono::milliseconds(static_cast<long>(o.duration_s * 1000)), "idle");
    const auto idle_to = take_cpu_mark(o);
    const std::int64_t rss_end = rss_of(o.server_pid);
    const auto still_ready = h.count.ready.load();
    h.stop();

    std::int64_t first_start = INT64_MAX, last_ready = 0;
    for (auto& p : h.parties) {
        if (p->connect_started_ns) first_start = std::min(first_start, p->connect_started_ns);
        if (p->ready_ns) last_ready = std::max(last_ready, p->ready_ns);
    }
    const double connect_s =
        last_ready > first_start ? static_cast<double>(last_ready - first_start) / 1e9 : 0;
    const double per_s = connect_s > 0 ? static_cast<double>(ready) / connect_s : 0;

    if (ready != static_cast<long>(n))
        h.problem(std::to_string(n - static_cast<std::size_t>(ready)) + " of " + std::to_string(n) +
                  " connections never became ready");
    if (still_ready != ready)
        h.problem(std::to_string(ready - still_ready) + " connections dropped while idle");

    auto& f = r.figures;
    f["connections"] = n;
    f["ready"] = ready;
    f["ready_at_end"] = still_ready;
    f["connect_seconds"] = rounded(connect_s);
    f["handshakes_per_second"] = rounded(per_s, 1);
    char line[256];
    std::snprintf(line, sizeof line, "%lld of %zu seekers ready in %.3f s: %.1f handshakes/s",
                  static_cast<long long>(ready), n, connect_s, per_s);
    r.summary.push_back(line);
    if (rss_before >= 0 && rss_after >= 0) {
        const double per_conn =
            ready > 0 ? static_cast<double>(rss_after - rss_before) / static_cast<double>(ready)
                      : 0;
        f["server_rss_before_bytes"] = rss_before;
        f["server_rss_after_bytes"] = rss_after;
        f["server_rss_end_bytes"] = rss_end;
        f["server_rss_per_connection_bytes"] = rounded(per_conn, 1);
        std::snprintf(line, sizeof line,
                      "server RSS %.1f MiB -> %.1f MiB: %.0f bytes (%.2f KiB) per connection",
                      static_cast<double>(rss_before) / 1048576.0,
                      static_cast<double>(rss_after) / 1048576.0, per_conn, per_conn / 1024);
        r.summary.push_back(line);
    }
    if (redis_rss_before >= 0 && redis_rss_after >= 0 && ready > 0) {
        const double per_conn =
            static_cast<double>(redis_rss_after - redis_rss_before) / static_cast<double>(ready);
        f["redis_rss_per_connection_bytes"] = rounded(per_conn, 1);
        std::snprintf(line, sizeof line, "redis RSS +%.0f bytes per connection", per_conn);
        r.summary.push_back(line);
    }
    if (connect_cpu.server && connected_cpu.server && ready > 0) {
        const double us =
            (*connected_cpu.server - *connect_cpu.server) * 1e6 / static_cast<double>(ready);
        f["server_cpu_us_per_handshake"] = rounded(us, 1);
        std::snprintf(line, sizeof line, "server CPU %.1f us per handshake (connect + hello)", us);
        r.summary.push_back(line);
    }
    if (idle_from.server && idle_to.server) {
        const double secs = static_cast<double>(idle_to.at_ns - idle_from.at_ns) / 1e9;
        const double cpu = *idle_to.server - *idle_from.server;
        f["idle_seconds"] = rounded(secs);
        f["server_idle_cpu_seconds"] = rounded(cpu, 3);
        f["server_idle_cpu_percent"] = rounded(secs > 0 ? 100 * cpu / secs : 0, 2);
        std::snprintf(line, sizeof line,
                      "server CPU while idle: %.2f s over %.1f s (%.2f %% of one core)", cpu, secs,
                      secs > 0 ? 100 * cpu / secs : 0);
        r.summary.push_back(line);
    }
    return r;
}

} // namespace kindred::bench
