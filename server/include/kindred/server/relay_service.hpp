// relay_service.hpp — the server side of contract §7 on relay::conversation_log: send (ok with
// the offset only once stored; each recipient gets only its own copy, live, wherever it is
// connected), receipt and typing (forwarded, never stored), sync (every stored message after
// `after`, then ok {offset, recovered}), end → ended to every party and the peer's slot
// released, transfer (ended with reason transfer, the seeker re-queued first). A non-party
// gets not_found for everything.
// Parties: the seeker by its session id, the peer (and moderator) by username.
// Threading: thread-safe; handlers run on the Redis client's strand. Asio-free.
// Lifetime: the log, the matching store, the bus and the Redis client outlive it.
#pragma once

#include <kindred/server/service_router.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kindred::relay {
class conversation_log;
struct member;
struct end_result;
} // namespace kindred::relay
namespace kindred::matching {
class matching_store;
struct sweep_report;
} // namespace kindred::matching
namespace kindred::store {
class client;
}

namespace kindred::server {

class event_bus;
class delivery_tracker;
class metrics;
struct tracked_message;

// Who is asking, as the conversation log names parties (none: a staff session without its
// identity).
std::optional<relay::member> member_of(const service_request& r);

struct relay_service_options {
    // Unix ms. Default: the system clock.
    std::function<std::int64_t()> clock;
    // After a pass started by an end or transfer (queued updates).
    std::function<void(const matching::sweep_report&)> on_sweep;
    // Told of each message a local session stores itself, and forgets closed sessions
    // (bus recovery, delivery_tracker.hpp). Optional; must outlive the service.
    delivery_tracker* tracker = nullptr;
    // Once per conversation that ends (however it ends), with its peer: the moderation
    // service's cooldown check. Optional.
    std::function<void(const std::string& conversation, const std::string& peer)> on_ended;
    // Relayed messages and (sampled) relay latency; one relaxed add per message. Optional.
    metrics* stats = nullptr;
    // This instance's id, for the grace-scan lease (grace_tick). Empty: no lease, every tick
    // scans (one instance, tests).
    std::string instance_id;
    // How long the lease outlives its holder's last tick (the tick is about every second).
    std::chrono::milliseconds grace_lease{3000};
};

class relay_service final : public service_router {
public:
    relay_service(relay::conversation_log& log, matching::matching_store& matching,
                  store::client& redis, event_bus& bus, relay_service_options options);

    bool serves(std::string_view type) const override;
    void handle(service_request request, answer_handler h) override;

    // An encoded event to one party wherever it is connected (a peer through its
    // peer session pointer, a moderator through its moderator session pointer).
    // `done` (optional) runs once the event is pushed here or published (or found nowhere).
    void deliver_to(const relay::member& m, std::string type, std::string text,
                    std::function<void()> done = {});

    // delivery_tracker's `read`: every stored message of `conversation` after `after` as
    // `session` sees it (its role from the conversation's parties), ascending.
    void read_for(const std::string& session, const std::string& conversation, std::int64_t after,
                  std::function<void(bool ok, std::vector<tracked_message>)> done);

    void connection_closed(const std::string& session_id) override;

private:
    // deliver_to() for a live `message` event: the event bus learns its conversation and
    // offset from here instead of parsing the event again.
    void deliver_message_to(const relay::member& m, std::string conversation, std::int64_t offset,
                            std::string text);

public:
    // A moderator ended it (a ban): `ended` with by system and this reason to every party,
    // the peer's slot released, the seeker not re-queued. The first end wins. `then` runs
    // once the `ended` events are on their way (or the end failed or came second).
    void end_by_moderation(const std::string& conversation, std::string reason,
                           std::function<void()> then = {}) {
        end_by_system(conversation, std::move(reason), false, std::move(then));
    }

    // The grace periods (ticked about every second on every instance, run by the one that
    // holds the grace lease, grace_lease_key()): each active
    // conversation whose peer's matching presence has lapsed (no instance renewed it for
    // peer_grace_s: disconnected, or its instance died) ends with reason `peer_unavailable`
    // and the seeker is re-queued first; one whose seeker's session expired (seeker_grace_s
    // without a resume) ends with reason `seeker_unavailable` and the peer's slot is
    // released. Idempotent across instances (the first end wins).
    // Paced: at most grace_checks_in_flight conversations are checked at a time (three Redis
    // commands each), so the scan never puts a burst of thousands of commands in front of a
    // match or a message on the shared connection; a tick while a scan still runs is skipped.
    void grace_tick();
    // Hands the grace lease back if this instance holds it (server/lua/grace_release.lua), so
    // another instance scans from its next tick: called when this one starts draining; from
    // then on this instance neither takes nor renews it.
    void release_grace_lease();
    static constexpr std::size_t grace_checks_in_flight = 8;
    static constexpr std::size_t grace_page = 1000; // ids read per ZRANGE

    // The active conversations (zset: conversation id, score = match time), shared by all
    // instances; added when a match is announced, removed at the end.
    static std::string active_key() { return "convs:{active}"; }
    // Which instance runs the grace scan (server/lua/grace_lease.lua): its id, expiring
    // grace_lease after its last tick.
    static std::string grace_lease_key() { return "grace:{lease}"; }

private:
    void read_as(const std::string& conversation, std::int64_t after, protocol::role role,
                 std::function<void(bool ok, std::vector<tracked_message>)> done);
    void send(service_request r, answer_handler h);
    void forward(service_request r, answer_handler h); // receipt, typing
    struct sync_state;
    void sync(service_request r, answer_handler h);
    void sync_batch(std::shared_ptr<sync_state> st, answer_handler h);
    void end(service_request r, answer_handler h, bool transfer);
    void after_end(const std::string& conversation_id, bool requeue, bool avoid_peer);
    // Ends an active conversation for the system (grace periods); the first end wins.
    void end_by_system(const std::string& conversation, std::string reason, bool requeue,
                       std::function<void()> then = {});
    void announce_end(const std::string& conversation_id, const relay::end_result& res,
                      std::function<void()> then);
    void grace_read_page(std::size_t start);
    // One conversation's grace checks; `done` once all its Redis answers are in.
    void grace_check(const std::string& conversation, std::function<void()> done);
    std::int64_t now_ms() const;

    // Entries per sync batch: with the connection's low-water mark this bounds what a sync
    // holds in memory and in the outbound queue.
    static constexpr std::size_t sync_batch_entries = 64;

    relay::conversation_log& log_;
    matching::matching_store& matching_;
    store::client& redis_;
    event_bus& bus_;
    relay_service_options options_;
    std::atomic<bool> grace_scanning_{false};
    std::atomic<bool> grace_lease_released_{false};
};

} // namespace kindred::server
