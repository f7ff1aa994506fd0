// scenario_common.cpp — peers, pairs, connect pacing, the send schedule and open-loop pacer of
// relay and echo, CPU marks and the exactly-once check shared by the scenarios; see
// scenarios.hpp.
#include "scenarios.hpp"
#include "staff.hpp"
#include <kindred/client/e2e.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace kindred::bench {

namespace ev = client::chat_events;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

// Open-loop sender of one shard: every millisecond, sends the messages that are due by now
// round-robin over the shard's senders. Runs on the shard's thread only.
struct pacer : std::enable_shared_from_this<pacer> {
    pacer(net::io_context& io, std::vector<send_fn> s, double r, std::int64_t start,
          const std::atomic<bool>& on)
        : timer(io)
        , senders(std::move(s))
        , rate(r)
        , start_ns(start)
        , sending(on) {}
    net::steady_timer timer;
    std::vector<send_fn> senders;
    double rate; // this shard's share, msgs/s
    std::int64_t start_ns;
    const std::atomic<bool>& sending;
    std::uint64_t issued = 0;
    std::size_t next = 0;

    void run() {
        if (!sending.load() || senders.empty()) return;
        const auto now = steady_ns();
        // Before start_ns nothing is due (and a negative count must not become a huge one).
        const auto due = now <= start_ns ? 0
                                         : static_cast<std::uint64_t>(std::floor(
                                               static_cast<double>(now - start_ns) / 1e9 * rate));
        while (issued < due && sending.load(std::memory_order_relaxed)) {
            const auto scheduled =
                start_ns + static_cast<std::int64_t>(static_cast<double>(issued) * 1e9 / rate);
            senders[next++ % senders.size()](scheduled);
            ++issued;
        }
        timer.expires_after(1ms);
        timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (!ec) self->run();
        });
    }
};

} // namespace

std::string bench_username(const bench_options& o, const std::string& prefix, std::size_t i) {
    return "b" + o.run_id + "-" + prefix + std::to_string(i);
}

cpu_mark take_cpu_mark(const bench_options& o) {
    cpu_mark m;
    m.at_ns = steady_ns();
    if (o.server_pid) m.server = process_cpu_seconds(*o.server_pid);
    if (o.redis_pid) m.redis = process_cpu_seconds(*o.redis_pid);
    m.generator = process_cpu_seconds(::getpid());
    return m;
}

send_schedule plan_schedule(const bench_options& o, harness& h) {
    send_schedule s;
    s.t0_ns = steady_ns() + 50'000'000;
    s.window_from_ns = s.t0_ns + static_cast<std::int64_t>(o.warmup_s * 1e9);
    s.window_to_ns = s.window_from_ns + static_cast<std::int64_t>(o.duration_s * 1e9);
    h.window_from_ns = s.window_from_ns;
    h.window_to_ns = s.window_to_ns;
    return s;
}

void start_open_loop(harness& h, std::vector<std::vector<send_fn>> senders_by_shard, double rate,
                     std::int64_t start_ns, const std::atomic<bool>& sending) {
    senders_by_shard.resize(h.shards());
    for (std::size_t s = 0; s < h.shards(); ++s) {
        auto pc =
            std::make_shared<pacer>(h.io(s), std::move(senders_by_shard[s]),
                                    rate / static_cast<double>(h.shards()), start_ns, sending);
        net::post(h.io(s), [pc] { pc->run(); });
    }
}

measured_window measure_window(const bench_options& o, harness& h, const send_schedule& s) {
    const auto wait_to = [&](std::int64_t at, const std::string& phase) {
        h.wait_until([&] { return steady_ns() >= at; },
                     std::chrono::milliseconds((at - steady_ns()) / 1'000'000 + 1000), phase);
    };
    measured_window w;
    wait_to(s.window_from_ns, "warmup");
    w.from = take_cpu_mark(o);
    w.received_from = h.count.received.load();
    wait_to(s.window_to_ns, "measure");
    w.to = take_cpu_mark(o);
    w.received_to = h.count.received.load();
    return w;
}

void connect_parties(const bench_options& o, harness& h, std::size_t from, std::size_t to,
                     double rate, const std::string& phase) {
    const auto started = std::chrono::steady_clock::now();
    auto next_print = started + 1s;
    for (std::size_t i = from; i < to;) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_print) {
            h.print_progress(phase);
            next_print += 1s;
        }
        const bool room = h.count.connecting.load() < static_cast<std::int64_t>(o.concurrency);
        bool due = true;
        if (rate > 0) {
            const double elapsed = std::chrono::duration<double>(now - started).count();
            due = static_cast<double>(i - from) < elapsed * rate;
        }
        if (!room || !due) {
            std::this_thread::sleep_for(200us);
            continue;
        }
        party* p = h.parties[i].get();
        p->post([p] { p->connect(); });
        ++i;
        // connecting is counted on the party's thread: count this one as in flight now, or
        // the loop would start far more than `concurrency` before any thread runs.
        ++h.count.connecting;
        p->post([&h] { --h.count.connecting; });
    }
}

