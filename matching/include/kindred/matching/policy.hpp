// policy.hpp — the matching policy of contract §6 as pure functions over plain values: who may
// be matched with whom, in which order, when the tag constraint relaxes, and an honest wait
// estimate. No Redis, no clock, no I/O: every time is a parameter (Unix milliseconds), so the
// same inputs always give the same answer (ties are broken by id).
// Threading: stateless functions on values; call them from any thread.
#pragma once

#include <kindred/protocol/messages.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kindred::matching {

using protocol::risk;
using protocol::shift_status;

// One waiting request of a seeker, as the policy sees it. Intake text is never part of it:
// only the risk level the server's triage gave it.
struct seeker_request {
    std::string session;
    std::vector<std::string> tags;      // 1..5 catalog tags
    std::vector<std::string> languages; // 1..5
    risk risk_level = risk::none;
    std::int64_t enqueued_at_ms = 0;
    // Re-queued after a peer vanished or transferred: ahead of every equal-risk seeker.
    bool requeued_first = false;
    // Peers that must never be matched with this seeker (`block`, or the peer it left).
    std::vector<std::string> blocked_by;
    // Set by the store (a fresh id per enqueue); the claim checks it, the policy ignores it.
    std::string request_id;
};

// A peer specialist's shift, as the policy sees it.
struct peer_state {
    std::string peer_id;
    shift_status shift = shift_status::off;
    int capacity = 1; // 1..5
    int active = 0;   // conversations in progress
    // The shift's tags: already checked by the server to be certified and unexpired.
    std::vector<std::string> tags;
    std::vector<std::string> languages;
    std::vector<std::string> wont_take; // personal triggers: never a seeker with one of these
    std::int64_t prekeys = 0;           // one-time prekeys left
    std::int64_t idle_since_ms = 0;     // shift start or last conversation end
    std::optional<std::int64_t> planned_end_ms;
    // The peer's presence key is alive (its instance refreshes it); a killed instance's peers
    // drop out when it lapses.
    bool present = true;
    // The peer is in a wellbeing cooldown (after a high or imminent escalation in one of its
    // conversations): no new match until it lapses; conversations in progress go on.
    bool cooling_down = false;
    // Set by the store (a fresh id per shift_start); the claim checks it, the policy ignores it.
    std::string shift_id;
};

struct policy_config {
    // A seeker no eligible peer shares a tag with waits this long, then takes any eligible peer.
    std::chrono::milliseconds relax_after{std::chrono::seconds(60)};
    // No new match in the last part of a shift with a planned end.
    std::chrono::milliseconds end_window{std::chrono::minutes(10)};
};

// Why a peer may not take a request; the first rule that fails, in this order.
enum class rule : std::uint8_t {
    not_present,       // presence lapsed (instance gone)
    shift_not_on,      // paused, ending or off
    cooling_down,      // wellbeing cooldown after a high/imminent escalation
    no_capacity,       // active >= capacity
    no_prekey,         // no one-time prekey left
    no_language,       // no language in common
    blocked,           // the peer blocked this seeker (or the seeker left this peer)
    wont_take,         // one of the request's tags is on the peer's won't-take list
    shift_ending_soon, // within end_window of the planned shift end
    no_shared_tag,     // no tag in common, and the request is not relaxed yet
};
const char* to_string(rule r) noexcept;

// The request's tags that the peer's shift covers, in the request's order.
std::vector<std::string> shared_tags(const peer_state& peer, const seeker_request& request);

// True once the request has waited relax_after: from then on any eligible peer will do.
bool relaxed_due(const seeker_request& request, std::int64_t now_ms, const policy_config& config);
// When the request relaxes (enqueued_at + relax_after).
std::int64_t relax_at_ms(const seeker_request& request, const policy_config& config);

// The first rule that keeps `peer` from taking `request` now; nullopt when it may.
// `relaxed` drops the shared-tag rule only; every other rule is hard.
std::optional<rule> ineligible_because(const peer_state& peer, const seeker_request& request,
                                       std::int64_t now_ms, bool relaxed,
                                       const policy_config& config);
bool eligible(const peer_state& peer, const seeker_request& request, std::int64_t now_ms,
              bool relaxed, const policy_config& config);

