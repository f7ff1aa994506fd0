// harness.hpp — the load generator's machinery, shared by every scenario:
//  - party: one simulated person (a chat_session, the real client state machine with real
//    E2E) on one ws_link, plus what the scenarios count about it;
//  - shard: one io_context on one thread holding many parties (never a thread per
//    connection), with a ticker that gives every session its tick();
//  - harness: the shards, the parties, shared counters, problems, and the progress line.
// Threading: a party and everything in it belong to its shard's thread; the main thread talks
// to a party only through party::post(), and reads its plain fields only after
// harness::stop() (or through the atomic counters). Lifetime: parties live in the harness and
// outlive the shards' threads (stop() joins them before anything is destroyed).
#pragma once

#include "measure.hpp"
#include "ws_link.hpp"
#include <kindred/client/chat_session.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kindred::bench {

// Totals over every party, updated from shard threads, read by the main thread.
struct counters {
    std::atomic<std::int64_t> connecting{0};  // connect() called, not yet open or failed
    std::atomic<std::int64_t> open{0};        // sockets open now
    std::atomic<std::int64_t> ready{0};       // sessions ready now (hello ok)
    std::atomic<std::int64_t> ready_total{0}; // every ready event (first hellos and resumes)
    std::atomic<std::int64_t> resumed{0};     // ready{resumed=true}
    std::atomic<std::int64_t> restarted{0};   // session_restarted: a resume was refused
    std::atomic<std::int64_t> connect_failed{0};
    std::atomic<std::int64_t> lost{0};            // sockets closed by the other side or an error
    std::atomic<std::int64_t> shift_on{0};        // peers whose shift reached "on"
    std::atomic<std::int64_t> matched{0};         // matched events (both sides count)
    std::atomic<std::int64_t> sent{0};            // benchmark messages handed to send_text
    std::atomic<std::int64_t> acked{0};           // delivered events (stored, with an offset)
    std::atomic<std::int64_t> received{0};        // benchmark messages received by the other
    std::atomic<std::int64_t> window_received{0}; // of those, sent inside the measured window
    std::atomic<std::int64_t> errors{0};          // chat_events::error
    std::atomic<std::int64_t> rate_limited{0};    // of those, rate_limited answers (retried)
    std::atomic<std::int64_t> unavailable{0};     // of those, unavailable answers (retried)
    std::atomic<std::int64_t> ended{0};           // ended events
};

class harness;

class party {
public:
    party(harness& h, std::size_t index, std::size_t shard, client::chat_session session,
          std::optional<boost::asio::ip::address_v4> source);
    party(const party&) = delete;
    party& operator=(const party&) = delete;

    // ---- on the party's thread -----------------------------------------------------------
    void connect();
    // Closes the socket at once, as a lost network would; the session will resume later.
    void drop();
    void tick(std::int64_t now_unix_ms);
    // Sends benchmark message number sent_ with this timestamp (steady ns) in the plaintext,
    // padded to the run's message size. False when the session refused it.
    bool send_bench(std::int64_t timestamp_ns);
    std::size_t unacknowledged() const;
    void flush(); // frames from the session onto the socket, then events to their handlers

    // Posts fn to the party's thread (from anywhere).
    void post(std::function<void()> fn);

    client::chat_session& session() { return session_; }
    boost::asio::io_context& io();

    // ---- identity and wiring (set before the run, then read-only) --------------------------
    const std::size_t index;
    const std::size_t shard;
    bool is_peer() const { return session_.local_role() == protocol::role::peer; }
    // Called on the party's thread for each event, after the party's own bookkeeping.
    std::function<void(party&, client::chat_event&)> on_event;
    // Scenario switch: reconnect 250 ms after a socket is lost (counted in counters.lost).
    bool reconnect_on_loss = false;
    int capacity = 1; // peers

    // ---- bookkeeping (party's thread; read by the main thread after stop) ------------------
    bool ready = false;
    bool socket_open = false;
    bool shift_on = false;
    std::int64_t connect_started_ns = 0;
    std::int64_t ready_ns = 0;              // the last ready event
    std::vector<std::string> conversations; // every matched conversation, in order
    std::string conversation;               // the first one (pairs have exactly one)
    party* partner = nullptr;               // the other side of `conversation` (pairs)
    int active = 0, most_active = 0;        // open conversations (peers; capacity check)
    std::int64_t most_shift_active = 0;     // the largest `active` a shift event reported
    std::uint64_t sent = 0, acked = 0;
    std::vector<std::uint8_t> got;        // got[k]: copies of the partner's message k
    std::int64_t last_got = -1;           // the highest k received so far
    std::uint64_t out_of_order = 0;       // first copies of a k below last_got
    std::uint64_t malformed = 0;          // received texts that are not benchmark messages
    std::vector<std::int64_t> latency_ns; // delivery latencies of messages in the window
    std::int64_t request_ns = 0;          // match: when request_match was called
    int matched_events = 0;
    int resumed = 0, restarted = 0;

private:
    harness& h_;
    client::chat_session session_;
    std::optional<boost::asio::ip::address_v4> source_;
    std::shared_ptr<ws_link> link_;
    bool connecting_ = false;
    std::shared_ptr<boost::asio::steady_timer> retry_;
    void on_open();
    void on_text(std::string_view text);
    void on_closed(boost::system::error_code ec);
    void bookkeep(client::chat_event& e);
    void on_message(const client::chat_events::message& m);
};

struct harness_options {
    ws_target target;
    std::size_t threads = 1;
    std::size_t source_addresses = 250; // 127.0.0.1 .. 127.0.0.N; 0: let the kernel choose
    std::size_t message_size = 100;     // plaintext bytes of a benchmark message
    std::string scenario;
};

class harness {
public:
    explicit harness(harness_options options);
    ~harness();
    harness(const harness&) = delete;
    harness& operator=(const harness&) = delete;

    // Adds a party to shard index % threads (main thread, any time). The handler is set
    // before the shard's thread can see the party.
    party& add(client::chat_session session,
               std::function<void(party&, client::chat_event&)> on_event = {});
    void start(); // the shard threads
    void stop();  // stops every io_context and joins the threads (idempotent)

    // Waits until done() or timeout, printing the progress line every second. Returns done().
    bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                    const std::string& phase);
    // Sleeps `d`, printing the progress line every second.
    void run_for(std::chrono::milliseconds d, const std::string& phase);
    // Runs fn on every party's thread and waits until all have run it.
    void for_each_party(const std::function<void(party&)>& fn);

    // A problem found by a check or reported by a session (kept: the first 50; counted: all).
    void problem(std::string text);
    std::vector<std::string> problems() const;
    std::size_t problem_count() const;

    // Extra text for the progress line (main thread sets it; e.g. the server's RSS).
    std::function<std::string()> progress_extra;
    void print_progress(const std::string& phase);

    counters count;
    const harness_options options;
    std::vector<std::unique_ptr<party>> parties;

    // Messages with a timestamp in [window_from_ns, window_to_ns) are measured.
    std::atomic<std::int64_t> window_from_ns{INT64_MAX};
    std::atomic<std::int64_t> window_to_ns{INT64_MAX};

    boost::asio::io_context& io(std::size_t shard);
    std::size_t shards() const { return shards_.size(); }
    std::int64_t started_ns() const { return started_ns_; }

private:
    struct shard_state;
    std::vector<std::unique_ptr<shard_state>> shards_;
    mutable std::mutex problems_mutex_;
    std::vector<std::string> problems_;
    std::size_t problem_count_ = 0;
    std::int64_t started_ns_ = 0;
    bool stopped_ = false;
    friend class party;
};

} // namespace kindred::bench
