// chat_session.hpp — the client's session layer as a sans-I/O state machine: hello/resume,
// matching (seeker) or shift and prekeys (peer), end-to-end encrypted conversations with
// resend of unacknowledged messages, duplicate/gap handling by offset and `sync`.
// It owns no socket and reads no clock: the owner feeds it connection changes, received frames
// and the time (Unix ms) as parameters, and takes the frames to send and the events to show.
// Lifetime: one object per local party (a seeker, or a peer with its identity); it outlives
// connections (that is how it resumes). Secrets live in e2e types that wipe themselves; the
// resume and login tokens are never put into an event.
// Threading: a plain object; use it from one thread at a time.
// Asio-free (it includes only protocol and e2e headers).
#pragma once

#include <kindred/client/e2e.hpp>
#include <kindred/protocol/error.hpp>
#include <kindred/protocol/messages.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kindred::client {

// ---------------------------------------------------------------------------------------------
// Events reported to the owner (take_events()). Texts are plaintext for display only.
namespace chat_events {
// hello answered ok. `resumed` is true when the previous session (its queue place and its
// conversations) was kept.
struct ready {
    bool resumed = false;
};
// The resume token was refused (`not_found`): a new session was started; these conversations
// are gone and unacknowledged messages in them were not delivered.
struct session_restarted {
    std::vector<std::string> lost_conversations;
};
// The server refused this party for good (bad or dead staff token, wrong role): stop.
struct session_failed {
    std::string code; // the contract's error code
    std::string message;
};
struct queued {
    std::int64_t position = 0;
    std::optional<std::int64_t> estimated_wait_s; // nullopt: the server has no estimate (null)
};
struct matched {
    std::string conversation_id;
    std::string other;       // the peer's alias (seen by the seeker) or "seeker"
    std::string safety_code; // 12 characters; compare with the other side
    bool relaxed = false;
    std::vector<std::string> shared_tags;
    std::optional<std::string> intake; // peer side only; never log it
    protocol::risk risk = protocol::risk::none;
    std::int64_t waited_s = 0;
};
struct message {
    std::string conversation_id;
    std::int64_t offset = 0;
    protocol::role from = protocol::role::seeker;
    std::string sender; // alias, "seeker" or the moderator's alias
    std::string text;
    std::int64_t sent_at = 0;
};
// A message of ours is stored by the server (answered `ok` with its offset).
struct delivered {
    std::string conversation_id;
    std::int64_t seq = 0;
    std::int64_t offset = 0;
};
struct receipt {
    std::string conversation_id;
    std::int64_t offset = 0;
    protocol::role from = protocol::role::seeker;
};
struct typing {
    std::string conversation_id;
    protocol::role from = protocol::role::seeker;
};
struct ended {
    std::string conversation_id;
    std::string by;     // seeker, peer, moderator, system
    std::string reason; // done, transfer, peer_unavailable, gone, ...
};
// `sync` answered recovered:false: messages may be missing from this conversation.
struct history_incomplete {
    std::string conversation_id;
};
struct joined {
    std::string conversation_id;
    std::string alias;
};
struct shift {
    protocol::shift_status state = protocol::shift_status::off;
    std::int64_t active = 0;
    std::int64_t capacity = 0;
};
struct prekeys_uploaded {
    std::size_t count = 0;
};
// Derived prekeys (peer_setup::prekey_seed) up to next_index are about to be uploaded: persist
// next_index before sending the frames taken after this event, so that a restart never derives
// (and uploads) the same one-time prekey twice.
struct prekeys_reserved {
    std::uint64_t next_index = 0;
};
// A refused request, an undecryptable message, a refused match. `context` is the request type
// ("send", "request_match", ...) or "message", "matched", "event".
struct error {
    std::string context;
    std::string code; // a contract error code, or an e2e error name (e2e::to_string)
    std::string message;
    std::optional<std::string> conversation_id;
    std::optional<std::int64_t> retry_after_ms;
};
} // namespace chat_events

using chat_event =
    std::variant<chat_events::ready, chat_events::session_restarted, chat_events::session_failed,
                 chat_events::queued, chat_events::matched, chat_events::message,
                 chat_events::delivered, chat_events::receipt, chat_events::typing,
                 chat_events::ended, chat_events::history_incomplete, chat_events::joined,
                 chat_events::shift, chat_events::prekeys_uploaded, chat_events::prekeys_reserved,
                 chat_events::error>;

// A short line for logs and test failure messages (no plaintext, no tokens).
std::string describe(const chat_event& event);