// Peer preference for one request: more shared tags first; then the least loaded
// (active/capacity, then active); then the one idle longest (smaller idle_since); then by id.
bool peer_before(const peer_state& a, const peer_state& b, const seeker_request& request);
// The eligible peers, best first.
std::vector<const peer_state*> rank_peers(const seeker_request& request,
                                          const std::vector<peer_state>& peers, std::int64_t now_ms,
                                          bool relaxed, const policy_config& config);

// Seeker priority: higher risk first; then re-queued seekers; then the longest wait; then by
// session id.
bool seeker_before(const seeker_request& a, const seeker_request& b);
// The requests, highest priority first.
std::vector<const seeker_request*> seeker_order(const std::vector<seeker_request>& waiting);

// One decision: this seeker with this peer.
struct choice {
    std::string session;
    std::string peer_id;
    // True when the peer shares no tag with the request (possible only once relaxed).
    bool relaxed = false;
    std::vector<std::string> shared_tags;
    bool operator==(const choice&) const = default;
};

// The best peer for this request now (relaxation applied when due); nullopt when none.
std::optional<choice> pick_for_seeker(const seeker_request& request,
                                      const std::vector<peer_state>& peers, std::int64_t now_ms,
                                      const policy_config& config);
// The highest-priority waiting request this peer may take now (relaxation applied per
// request); nullopt when none.
std::optional<choice> pick_for_peer(const peer_state& peer,
                                    const std::vector<seeker_request>& waiting, std::int64_t now_ms,
                                    const policy_config& config);

// Every match that can be made now, as one matcher would make them: requests in priority
// order, each takes its best peer among the capacity and prekeys the earlier ones left. The
// store claims these; each claim re-checks the hard rules in Redis.
std::vector<choice> plan_matches(const std::vector<seeker_request>& waiting,
                                 const std::vector<peer_state>& peers, std::int64_t now_ms,
                                 const policy_config& config);

// Position in the queue, from 1: the waiting requests ahead of this one (seeker_before) that
// compete for the same peers (share a language), plus one. `request` itself may or may not be
// in `waiting`.
std::size_t queue_position(const seeker_request& request,
                           const std::vector<seeker_request>& waiting);

// ---------------------------------------------------------------------------------------------
// Wait estimate, from how fast comparable seekers were matched recently.

// One recent match, as the statistics keep it (no session, no peer).
struct recent_match {
    std::int64_t matched_at_ms = 0;
    std::int64_t waited_ms = 0;
    std::vector<std::string> languages; // the seeker's
    std::vector<std::string> tags;      // the seeker's
    bool relaxed = false;
};

struct estimate_config {
    // Only matches this recent count; also the longest span a rate is measured over.
    std::chrono::milliseconds window{std::chrono::minutes(15)};
};

// Comparable matches seen over a span of time.
struct match_rate {
    std::size_t matches = 0;
    std::int64_t span_ms = 0;
};

// Matches within the window that share a language with the request and, when `by_tag`, also a
// tag. The span is the window, or less when statistics started later (`observed_since_ms`),
// but at least one second.
match_rate comparable_rate(const seeker_request& request, const std::vector<recent_match>& recent,
                           std::int64_t now_ms, std::optional<std::int64_t> observed_since_ms,
                           bool by_tag, const estimate_config& config);

// Seconds until `position` more comparable seekers are matched at this rate, rounded up;
// nullopt ("unknown") when the rate has no match in it.
std::optional<std::int64_t> estimate_wait_s(std::size_t position, const match_rate& rate);

// The estimate a `queued` event carries: from seekers who shared a tag and a language when
// there are any; else from seekers who shared a language, but never less than the time left
// until this request relaxes (without a tag-sharing peer it cannot be matched before then);
// nullopt when nothing comparable was matched within the window.
std::optional<std::int64_t> estimate_for(const seeker_request& request, std::size_t position,
                                         const std::vector<recent_match>& recent,
                                         std::int64_t now_ms,
                                         std::optional<std::int64_t> observed_since_ms,
                                         const policy_config& policy,
                                         const estimate_config& config);

// estimate_for() with both rates already measured (by tag and language, by language only).
std::optional<std::int64_t> estimate_from_rates(const seeker_request& request, std::size_t position,
                                                const match_rate& by_tag,
                                                const match_rate& by_language, std::int64_t now_ms,
                                                const policy_config& policy);

} // namespace kindred::matching
