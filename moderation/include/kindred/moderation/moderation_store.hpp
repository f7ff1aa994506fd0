// moderation_store.hpp — escalations, moderators on duty, bans, device blocks and consults in
// Redis, on kindred::store::client (contract §8; docs/moderation.md). Every change that is a
// moderation action appends its content-free audit entry in the same Lua script
// (accounts/lua/audit_append.lua prepended), so an action and its audit entry happen together.
// Keys share the hash tag of options.key_prefix ("mod:{mod}:"); moderation/README.md lists them.
//
// Deadlines: repage_due() takes every due re-page in one script, so each one is taken by
// exactly one caller whatever the number of instances; all state is in Redis, so a restart of
// any instance loses nothing.
//
// Threading: every member may be called from any thread; handlers run on the Redis client's
// strand, never inside the call that started them.
// Lifetime: the client outlives every pending operation; the store may be destroyed earlier.
#pragma once

#include <kindred/protocol/messages.hpp>

#include <boost/system/error_code.hpp>

#include <array>
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

namespace kindred::moderation {

struct moderation_options {
    std::string key_prefix = "mod:{mod}:";
    // The audit stream written by accounts (the same chain).
    std::string audit_key = "audit";
    std::size_t audit_max_len = 1'000'000;
    // Re-page deadline per level (index = protocol::level: low, medium, high, imminent);
    // zero = never re-paged. Contract defaults: imminent 30 s, high 120 s.
    std::array<std::chrono::milliseconds, 4> deadlines{
        std::chrono::milliseconds{0}, std::chrono::milliseconds{0},
        std::chrono::milliseconds{120'000}, std::chrono::milliseconds{30'000}};
    // How long a resolved escalation (and its excerpts) stays readable.
    std::chrono::milliseconds resolved_ttl{std::chrono::hours(24 * 7)};
    // A moderator's presence lives this long unless renewed.
    std::chrono::milliseconds presence_ttl{std::chrono::seconds(30)};
    // Device blocks last this long (renewed by each new block).
    std::chrono::milliseconds device_block_ttl{std::chrono::hours(24 * 90)};
    std::chrono::milliseconds consult_ttl{std::chrono::hours(24)};
    std::size_t repage_batch = 64;
    // A fresh unguessable id (escalations, consults). Default: 128 random bits, hex.
    std::function<std::string()> new_id;
};

// One escalation as stored. Internal fields (session, peer) never go to clients except peer.
struct escalation_record {
    std::string id;
    std::string conversation_id; // "" when none
    protocol::level level = protocol::level::low;
    protocol::category category = protocol::category::other;
    protocol::escalation_source source = protocol::escalation_source::seeker;
    protocol::escalation_status state = protocol::escalation_status::open;
    std::int64_t created_at = 0;
    std::string acknowledged_by; // "" until acknowledged
    std::int64_t acknowledged_at = 0;
    std::string resolved_by;
    std::int64_t resolved_at = 0;
    std::string outcome; // resolve outcome id, "" until resolved
    std::int64_t repaged = 0;
    std::int64_t next_page_at = 0; // 0: not scheduled (no deadline, acknowledged or resolved)
    std::string note;              // "" when none
    std::string reason;            // report reason, "" otherwise
    std::string session;           // the seeker's session ("" when unknown)
    std::string peer;              // the conversation's peer username ("" when none)
    std::vector<protocol::excerpt> excerpts; // all moderators' copies
};

// The escalation as one moderator sees it: only its own excerpts. Pure.
protocol::escalation_info view_for(const escalation_record& r, std::string_view moderator_id);

struct new_escalation {
    std::string conversation_id; // "" none
    protocol::level level = protocol::level::low;
    protocol::category category = protocol::category::other;
    protocol::escalation_source source = protocol::escalation_source::seeker;
    std::string note;
    std::string reason;
    std::string session; // seeker session (for linking to a later conversation, bans)
    std::string peer;    // conversation's peer username, when known
    std::vector<protocol::excerpt> excerpts;
    std::string actor; // audit actor: "seeker", the peer's username, "system"
    std::int64_t now_ms = 0;
};

struct on_duty_moderator {
    std::string moderator_id;
    std::string session;
    protocol::x25519_public_key pubkey{};
};

struct consult_record {
    std::string id, peer, session, conversation_id;
    std::int64_t created_at = 0;
};

enum class transition_result {
    ok,        // changed now
    unchanged, // already in that state by the same moderator (acknowledge again): answer ok
    conflict,  // acknowledged by another, or resolved
    not_found,
};

class moderation_store {
public:
    template <class T>
    using handler = std::function<void(boost::system::error_code, T)>;
    using done_handler = std::function<void(boost::system::error_code)>;

