// connection_logic.hpp — the per-connection protocol state machine, without I/O: a text frame
// (or the result of a session or account lookup) goes in; the frames to send, an optional close
// code and an optional session or account request to start come out. websocket_session.cpp
// performs the I/O. While a request is pending the connection reads nothing more, so answers
// keep their order.
// Threading: not synchronised; one instance per connection, used on that connection's strand.
#pragma once

#include <kindred/protocol/error.hpp>
#include <kindred/protocol/messages.hpp>
#include <kindred/server/config.hpp>
#include <kindred/server/token_bucket.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kindred::server {

// WebSocket close codes the server uses.
namespace close_codes {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t protocol_error = 1002; // a frame breaking RFC 6455 (Beast sends it)
inline constexpr std::uint16_t unsupported_data = 1003; // binary frame
inline constexpr std::uint16_t bad_payload = 1007;      // invalid UTF-8 (Beast sends it)
inline constexpr std::uint16_t policy = 1008;           // not_authenticated, too many bad
inline constexpr std::uint16_t too_big = 1009;          // over max_frame_bytes (Beast sends it)
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t service_restart = 1012; // shutdown
inline constexpr std::uint16_t taken_over = 4001;      // the session was resumed elsewhere
inline constexpr std::uint16_t token_revoked = 4003;   // staff token logged out/expired/disabled
inline constexpr std::uint16_t banned = 4005;          // a moderator banned this party
} // namespace close_codes

