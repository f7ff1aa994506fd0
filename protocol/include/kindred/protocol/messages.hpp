// messages.hpp — one typed struct per message of the wire contract (protocol.md §3–§8), both
// directions, plus the enums, binary field types and the bounds the decoder enforces.
// Plain values: no Boost, no I/O; safe to copy between threads. protocol/README.md documents
// every field; codec.hpp turns these into JSON text and back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kindred::protocol {

// ---------------------------------------------------------------------------------------------
// Bounds. Those the contract states are marked (contract); the others are our choice, documented
// in protocol/README.md. "chars" are Unicode code points.
namespace limits {
inline constexpr int protocol_version = 1;                    // (contract) hello.v
inline constexpr std::size_t max_id_chars = 64;               // (contract) id; also every *_id
inline constexpr std::size_t max_token_chars = 512;           // token, resume_token
inline constexpr std::size_t max_seeker_tags = 5;             // (contract) request_match.tags 1..5
inline constexpr std::size_t max_shift_tags = 32;             // shift_start.tags 1..32
inline constexpr std::size_t max_wont_take = 5;               // (ours) shift_start.wont_take 0..5
inline constexpr std::size_t max_languages = 5;               // languages 1..5
inline constexpr std::size_t max_tag_chars = 32;              // a tag id: [a-z0-9_-]{1,32}
inline constexpr std::size_t max_language_chars = 35;         // a BCP 47 language tag
inline constexpr std::size_t max_intake_chars = 500;          // (contract) request_match.intake
inline constexpr std::size_t max_note_chars = 500;            // escalate.note
inline constexpr std::size_t max_reason_chars = 64;           // end.reason, ended.reason
inline constexpr std::size_t max_alias_chars = 64;            // aliases in events
inline constexpr std::size_t max_prekeys = 100;               // prekeys.keys 1..100
inline constexpr std::size_t max_copies = 3;                  // send.copies 1..3
inline constexpr std::size_t max_excerpts = 64;               // escalate/report excerpts 0..64
inline constexpr std::size_t max_consult_copies = 64;         // consult.copies 1..64
inline constexpr std::size_t max_binary_base64_chars = 65536; // ciphertext, sealed (frame limit)
inline constexpr std::size_t aead_tag_bytes = 16;             // XChaCha20-Poly1305 ABYTES
inline constexpr std::size_t sealed_box_overhead_bytes = 48;  // crypto_box_SEALBYTES
inline constexpr std::int64_t min_capacity = 1;               // (contract) shift_start.capacity
inline constexpr std::int64_t max_capacity = 5;               // (contract)
inline constexpr std::int64_t max_safe_integer = (std::int64_t{1} << 53) - 1; // (contract) seq
inline constexpr std::int64_t max_ban_s = 31'536'000; // ban.duration_s 1..365 days
} // namespace limits

// ---------------------------------------------------------------------------------------------
// Enums. enum_traits<E>::names lists the wire strings in declaration order.
enum class role : std::uint8_t { seeker, peer, moderator };
enum class party : std::uint8_t { seeker, peer }; // ban
enum class risk : std::uint8_t { none, low, medium, high, imminent };
enum class level : std::uint8_t { low, medium, high, imminent }; // escalation level
enum class category : std::uint8_t {
    suicide_risk,
    self_harm,
    harm_to_others,
    abuse,
    medical,
    other
};
enum class report_reason : std::uint8_t { harassment, inappropriate, spam, other };
enum class resolve_outcome : std::uint8_t {
    de_escalated,
    emergency_services,
    referred,
    false_alarm,
    other
};
enum class shift_status : std::uint8_t { on, paused, ending, off };
enum class ended_by : std::uint8_t { seeker, peer, moderator, system };
enum class escalation_source : std::uint8_t { seeker, peer, triage, report };
enum class escalation_status : std::uint8_t { open, acknowledged, resolved };
enum class feeling : std::uint8_t { worse, same, better };

