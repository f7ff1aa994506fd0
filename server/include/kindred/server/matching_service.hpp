// matching_service.hpp — the server side of contract §4–§6: request_match, cancel_match,
// prekeys (storage), shift_start/pause/resume/end, and what follows a match (`matched` to
// both sides wherever they are connected, `shift`, `prekeys_low`), `queued` updates, the
// periodic relaxation pass and presence refresh. docs/matching.md §6 is the table it follows.
// The intake stays in this process's memory (the seeker's instance) until the match: it is
// forwarded to the peer over the bus and never stored or logged.
// Threading: every member is thread-safe (one mutex over the in-memory maps; store, account
// and bus handlers run on their strands). Asio-free.
// Lifetime: the stores, the bus and the registry outlive it and every operation it started.
#pragma once

#include <kindred/server/service_router.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace kindred::accounts {
class account_store;
}
namespace kindred::matching {
class matching_store;
struct match_record;
struct sweep_report;
enum class claim_loss;
} // namespace kindred::matching
namespace kindred::store {
class client;
}
namespace kindred::relay {
class conversation_log;
struct parties;
} // namespace kindred::relay

namespace kindred::moderation {
class lexicon;
}

namespace kindred::server {

class connection_registry;
class event_bus;
class insights_recorder;

struct matching_service_options {
    std::vector<std::string> catalog_tags;
    std::vector<std::string> catalog_languages;
    // A peer holding fewer prekeys than this after a match or an upload gets `prekeys_low`.
    std::int64_t prekeys_low_below = 5;
    // How long the peer → session pointer lives (renewed by every shift change and refresh).
    std::int64_t peer_session_ttl_s = 24 * 3600;
    // Unix ms. Default: the system clock.
    std::function<std::int64_t()> clock;
    // Where a matched conversation is created before `matched` is sent (null: not created).
    relay::conversation_log* conversations = nullptr;
    // Triages each intake (null: every request is risk none). Outlives the service.
    const moderation::lexicon* lexicon = nullptr;
    // Moderation hooks (moderation_service), each optional:
    // an intake triaged high or imminent (after the request is queued);
    std::function<void(const std::string& session, protocol::level, protocol::category)> on_triage;
    // a seeker matched into a conversation with a peer;
    std::function<void(const std::string& session, const std::string& conversation,
                       const std::string& peer)>
        on_matched;
    // Programme insights: requests, cancels, matches, shift time. Optional; outlives the service.
    insights_recorder* insights = nullptr;
    // before a seeker queues (device blocks); must call `then` exactly once.
    std::function<void(const std::string& session, const std::string& device_id,
                       std::function<void()> then)>
        before_enqueue;
    // Where a match's time goes (metrics; optional), for a seeker whose request arrived here:
    // stage is one of the names below. Called on store and bus strands.
    // The stages, in order (docs/performance.md, "match"):
    // enqueue    request_match received → queued in Redis (the request's `ok`);
    // to_claim   queued → a pass claimed the match (waiting for a pass, its snapshot, claim);
    // create     claimed → the conversation created;
    // announce   claimed → `matched` handed to the bus (the conversation created and, at the
    //            same time, the peer's account and session read);
    // handoff    handed to the bus → `matched` queued on the seeker's connection;
    // total      request_match received → `matched` queued on the seeker's connection.
    std::function<void(std::string_view stage, std::chrono::microseconds)> on_stage;
};

class matching_service final : public service_router {
public:
    matching_service(matching::matching_store& matching, accounts::account_store& accounts,
                     store::client& redis, event_bus& bus, connection_registry& connections,
                     matching_service_options options);

    bool serves(std::string_view type) const override;
    void handle(service_request request, answer_handler h) override;
    void connection_closed(const std::string& session_id) override;
    // A peer's new session becomes where its matches and messages go.
    void session_opened(const std::string& session_id, protocol::role role,
                        const std::optional<staff_identity>& staff) override;

    // matching_options::on_match: every match this instance's store claimed, once.
    void on_match(const matching::match_record& record);
    // matching_options::on_claim_sent: the conversation is created and the peer read right
    // behind the claim (same connection), so `matched` need not wait another round trip for
    // them after the claim's answer. on_claim_lost: a refused claim's conversation is
    // discarded; an unknown one waits for the store to settle it (on_match or refused).
    void claim_sent(const std::string& conversation_id, const std::string& session,
                    const std::string& peer_id);
    void claim_lost(const std::string& conversation_id, matching::claim_loss why);
    // After every pass: `queued` to the held sessions whose place changed.
    void on_sweep(const matching::sweep_report& report);
    // Periodic (about every second): the relaxation pass.
    void relax_tick();
    // Periodic (presence_ttl / 3): renew presence of the peers and waiting seekers held here.
    void presence_tick();

    // Sets the moderation hooks of matching_service_options after construction (the
    // moderation service is built later); before any request arrives.
    void set_moderation_hooks(decltype(matching_service_options::on_triage) on_triage,
                              decltype(matching_service_options::on_matched) on_matched,
                              decltype(matching_service_options::before_enqueue) before_enqueue) {
        options_.on_triage = std::move(on_triage);
        options_.on_matched = std::move(on_matched);
        options_.before_enqueue = std::move(before_enqueue);
    }

