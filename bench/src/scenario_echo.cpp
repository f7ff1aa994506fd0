// scenario_echo.cpp — `echo`: the networking ceiling. M pairs of raw ws_link connections (no
// chat_session, no E2E, no Redis) against kindred-bench-echo, which relays every text frame to
// the other member of its pair. Same pacing as relay (scenario_common.cpp: open loop --rate,
// each message stamped with its scheduled time; closed loop --window in flight per client,
// here "in flight" = not yet received by the partner, as the echo has no acknowledgement),
// frames exactly as long as a Kindred `send` of --size plaintext bytes, and the same figures
// and exactly-once check.
// Threading: both members of a pair live on one shard, so a receiver may refill its sender's
// window directly; the main thread reads client fields only after harness::stop().
#include "scenarios.hpp"
#include <kindred/client/e2e.hpp>
#include <kindred/protocol/codec.hpp>

#include <boost/asio/post.hpp>

#include <charconv>
#include <cmath>
#include <thread>

namespace kindred::bench {

namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view paired_frame = R"({"paired":true})";

// What a Kindred client writes for one `send` of `size` plaintext bytes (ASCII, as the bench's
// text), and what its partner reads: {"text":"..."} padded to a multiple of 256, an AEAD tag,
// base64 in a JSON envelope. Built with the real encoders, so it follows the protocol.
struct wire_sizes {
    std::size_t send_frame = 0;    // client → server
    std::size_t message_frame = 0; // server → recipient
};

wire_sizes kindred_wire_sizes(std::size_t size) {
    const std::size_t padded = client::e2e::padded_size(size + 11); // {"text":"…"} is 11 more
    protocol::message_copy copy;
    copy.to = protocol::role::peer;
    copy.ciphertext.assign(padded + client::e2e::aead_tag_bytes, 0xa5);
    // Ids as long as the server's (22 characters of URL-safe base64) and mid-run counters.
    const std::string conversation(22, 'c');
    protocol::send s{conversation, 12345, {copy}};
    protocol::message_event m;
    m.conversation_id = conversation;
    m.offset = 12345;
    m.seq = 12345;
    m.ciphertext = copy.ciphertext;
    m.sent_at = 1764300000000;
    wire_sizes w;
    w.send_frame = protocol::encode_client_message(protocol::client_message{s}, "123").size();
    w.message_frame = protocol::encode_event(protocol::server_event{m}).size();
    return w;
}

struct echo_client {
    std::size_t index = 0, shard = 0;
    echo_client* partner = nullptr;
    std::shared_ptr<ws_link> link;
    bool open = false, paired = false, connecting = false;
    std::uint64_t sent = 0, received = 0, malformed = 0;
    std::vector<std::uint8_t> got;        // got[k]: copies of the partner's message k
    std::vector<std::int64_t> latency_ns; // messages stamped inside the window
};

struct echo_run {
    echo_run(harness& h_, std::size_t frame, std::size_t window_, bool closed)
        : h(h_)
        , frame_bytes(frame)
        , window(window_)
        , closed_loop(closed) {}
    harness& h;
    std::size_t frame_bytes;
    std::size_t window;
    bool closed_loop;
    std::atomic<bool> sending{false};
    std::vector<std::unique_ptr<echo_client>> clients;

    // On c's shard.
    void send(echo_client& c, std::int64_t ts) {
        if (!c.link || !c.open || !c.paired) return;
        std::string text =
            std::to_string(ts) + ' ' + std::to_string(c.sent) + ' ' + std::to_string(c.index) + ' ';
        if (text.size() < frame_bytes) text.append(frame_bytes - text.size(), 'x');
        c.link->send(std::move(text));
        ++c.sent;
        ++h.count.sent;
    }

    // Closed loop: the sender's window is what its partner has not received yet.
    void refill(echo_client& c) {
        while (sending.load(std::memory_order_relaxed) && c.open && c.paired && c.partner &&
               c.sent - c.partner->received < window)
            send(c, steady_ns());
    }

    void on_text(echo_client& c, std::string_view text) {
        if (text == paired_frame) {
            if (!c.paired) ++h.count.matched;
            c.paired = true;
            return;
        }
        const char* p = text.data();
        const char* end = p + text.size();
        std::int64_t ts = 0;
        std::uint64_t k = 0;
        auto r1 = std::from_chars(p, end, ts);
        if (r1.ec != std::errc{} || r1.ptr == end) {
            ++c.malformed;
            return;
        }
        auto r2 = std::from_chars(r1.ptr + 1, end, k);
        if (r2.ec != std::errc{} || k > 100'000'000) {
            ++c.malformed;
            return;
        }
        const auto now = steady_ns();
        if (c.got.size() <= k) c.got.resize(k + 1, 0);
        if (c.got[k] < 255) ++c.got[k];
        ++c.received;
        ++h.count.received;
        ++h.count.acked; // no acknowledgement in the echo: arrival is the acknowledgement
        if (ts >= h.window_from_ns.load(std::memory_order_relaxed) &&
            ts < h.window_to_ns.load(std::memory_order_relaxed)) {
            c.latency_ns.push_back(now - ts);
            ++h.count.window_received;
        }
        if (closed_loop && c.partner) refill(*c.partner);
    }