template <class E>
struct enum_traits;
template <>
struct enum_traits<role> {
    static constexpr std::array<std::string_view, 3> names{"seeker", "peer", "moderator"};
};
template <>
struct enum_traits<party> {
    static constexpr std::array<std::string_view, 2> names{"seeker", "peer"};
};
template <>
struct enum_traits<risk> {
    static constexpr std::array<std::string_view, 5> names{"none", "low", "medium", "high",
                                                           "imminent"};
};
template <>
struct enum_traits<level> {
    static constexpr std::array<std::string_view, 4> names{"low", "medium", "high", "imminent"};
};
template <>
struct enum_traits<category> {
    static constexpr std::array<std::string_view, 6> names{
        "suicide_risk", "self_harm", "harm_to_others", "abuse", "medical", "other"};
};
template <>
struct enum_traits<report_reason> {
    static constexpr std::array<std::string_view, 4> names{"harassment", "inappropriate", "spam",
                                                           "other"};
};
template <>
struct enum_traits<resolve_outcome> {
    static constexpr std::array<std::string_view, 5> names{"de_escalated", "emergency_services",
                                                           "referred", "false_alarm", "other"};
};
template <>
struct enum_traits<shift_status> {
    static constexpr std::array<std::string_view, 4> names{"on", "paused", "ending", "off"};
};
template <>
struct enum_traits<ended_by> {
    static constexpr std::array<std::string_view, 4> names{"seeker", "peer", "moderator", "system"};
};
template <>
struct enum_traits<escalation_source> {
    static constexpr std::array<std::string_view, 4> names{"seeker", "peer", "triage", "report"};
};
template <>
struct enum_traits<escalation_status> {
    static constexpr std::array<std::string_view, 3> names{"open", "acknowledged", "resolved"};
};

template <>
struct enum_traits<feeling> {
    static constexpr std::array<std::string_view, 3> names{"worse", "same", "better"};
};

template <class E>
concept wire_enum = requires {
    enum_traits<E>::names;
};

// The wire string; empty for a value outside the enum (only a cast can make one).
template <wire_enum E>
constexpr std::string_view to_string(E value) {
    const auto i = static_cast<std::size_t>(value);
    return i < enum_traits<E>::names.size() ? enum_traits<E>::names[i] : std::string_view{};
}

