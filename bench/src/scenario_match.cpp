// scenario_match.cpp — `match`: P peers on shift (peer i has capacity 1 + i % capacity_max),
// seekers arriving at --rate per second for --duration; each connects, says hello, requests a
// match, and ends the conversation --hold-ms after `matched`, which frees the peer's slot.
// Measures request_match → `matched` at the seeker. Checks: every seeker matched exactly
// once, every conversation id seen by exactly one seeker and exactly one peer, and no peer
// ever above its capacity (by its own matched/ended count and by the server's shift events).
#include "scenarios.hpp"
#include "server_metrics.hpp"

#include <boost/asio/steady_timer.hpp>

#include <cmath>
#include <map>
#include <set>

namespace kindred::bench {

namespace ev = client::chat_events;
namespace net = boost::asio;
using namespace std::chrono_literals;

scenario_result run_match(const bench_options& o, harness& h) {
    scenario_result r;
    const int cap_max = std::max(1, o.capacity_max);
    auto peers = start_peers(
        o, h, o.peers, [cap_max](std::size_t i) { return 1 + static_cast<int>(i % cap_max); });
    std::int64_t total_capacity = 0;
    for (auto* p : peers)
        total_capacity += p->capacity;

    const double rate = o.rate > 0 ? o.rate : 50;
    const auto seekers = static_cast<std::size_t>(std::ceil(rate * o.duration_s));
    std::atomic<std::int64_t> seekers_matched{0};
    const int hold_ms = o.hold_ms;
    const auto make_handler = [&] {
        return [&o, &seekers_matched, hold_ms](party& self, client::chat_event& e) {
            if (std::holds_alternative<ev::ready>(e) && self.request_ns == 0) {
                self.request_ns = steady_ns();
                self.session().request_match({{o.tag}, {o.language}, std::nullopt, false});
            } else if (auto* m = std::get_if<ev::matched>(&e)) {
                if (self.matched_events == 1) {
                    self.latency_ns.push_back(steady_ns() - self.request_ns);
                    ++seekers_matched;
                }
                auto t = std::make_shared<net::steady_timer>(self.io(),
                                                             std::chrono::milliseconds(hold_ms));
                t->async_wait([t, &self, id = m->conversation_id](boost::system::error_code ec) {
                    if (ec) return;
                    self.session().end(id);
                    self.flush();
                });
            }
        };
    };

    // Arrivals on a fixed schedule: seeker k connects at t0 + k / rate.
    const std::size_t first = h.parties.size();
    const auto t0 = std::chrono::steady_clock::now();
    auto next_print = t0 + 1s;
    for (std::size_t k = 0; k < seekers; ++k) {
        const auto at = t0 + std::chrono::nanoseconds(
                                 static_cast<std::int64_t>(static_cast<double>(k) * 1e9 / rate));
        // Sleeps until the arrival itself (or the progress line): a poll every 100 us woke
        // this thread 10,000 times a second and preempted whatever shared its core.
        while (std::chrono::steady_clock::now() < at) {
            if (std::chrono::steady_clock::now() >= next_print) {
                h.print_progress("arrivals");
                next_print += 1s;
            }
            std::this_thread::sleep_until(std::min(at, next_print));
        }
        party& p = h.add(client::chat_session::seeker(), make_handler());
        p.post([&p] { p.connect(); });
    }
    const auto timeout = std::chrono::milliseconds(static_cast<long>(o.setup_timeout_s * 1000));
    h.wait_until([&] { return seekers_matched.load() >= static_cast<long>(seekers); }, timeout,
                 "matching");
    // The last ends reach the peers after hold_ms.
    h.run_for(std::chrono::milliseconds(hold_ms + 500), "ending");
    h.stop();

    // ---- checks -----------------------------------------------------------------------------
    std::size_t unmatched = 0, double_matched = 0, over_capacity = 0;
    std::map<std::string, int> by_seekers, by_peers;
    std::vector<std::int64_t> lat;
    // (when it asked, how long it took) of every seeker: the slowest are reported with the
    // moment they asked, so a tail that comes in bursts shows as clustered times.
    std::vector<std::pair<std::int64_t, std::int64_t>> asked;
    const std::int64_t t0_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
    for (std::size_t i = first; i < h.parties.size(); ++i) {
        party& s = *h.parties[i];
        if (!s.latency_ns.empty()) asked.emplace_back(s.request_ns - t0_ns, s.latency_ns.front());
        if (s.matched_events == 0) ++unmatched;
        // A re-match after peer_unavailable/transfer would be legitimate; none happens here.
        if (s.matched_events > 1) ++double_matched;
        for (auto& c : s.conversations)
            ++by_seekers[c];
        lat.insert(lat.end(), s.latency_ns.begin(), s.latency_ns.end());
    }
    for (auto* p : peers) {
        for (auto& c : p->conversations)
            ++by_peers[c];
        if (p->most_active > p->capacity || p->most_shift_active > p->capacity) ++over_capacity;
    }
    std::size_t conversation_twice = 0, one_sided = 0;
    for (auto& [id, n] : by_seekers) {
        if (n > 1) ++conversation_twice;
        auto it = by_peers.find(id);
        if (it == by_peers.end()) ++one_sided;
    }
    for (auto& [id, n] : by_peers) {
        if (n > 1) ++conversation_twice;
        if (!by_seekers.contains(id)) ++one_sided;
    }
    if (unmatched) h.problem(std::to_string(unmatched) + " seekers never matched");
    if (double_matched) h.problem(std::to_string(double_matched) + " seekers matched twice");
    if (conversation_twice)
        h.problem(std::to_string(conversation_twice) + " conversation ids matched twice");
    if (one_sided) h.problem(std::to_string(one_sided) + " conversations seen by only one side");
    if (over_capacity) h.problem(std::to_string(over_capacity) + " peers above capacity");

    const auto summary = summarize(lat);
    auto& f = r.figures;
    f["peers"] = o.peers;
    f["capacity_max"] = cap_max;
    f["total_capacity"] = total_capacity;
    f["arrival_rate_per_second"] = rate;
    f["hold_ms"] = hold_ms;
    f["seekers"] = seekers;
    f["matched"] = seekers - unmatched;
    f["match_latency"] = to_json(summary);
    std::sort(asked.begin(), asked.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    boost::json::array slowest;
    std::string slowest_line = "slowest (asked at s: took ms):";
    for (std::size_t i = 0; i < std::min<std::size_t>(asked.size(), 20); ++i) {
        const double at_s = static_cast<double>(asked[i].first) / 1e9;
        const double ms = static_cast<double>(asked[i].second) / 1e6;
        slowest.push_back(boost::json::array{rounded(at_s, 3), rounded(ms, 3)});
        char b[48];
        std::snprintf(b, sizeof b, " %.3f: %.1f", at_s, ms);
        slowest_line += b;
    }
    f["slowest_asked_at_s_and_ms"] = std::move(slowest);
    // CLOCK_MONOTONIC of the first arrival: lines the times above up with a profile recorded
    // with `perf record -k CLOCK_MONOTONIC`.
    f["arrivals_started_monotonic_s"] = rounded(static_cast<double>(t0_ns) / 1e9, 6);
    f["double_assignments"] = double_matched + conversation_twice;
    f["peers_over_capacity"] = over_capacity;
    f["one_sided_conversations"] = one_sided;
    char line[320];
    std::snprintf(line, sizeof line,
                  "%zu peers (%lld slots), %zu seekers at %.1f/s: %zu matched, %zu double "
                  "assignments, %zu peers over capacity",
                  o.peers, static_cast<long long>(total_capacity), seekers, rate,
                  seekers - unmatched, double_matched + conversation_twice, over_capacity);
    r.summary.push_back(line);
    r.summary.push_back("request_match -> matched: " + describe(summary));
    r.summary.push_back(slowest_line);
    // Where the server says the time went (its /metrics; the stages of a fresh server are this
    // run's seekers only). The bucket bounds make p50/p99 "at most", not exact.
    const auto& server = o.h.target;
    if (auto text =
            http_get_body(server.server.data(), static_cast<socklen_t>(server.server.size()),
                          server.host_header, "/metrics")) {
        auto stages = parse_histograms(*text, "kindred_match_stage_seconds", "stage");
        auto passes = parse_histograms(*text, "kindred_match_pass_seconds", "part");
        f["server_match_stages"] = histograms_json(stages);
        f["server_match_passes"] = histograms_json(passes);
        r.summary.emplace_back("server, per seeker (kindred_match_stage_seconds):");
        for (auto& l : describe_histograms(
                 stages, {"enqueue", "to_claim", "create", "announce", "handoff", "total"}))
            r.summary.push_back(l);
        r.summary.emplace_back("server, per matching pass (kindred_match_pass_seconds):");
        for (auto& l : describe_histograms(passes, {"waited", "snapshots", "claims"}))
            r.summary.push_back(l);
    } else {
        r.summary.emplace_back("server stages: GET /metrics failed");
    }
    return r;
}

} // namespace kindred::bench