    void connect(echo_client& c, const std::string& pair_id) {
        c.connecting = true;
        ++h.count.connecting;
        std::optional<net::ip::address_v4> source;
        if (h.options.source_addresses > 0)
            source = net::ip::address_v4(
                (127u << 24) | static_cast<unsigned>(1 + c.index % h.options.source_addresses));
        c.link = std::make_shared<ws_link>(
            h.io(c.shard), ws_link::callbacks{
                               [this, &c, pair_id] {
                                   c.connecting = false;
                                   --h.count.connecting;
                                   c.open = true;
                                   ++h.count.open;
                                   ++h.count.ready;
                                   c.link->send(R"({"pair":")" + pair_id + R"("})");
                               },
                               [this, &c](std::string_view t) { on_text(c, t); },
                               [this, &c](boost::system::error_code ec) {
                                   if (c.open) {
                                       --h.count.open;
                                       ++h.count.lost;
                                       h.problem("client " + std::to_string(c.index) +
                                                 ": connection lost: " + ec.message());
                                   } else {
                                       --h.count.connecting;
                                       ++h.count.connect_failed;
                                       h.problem("client " + std::to_string(c.index) +
                                                 ": connect failed: " + ec.message());
                                   }
                                   c.open = c.connecting = false;
                               },
                           });
        c.link->start(h.options.target, source);
    }
};

} // namespace