template <wire_enum E>
constexpr std::optional<E> from_string(std::string_view text) {
    for (std::size_t i = 0; i < enum_traits<E>::names.size(); ++i) {
        if (enum_traits<E>::names[i] == text) return static_cast<E>(i);
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Binary fields, already decoded from base64 (the codec checks the exact sizes).
using x25519_public_key = std::array<std::uint8_t, 32>;
using ed25519_public_key = std::array<std::uint8_t, 32>;
using ed25519_signature = std::array<std::uint8_t, 64>;
using xchacha_nonce = std::array<std::uint8_t, 24>;
using bytes = std::vector<std::uint8_t>;
// hello.device: 32 random bytes a seeker's client generates once and keeps. The server never
// stores it, only a hash of it (the device id).
using device_secret = std::array<std::uint8_t, 32>;

// Shape checks shared with configuration (tag catalog, languages).
// A tag id: 1..32 of [a-z0-9_-], e.g. "grief", "chronic_illness".
bool is_tag_id(std::string_view text);
// A language tag (BCP 47 shape): subtags of 1..8 ASCII letters or digits joined by '-', the
// first 2..8 letters, at most 35 characters in all: "en", "pt-BR", "zh-Hant-TW".
bool is_language_tag(std::string_view text);
// A short reason identifier (end.reason, ended.reason): 1..64 of [a-z0-9_-].
bool is_reason_id(std::string_view text);
// Unicode code points in valid UTF-8 (the JSON parser has already rejected invalid UTF-8).
std::size_t count_code_points(std::string_view utf8);

// ---------------------------------------------------------------------------------------------
// Parts shared by several messages.
struct signed_prekey {
    x25519_public_key prekey{};
    ed25519_signature signature{}; // Ed25519 over the prekey by the peer's identity key
    bool operator==(const signed_prekey&) const = default;
};

struct message_copy {
    kindred::protocol::role to = kindred::protocol::role::peer; // recipient
    xchacha_nonce nonce{};
    bytes ciphertext; // at least aead_tag_bytes
    bool operator==(const message_copy&) const = default;
};

struct excerpt {
    std::string moderator_id;
    bytes sealed; // crypto_box_seal to that moderator's key; at least sealed_box_overhead_bytes
    bool operator==(const excerpt&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Client → server (wire_type is the JSON "type").

// §3. Either resume_token, or role (+ token for peer and moderator).
struct hello {
    static constexpr std::string_view wire_type = "hello";
    int v = limits::protocol_version;
    std::optional<kindred::protocol::role> role;
    std::optional<std::string> token;
    std::optional<std::string> resume_token;
    // (§8 extension) The seeker's device secret; accepted and ignored for staff roles. Never
    // log or store it.
    std::optional<device_secret> device{};
    bool operator==(const hello&) const = default;
};

struct ping {
    static constexpr std::string_view wire_type = "ping";
    bool operator==(const ping&) const = default;
};

// §4
struct request_match {
    static constexpr std::string_view wire_type = "request_match";
    std::vector<std::string> tags;      // 1..5 tag ids
    std::vector<std::string> languages; // 1..5 language tags
    x25519_public_key pubkey{};
    std::optional<std::string> intake; // ≤ 500 code points; never log it
    bool operator==(const request_match&) const = default;
};

struct cancel_match {
    static constexpr std::string_view wire_type = "cancel_match";
    bool operator==(const cancel_match&) const = default;
};

// §5
struct prekeys {
    static constexpr std::string_view wire_type = "prekeys";
    std::vector<signed_prekey> keys; // 1..100
    bool operator==(const prekeys&) const = default;
};

struct register_identity {
    static constexpr std::string_view wire_type = "register_identity";
    ed25519_public_key identity_key{};
    bool operator==(const register_identity&) const = default;
};

struct shift_start {
    static constexpr std::string_view wire_type = "shift_start";
    std::int64_t capacity = 1;          // 1..5
    std::vector<std::string> tags;      // 1..32 tag ids
    std::vector<std::string> languages; // 1..5 language tags
    // (ours, optional) Personal triggers: never match a request carrying one of these tags.
    // Defaulted so aggregate initialisation may leave them out (-Wmissing-field-initializers).
    std::vector<std::string> wont_take{};         // 0..5 tag ids; empty = absent on the wire
    std::optional<std::int64_t> planned_end_at{}; // Unix ms: no new match in the last minutes
    bool operator==(const shift_start&) const = default;
};

struct shift_pause {
    static constexpr std::string_view wire_type = "shift_pause";
    bool operator==(const shift_pause&) const = default;
};
struct shift_resume {
    static constexpr std::string_view wire_type = "shift_resume";
    bool operator==(const shift_resume&) const = default;
};
struct shift_end {
    static constexpr std::string_view wire_type = "shift_end";
    bool operator==(const shift_end&) const = default;
};

// §7
struct send {
    static constexpr std::string_view wire_type = "send";
    std::string conversation_id;
    std::int64_t seq = 1;             // 1..2^53-1
    std::vector<message_copy> copies; // 1..3, each `to` at most once
    bool operator==(const send&) const = default;
};

struct receipt {
    static constexpr std::string_view wire_type = "receipt";
    std::string conversation_id;
    std::int64_t offset = 1; // 1..2^53-1
    bool operator==(const receipt&) const = default;
};

struct typing {
    static constexpr std::string_view wire_type = "typing";
    std::string conversation_id;
    bool operator==(const typing&) const = default;
};

struct sync {
    static constexpr std::string_view wire_type = "sync";
    std::string conversation_id;
    std::int64_t after = 0; // 0..2^53-1
    bool operator==(const sync&) const = default;
};

struct end {
    static constexpr std::string_view wire_type = "end";
    std::string conversation_id;
    std::optional<std::string> reason; // a reason id, e.g. "done"
    bool operator==(const end&) const = default;
};

struct transfer {
    static constexpr std::string_view wire_type = "transfer";
    std::string conversation_id;
    bool operator==(const transfer&) const = default;
};

// §8
struct escalate {
    static constexpr std::string_view wire_type = "escalate";
    std::optional<std::string> conversation_id; // null or absent: a panic button while queued
    kindred::protocol::level level = kindred::protocol::level::low;
    kindred::protocol::category category = kindred::protocol::category::other;
    std::optional<std::string> note; // ≤ 500 code points
    std::vector<excerpt> excerpts;   // 0..64; absent = empty
    bool operator==(const escalate&) const = default;
};

struct moderator_keys {
    static constexpr std::string_view wire_type = "moderator_keys";
    bool operator==(const moderator_keys&) const = default;
};

struct report {
    static constexpr std::string_view wire_type = "report";
    std::string conversation_id;
    report_reason reason = report_reason::other;
    std::vector<excerpt> excerpts; // 0..64; absent = empty
    bool operator==(const report&) const = default;
};

struct block {
    static constexpr std::string_view wire_type = "block";
    std::string conversation_id;
    bool operator==(const block&) const = default;
};

struct watch {
    static constexpr std::string_view wire_type = "watch";
    x25519_public_key pubkey{};
    bool operator==(const watch&) const = default;
};

// (§8 extension) The moderator goes off duty now.
struct unwatch {
    static constexpr std::string_view wire_type = "unwatch";
    bool operator==(const unwatch&) const = default;
};

struct acknowledge {
    static constexpr std::string_view wire_type = "acknowledge";
    std::string escalation_id;
    bool operator==(const acknowledge&) const = default;
};

struct resolve {
    static constexpr std::string_view wire_type = "resolve";
    std::string escalation_id;
    resolve_outcome outcome = resolve_outcome::other;
    bool operator==(const resolve&) const = default;
};

struct join {
    static constexpr std::string_view wire_type = "join";
    std::string conversation_id;
    x25519_public_key pubkey{};
    bool operator==(const join&) const = default;
};

struct ban {
    static constexpr std::string_view wire_type = "ban";
    std::string conversation_id;
    kindred::protocol::party party = kindred::protocol::party::seeker;
    std::int64_t duration_s = 86400; // 1..31536000
    bool operator==(const ban&) const = default;
};

// (§8 extension) The private channel, peer → the moderators on duty ("a second opinion"):
// one sealed copy per moderator (crypto_box_seal to its watch key; plaintext {"text":"..."});
// replies are sealed to `pubkey`. Never delivered to the seeker.
struct consult {
    static constexpr std::string_view wire_type = "consult";
    std::optional<std::string> conversation_id; // null or absent: not about one conversation
    x25519_public_key pubkey{};                 // the peer's key for the replies
    std::vector<excerpt> copies;                // 1..64, one per moderator on duty
    bool operator==(const consult&) const = default;
};

struct consult_reply {
    static constexpr std::string_view wire_type = "consult_reply";
    std::string consult_id;
    bytes sealed; // crypto_box_seal to the consult's pubkey
    bool operator==(const consult_reply&) const = default;
};

// (issue #10 extension) The seeker's optional post-chat feedback on its own ended
// conversation, once: helped 1..5 and/or feeling; at least one of the two. Counted only in
// daily aggregates, never stored with the conversation.
struct feedback {
    static constexpr std::string_view wire_type = "feedback";
    std::string conversation_id;
    std::optional<std::int64_t> helped; // 1..5
    std::optional<kindred::protocol::feeling> feeling;
    bool operator==(const feedback&) const = default;
};

// (issue #10 extension) A peer asks for its own shift summary (today and this week).
struct my_summary {
    static constexpr std::string_view wire_type = "my_summary";
    bool operator==(const my_summary&) const = default;
};

using client_message =
    std::variant<hello, ping, request_match, cancel_match, prekeys, register_identity, shift_start,
                 shift_pause, shift_resume, shift_end, send, receipt, typing, sync, end, transfer,
                 escalate, moderator_keys, report, block, watch, acknowledge, resolve, join, ban,
                 unwatch, consult, consult_reply, feedback, my_summary>;

// The wire "type" of the message held.
std::string_view type_name(const client_message& message);

// ---------------------------------------------------------------------------------------------
// Results carried in `ok` answers ({"type":"ok","re":I, ...fields}). Messages not listed here
// answer a bare ok.

struct conversation_summary {
    std::string conversation_id;
    std::string state; // "active" or "ended"
    std::int64_t last_offset = 0;
    bool operator==(const conversation_summary&) const = default;
};

struct hello_ok {
    std::string session;
    kindred::protocol::role role = kindred::protocol::role::seeker;
    std::string resume_token;
    std::vector<conversation_summary> conversations;
    bool operator==(const hello_ok&) const = default;
};

struct send_ok {
    std::int64_t offset = 1;
    bool operator==(const send_ok&) const = default;
};

struct sync_ok {
    std::int64_t offset = 0; // the latest offset
    bool recovered = true;   // false: history may be incomplete, tell the user
    bool operator==(const sync_ok&) const = default;
};

struct moderator_key {
    std::string moderator_id;
    x25519_public_key pubkey{};
    bool operator==(const moderator_key&) const = default;
};

struct moderator_keys_ok {
    std::vector<moderator_key> keys;
    bool operator==(const moderator_keys_ok&) const = default;
};

struct join_ok {
    x25519_public_key seeker_pubkey{};
    x25519_public_key peer_prekey{};
    bool operator==(const join_ok&) const = default;
};

// escalate and report answer the id of the escalation they created.
struct escalate_ok {
    std::string escalation_id;
    bool operator==(const escalate_ok&) const = default;
};
using report_ok = escalate_ok;

struct consult_ok {
    std::string consult_id;
    bool operator==(const consult_ok&) const = default;
};

// my_summary's answer: the peer's own figures, today and this week (Monday to today, UTC).
struct summary_period {
    std::int64_t chats = 0;
    std::int64_t seconds_on_shift = 0;
    bool operator==(const summary_period&) const = default;
};
struct my_summary_ok {
    summary_period today;
    summary_period week;
    bool operator==(const my_summary_ok&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Server → client events (no `re`).

struct pong {
    static constexpr std::string_view wire_type = "pong";
    bool operator==(const pong&) const = default;
};

struct queued {
    static constexpr std::string_view wire_type = "queued";
    std::int64_t position = 1;
    // null on the wire when there is no recent matching data to estimate from (ours).
    std::optional<std::int64_t> estimated_wait_s;
    bool operator==(const queued&) const = default;
};

struct matched_peer {
    std::string alias;
    std::vector<std::string> tags;
    std::vector<std::string> shared_tags;
    x25519_public_key prekey{};
    ed25519_public_key identity_key{};
    ed25519_signature signature{}; // of prekey, by identity_key
    bool operator==(const matched_peer&) const = default;
};

// "matched" as the seeker sees it.
struct seeker_matched {
    static constexpr std::string_view wire_type = "matched";
    std::string conversation_id;
    bool relaxed = false;
    matched_peer peer;
    bool operator==(const seeker_matched&) const = default;
};

struct matched_seeker {
    x25519_public_key pubkey{};
    std::vector<std::string> tags;
    std::vector<std::string> shared_tags;
    std::int64_t waited_s = 0;
    kindred::protocol::risk risk = kindred::protocol::risk::none;
    bool operator==(const matched_seeker&) const = default;
};

// "matched" as the peer sees it.
struct peer_matched {
    static constexpr std::string_view wire_type = "matched";
    std::string conversation_id;
    x25519_public_key prekey{}; // the prekey used
    matched_seeker seeker;
    std::optional<std::string> intake; // omitted when the seeker wrote none
    bool operator==(const peer_matched&) const = default;
};

struct shift_state {
    static constexpr std::string_view wire_type = "shift";
    shift_status state = shift_status::off;
    std::int64_t active = 0;
    std::int64_t capacity = 0;
    bool operator==(const shift_state&) const = default;
};

struct prekeys_low {
    static constexpr std::string_view wire_type = "prekeys_low";
    std::int64_t remaining = 0;
    bool operator==(const prekeys_low&) const = default;
};

struct message_event {
    static constexpr std::string_view wire_type = "message";
    std::string conversation_id;
    std::int64_t offset = 1;
    role from = role::seeker;
    std::int64_t seq = 1;
    xchacha_nonce nonce{};
    bytes ciphertext;
    std::int64_t sent_at = 0; // Unix ms
    bool operator==(const message_event&) const = default;
};

struct receipt_event {
    static constexpr std::string_view wire_type = "receipt";
    std::string conversation_id;
    std::int64_t offset = 1;
    role from = role::seeker;
    bool operator==(const receipt_event&) const = default;
};

struct typing_event {
    static constexpr std::string_view wire_type = "typing";
    std::string conversation_id;
    role from = role::seeker;
    bool operator==(const typing_event&) const = default;
};

struct ended {
    static constexpr std::string_view wire_type = "ended";
    std::string conversation_id;
    ended_by by = ended_by::system;
    std::string reason; // a reason id: "done", "transfer", "peer_unavailable", ...
    bool operator==(const ended&) const = default;
};

struct joined_moderator {
    std::string alias;
    x25519_public_key pubkey{};
    bool operator==(const joined_moderator&) const = default;
};

struct joined {
    static constexpr std::string_view wire_type = "joined";
    std::string conversation_id;
    joined_moderator moderator;
    bool operator==(const joined&) const = default;
};

struct escalation_info {
    std::string id;
    std::optional<std::string> conversation_id; // null when raised while queued
    kindred::protocol::level level = kindred::protocol::level::low;
    kindred::protocol::category category = kindred::protocol::category::other;
    escalation_source source = escalation_source::seeker;
    escalation_status state = escalation_status::open;
    std::int64_t created_at = 0;                // Unix ms
    std::optional<std::string> acknowledged_by; // moderator id; null until acknowledged
    std::int64_t repaged = 0;
    std::vector<excerpt> excerpts; // only the receiving moderator's copies
    // Extensions (§8, ours): null on the wire when not set; absent is read as null.
    std::optional<std::string> note{};          // the escalate note
    std::optional<report_reason> reason{};      // source report: the report's reason
    std::optional<std::string> resolved_by{};   // moderator id, once resolved
    std::optional<resolve_outcome> outcome{};   // once resolved
    std::optional<std::int64_t> next_page_at{}; // Unix ms of the next re-page, if scheduled
    std::optional<std::string> peer{};          // the conversation's peer (username)
    bool operator==(const escalation_info&) const = default;
};

struct escalation_event {
    static constexpr std::string_view wire_type = "escalation";
    escalation_info escalation;
    bool operator==(const escalation_event&) const = default;
};

// (§8 extension) A peer's consult as one moderator on duty sees it: only its own copy.
struct consult_event {
    static constexpr std::string_view wire_type = "consult";
    std::string consult_id;
    std::optional<std::string> conversation_id; // null when not about one conversation
    std::string peer;                           // the peer's username
    x25519_public_key pubkey{};                 // seal replies to this
    bytes sealed;                               // this moderator's copy
    std::int64_t sent_at = 0;                   // Unix ms
    bool operator==(const consult_event&) const = default;
};

// (§8 extension) A moderator's answer to a consult, to the peer that asked.
struct consult_reply_event {
    static constexpr std::string_view wire_type = "consult_reply";
    std::string consult_id;
    std::string moderator; // the moderator's username
    bytes sealed;          // sealed to the consult's pubkey
    std::int64_t sent_at = 0;
    bool operator==(const consult_reply_event&) const = default;
};

using server_event = std::variant<pong, queued, seeker_matched, peer_matched, shift_state,
                                  prekeys_low, message_event, receipt_event, typing_event, ended,
                                  joined, escalation_event, consult_event, consult_reply_event>;

std::string_view type_name(const server_event& event);

} // namespace kindred::protocol
