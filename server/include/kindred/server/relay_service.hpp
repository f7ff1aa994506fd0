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

#include <cstdint>
#include <functional>
#include <string>

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

struct relay_service_options {
    // Unix ms. Default: the system clock.
    std::function<std::int64_t()> clock;
    // After a pass started by an end or transfer (queued updates).
    std::function<void(const matching::sweep_report&)> on_sweep;
};

class relay_service final : public service_router {
public:
    relay_service(relay::conversation_log& log, matching::matching_store& matching,
                  store::client& redis, event_bus& bus, relay_service_options options);

    bool serves(std::string_view type) const override;
    void handle(service_request request, answer_handler h) override;

    // An encoded event to one party wherever it is connected (a peer through its
    // peer:{id}:session pointer). Moderators are not reached yet (issue #8).
    void deliver_to(const relay::member& m, std::string type, std::string text);

    // The peer grace period (run about every second on every instance): each active
    // conversation whose peer's matching presence has lapsed (no instance renewed it for
    // peer_grace_s: disconnected, or its instance died) ends with reason `peer_unavailable`
    // and the seeker is re-queued first. Idempotent across instances (the first end wins).
    void grace_tick();

    // The active conversations (zset: conversation id, score = match time), shared by all
    // instances; added when a match is announced, removed at the end.
    static std::string active_key() { return "convs:{active}"; }

private:
    void send(service_request r, answer_handler h);
    void forward(service_request r, answer_handler h); // receipt, typing
    void sync(service_request r, answer_handler h);
    void end(service_request r, answer_handler h, bool transfer);
    void after_end(const std::string& conversation_id, bool requeue, bool avoid_peer);
    void announce_end(const std::string& conversation_id, const relay::end_result& res);
    std::int64_t now_ms() const;

    relay::conversation_log& log_;
    matching::matching_store& matching_;
    store::client& redis_;
    event_bus& bus_;
    relay_service_options options_;
};

} // namespace kindred::server