scenario_result run_echo(const bench_options& o, harness& h) {
    scenario_result r;
    const auto wire = kindred_wire_sizes(h.options.message_size);
    echo_run run{h, wire.send_frame, std::max<std::size_t>(1, o.window), o.rate <= 0};
    const auto timeout = std::chrono::milliseconds(static_cast<long>(o.setup_timeout_s * 1000));

    // Pair i is clients 2i and 2i+1, both on shard i % shards.
    for (std::size_t i = 0; i < 2 * o.pairs; ++i) {
        auto c = std::make_unique<echo_client>();
        c->index = i;
        c->shard = (i / 2) % h.shards();
        run.clients.push_back(std::move(c));
    }
    for (std::size_t i = 0; i < o.pairs; ++i) {
        run.clients[2 * i]->partner = run.clients[2 * i + 1].get();
        run.clients[2 * i + 1]->partner = run.clients[2 * i].get();
    }
    // Connects paced like the other scenarios' setup: at most --concurrency in flight, at
    // most --setup-rate per second.
    const auto started = std::chrono::steady_clock::now();
    auto next_print = started + 1s;
    for (std::size_t i = 0; i < run.clients.size();) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_print) {
            h.print_progress("connect");
            next_print += 1s;
        }
        const bool room = h.count.connecting.load() < static_cast<std::int64_t>(o.concurrency);
        const bool due =
            o.setup_rate <= 0 ||
            static_cast<double>(i) < std::chrono::duration<double>(now - started).count() *
                                         o.setup_rate * 2; // two connections per pair
        if (!room || !due) {
            std::this_thread::sleep_for(200us);
            continue;
        }
        echo_client* c = run.clients[i].get();
        const std::string pair_id = "b" + o.run_id + "-" + std::to_string(i / 2);
        ++h.count.connecting; // in flight from now; the shard's connect() adds its own
        net::post(h.io(c->shard), [&run, &h, c, pair_id] {
            --h.count.connecting;
            run.connect(*c, pair_id);
        });
        ++i;
    }
    if (!h.wait_until(
            [&] { return h.count.matched.load() >= static_cast<std::int64_t>(2 * o.pairs); },
            timeout, "pairing")) {
        throw std::runtime_error("only " + std::to_string(h.count.matched.load()) + " of " +
                                 std::to_string(2 * o.pairs) + " clients were paired");
    }

    const auto schedule = plan_schedule(o, h);
    run.sending = true;
    std::vector<std::vector<send_fn>> open_loop(h.shards());
    for (std::size_t s = 0; s < h.shards(); ++s) {
        std::vector<echo_client*> mine;
        for (auto& c : run.clients)
            if (c->shard == s) mine.push_back(c.get());
        if (run.closed_loop) {
            net::post(h.io(s), [&run, mine] {
                for (auto* c : mine)
                    run.refill(*c);
            });
        } else {
            for (auto* c : mine)
                open_loop[s].push_back([&run, c](std::int64_t ts) { run.send(*c, ts); });
        }
    }
    if (!run.closed_loop)
        start_open_loop(h, std::move(open_loop), o.rate, schedule.t0_ns, run.sending);

    const auto [from, to, received_from, received_to] = measure_window(o, h, schedule);
    run.sending = false;
    const bool drained = h.wait_until(
        [&] { return h.count.received.load() >= h.count.sent.load(); }, timeout, "drain");
    h.stop();
    if (!drained) h.problem("not every message was received in time");
    for (auto& c : run.clients)
        if (c->link) c->link->abort(); // the io_contexts are stopped: no callback runs

    std::vector<std::int64_t> lat;
    std::uint64_t sent = 0, lost = 0, duplicated = 0, unexpected = 0, malformed = 0;
    for (auto& c : run.clients) {
        lat.insert(lat.end(), c->latency_ns.begin(), c->latency_ns.end());
        malformed += c->malformed;
        const auto& q = *c->partner;
        sent += c->sent;
        for (std::uint64_t k = 0; k < std::max<std::uint64_t>(c->sent, q.got.size()); ++k) {
            const int copies = k < q.got.size() ? q.got[k] : 0;
            const auto who =
                "client " + std::to_string(c->index) + ": message " + std::to_string(k);
            if (k < c->sent && copies == 0) {
                ++lost;
                h.problem(who + " never reached client " + std::to_string(q.index));
            } else if (k < c->sent && copies > 1) {
                ++duplicated;
                h.problem(who + " arrived " + std::to_string(copies) + " times");
            } else if (k >= c->sent && copies > 0) {
                ++unexpected;
                h.problem(who + " arrived but was never sent");
            }
        }
    }
    if (malformed > 0) h.problem(std::to_string(malformed) + " received texts were malformed");
    const auto summary = summarize(lat);
    const double secs = static_cast<double>(to.at_ns - from.at_ns) / 1e9;
    const auto delivered = received_to - received_from;
    const double per_s = secs > 0 ? static_cast<double>(delivered) / secs : 0;

    auto& f = r.figures;
    f["pairs"] = o.pairs;
    f["mode"] = run.closed_loop ? "closed_loop" : "open_loop";
    if (run.closed_loop)
        f["window"] = run.window;
    else
        f["offered_per_second"] = o.rate;
    f["message_bytes"] = h.options.message_size;
    f["frame_bytes"] = wire.send_frame;
    f["kindred_message_frame_bytes"] = wire.message_frame;
    f["measured_seconds"] = rounded(secs);
    f["delivered_in_window"] = delivered;
    f["delivered_per_second"] = rounded(per_s, 1);
    f["latency"] = to_json(summary);
    char line[320];
    std::snprintf(
        line, sizeof line,
        "%zu pairs, %s: %.1f msgs/s delivered over %.2f s (%lld msgs of %zu bytes)", o.pairs,
        run.closed_loop ? ("closed loop, window " + std::to_string(run.window)).c_str()
                        : ("offered " + std::to_string(std::llround(o.rate)) + " msgs/s").c_str(),
        per_s, secs, static_cast<long long>(delivered), wire.send_frame);
    r.summary.push_back(line);
    r.summary.push_back("latency (send -> received by the other client): " + describe(summary));
    if (from.server && to.server && delivered > 0) {
        const double us = (*to.server - *from.server) * 1e6 / static_cast<double>(delivered);
        f["server_cpu_seconds"] = rounded(*to.server - *from.server, 3);
        f["server_cpu_us_per_message"] = rounded(us, 2);
        std::snprintf(line, sizeof line, "echo server CPU %.2f s: %.2f us per delivered message",
                      *to.server - *from.server, us);
        r.summary.push_back(line);
    }
    if (from.generator && to.generator && secs > 0) {
        const double pct = 100 * (*to.generator - *from.generator) / secs;
        f["generator_cpu_percent"] = rounded(pct, 1);
        std::snprintf(line, sizeof line, "generator CPU %.1f %% of one core (%zu threads)", pct,
                      h.shards());
        r.summary.push_back(line);
    }
    f["delivery"] = {
        {"messages_sent", sent},    {"unacknowledged", 0},      {"lost", lost},
        {"duplicated", duplicated}, {"unexpected", unexpected}, {"malformed", malformed}};
    return r;
}

} // namespace kindred::bench
