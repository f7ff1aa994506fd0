// scenarios.hpp — the benchmark scenarios (idle, relay, match, storm; echo, the networking
// ceiling) and what they share: the run's options, pairs of matched parties, the send
// schedule and pacing of relay and echo, CPU marks and the exactly-once check.
// Threading: every function here runs on the main thread and drives parties through the
// harness (post, for_each_party, counters); party fields are read only after harness::stop().
// The only exception is a send_fn, which the open-loop pacer calls on its shard's thread.
#pragma once

#include "harness.hpp"

#include <boost/json/object.hpp>

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kindred::bench {

struct bench_options {
    std::string scenario;
    std::string url;
    std::string redis; // for the peers' accounts (relay, match, storm)
    harness_options h;
    double duration_s = 10;
    double warmup_s = 1;
    double rate = 0;                // relay: msgs/s in total (0: closed loop); match: seekers/s
    std::size_t window = 8;         // relay closed loop: sends in flight per client
    std::size_t connections = 1000; // idle
    std::size_t pairs = 100;        // relay
    std::size_t peers = 100;        // match
    int capacity_max = 5;           // match: peer i has capacity 1 + i % capacity_max
    int hold_ms = 1000;             // match: a seeker ends its conversation this long after matched
    std::size_t clients = 200;      // storm: clients in conversations (half peers, half seekers)
    int messages = 5;               // storm: messages per client before the drop
    std::size_t concurrency = 256;  // connects in flight
    double connect_rate = 0;        // idle: connections/s (0: as fast as `concurrency` allows)
    std::optional<pid_t> server_pid, redis_pid;
    std::string tag = "grief", language = "en";
    double setup_timeout_s = 120;
    double setup_rate = 200; // peers and seekers connected per second while setting up
    std::string run_id;      // makes this run's usernames unique
};

struct scenario_result {
    boost::json::object figures;
    std::vector<std::string> summary; // human lines
};

scenario_result run_idle(const bench_options& o, harness& h);
scenario_result run_relay(const bench_options& o, harness& h);
scenario_result run_match(const bench_options& o, harness& h);
scenario_result run_storm(const bench_options& o, harness& h);
// The networking ceiling: raw ws_link pairs against kindred-bench-echo (scenario_echo.cpp).
scenario_result run_echo(const bench_options& o, harness& h);

// ---- shared by the scenarios (scenario_common.cpp) -----------------------------------------

// Peers: accounts made and logged in, sessions created with a shift of capacity
// capacity_of(i), connected; waits until every shift is on. Throws on failure.
std::vector<party*> start_peers(const bench_options& o, harness& h, std::size_t count,
                                const std::function<int(std::size_t)>& capacity_of);

// M matched pairs (peers of capacity 1): each seeker requests a match when ready; waits
// until both sides saw `matched`, then sets every party's partner. Throws on failure.
void setup_pairs(const bench_options& o, harness& h, std::size_t pairs);

// Connects parties [from, to) with at most o.concurrency in flight (and at most `rate`
// connects per second when rate > 0). Returns when all were started.
void connect_parties(const bench_options& o, harness& h, std::size_t from, std::size_t to,
                     double rate, const std::string& phase);

// Server and Redis CPU seconds at one moment (nullopt where no pid was given).
struct cpu_mark {
    std::optional<double> server, redis;
    std::optional<double> generator; // this process: a saturated generator bounds the figures
    std::int64_t at_ns = 0;
};
cpu_mark take_cpu_mark(const bench_options& o);

// ---- the send schedule of relay and echo -------------------------------------------------

// When a paced run sends and what it measures: sending starts at t0 (a moment from now, for
// every shard to get the news); messages stamped inside [t0 + --warmup, + --duration) are
// measured.
struct send_schedule {
    std::int64_t t0_ns = 0;
    std::int64_t window_from_ns = 0, window_to_ns = 0;
};
// Plans the schedule from now and sets h.window_from_ns / h.window_to_ns to its window.
send_schedule plan_schedule(const bench_options& o, harness& h);

// Sends one benchmark message stamped with `scheduled_ns` (steady clock); runs on its shard.
using send_fn = std::function<void(std::int64_t scheduled_ns)>;

// Open loop: one pacer per shard, on the shard's thread. Every millisecond it sends the
// messages due by now at rate / shards msgs/s, round-robin over that shard's senders
// (senders_by_shard[s]), each stamped with the time it was scheduled for — a generator or
// server that falls behind shows as latency instead of quietly offering less load. Stops
// when `sending` is false; `sending` must outlive the shards' threads.
void start_open_loop(harness& h, std::vector<std::vector<send_fn>> senders_by_shard, double rate,
                     std::int64_t start_ns, const std::atomic<bool>& sending);

// The edges of the measured window: CPU marks and the received count, taken after the
// warm-up and at the window's end (the call waits for both, printing progress).
struct measured_window {
    cpu_mark from, to;
    std::int64_t received_from = 0, received_to = 0;
};
measured_window measure_window(const bench_options& o, harness& h, const send_schedule& s);

// After harness::stop(): every message a party sent was acknowledged, and its partner
// received each exactly once. Adds problems to h; returns the counts as JSON.
boost::json::object check_exactly_once(harness& h);

// The run's peer usernames: "b<run id>-<prefix><i>" (valid: lower-case, ≤ 32 characters).
std::string bench_username(const bench_options& o, const std::string& prefix, std::size_t i);

} // namespace kindred::bench
