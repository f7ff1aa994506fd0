// model.hpp — the conversation log's plain values (parties, metadata, log entries, results)
// and its pure rules: id shapes, Redis key names, the copies check and the gap check that
// decides `recovered`. No I/O, no clock; safe to copy between threads.
#pragma once

#include <kindred/protocol/messages.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::relay {

using protocol::role;

// One party of a conversation: its role and who holds it — the seeker's session id, the
// peer's id, the moderator's id (as the server names them; this library only compares).
struct member {
    protocol::role role = protocol::role::seeker;
    std::string id;
    bool operator==(const member&) const = default;
};

// Who is in a conversation. `moderator` is empty until one joins.
struct parties {
    std::string seeker;
    std::string peer;
    std::string moderator;

    // The id holding `r`; empty when nobody does (moderator before a join).
    const std::string& id_of(protocol::role r) const noexcept;
    // Whether `m` is a party: its role is held, and by exactly this id.
    bool has(const member& m) const noexcept;
    // Every party present other than the one holding `from`, in the order seeker, peer,
    // moderator: the recipients of a message from `from`.
    std::vector<member> others(protocol::role from) const;
    // Every party present, in the same order.
    std::vector<member> all() const;
    bool operator==(const parties&) const = default;
};

enum class conversation_state : std::uint8_t { active, ended };
std::string_view to_string(conversation_state s) noexcept; // "active" / "ended"

struct conversation_meta {
    std::string conversation_id;
    conversation_state state = conversation_state::active;
    relay::parties parties;
    std::int64_t created_at = 0; // Unix ms (the caller's clock at create)
    std::int64_t ended_at = 0;   // Unix ms; 0 while active
    protocol::ended_by ended_by = protocol::ended_by::system; // meaningful once ended
    std::string reason;           // the end reason id; empty while active
    std::string epoch;            // random, fixed at creation: a new one means lost history
    std::int64_t last_offset = 0; // 0 before the first message
    bool operator==(const conversation_meta&) const = default;
};

// ---- append -------------------------------------------------------------------------------
struct append_request {
    std::string conversation_id;
    member from;
    std::int64_t seq = 1; // 1..2^53-1, the sender's counter
    // One per other party present; ciphertext only (the server never sees plaintext).
    std::vector<protocol::message_copy> copies;
    std::int64_t sent_at = 0; // Unix ms, the server's clock when the send arrived
};

struct append_result {
    std::int64_t offset = 0;
    // true: this seq was stored before; `offset` is the original and nothing was stored or
    // should be delivered again.
    bool duplicate = false;
    // Whom to deliver to (every other party present, each its own copy).
    std::vector<member> recipients;
    std::string epoch;
};

// ---- read ---------------------------------------------------------------------------------
// One stored message: every recipient's copy (the caller picks the reader's own).
struct entry {
    std::int64_t offset = 0;
    protocol::role from = protocol::role::seeker;
    std::int64_t seq = 0;
    std::int64_t sent_at = 0;
    std::vector<protocol::message_copy> copies; // in the order seeker, peer, moderator
    // The copy for `reader`, or nullptr (the sender's own message, or a moderator reading
    // messages from before its join).
    const protocol::message_copy* copy_for(protocol::role reader) const noexcept;
    bool operator==(const entry&) const = default;
};

// The entry an append stored, built from the request and its offset (for live delivery
// right after append, without reading it back).
entry entry_of(const append_request& r, std::int64_t offset);

// The `message` event `reader` gets for `e`; nullopt when `e` holds no copy for it.
std::optional<protocol::message_event> to_event(std::string_view conversation_id, const entry& e,
                                                protocol::role reader);

struct read_request {
    std::string conversation_id;
    // Checked like every client action: not a party → not_found. nullopt: the server reads
    // for itself (e.g. re-reading tails after the bus reconnected) and skips the check.
    std::optional<member> reader;
    std::int64_t after = 0;      // entries with offset > after; 0..2^53-1
    std::size_t max_count = 256; // per batch (XRANGE … COUNT); 0 is taken as 1
    // The epoch the caller knew (e.g. kept in the session record): a different one means the
    // history was lost and rebuilt → recovered=false.
    std::optional<std::string> epoch;
    // The caller knows this conversation existed (it is in the session record): a missing
    // meta then answers success with recovered=false instead of not_found.
    bool known = false;
};

struct read_result {
    std::vector<entry> entries; // offsets > after, ascending
    std::int64_t last_offset = 0;
    std::string epoch;                       // empty when the meta is missing
    std::optional<conversation_state> state; // nullopt when the meta is missing
    // true only when every offset after+1..(last entry or last_offset) is present, the epoch
    // is the one the caller knew, and after <= last_offset. false: tell the user messages may
    // be missing; never a silent partial history.
    bool recovered = true;
    // More entries remain: read again with after = entries.back().offset.
    bool more = false;
};

// ---- end, join ------------------------------------------------------------------------------
struct end_request {
    std::string conversation_id;
    protocol::ended_by by = protocol::ended_by::system;
    // The party id that ends it (checked: not a party → not_found); ignored for system.
    std::string by_id;
    std::string reason = "done"; // a reason id: "done", "transfer", "peer_unavailable", …
    std::int64_t now = 0;        // Unix ms
};

struct end_result {
    // true: it had already ended; by/reason/ended_at are the first end's.
    bool already_ended = false;
    protocol::ended_by by = protocol::ended_by::system;
    std::string reason;
    std::int64_t ended_at = 0;
    relay::parties parties;
};

struct join_result {
    bool already = false;   // this moderator had joined already: nothing changed
    std::string previous;   // the moderator it replaced; empty when none
    relay::parties parties; // as they are now
};

struct create_result {
    bool created = true; // false: it existed with the same parties (an idempotent retry)
    std::string epoch;
};

// ---- pure rules ---------------------------------------------------------------------------
// Conversation ids: 1..64 of [A-Za-z0-9._~@-]. Party ids: the same, up to 128. Other text never
// names a conversation (not_found) — and never reaches a key name, so ids cannot forge
// Redis Cluster hash tags or ':'-separated fields.
bool valid_conversation_id(std::string_view id) noexcept;
bool valid_party_id(std::string_view id) noexcept;
inline constexpr std::int64_t max_offset = protocol::limits::max_safe_integer;

// Redis keys of one conversation (one hash tag) and of one party's index.
struct conversation_keys {
    std::string meta; // <prefix>conv:{c}
    std::string log;  // <prefix>conv:{c}:log
    std::string seq;  // <prefix>conv:{c}:seq
};
conversation_keys keys_for(std::string_view prefix, std::string_view conversation_id);
std::string index_key(std::string_view prefix, const member& m); // <prefix>party:{role:id}:convs

// The gap check of one read batch: `offsets` came from XRANGE after+1..last_offset COUNT
// max_count.
struct batch_check {
    bool complete = true; // the range the batch covers has no gap
    bool more = false;    // entries remain after the batch
};
batch_check check_batch(std::int64_t after, std::int64_t last_offset, std::size_t max_count,
                        std::span<const std::int64_t> offsets) noexcept;

} // namespace kindred::relay
