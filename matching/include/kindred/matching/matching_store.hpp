// matching_store.hpp — queues, shifts, presence, prekeys and atomic match claims in Redis, on
// kindred::store::client. Every key shares one hash tag (options.key_prefix, "m:{match}:"),
// so each Lua script may touch any of them atomically; docs/matching.md lists keys and scripts.
//
// Matching is optimistic: a pass reads a snapshot (one script), plans with the pure policy
// (policy.hpp) and claims each planned match with a script that re-checks every hard rule;
// a refused claim means another instance changed something, so the pass reads again (bounded,
// options.max_rounds). Passes on one store are coalesced: at most one runs at a time, and a
// request made while one runs is served by the next pass, which starts after the request —
// so no state change that was written before its match_* call can be missed.
//
// Delivery: every match this store claims is passed to options.on_match, once. The reports
// handed to match_* callbacks are for metrics and tests (one pass may serve many calls).
//
// Threading: every member function may be called from any thread (the options are immutable;
// the pass bookkeeping is behind a mutex). Handlers, on_match included, run on the Redis
// client's strand and never inside the call that started them, with one exception: a
// handler for invalid arguments (error::bad_input) runs at once, before the call returns.
// Lifetime: the client must outlive every operation still pending (stop it and let its
// io_context run: handlers then complete with store::error::stopped and no pass continues).
// The matching_store object itself may be destroyed with operations pending.
#pragma once

#include <kindred/matching/error.hpp>
#include <kindred/matching/policy.hpp>
#include <kindred/matching/sweep.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kindred::store {
class client;
}

namespace kindred::matching {

// How one pass spent its time (steady clock), for metrics: from the oldest request it serves
// to its start (it waited for the pass before it to end), its snapshot reads and its claims.
// A pass with contended claims reads and claims more than once: the sums of its rounds.
struct pass_timing {
    std::chrono::microseconds waited{0};
    std::chrono::microseconds snapshots{0};
    std::chrono::microseconds claims{0};
    std::size_t rounds = 0;
    std::size_t requests = 0; // match_* calls it served
};

// Why a claim sent did not (yet) become a match (matching_options::on_claim_lost).
enum class claim_loss {
    refused, // the claim ran and changed nothing, or its lost answer was looked up: no match
    unknown, // its answer was lost (timeout, dropped connection): it may have run
};

struct matching_options {
    // Every key starts with this; the {…} part is the Redis Cluster hash tag they all share.
    std::string key_prefix = "m:{match}:";
    policy_config policy;
    estimate_config estimate;
    // Snapshots a pass may take before it gives up on a contended plan (the next trigger or
    // the periodic match_relaxed_due pass picks up what is left).
    std::size_t max_rounds = 16;
    // A waiting request lives this long unless refresh_presence() renews it: set it to the
    // seeker grace period, so a killed instance's seekers leave the queue when their
    // sessions expire.
    std::chrono::milliseconds request_ttl{std::chrono::seconds(120)};
    // A peer's presence key lives this long unless renewed (refresh every third of it).
    std::chrono::milliseconds presence_ttl{std::chrono::seconds(60)};
    // Match records and the seeker's conversation pointer: the conversation's hard limit plus
    // a margin.
    std::chrono::milliseconds record_ttl{std::chrono::hours(24) + std::chrono::minutes(10)};
    // How long a block lasts (a seeker is anonymous: at most its session's life).
    std::chrono::milliseconds block_ttl{std::chrono::hours(24)};
    // Unused since the wait statistics became per-minute counters (bounded by the window, not
    // by a count); kept so existing configurations compile.
    std::size_t stats_cap = 5000;
    std::size_t max_prekeys = 200; // per peer; older ones are dropped first
    // Unix milliseconds. Default: the system clock. Must be thread-safe.
    std::function<std::int64_t()> clock;
    // A fresh, unique, unguessable conversation id. Default: 128 random bits (libsodium),
    // base64url. Must be thread-safe.
    std::function<std::string()> new_conversation_id;
    // Every match this store claims, once, on the client's strand.
    std::function<void(const match_record&)> on_match;
    // Right after each claim is sent, on the client's strand: commands issued from here reach
    // Redis right behind the claim, so work a match needs (its conversation, the peer's
    // reads) can start without waiting for the claim's answer. Each claim sent then ends in
    // on_match, or on_claim_lost(refused), or on_claim_lost(unknown) — which the store
    // settles later (it looks the record up before its next pass) with on_match or
    // on_claim_lost(refused). Both optional.
    std::function<void(const std::string& conversation_id, const std::string& session,
                       const std::string& peer_id)>
        on_claim_sent;
    std::function<void(const std::string& conversation_id, claim_loss)> on_claim_lost;
    // Every pass's timing when it ends, on the client's strand. Optional.
    std::function<void(const pass_timing&)> on_pass;
};

struct enqueue_request {
    std::string session;
    std::vector<std::string> tags;      // 1..5 tag ids
    std::vector<std::string> languages; // 1..5 language tags
    risk risk_level = risk::none;       // from the intake triage; the intake itself stays out
    // Carried into the match record (e.g. the seeker's X25519 public key). Never intake text.
    std::string payload;
};

struct shift_request {
    std::string peer_id;
    int capacity = 1;                   // 1..5
    std::vector<std::string> tags;      // already checked: certified and unexpired
    std::vector<std::string> languages; // 1..5
    std::vector<std::string> wont_take;
    std::optional<std::int64_t> planned_end_ms;
};

// A peer's shift after an operation (for the `shift` event).
struct peer_view {
    std::string peer_id;
    std::string shift_id;
    shift_status state = shift_status::off;
    int active = 0;
    int capacity = 0;
};

struct release_result {
    bool released_now = false; // false: this conversation had been released already
    std::string session;
    peer_view peer;
};

struct requeue_options {
    // Add the peer the seeker leaves to its blocked set (transfer: someone else, please).
    bool avoid_peer = false;
    // Replace the payload carried over from the first request (e.g. a fresh public key: the
    // contract wants a fresh seeker key pair per conversation).
    std::optional<std::string> payload;
};

class matching_store {
public:
    template <class T>
    using handler = std::function<void(boost::system::error_code, T)>;
    using done_handler = std::function<void(boost::system::error_code)>;
    using sweep_handler = std::function<void(const sweep_report&)>;