    // A reload (SIGHUP, `kindredctl reload`; issue #9): requests from now on are checked
    // against this catalog and triaged with this lexicon (null: keep the current one).
    // Any thread; a request already being handled finishes with what it started with.
    void reload_catalog(std::vector<std::string> tags, std::vector<std::string> languages,
                        std::shared_ptr<const moderation::lexicon> lexicon);

    // `peer:{username}` → the peer's current session (so a match made on any instance can
    // reach it).
    static std::string peer_session_key(std::string_view peer_id);
    // A stored prekey: base64(prekey) "." base64(signature).
    static std::string encode_prekey(const protocol::signed_prekey& k);
    static std::optional<protocol::signed_prekey> decode_prekey(std::string_view stored);
    // The furthest ahead a shift_start's planned_end_at may be.
    static constexpr std::int64_t max_planned_shift_ms = 24 * 3600 * 1000;
    // Checks shift_start's optional fields (our extension): every `wont_take` tag is in the
    // catalog, and `planned_end_at` (when set) is after `now_ms` and at most
    // max_planned_shift_ms ahead. Returns the bad_message text naming the field, or empty. Pure.
    static std::string check_shift_options(const std::vector<std::string>& wont_take,
                                           const std::optional<std::int64_t>& planned_end_at,
                                           const std::vector<std::string>& catalog_tags,
                                           std::int64_t now_ms);

private:
    void request_match(service_request r, answer_handler h);
    void cancel_match(service_request r, answer_handler h);
    void shift_start(service_request r, answer_handler h);
    void shift_change(service_request r, answer_handler h);
    void store_prekeys(service_request r, answer_handler h);
    using steady = std::chrono::steady_clock;
    // What `matched` needs of the peer: its account (alias, tags, identity key) and the
    // session it is connected as (defined in the .cpp).
    struct peer_reads;
    // Both reads pipelined; `done` once both answered.
    void read_peer(const std::string& peer_id,
                   std::function<void(std::shared_ptr<peer_reads>)> done);
    // Reads the peer, then announce_with. `since`: when the first attempt started (on_stage's
    // announce).
    void announce(const matching::match_record& record, int attempt = 0,
                  steady::time_point since = {});
    // `matched` to both sides (the seeker's instance forwards to the peer), `shift` and
    // `prekeys_low` to the peer; Redis trouble reading the account: announce again.
    void announce_with(const matching::match_record& record, const peer_reads& reads, int attempt,
                       steady::time_point since);
    // The conversation created (with retries under Redis trouble, from `attempt`) and the peer
    // read, both at once; then conversation_ready, or undo_match if the create failed.
    void create_and_read(const matching::match_record& record, steady::time_point claimed,
                         int attempt);
    // Created: watched for the grace period (convs:{active}), then announce_with.
    void conversation_ready(const matching::match_record& record, const peer_reads& reads,
                            steady::time_point claimed);
    // Removes the conversation made behind a refused claim (tries again under Redis trouble).
    void discard_early(const std::string& conversation_id, relay::parties parties, int attempt);
    // Work started by claim_sent, waiting for three things: the create, the peer's reads and
    // the claim's outcome (which sets `then`). Defined in the .cpp.
    struct early_match;
    // Removes and returns what claim_sent started for this conversation (null if nothing).
    std::shared_ptr<early_match> take_early(const std::string& conversation_id);
    // A claimed match that cannot be announced (its conversation or the peer's keys could not
    // be set up): ended, the peer's slot released, the seeker re-queued first.
    void undo_match(const matching::match_record& record, bool avoid_peer);
    // Tries for the conversation create and the announcement under Redis trouble.
    static constexpr int max_attempts = 3;
    void matched_at_seeker(const std::string& session, const boost::json::object& body);
    void remember_peer(const std::string& peer_id, const std::string& session);
    std::int64_t now_ms() const;

    matching::matching_store& matching_;
    accounts::account_store& accounts_;
    store::client& redis_;
    event_bus& bus_;
    connection_registry& connections_;
    matching_service_options options_;

    struct catalog_view {
        std::vector<std::string> tags;
        std::vector<std::string> languages;
        std::shared_ptr<const moderation::lexicon> owned; // after a reload
        const moderation::lexicon* lexicon = nullptr;
    };
    std::shared_ptr<const catalog_view> catalog() const;
    mutable std::mutex catalog_mutex_;
    std::shared_ptr<const catalog_view> catalog_;

    std::mutex mutex_;
    std::unordered_map<std::string, std::string> intakes_; // session → intake (memory only)
    std::unordered_map<std::string, std::size_t> waiting_; // session → position last sent
    std::unordered_map<std::string, std::string> peers_;   // peer id → session held here
    // conversation id → what claim_sent started, until the claim's outcome is known.
    std::unordered_map<std::string, std::shared_ptr<early_match>> early_;
    // For on_stage: seekers whose request arrived here, until their `matched` is delivered
    // (or they are no longer connected here: presence_tick).
    struct seeker_clock {
        steady::time_point requested, queued, announced;
    };
    std::unordered_map<std::string, seeker_clock> clocks_;
    void stage(std::string_view name, steady::time_point since) const;
};

} // namespace kindred::server
