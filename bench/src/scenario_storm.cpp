// scenario_storm.cpp — `storm`: N clients in conversations (N/2 matched pairs) exchange
// --messages each; then every client sends one more and its socket is closed at once
// (no closing handshake, as when a cell tower or a NAT drops), sends another while
// disconnected, and all reconnect together: hello with the resume token, then `sync` and the
// re-send of unacknowledged messages (chat_session). Measures the time from the reconnect
// until every session is resumed, and until every message is acknowledged and received.
// Checks: every session resumed (none restarted), and every message arrived exactly once.
#include "scenarios.hpp"

namespace kindred::bench {

using namespace std::chrono_literals;

scenario_result run_storm(const bench_options& o, harness& h) {
    scenario_result r;
    const std::size_t pairs = std::max<std::size_t>(1, o.clients / 2);
    const std::size_t n = 2 * pairs;
    setup_pairs(o, h, pairs);
    const auto timeout = std::chrono::milliseconds(static_cast<long>(o.setup_timeout_s * 1000));
    auto all_through = [&] {
        const auto sent = h.count.sent.load();
        return h.count.acked.load() >= sent && h.count.received.load() >= sent;
    };

    h.for_each_party([&](party& p) {
        for (int i = 0; i < o.messages; ++i)
            p.send_bench(steady_ns());
    });
    if (!h.wait_until(all_through, timeout, "before"))
        h.problem("messages before the drop were not all delivered in time");

    // The drop: one message in flight on each socket, then the socket is gone, then one more
    // written while disconnected (kept by the session for after the resume).
    const auto drop_started = steady_ns();
    h.for_each_party([](party& p) {
        p.send_bench(steady_ns());
        p.drop();
        p.send_bench(steady_ns());
    });
    const auto drop_ns = steady_ns() - drop_started;
    const auto resumed_before = h.count.resumed.load();

    const auto reconnect_started = steady_ns();
    h.for_each_party([](party& p) { p.connect(); });
    const bool all_resumed = h.wait_until(
        [&] { return h.count.resumed.load() - resumed_before >= static_cast<long>(n); }, timeout,
        "resume");
    const bool all_delivered = h.wait_until(all_through, timeout, "sync");
    const auto delivered_seen = steady_ns();
    h.stop();

    if (!all_resumed)
        h.problem(
            std::to_string(n - static_cast<std::size_t>(h.count.resumed.load() - resumed_before)) +
            " sessions did not resume in time");
    if (!all_delivered) h.problem("messages were not all acknowledged and received in time");

    std::vector<std::int64_t> resume_ns;
    std::size_t not_resumed = 0;
    for (auto& p : h.parties) {
        if (p->resumed == 0 || p->ready_ns < reconnect_started) {
            ++not_resumed;
            continue;
        }
        resume_ns.push_back(p->ready_ns - reconnect_started);
    }
    if (not_resumed > 0 && all_resumed)
        h.problem(std::to_string(not_resumed) + " clients have no resumed session");
    const auto resume = summarize(resume_ns);
    const double all_resumed_s = resume.count ? resume.max_ms / 1e3 : 0;
    const double all_delivered_s = static_cast<double>(delivered_seen - reconnect_started) / 1e9;

    auto& f = r.figures;
    f["clients"] = n;
    f["messages_before_drop_per_client"] = o.messages;
    f["drop_ms"] = rounded(static_cast<double>(drop_ns) / 1e6);
    f["resumed"] = n - not_resumed;
    f["restarted"] = h.count.restarted.load();
    f["all_resumed_seconds"] = rounded(all_resumed_s);
    f["resume_latency"] = to_json(resume);
    // Polled every 5 ms by the main thread: an upper bound within 5 ms.
    f["all_delivered_seconds"] = rounded(all_delivered_s);
    f["delivery"] = check_exactly_once(h);
    char line[320];
    std::snprintf(line, sizeof line,
                  "%zu clients dropped in %.1f ms: %zu resumed, all within %.3f s; every message "
                  "through after %.3f s",
                  n, static_cast<double>(drop_ns) / 1e6, n - not_resumed, all_resumed_s,
                  all_delivered_s);
    r.summary.push_back(line);
    r.summary.push_back("reconnect -> resumed: " + describe(resume));
    return r;
}

} // namespace kindred::bench
