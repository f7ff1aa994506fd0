// moderation_service.hpp — the server side of contract §8 on moderation::moderation_store:
// escalate (seeker panic with or without a conversation, peer escalation with sealed
// excerpts), report, block, moderator_keys, and for moderators watch / unwatch (on duty),
// acknowledge, resolve, join (three-party conversation), ban, plus the private peer →
// moderators channel (consult / consult_reply). Every change of an escalation goes to every
// moderator on duty, wherever connected, each with only its own sealed excerpts; re-pages
// come from repage_tick(), which any number of instances may run (the store hands each due
// re-page to exactly one). Triage escalations, the link of a queued seeker's escalations to
// its conversation and the peer's cooldown come through the hooks below.
// docs/moderation.md is the safety model; protocol/README.md §8 the wire.
// Threading: thread-safe (one mutex over the local watcher map); store, log and bus handlers
// run on their strands. Asio-free.
// Lifetime: every reference given to the constructor outlives it and every operation it
// started.
#pragma once

#include <kindred/server/service_router.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace kindred::accounts {
class account_store;
}
namespace kindred::matching {
class matching_store;
}
namespace kindred::moderation {
class moderation_store;
struct escalation_record;
struct new_escalation;
} // namespace kindred::moderation
namespace kindred::relay {
class conversation_log;
}
namespace kindred::store {
class client;
}

namespace kindred::server {

class insights_recorder;

class event_bus;
class relay_service;

struct moderation_service_options {
    // After a high or imminent escalation in a peer's conversation, no new match for this
    // long once that conversation ends (peer wellbeing). Zero: none.
    std::chrono::milliseconds peer_cooldown{std::chrono::minutes(10)};
    // Unix ms. Default: the system clock.
    std::function<std::int64_t()> clock;
    // Programme insights: escalations raised (by level) and resolved (by outcome). Optional.
    insights_recorder* insights = nullptr;
    // After an acknowledge or resolve changed an escalation here (metrics: time to
    // acknowledge). resolved: the transition was a resolve.
    std::function<void(const moderation::escalation_record&, bool resolved)> on_transition;
};

class moderation_service final : public service_router {
public:
    moderation_service(moderation::moderation_store& store, relay::conversation_log& log,
                       matching::matching_store& matching, accounts::account_store& accounts,
                       store::client& redis, event_bus& bus, relay_service& relay,
                       moderation_service_options options);

    bool serves(std::string_view type) const override;
    void handle(service_request request, answer_handler h) override;
    void session_opened(const std::string& session_id, protocol::role role,
                        const std::optional<staff_identity>& staff) override;
    void connection_closed(const std::string& session_id) override;

    // ---- hooks (see the header comment) ----
    // Intake triage gave high or imminent: an escalation with source triage.
    void on_triage(const std::string& session, protocol::level level, protocol::category category);
    // Seeker `session` was matched into `conversation` with `peer`.
    void on_matched(const std::string& session, const std::string& conversation,
                    const std::string& peer);
    // A conversation ended: a peer who had a high/imminent escalation in it cools down.
    void on_ended(const std::string& conversation, const std::string& peer);
    // Before a seeker with a device queues: the peers that blocked that device are blocked
    // for this session too. `then` runs exactly once, whatever happens.
    void before_enqueue(const std::string& session, const std::string& device_id,
                        std::function<void()> then);

    // Periodic (about 4 times a second on every instance): due re-pages.
    void repage_tick();
    // Periodic (a third of the presence TTL): renew the presence of moderators watching here.
    void presence_tick();

    // `mod:{mod}:session:<username>` → the moderator's current session (so the relay can
    // reach a moderator who joined a conversation, wherever it is connected).
    static std::string moderator_session_key(std::string_view moderator);
    // The bus notice that closes a banned party's connection (4005) on its instance.
    static constexpr std::string_view banned_notice = "banned";

private:
    void escalate(service_request r, answer_handler h);
    void report(service_request r, answer_handler h);
    void block(service_request r, answer_handler h);
    void moderator_keys(service_request r, answer_handler h);
    void watch(service_request r, answer_handler h);
    void unwatch(service_request r, answer_handler h);
    void acknowledge(service_request r, answer_handler h, bool resolve);
    void join(service_request r, answer_handler h);
    void ban(service_request r, answer_handler h);
    void consult(service_request r, answer_handler h);
    void consult_reply(service_request r, answer_handler h);
    struct pending_consult {
        std::optional<std::string> id;
        std::string peer, session, conversation;
        protocol::x25519_public_key pubkey{};
        std::vector<protocol::excerpt> copies;
    };
    void consult_send(std::shared_ptr<pending_consult> c, answer_handler h);
    // Stores the escalation, answers ok {escalation_id} and tells every moderator on duty.
    void create(const std::optional<std::string>& id, moderation::new_escalation e,
                answer_handler h);
    // create() on `conversation` once the sender is found to be one of its parties.
    void create_in(const service_request& r, std::string conversation, moderation::new_escalation e,
                   answer_handler h);
    // Every moderator on duty gets the escalation as it sees it.
    void fan_out(const moderation::escalation_record& r);
    std::int64_t now_ms() const;

    moderation::moderation_store& store_;
    relay::conversation_log& log_;
    matching::matching_store& matching_;
    accounts::account_store& accounts_;
    store::client& redis_;
    event_bus& bus_;
    relay_service& relay_;
    moderation_service_options options_;

    std::mutex mutex_;
    std::unordered_map<std::string, std::string> watching_; // session → moderator, held here
    bool repage_running_ = false;
};

} // namespace kindred::server