    moderation_store(store::client& redis, moderation_options options = {});
    ~moderation_store();
    moderation_store(const moderation_store&) = delete;
    moderation_store& operator=(const moderation_store&) = delete;
    const moderation_options& options() const noexcept;

    void load_scripts(done_handler h);

    // ---- escalations ----
    // Stores it (open; scheduled for re-page when its level has a deadline), indexes it by
    // conversation or (none) by session, audits escalation.create. Returns the record.
    void create(new_escalation e, handler<escalation_record> h);
    void get(std::string id, handler<std::optional<escalation_record>> h);
    // Every unresolved escalation, oldest first (with every excerpt).
    void list_open(handler<std::vector<escalation_record>> h);
    // The record after the attempt is returned too (for the event).
    void acknowledge(std::string id, std::string moderator, std::int64_t now_ms,
                     handler<std::pair<transition_result, escalation_record>> h);
    void resolve(std::string id, std::string moderator, protocol::resolve_outcome outcome,
                 std::int64_t now_ms, handler<std::pair<transition_result, escalation_record>> h);
    // Takes every due re-page (score ≤ now), at most options.repage_batch: repaged+1, next due
    // = now + deadline, audited. Exactly one caller gets each.
    void repage_due(std::int64_t now_ms, handler<std::vector<escalation_record>> h);
    // Seeker session S was matched into conversation C with `peer`: every escalation of S
    // without a conversation gets C and peer. Returns the changed records.
    void link(std::string session, std::string conversation_id, std::string peer,
              handler<std::vector<escalation_record>> h);
    // Whether conversation C has any escalation, and the highest level of those.
    void conversation_level(std::string conversation_id, handler<std::optional<protocol::level>> h);

    // ---- moderators on duty ----
    void watch(std::string moderator, std::string session, protocol::x25519_public_key pubkey,
               std::int64_t now_ms, done_handler h);
    // Renews presence of these (moderator, session) pairs if the session still matches.
    void refresh(std::vector<std::pair<std::string, std::string>> moderators, std::int64_t now_ms,
                 done_handler h);
    // Off duty, if `session` is still the one recorded.
    void unwatch(std::string moderator, std::string session, done_handler h);
    void on_duty(std::int64_t now_ms, handler<std::vector<on_duty_moderator>> h);

    // ---- join, bans, blocks (audited) ----
    void audit_join(std::string moderator, std::string conversation_id, std::int64_t now_ms,
                    done_handler h);
    // party seeker: device_id (or, when empty, session); party peer: peer username.
    void ban(std::string moderator, protocol::party party, std::string device_id,
             std::string session, std::string peer, std::string conversation_id,
             std::int64_t duration_s, std::int64_t now_ms, done_handler h);
    // Whether any of these is banned now (empty strings skipped).
    void is_banned(std::string device_id, std::string session, std::string peer, handler<bool> h);
    // Peer blocks the seeker's device (when it has one); audited as `block`.
    void block_device(std::string peer, std::string device_id, std::string conversation_id,
                      std::int64_t now_ms, done_handler h);
    // The peers that blocked this device.
    void device_blocks(std::string device_id, handler<std::vector<std::string>> h);

    // ---- consults (peer → moderators on duty) ----
    void create_consult(std::string peer, std::string session, std::string conversation_id,
                        std::int64_t now_ms, handler<consult_record> h);
    void get_consult(std::string id, handler<std::optional<consult_record>> h);

    class impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace kindred::moderation
