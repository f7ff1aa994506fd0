// sweep.hpp — one matching pass as a state machine that does no I/O (the Boost.Redis *_fsm
// shape): take a snapshot, plan every match the policy allows, claim them, and when a claim
// is refused (another instance got there first) take a fresh snapshot and plan again, a
// bounded number of times. matching_store drives it against Redis; tests drive it by hand.
// Also the value types a pass produces (match_record, queue_entry, sweep_report).
// Threading: a sweep object is used by one thread at a time; the free functions are pure.
#pragma once

#include <kindred/matching/policy.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kindred::matching {

// What the store reads in one round trip: waiting requests, shifts not off, recent matches.
struct snapshot {
    std::vector<seeker_request> waiting;
    std::vector<peer_state> peers;
    std::vector<recent_match> recent;
    std::optional<std::int64_t> stats_since_ms; // first match ever recorded, if any
    // Comparable matches within the window per waiting session, when the store counted them
    // from its running counters (then `recent` is empty and queue_view uses these).
    struct counted {
        std::size_t by_tag = 0;      // share a language and a tag
        std::size_t by_language = 0; // share a language
    };
    std::map<std::string, counted> counts;
};

// A match as claimed in Redis (and kept there, under its conversation id, until it expires).
struct match_record {
    std::string conversation_id;
    std::string session;
    std::string peer_id;
    std::string prekey; // the one-time prekey popped for this conversation (opaque bytes)
    bool relaxed = false;
    std::vector<std::string> shared_tags;
    std::vector<std::string> seeker_tags;
    std::vector<std::string> languages; // the seeker's
    risk risk_level = risk::none;
    std::int64_t enqueued_at_ms = 0;
    std::int64_t matched_at_ms = 0;
    bool requeued_first = false;
    std::string payload; // what enqueue carried (e.g. the seeker's public key); never intake
    // The peer right after the claim (for its `shift` and `prekeys_low` events).
    int peer_active = 0;
    int peer_capacity = 0;
    std::int64_t prekeys_left = 0;
    bool released = false; // get_match/find_match only: the conversation has ended

    std::int64_t waited_s() const { return (matched_at_ms - enqueued_at_ms) / 1000; }
};

// A waiting seeker's place, for `queued` events.
struct queue_entry {
    std::string session;
    std::size_t position = 0; // from 1; 0 only from enqueue/requeue: no longer waiting
    std::optional<std::int64_t> estimated_wait_s; // nullopt: unknown (no recent data)
};

// Positions and estimates of every waiting request in a snapshot (minus `gone` sessions),
// highest priority first.
std::vector<queue_entry> queue_view(const snapshot& s, std::int64_t now_ms,
                                    const policy_config& policy, const estimate_config& estimate,
                                    const std::vector<std::string>& gone = {});

// A rate from a count the store kept (per-minute counters), over the same span as
// comparable_rate(): the window, or the time since statistics started, at least one second.
match_rate counted_rate(std::size_t matches, std::int64_t now_ms,
                        std::optional<std::int64_t> observed_since_ms,
                        const estimate_config& config);

// One claim to send: the planned choice plus the versions the snapshot saw, so the script can
// refuse a request or a shift that changed since.
struct claim_order {
    choice pick;
    std::string request_id;
    std::string shift_id;
};

// Why the claim script refused: it changed nothing.
enum class claim_failure : std::uint8_t {
    not_waiting,         // request matched elsewhere, cancelled, expired, or re-enqueued
    stale_shift,         // the peer started another shift (tags/languages may differ)
    shift_not_on,        // paused, ending or off
    not_present,         // presence lapsed
    cooling_down,        // the peer's wellbeing cooldown started since the snapshot
    no_capacity,         // active >= capacity
    no_prekey,           // prekeys ran out
    blocked,             // blocked since the snapshot
    shift_ending_soon,   // inside the planned-end window
    conversation_exists, // the conversation id is taken (a generator bug)
};
const char* to_string(claim_failure f) noexcept;

struct claim_result {
    std::string conversation_id;
    // Redis trouble (timeout, disconnected…): the claim may or may not have run.
    boost::system::error_code ec;
    std::optional<claim_failure> failure;
    std::optional<match_record> match;
};

struct sweep_report {
    std::uint64_t pass_id = 0;         // sequence number of the pass on its store (from 1)
    boost::system::error_code ec;      // first Redis error; the pass stopped there
    std::vector<match_record> matches; // made by this pass
    std::size_t rounds = 0;            // snapshots taken
    std::size_t conflicts = 0;         // claims refused
    bool gave_up = false;              // still refused after max_rounds snapshots
    // Conversation ids of claims whose outcome is unknown (ec); look them up later.
    std::vector<std::string> uncertain;
    // The waiting requests left after the pass, with positions and estimates (empty after ec).
    std::vector<queue_entry> queue;
    // When the next waiting request relaxes: a pass then may match it (nullopt: none pending).
    std::optional<std::int64_t> next_relax_at_ms;
};

class sweep {
public:
    struct config {
        policy_config policy;
        estimate_config estimate;
        std::size_t max_rounds = 16;
    };
    enum class step { snapshot, claim, done };

    explicit sweep(config c);

    // → snapshot.
    step start();
    // A snapshot taken at now_ms → claim (see claims()) or done (nothing to match).
    step on_snapshot(snapshot s, std::int64_t now_ms);
    // The snapshot could not be read → done with ec.
    step on_snapshot_error(boost::system::error_code ec);
    // The claims to send now (valid after on_snapshot returned claim).
    const std::vector<claim_order>& claims() const { return claims_; }
    // One result per claim, in claims() order → snapshot (a claim was refused and rounds are
    // left) or done.
    step on_claims(std::vector<claim_result> results);

    const sweep_report& report() const { return report_; }
    void set_pass_id(std::uint64_t id) { report_.pass_id = id; }

private:
    step finish(const std::vector<std::string>& gone);

    config config_;
    snapshot last_;
    std::int64_t now_ms_ = 0;
    std::vector<claim_order> claims_;
    sweep_report report_;
};

} // namespace kindred::matching