std::vector<party*> start_peers(const bench_options& o, harness& h, std::size_t count,
                                const std::function<int(std::size_t)>& capacity_of) {
    if (o.redis.empty()) throw std::runtime_error("--redis is needed to create peer accounts");
    staff_request req;
    req.redis = o.redis;
    req.tag = o.tag;
    req.language = o.language;
    for (std::size_t i = 0; i < count; ++i)
        req.usernames.push_back(bench_username(o, "p", i));
    h.print_progress("accounts");
    const auto tokens = create_peer_tokens(req);

    std::vector<party*> peers;
    const std::size_t first = h.parties.size();
    for (std::size_t i = 0; i < count; ++i) {
        client::peer_setup setup;
        setup.token = tokens[i];
        setup.identity = client::e2e::generate_identity_key_pair();
        setup.prekey_batch = 20;
        auto session = client::chat_session::peer(std::move(setup));
        const int capacity = capacity_of(i);
        // Remembered by the session and sent once identity and prekeys are in.
        session.start_shift({capacity, {o.tag}, {o.language}});
        party& p = h.add(std::move(session));
        p.capacity = capacity;
        peers.push_back(&p);
    }
    const auto shift_on_before = h.count.shift_on.load();
    connect_parties(o, h, first, first + count, o.setup_rate, "peers");
    const auto timeout = std::chrono::milliseconds(static_cast<long>(o.setup_timeout_s * 1000));
    if (!h.wait_until(
            [&] { return h.count.shift_on.load() - shift_on_before >= static_cast<long>(count); },
            timeout, "shifts")) {
        throw std::runtime_error("only " + std::to_string(h.count.shift_on.load()) + " of " +
                                 std::to_string(count) + " peer shifts started");
    }
    return peers;
}

void setup_pairs(const bench_options& o, harness& h, std::size_t pairs) {
    start_peers(o, h, pairs, [](std::size_t) { return 1; });
    const std::size_t first = h.parties.size();
    for (std::size_t i = 0; i < pairs; ++i) {
        h.add(client::chat_session::seeker(), [&o](party& self, client::chat_event& e) {
            // The first hello only: after a resume the session keeps its match by itself.
            if (std::holds_alternative<ev::ready>(e) && self.request_ns == 0) {
                self.request_ns = steady_ns();
                self.session().request_match({{o.tag}, {o.language}, std::nullopt, false});
            }
        });
    }
    // Paced: each connect is followed by request_match, and a burst of thousands of matches
    // is a load test of its own (the match scenario's job), not a setup step.
    connect_parties(o, h, first, first + pairs, o.setup_rate, "seekers");
    const auto timeout = std::chrono::milliseconds(static_cast<long>(o.setup_timeout_s * 1000));
    if (!h.wait_until([&] { return h.count.matched.load() >= static_cast<long>(2 * pairs); },
                      timeout, "matching")) {
        throw std::runtime_error("only " + std::to_string(h.count.matched.load()) + " of " +
                                 std::to_string(2 * pairs) + " matched events arrived");
    }
    // Partners by conversation id: gathered on the parties' threads, then set there.
    std::mutex m;
    std::map<std::string, std::vector<party*>> sides;
    h.for_each_party([&](party& p) {
        std::lock_guard lock(m);
        if (!p.conversation.empty()) sides[p.conversation].push_back(&p);
    });
    for (auto& [id, v] : sides) {
        if (v.size() != 2) {
            throw std::runtime_error("conversation " + id + " has " + std::to_string(v.size()) +
                                     " local parties, not 2");
        }
    }
    h.for_each_party([&](party& p) {
        if (p.conversation.empty()) return;
        const auto& v = sides.at(p.conversation);
        p.partner = v[0] == &p ? v[1] : v[0];
    });
}

boost::json::object check_exactly_once(harness& h) {
    std::uint64_t sent = 0, unacked = 0, lost = 0, duplicated = 0, unexpected = 0, malformed = 0,
                  out_of_order = 0;
    for (auto& up : h.parties) {
        party& p = *up;
        malformed += p.malformed;
        if (!p.partner) continue;
        const party& q = *p.partner;
        sent += p.sent;
        if (q.out_of_order > 0) {
            out_of_order += q.out_of_order;
            h.problem("party " + std::to_string(q.index) + " received " +
                      std::to_string(q.out_of_order) + " messages of party " +
                      std::to_string(p.index) + " out of order");
        }
        if (p.acked < p.sent) {
            unacked += p.sent - p.acked;
            h.problem("party " + std::to_string(p.index) + ": " + std::to_string(p.sent - p.acked) +
                      " messages never acknowledged");
        }
        for (std::uint64_t k = 0; k < std::max<std::uint64_t>(p.sent, q.got.size()); ++k) {
            const int copies = k < q.got.size() ? q.got[k] : 0;
            if (k < p.sent && copies == 0) {
                ++lost;
                h.problem("party " + std::to_string(p.index) + ": message " + std::to_string(k) +
                          " never reached party " + std::to_string(q.index));
            } else if (k < p.sent && copies > 1) {
                ++duplicated;
                h.problem("party " + std::to_string(q.index) + " received message " +
                          std::to_string(k) + " of party " + std::to_string(p.index) + " " +
                          std::to_string(copies) + " times");
            } else if (k >= p.sent && copies > 0) {
                ++unexpected;
                h.problem("party " + std::to_string(q.index) + " received message " +
                          std::to_string(k) + " that party " + std::to_string(p.index) +
                          " never sent");
            }
        }
    }
    if (malformed > 0) h.problem(std::to_string(malformed) + " received texts were malformed");
    return {{"messages_sent", sent},       {"unacknowledged", unacked}, {"lost", lost},
            {"duplicated", duplicated},    {"unexpected", unexpected},  {"malformed", malformed},
            {"out_of_order", out_of_order}};
}

} // namespace kindred::bench
