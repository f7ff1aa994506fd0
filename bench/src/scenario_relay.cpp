// scenario_relay.cpp — `relay`: M matched pairs (real matching, real E2E on both clients)
// send to each other, at --rate messages/s in total (open loop: each message carries the
// time it was *scheduled* for, so a generator or server that falls behind shows as latency
// instead of quietly offering less load) or, with --rate 0, as fast as acknowledgements
// allow with --window sends in flight per client (closed loop: the latency is from the
// actual send). Measures, over --duration after --warmup: delivered messages per second
// (received by the other client), delivery latency percentiles (steady clock, same process),
// and server and Redis CPU seconds per delivered message. Then stops sending, waits until
// every message is acknowledged and received, and checks each arrived exactly once.
#include "scenarios.hpp"

#include <cmath>

namespace kindred::bench {

namespace ev = client::chat_events;

scenario_result run_relay(const bench_options& o, harness& h) {
    scenario_result r;
    setup_pairs(o, h, o.pairs);

    std::atomic<bool> sending{false};
    const bool closed_loop = o.rate <= 0;
    const std::size_t window = std::max<std::size_t>(1, o.window);
    const auto schedule = plan_schedule(o, h);
    sending = true;

    if (closed_loop) {
        h.for_each_party([&](party& p) {
            p.on_event = [&sending, window](party& self, client::chat_event& e) {
                if (std::holds_alternative<ev::delivered>(e) && sending.load()) {
                    while (self.unacknowledged() < window && self.send_bench(steady_ns())) {
                    }
                }
            };
            for (std::size_t i = 0; i < window; ++i)
                p.send_bench(steady_ns());
        });
    } else {
        std::vector<std::vector<send_fn>> by_shard(h.shards());
        for (auto& p : h.parties)
            by_shard[p->shard].push_back([q = p.get()](std::int64_t ts) { q->send_bench(ts); });
        start_open_loop(h, std::move(by_shard), o.rate, schedule.t0_ns, sending);
    }

    // Warm-up, then the measured window: received counts and CPU taken at its edges.
    const auto [from, to, received_from, received_to] = measure_window(o, h, schedule);
    sending = false;

    const auto timeout = std::chrono::milliseconds(static_cast<long>(o.setup_timeout_s * 1000));
    const bool drained = h.wait_until(
        [&] {
            const auto sent = h.count.sent.load();
            return h.count.acked.load() >= sent && h.count.received.load() >= sent;
        },
        timeout, "drain");
    h.stop();
    if (!drained) h.problem("not every message was acknowledged and received in time");

    std::vector<std::int64_t> lat;
    for (auto& p : h.parties)
        lat.insert(lat.end(), p->latency_ns.begin(), p->latency_ns.end());
    const auto summary = summarize(lat);
    const double secs = static_cast<double>(to.at_ns - from.at_ns) / 1e9;
    const auto delivered = received_to - received_from;
    const double per_s = secs > 0 ? static_cast<double>(delivered) / secs : 0;

    auto& f = r.figures;
    f["pairs"] = o.pairs;
    f["mode"] = closed_loop ? "closed_loop" : "open_loop";
    if (closed_loop)
        f["window"] = window;
    else
        f["offered_per_second"] = o.rate;
    f["message_bytes"] = h.options.message_size;
    f["measured_seconds"] = rounded(secs);
    f["delivered_in_window"] = delivered;
    f["delivered_per_second"] = rounded(per_s, 1);
    f["latency"] = to_json(summary);
    char line[320];
    std::snprintf(
        line, sizeof line, "%zu pairs, %s: %.1f msgs/s delivered over %.2f s (%lld msgs)", o.pairs,
        closed_loop ? ("closed loop, window " + std::to_string(window)).c_str()
                    : ("offered " + std::to_string(std::llround(o.rate)) + " msgs/s").c_str(),
        per_s, secs, static_cast<long long>(delivered));
    r.summary.push_back(line);
    r.summary.push_back("latency (send -> received by the other client): " + describe(summary));
    if (from.server && to.server && delivered > 0) {
        const double us = (*to.server - *from.server) * 1e6 / static_cast<double>(delivered);
        f["server_cpu_seconds"] = rounded(*to.server - *from.server, 3);
        f["server_cpu_us_per_message"] = rounded(us, 2);
        std::snprintf(line, sizeof line, "server CPU %.2f s: %.2f us per delivered message",
                      *to.server - *from.server, us);
        r.summary.push_back(line);
    }
    if (from.redis && to.redis && delivered > 0) {
        const double us = (*to.redis - *from.redis) * 1e6 / static_cast<double>(delivered);
        f["redis_cpu_seconds"] = rounded(*to.redis - *from.redis, 3);
        f["redis_cpu_us_per_message"] = rounded(us, 2);
        std::snprintf(line, sizeof line, "redis CPU %.2f s: %.2f us per delivered message",
                      *to.redis - *from.redis, us);
        r.summary.push_back(line);
    }
    if (from.generator && to.generator && secs > 0) {
        // Of all its threads together: near 100 % per generator thread means the generator,
        // not the server, may be what bounds the throughput.
        const double pct = 100 * (*to.generator - *from.generator) / secs;
        f["generator_cpu_percent"] = rounded(pct, 1);
        std::snprintf(line, sizeof line, "generator CPU %.1f %% of one core (%zu threads)", pct,
                      h.shards());
        r.summary.push_back(line);
    }
    f["delivery"] = check_exactly_once(h);
    return r;
}

} // namespace kindred::bench