// ---------------------------------------------------------------------------------------------
struct peer_setup {
    std::string token;               // staff login token (sent only in hello; never reported)
    e2e::identity_key_pair identity; // registered with register_identity, signs the prekeys
    std::size_t prekey_batch = 20;   // uploaded after hello, and topped up to this on prekeys_low
    // Random prekeys live only in memory, but the server keeps unused ones across runs. With a
    // prekey_seed, prekey i is derived from (seed, i) instead, so a later run that knows the
    // next index re-derives the last `prekey_window` ones and can still use them.
    std::optional<e2e::seed> prekey_seed;
    std::uint64_t prekey_index = 0;    // the next index to derive (persisted by the owner)
    std::uint64_t prekey_window = 400; // twice the server's per-peer cap (200, oldest dropped)
};

// Prekey i of a prekey seed: crypto_kx_seed_keypair(BLAKE2b-256(key = seed,
// "kindred-chat prekey" || i as 8 bytes little-endian)).
e2e::kx_key_pair derive_prekey(const e2e::seed& prekey_seed, std::uint64_t index);
// A prekey seed from an identity seed: BLAKE2b-256(key = identity seed, "kindred-chat prekeys").
e2e::seed derive_prekey_seed(const e2e::seed& identity_seed);

struct shift_request {
    std::int64_t capacity = 1;
    std::vector<std::string> tags;
    std::vector<std::string> languages;
};

struct match_request {
    std::vector<std::string> tags;
    std::vector<std::string> languages;
    std::optional<std::string> intake;    // the only text the server reads
    bool intake_notice_confirmed = false; // the person was told the server reads the intake
};

class chat_session {
public:
    // An anonymous seeker.
    static chat_session seeker();
    // A peer specialist: after hello it registers the identity and uploads prekeys.
    static chat_session peer(peer_setup setup);

    chat_session(chat_session&&) noexcept;
    chat_session& operator=(chat_session&&) noexcept;
    ~chat_session();

    protocol::role local_role() const noexcept;

    // --- the connection (driven by the owner) ---
    // A socket is open: sends hello (with the resume token when there is one).
    void on_connected(std::int64_t now_ms);
    // The socket is gone. Unanswered requests are re-sent after the next hello; unacknowledged
    // messages are re-sent with their seq.
    void on_disconnected();
    // One received text frame. Malformed frames become error events, never exceptions.
    void on_frame(std::string_view text, std::int64_t now_ms);
    // Re-sends what waited for a time (rate_limited/unavailable answers, a hello retry).
    void tick(std::int64_t now_ms);
    // True between hello ok and the next on_disconnected().
    bool is_ready() const noexcept;
    // The owner must stop (session_failed).
    bool has_failed() const noexcept;

    std::vector<std::string> take_outgoing(); // frames to send, in order
    std::vector<chat_event> take_events();    // events to show, in order

    // --- seeker ---
    // A fresh kx key pair per call. Errors (returned, nothing sent): "forbidden" for a peer,
    // "bad_message" when an intake is given without intake_notice_confirmed.
    std::optional<chat_events::error> request_match(match_request request);
    void cancel_match();

    // --- peer ---
    // Remembered: re-sent after a session restart.
    void start_shift(shift_request request);
    void pause_shift();
    void resume_shift();
    void end_shift();
    std::size_t prekeys_in_store() const noexcept;

    // --- both ---
    // Encrypts and sends (or keeps it for after the reconnect). Returns the seq, or the error
    // (not_found: no such active conversation; e2e errors: invalid_text, too_long).
    std::variant<std::int64_t, chat_events::error> send_text(const std::string& conversation_id,
                                                             std::string_view text);
    // The message at `offset` was shown to the person: sends a receipt.
    void displayed(const std::string& conversation_id, std::int64_t offset);
    void typing(const std::string& conversation_id);
    void end(const std::string& conversation_id, std::string reason = "done");

    std::vector<std::string> active_conversations() const;
    std::optional<std::string> safety_code(const std::string& conversation_id) const;
    std::optional<std::string> other_name(const std::string& conversation_id) const;
    // The highest offset handled in order (0 before the first message).
    std::int64_t last_offset(const std::string& conversation_id) const;
    // Messages of ours not yet acknowledged.
    std::size_t unacknowledged(const std::string& conversation_id) const;

private:
    struct state;
    explicit chat_session(std::unique_ptr<state> s);
    std::unique_ptr<state> s_;
};

} // namespace kindred::client