    matching_store(store::client& redis, matching_options options);
    ~matching_store();
    matching_store(const matching_store&) = delete;
    matching_store& operator=(const matching_store&) = delete;

    const matching_options& options() const noexcept;

    // Loads every script into Redis ahead of use (optional: a script Redis does not know is
    // loaded on first use anyway). For start-up, so the first requests skip a round trip.
    void load_scripts(done_handler h);

    // --- seekers -------------------------------------------------------------------------
    // Queues a request (enqueued now) and answers its place: error::already_queued,
    // error::in_conversation, error::bad_input. Position 0 means the request has already left
    // the queue (a pass on some instance matched it meanwhile: on_match there tells). Call
    // match_seeker() next.
    void enqueue(enqueue_request request, handler<queue_entry> h);
    // Withdraws a waiting request: error::not_waiting when there is none (it may have just
    // been matched: on_match tells).
    void cancel(std::string session, done_handler h);
    // The place of a waiting request: error::not_waiting when there is none.
    void position(std::string session, handler<queue_entry> h);
    // Every waiting request's place, highest priority first.
    void queue(handler<std::vector<queue_entry>> h);
    // Re-queues the seeker of an ended conversation ahead of equal-risk seekers, with its
    // original tags, languages and risk: error::not_found, error::already_requeued,
    // error::already_queued, error::in_conversation. Position 0 as for enqueue. Call
    // match_seeker() next.
    void requeue(std::string conversation_id, requeue_options options, handler<queue_entry> h);
    // The peer never gets this seeker again.
    void block(std::string peer_id, std::string session, done_handler h);

    // --- peers ---------------------------------------------------------------------------
    // Starts (or re-opens) a shift; conversations in progress are kept. Marks the peer
    // present. Call match_peer() next.
    void shift_start(shift_request request, handler<peer_view> h);
    // error::wrong_state (the view holds the unchanged state) or error::not_found.
    void shift_pause(std::string peer_id, handler<peer_view> h);
    // Call match_peer() next.
    void shift_resume(std::string peer_id, handler<peer_view> h);
    // ending while conversations remain, else off.
    void shift_end(std::string peer_id, handler<peer_view> h);
    // Renews presence of the peers and the waiting requests of the sessions this instance
    // holds (every presence_ttl / 3). Peers whose shift is off are not revived.
    void refresh_presence(std::vector<std::string> peer_ids, std::vector<std::string> sessions,
                          done_handler h);
    // Adds opaque signed prekeys; answers how many the peer holds now. Call match_peer() next
    // if it had none.
    void add_prekeys(std::string peer_id, std::vector<std::string> prekeys,
                     handler<std::int64_t> h);
    void prekey_count(std::string peer_id, handler<std::int64_t> h);
    // Peer wellbeing (issue #5): after a high or imminent escalation in one of the peer's
    // conversations, no new match for `duration` (> 0, else error::bad_input); conversations
    // in progress go on. Setting it again never shortens it (the TTL only grows). Works
    // whatever the peer's shift state, also before its next shift_start. Nothing triggers a
    // pass when it lapses: the periodic match_relaxed_due pass (every ~1 s) picks the peer up.
    void set_cooldown(std::string peer_id, std::chrono::milliseconds duration, done_handler h);
    // Time left of the peer's cooldown: 0 exactly when there is none (the claim would not
    // refuse); milliseconds::max() for a cooldown key without expiry (never written by this
    // store).
    void cooldown_left(std::string peer_id, handler<std::chrono::milliseconds> h);
    // A conversation ended: the peer's slot is free again (once, however often this is
    // called), idle_since is now; an ending shift with nothing left goes off. error::not_found.
    // Call match_peer() next.
    void release(std::string conversation_id, handler<release_result> h);

    // --- matching ------------------------------------------------------------------------
    // Each runs (or joins the next) matching pass; the handler gets that pass's report. The
    // pass matches everything the policy allows, not only the named seeker or peer: whichever
    // event made a match possible, one pass after it finds it.
    void match_seeker(std::string session, sweep_handler h);
    void match_peer(std::string peer_id, sweep_handler h);
    // The periodic pass (each instance, e.g. every second or at report.next_relax_at_ms):
    // matches requests whose relax time has passed, and whatever an earlier pass left
    // (gave_up, Redis errors). `now_ms` is ignored when 0 (the clock is used).
    void match_relaxed_due(std::int64_t now_ms, sweep_handler h);

    // --- records -------------------------------------------------------------------------
    // The match record of a conversation (error::not_found once it expired).
    void get_match(std::string conversation_id, handler<match_record> h);
    // The seeker's current conversation (error::not_found when it has none).
    void find_match(std::string session, handler<match_record> h);
    // A peer's shift, presence, prekeys and cooldown as the policy sees it (error::not_found).
    void peer(std::string peer_id, handler<peer_state> h);

    class impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace kindred::matching