// Whether a peer may send this close code (RFC 6455 §7.4: 1000-1003, 1007-1014 as IANA
// registered them, 3000-4999; 0 stands for a close frame without a code). Beast 1.81 already
// fails the codes below 5000 that are not; it accepts and echoes 5000 and up, which the
// session fails itself with this. Pure.
constexpr bool close_code_acceptable_from_peer(std::uint16_t code) noexcept {
    return code == 0 || (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

// The device id stored for a seeker's hello.device: lowercase hex of BLAKE2b-128
// (crypto_generichash, 16-byte output, no key) of "kindred/device/v1|" followed by the 32 raw
// bytes. One-way, so a Redis dump does not reveal the secret the client keeps. Pure.
std::string device_id_of(const protocol::device_secret& secret);

struct outbound_frame {
    std::string type;                      // "ok", "error", "pong", ... (for metrics)
    std::string text;                      // the JSON text
    std::optional<std::string> error_code; // set for "error" frames (for metrics)
};

// What a staff connection is authenticated by. Never the token itself: its hash (what the
// revocation notices name), the account and the token's expiry.
struct staff_identity {
    std::string username;
    std::string token_hash;
    std::int64_t expires_at = 0; // Unix ms
    bool operator==(const staff_identity&) const = default;
};

// Work the I/O layer starts after sending the frames; it reports back via on_session_result.
struct session_request {
    enum class kind { create, resume };
    kind what = kind::create;
    protocol::role role = protocol::role::seeker; // create
    std::string token;                            // create as peer/moderator; never log it
    std::string resume_token;                     // resume; never log it
    // device_id_of(hello.device) for a seeker create or any resume (the store ignores it for a
    // staff session); empty when the hello had no device. Never log it.
    std::string device_id{};
};

// Account work for an authenticated staff connection; reported back via on_account_result.
struct account_request {
    enum class kind {
        register_identity, // store identity_key on the account (contract §5)
        load_identity,     // re-check the token and read the registered identity key
    };
    kind what = kind::load_identity;
    protocol::ed25519_public_key identity_key{}; // register_identity
};

struct account_result {
    enum class status {
        ok,
        conflict,    // register_identity: another key is registered
        token_dead,  // the token or its account is gone: logged out, expired, disabled, deleted
        unavailable, // Redis down
        internal,    // an unreadable record
    };
    status what = status::unavailable;
    std::optional<protocol::ed25519_public_key> identity_key; // load_identity, when registered
};

// An authenticated message of a type a service serves (matching, relay): the I/O layer hands
// it to the service_router and feeds the answer back with on_service_result. Reads stay
// paused until then, so answers keep their order.
struct service_request {
    std::optional<std::string> id;
    protocol::client_message message;
    std::uint64_t conn = 0; // filled in by the I/O layer
    std::string session_id;
    protocol::role role = protocol::role::seeker;
    std::optional<staff_identity> staff; // peer/moderator sessions
    std::string device_id{};             // the seeker session's device id; empty when none
};

// A service's answer to one service_request: frames for this connection (ok, error, events
// that must follow the ok) and an optional close after them.
struct service_answer {
    std::vector<outbound_frame> frames;
    std::optional<std::uint16_t> close;
    std::string close_reason;
    // A paced answer (a long sync): more frames follow. The connection calls it once its
    // outbound queue has drained below its low-water mark, with the handler for the next part
    // (which may again have `more`); nothing else is read from the client meanwhile, so the
    // answers keep their order. Called at most once; dropped when the connection closes.
    std::function<void(std::function<void(service_answer)>)> more;
};

// Frame builders shared by connection_logic and the services.
outbound_frame make_error_frame(const std::optional<std::string>& id, protocol::error_code code,
                                std::string_view message,
                                std::optional<std::int64_t> retry_after_ms = {});
outbound_frame make_ok_frame(const std::optional<std::string>& id,
                             const boost::json::object& fields = {});
outbound_frame make_event_frame(const protocol::server_event& event);
// A service's whole answer of one error frame / one ok frame.
service_answer error_answer(const std::optional<std::string>& id, protocol::error_code code,
                            std::string_view message);
service_answer ok_answer(const std::optional<std::string>& id,
                         const boost::json::object& fields = {});

struct logic_output {
    std::string in_type; // metrics label of the frame handled: a known type or "invalid"
    std::vector<outbound_frame> frames;
    std::optional<std::uint16_t> close; // after the frames
    std::string close_reason;
    std::optional<session_request> session;
    std::optional<account_request> account;
    std::optional<service_request> service;
    // Whether the I/O layer must wait for a result before reading the next frame.
    bool waits() const { return session.has_value() || account.has_value() || service.has_value(); }
};

struct session_result {
    enum class status {
        ok,
        not_found,         // resume: no such session
        not_authenticated, // staff: unknown, expired, logged-out or disabled token (close 1008)
        forbidden,         // staff: the token's account has another role (close 1008)
        unavailable,       // Redis down: try again
        internal,          // an unreadable record
        banned,            // the device, session or account is banned now (forbidden, 1008)
    };
    status what = status::unavailable;
    std::string session_id;
    protocol::role role = protocol::role::seeker;
    std::string resume_token;
    std::optional<staff_identity> staff; // ok for a peer/moderator session
    std::string device_id{};             // ok for a seeker: its device id, empty when none
    // ok: the session's conversations for the hello answer (filled in by the I/O layer from
    // the conversation log; empty when it could not be read).
    std::vector<protocol::conversation_summary> conversations;
};

// A token bucket's size and refill, per minute (so slow rates like 6 a minute are exact).
struct rate_spec {
    double per_minute = 60;
    double burst = 10;
};

struct logic_options {
    std::uint32_t max_bad_messages = 10;
    double messages_per_second = 20;
    double message_burst = 40;
    // Message types a service serves (service_router::serves); empty: none, they answer
    // `unavailable`. "prekeys" here means verified prekeys are handed on to be stored.
    std::function<bool(std::string_view type)> served;
    // Per-type buckets, spent together with the general one (both must have a token).
    rate_spec send{120, 20};
    rate_spec typing{60, 10};
    rate_spec request_match{12, 6};
    rate_spec escalate{6, 5};
    rate_spec report{6, 3};
    rate_spec consult{12, 5};
    // The escalation lane: escalate, moderator_keys, acknowledge, resolve, watch spend this
    // bucket INSTEAD of the general one, so a connection that flooded itself out of the general
    // bucket can still raise or handle an escalation (escalate also spends its own bucket).
    rate_spec escalation_lane{120, 60};
    // This many refused frames in a row (rate_limited answers and silently dropped typing)
    // close the connection 1008 "rate limit"; any admitted frame resets the count.
    std::uint32_t max_rate_limited = 50;
};

// The options of connection_logic from the server configuration (served left empty).
logic_options make_logic_options(const limits_config& limits);

// The per-type bucket a message type spends besides (or, for the lane, instead of) the general
// one. Unknown and other types spend only the general bucket.
enum class rate_lane : std::uint8_t {
    general,
    send,
    typing,
    request_match,
    escalate,
    report,
    consult,
    escalation
};
rate_lane lane_of(std::string_view type);

// Whether a role may send a message type at all (a role check, not a state check).
bool role_may_send(protocol::role r, std::string_view type);

class connection_logic {
public:
    enum class phase { awaiting_hello, hello_pending, authenticated, request_pending, closing };

    connection_logic(const logic_options& options, token_bucket::clock::time_point now);

    // One text frame from the client.
    logic_output on_text(std::string_view text, token_bucket::clock::time_point now);
    // The answer to the session_request of the last on_text.
    logic_output on_session_result(const session_result& result);
    // The answer to the account_request of the last on_text.
    logic_output on_account_result(const account_result& result);
    // The answer to the service_request of the last on_text (or on_account_result).
    // partial: more parts of the same answer follow (service_answer::more): still pending.
    logic_output on_service_result(service_answer answer, bool partial = false);
    // Another connection resumed this session: close 4001.
    logic_output on_taken_over();
    // The staff token of this connection died (logout, disable, delete, expiry): close 4003.
    logic_output on_token_dead(std::string_view reason);

    phase current() const { return phase_; }
    std::uint32_t bad_messages() const { return bad_count_; }
    // Refused frames in a row (see logic_options::max_rate_limited).
    std::uint32_t rate_limited_in_a_row() const { return limited_count_; }
    const std::string& session_id() const { return session_id_; }
    // The seeker session's device id (device_id_of), once authenticated; empty when none.
    const std::string& device_id() const { return device_id_; }
    std::optional<protocol::role> role() const { return role_; }
    // Set once a peer/moderator session is established.
    const std::optional<staff_identity>& staff() const { return staff_; }

private:
    logic_output on_decoded(const std::optional<std::string>& id,
                            const protocol::client_message& message, logic_output out);
    logic_output not_authenticated(const std::optional<std::string>& id, logic_output out);
    logic_output on_bad(const std::optional<std::string>& id, protocol::error_code code,
                        std::string_view message, logic_output out);
    logic_output on_staff_message(const std::optional<std::string>& id,
                                  const protocol::client_message& message, logic_output out);
    bool served(std::string_view type) const { return options_.served && options_.served(type); }
    logic_output to_service(const std::optional<std::string>& id, protocol::client_message message,
                            logic_output out);
    logic_output close_token_dead(const std::optional<std::string>& id, logic_output out);
    // Spends the tokens a frame of `type` costs, all or none. Refused: the wait in ms.
    std::optional<std::int64_t> admit(std::string_view type, token_bucket::clock::time_point now);

    logic_options options_;
    token_bucket bucket_;
    // Indexed by rate_lane (general unused: bucket_ is the general one).
    std::vector<token_bucket> lanes_;
    std::uint32_t limited_count_ = 0;
    phase phase_ = phase::awaiting_hello;
    std::uint32_t bad_count_ = 0;
    std::optional<std::string> pending_id_; // id of the hello or request waiting for a result
    std::optional<account_request::kind> pending_kind_;
    bool service_pending_ = false;
    std::vector<protocol::signed_prekey> pending_prekeys_; // prekeys waiting for the identity key
    std::string session_id_;
    std::string device_id_;
    std::optional<protocol::role> role_;
    std::optional<staff_identity> staff_;

    // Sends held back per conversation. A send refused (rate_limited) or failed (unavailable)
    // was not stored; if a later seq of the same conversation were stored meanwhile, the
    // client's retry would have a seq lower than a stored one — `conflict`, and the message
    // would be lost. So after such a refusal, later seqs of that conversation on this
    // connection get the same refusal without reaching Redis, until a send with seq at or
    // below the held one is stored (the retry) or the connection is replaced.
    struct held_send {
        std::int64_t seq = 0;
        protocol::error_code code = protocol::error_code::unavailable;
    };
    void hold_send(const std::string& conversation, std::int64_t seq, protocol::error_code code);
    std::unordered_map<std::string, held_send> held_sends_;
    std::optional<std::pair<std::string, std::int64_t>> pending_send_; // conversation, seq
};

} // namespace kindred::server
