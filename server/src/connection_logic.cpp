// connection_logic.cpp — see connection_logic.hpp. Rules (server/README.md lists them):
// - every frame first spends its tokens: the general bucket and, for send, typing,
//   request_match, escalate, report and consult, its own bucket too; the escalation lane
//   (escalate, moderator_keys, acknowledge, resolve, watch) spends the lane bucket instead of
//   the general one. Without a token the answer is rate_limited (a typing without id is
//   dropped silently) and the frame counts towards nothing else; max_rate_limited refusals in
//   a row close 1008;
// - a frame that does not decode gets its decode error and counts as bad; max_bad_messages
//   bad frames in a row close 1008; any frame that decodes resets the count;
// - before hello, any message of another known type (valid or with invalid fields) is
//   not_authenticated and closes 1008; bad JSON and unknown types get their decode error;
// - after hello: role check (forbidden), then what exists (ping, and for peers
//   register_identity and prekeys) or unavailable;
// - a staff hello waits for the token lookup; unknown/dead token → not_authenticated, another
//   role → forbidden, both closing 1008 (a client with the wrong credentials starts over);
// - a dead staff token closes 4003, whether the monitor noticed it or a request found it.
#include <kindred/accounts/identity.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/server/connection_logic.hpp>

#include <boost/json/serialize.hpp>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace kindred::server {

namespace {

using protocol::error_code;
using protocol::role;

outbound_frame error_frame(const std::optional<std::string>& id, error_code code,
                           std::string_view message,
                           std::optional<std::int64_t> retry_after_ms = {}) {
    return make_error_frame(id, code, message, retry_after_ms);
}

outbound_frame ok_frame(const std::optional<std::string>& id, boost::json::object fields = {}) {
    return make_ok_frame(id, fields);
}

// Types any authenticated role may send; then per role.
constexpr std::array<std::string_view, 9> any_role{
    "hello", "ping", "send", "receipt", "typing", "sync", "end", "escalate", "moderator_keys"};
constexpr std::array<std::string_view, 4> seeker_only{"request_match", "cancel_match", "report",
                                                      "feedback"};
constexpr std::array<std::string_view, 11> peer_only{
    "prekeys",      "register_identity", "shift_start", "shift_pause",
    "shift_resume", "shift_end",         "transfer",    "block",
    "report",       "consult",           "my_summary"};
constexpr std::array<std::string_view, 7> moderator_only{
    "watch", "acknowledge", "resolve", "join", "ban", "unwatch", "consult_reply"};

constexpr std::array<std::string_view, 5> escalation_lane{"escalate", "moderator_keys",
                                                          "acknowledge", "resolve", "watch"};

constexpr std::size_t lane_count = static_cast<std::size_t>(rate_lane::escalation) + 1;

token_bucket make_bucket(const rate_spec& r, token_bucket::clock::time_point now) {
    return token_bucket(r.per_minute / 60.0, r.burst, now);
}

template <std::size_t N>
bool in(const std::array<std::string_view, N>& list, std::string_view type) {
    return std::find(list.begin(), list.end(), type) != list.end();
}

} // namespace

outbound_frame make_error_frame(const std::optional<std::string>& id, error_code code,
                                std::string_view message,
                                std::optional<std::int64_t> retry_after_ms) {
    std::optional<std::string_view> re;
    if (id) re = *id;
    return {"error", protocol::encode_error(re, code, message, retry_after_ms),
            std::string(protocol::to_string(code))};
}

outbound_frame make_ok_frame(const std::optional<std::string>& id,
                             const boost::json::object& fields) {
    if (id) return {"ok", protocol::encode_ok(*id, fields), std::nullopt};
    // An ok for a message without id carries no "re" (contract §2: no id, no re).
    boost::json::object o;
    o["type"] = "ok";
    for (const auto& kv : fields)
        o[kv.key()] = kv.value();
    return {"ok", boost::json::serialize(o), std::nullopt};
}

outbound_frame make_event_frame(const protocol::server_event& event) {
    return {std::string(protocol::type_name(event)), protocol::encode_event(event), std::nullopt};
}

service_answer error_answer(const std::optional<std::string>& id, protocol::error_code code,
                            std::string_view message) {
    service_answer a;
    a.frames.push_back(make_error_frame(id, code, message));
    return a;
}

service_answer ok_answer(const std::optional<std::string>& id, const boost::json::object& fields) {
    service_answer a;
    a.frames.push_back(make_ok_frame(id, fields));
    return a;
}

std::string device_id_of(const protocol::device_secret& secret) {
    static constexpr std::string_view domain = "kindred/device/v1|";
    std::array<unsigned char, domain.size() + std::tuple_size_v<protocol::device_secret>> input{};
    std::copy(domain.begin(), domain.end(), input.begin());
    std::copy(secret.begin(), secret.end(), input.begin() + domain.size());
    std::array<unsigned char, 16> hash{};
    crypto_generichash(hash.data(), hash.size(), input.data(), input.size(), nullptr, 0);
    sodium_memzero(input.data(), input.size()); // the secret must not linger on the stack
    std::string hex(hash.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), hash.data(), hash.size());
    hex.pop_back();
    return hex;
}

logic_options make_logic_options(const limits_config& limits) {
    auto spec = [](std::uint32_t per_minute, std::uint32_t burst) {
        return rate_spec{static_cast<double>(per_minute), static_cast<double>(burst)};
    };
    logic_options o;
    o.max_bad_messages = limits.max_bad_messages;
    o.messages_per_second = static_cast<double>(limits.messages_per_second);
    o.message_burst = static_cast<double>(limits.message_burst);
    o.send = spec(limits.send_per_minute, limits.send_burst);
    o.typing = spec(limits.typing_per_minute, limits.typing_burst);
    o.request_match = spec(limits.request_match_per_minute, limits.request_match_burst);
    o.escalate = spec(limits.escalate_per_minute, limits.escalate_burst);
    o.report = spec(limits.report_per_minute, limits.report_burst);
    o.consult = spec(limits.consult_per_minute, limits.consult_burst);
    o.escalation_lane = spec(limits.escalation_lane_per_minute, limits.escalation_lane_burst);
    o.max_rate_limited = limits.max_rate_limited;
    return o;
}

rate_lane lane_of(std::string_view type) {
    if (type == protocol::send::wire_type) return rate_lane::send;
    if (type == protocol::typing::wire_type) return rate_lane::typing;
    if (type == protocol::request_match::wire_type) return rate_lane::request_match;
    if (type == protocol::escalate::wire_type) return rate_lane::escalate;
    if (type == protocol::report::wire_type) return rate_lane::report;
    if (type == protocol::consult::wire_type) return rate_lane::consult;
    if (in(escalation_lane, type)) return rate_lane::escalation;
    return rate_lane::general;
}

bool role_may_send(role r, std::string_view type) {
    if (in(any_role, type)) return true;
    switch (r) {
    case role::seeker:
        return in(seeker_only, type);
    case role::peer:
        return in(peer_only, type);
    case role::moderator:
        return in(moderator_only, type);
    }
    return false;
}

connection_logic::connection_logic(const logic_options& options,
                                   token_bucket::clock::time_point now)
    : options_(options)
    , bucket_(options.messages_per_second, options.message_burst, now) {
    lanes_.reserve(lane_count);
    lanes_.push_back(token_bucket(1, 1, now)); // general: bucket_ instead
    for (const rate_spec* r :
         {&options_.send, &options_.typing, &options_.request_match, &options_.escalate,
          &options_.report, &options_.consult, &options_.escalation_lane})
        lanes_.push_back(make_bucket(*r, now));
}

std::optional<std::int64_t> connection_logic::admit(std::string_view type,
                                                    token_bucket::clock::time_point now) {
    const rate_lane lane = lane_of(type);
    // The buckets this frame spends: at most two. All or none, so a refusal by one does not
    // cost a token of the other.
    std::array<token_bucket*, 2> spend{nullptr, nullptr};
    if (lane == rate_lane::escalation) {
        spend[0] = &lanes_[static_cast<std::size_t>(rate_lane::escalation)];
    } else if (lane == rate_lane::escalate) {
        spend[0] = &lanes_[static_cast<std::size_t>(rate_lane::escalation)];
        spend[1] = &lanes_[static_cast<std::size_t>(rate_lane::escalate)];
    } else {
        spend[0] = &bucket_;
        if (lane != rate_lane::general) spend[1] = &lanes_[static_cast<std::size_t>(lane)];
    }
    std::int64_t wait_ms = 0;
    for (token_bucket* b : spend) {
        // take() spends nothing when it refuses, so it doubles as "how long until a token".
        if (b && b->tokens(now) < 1.0) wait_ms = std::max(wait_ms, b->take(now).retry_after_ms);
    }
    if (wait_ms > 0) return wait_ms;
    for (token_bucket* b : spend) {
        if (b) b->take(now);
    }
    return std::nullopt;
}

logic_output connection_logic::on_text(std::string_view text, token_bucket::clock::time_point now) {
    logic_output out;
    if (phase_ == phase::closing) {
        out.in_type = "ignored";
        return out;
    }
    auto decoded = protocol::decode_client_message(text);
    const auto* failure = std::get_if<protocol::decode_failure>(&decoded.result);
    // Metrics labels come from the closed set of known types: a bad_message always has a
    // known type (unknown ones are unknown_type), anything else is "invalid".
    if (!failure)
        out.in_type =
            std::string(protocol::type_name(std::get<protocol::client_message>(decoded.result)));
    else if (failure->code == error_code::bad_message && !decoded.type.empty())
        out.in_type = decoded.type;
    else
        out.in_type = "invalid";

    // Only a known type picks a bucket: unknown ones spend the general bucket alone.
    const std::string_view rate_type =
        failure && failure->code != error_code::bad_message ? std::string_view{} : decoded.type;
    if (auto wait_ms = admit(rate_type, now)) {
        // Typing is a hint: over its limit it is dropped unless the client asked for an answer.
        if (rate_type != protocol::typing::wire_type || decoded.id) {
            out.frames.push_back(error_frame(decoded.id, error_code::rate_limited,
                                             "too many messages; slow down", *wait_ms));
        }
        if (!failure && phase_ == phase::authenticated) {
            if (const auto* s = std::get_if<protocol::send>(
                    &std::get<protocol::client_message>(decoded.result)))
                hold_send(s->conversation_id, s->seq, error_code::rate_limited);
        }
        if (++limited_count_ >= options_.max_rate_limited) {
            phase_ = phase::closing;
            out.close = close_codes::policy;
            out.close_reason = "rate limit";
        }
        return out;
    }
    limited_count_ = 0;
    if (phase_ == phase::hello_pending || phase_ == phase::request_pending) {
        // The I/O layer stops reading while a request is pending; this is only a safety net.
        out.frames.push_back(error_frame(decoded.id, error_code::conflict,
                                         phase_ == phase::hello_pending ? "hello in progress"
                                                                        : "request in progress"));
        return out;
    }
    if (failure && phase_ == phase::awaiting_hello && failure->code == error_code::bad_message &&
        !decoded.type.empty() && decoded.type != protocol::hello::wire_type) {
        // A known type other than hello is "anything else" even with invalid fields: only
        // frames with no type to judge by (bad JSON, unknown type) get their decode error.
        return not_authenticated(decoded.id, std::move(out));
    }
    if (failure) return on_bad(decoded.id, failure->code, failure->message, std::move(out));
    bad_count_ = 0;
    return on_decoded(decoded.id, std::get<protocol::client_message>(decoded.result),
                      std::move(out));
}

logic_output connection_logic::not_authenticated(const std::optional<std::string>& id,
                                                 logic_output out) {
    out.frames.push_back(error_frame(id, error_code::not_authenticated, "say hello first"));
    phase_ = phase::closing;
    out.close = close_codes::policy;
    out.close_reason = "not authenticated";
    return out;
}

logic_output connection_logic::on_bad(const std::optional<std::string>& id, error_code code,
                                      std::string_view message, logic_output out) {
    out.frames.push_back(error_frame(id, code, message));
    if (++bad_count_ >= options_.max_bad_messages) {
        phase_ = phase::closing;
        out.close = close_codes::policy;
        out.close_reason = "too many bad messages";
    }
    return out;
}

logic_output connection_logic::on_decoded(const std::optional<std::string>& id,
                                          const protocol::client_message& message,
                                          logic_output out) {
    const std::string_view type = protocol::type_name(message);

    if (phase_ == phase::awaiting_hello) {
        const auto* h = std::get_if<protocol::hello>(&message);
        if (!h) return not_authenticated(id, std::move(out));
        // Only seekers have a device (staff are accounts); a resumed session's role is known
        // only to the store, which ignores the device for staff sessions.
        std::string device = h->device ? device_id_of(*h->device) : std::string();
        if (h->resume_token) {
            out.session = session_request{session_request::kind::resume,
                                          role::seeker,
                                          {},
                                          *h->resume_token,
                                          std::move(device)};
        } else if (h->role == role::seeker) {
            out.session = session_request{
                session_request::kind::create, role::seeker, {}, {}, std::move(device)};
        } else {
            // The codec guarantees a token for peer and moderator.
            out.session =
                session_request{session_request::kind::create, *h->role, h->token.value_or(""), {}};
        }
        pending_id_ = id;
        phase_ = phase::hello_pending;
        return out;
    }

    // Authenticated.
    if (type == protocol::hello::wire_type) {
        out.frames.push_back(error_frame(id, error_code::conflict, "already said hello"));
        return out;
    }
    if (!role_may_send(*role_, type)) {
        out.frames.push_back(
            error_frame(id, error_code::forbidden,
                        "not allowed for role " + std::string(protocol::to_string(*role_))));
        return out;
    }
    if (type == protocol::ping::wire_type) {
        out.frames.push_back(
            {"pong", protocol::encode_event(protocol::server_event{protocol::pong{}}), {}});
        if (id) out.frames.push_back(ok_frame(id));
        return out;
    }
    if (type == protocol::register_identity::wire_type || type == protocol::prekeys::wire_type)
        return on_staff_message(id, message, std::move(out));
    if (served(type)) return to_service(id, message, std::move(out));
    out.frames.push_back(error_frame(id, error_code::unavailable, "not implemented yet"));
    return out;
}

logic_output connection_logic::on_staff_message(const std::optional<std::string>& id,
                                                const protocol::client_message& message,
                                                logic_output out) {
    if (!staff_) {
        // A peer session always carries its staff identity; a record without one (written by an
        // older server) cannot be checked, so it may not change the account.
        out.frames.push_back(
            error_frame(id, error_code::not_authenticated, "log in again and say hello"));
        return out;
    }
    if (const auto* r = std::get_if<protocol::register_identity>(&message)) {
        if (!accounts::valid_identity_key(r->identity_key)) {
            out.frames.push_back(error_frame(id, error_code::bad_message,
                                             "identity_key: not a usable Ed25519 public key"));
            return out;
        }
        out.account = account_request{account_request::kind::register_identity, r->identity_key};
    } else {
        // Prekeys are checked against the key registered NOW (an admin may have reset it), so
        // the account is read again; that read also re-checks the token.
        pending_prekeys_ = std::get<protocol::prekeys>(message).keys;
        out.account = account_request{account_request::kind::load_identity, {}};
    }
    pending_id_ = id;
    pending_kind_ = out.account->what;
    phase_ = phase::request_pending;
    return out;
}

void connection_logic::hold_send(const std::string& conversation, std::int64_t seq,
                                 error_code code) {
    auto [it, inserted] = held_sends_.try_emplace(conversation, held_send{seq, code});
    if (!inserted && seq <= it->second.seq) it->second = held_send{seq, code};
}

logic_output connection_logic::to_service(const std::optional<std::string>& id,
                                          protocol::client_message message, logic_output out) {
    pending_send_.reset();
    if (const auto* s = std::get_if<protocol::send>(&message)) {
        if (auto it = held_sends_.find(s->conversation_id);
            it != held_sends_.end() && s->seq > it->second.seq) {
            out.frames.push_back(
                error_frame(id, it->second.code,
                            "message seq " + std::to_string(it->second.seq) +
                                " of this conversation was not stored; send it again first",
                            it->second.code == error_code::rate_limited ? 250 : 1000));
            return out;
        }
        pending_send_.emplace(s->conversation_id, s->seq);
    }
    service_request r;
    r.id = id;
    r.message = std::move(message);
    r.session_id = session_id_;
    r.role = *role_;
    r.staff = staff_;
    r.device_id = device_id_;
    out.service = std::move(r);
    service_pending_ = true;
    phase_ = phase::request_pending;
    return out;
}

logic_output connection_logic::on_service_result(service_answer answer, bool partial) {
    logic_output out;
    if (phase_ != phase::request_pending || !service_pending_) return out; // closed meanwhile
    out.in_type = "service";
    out.frames = std::move(answer.frames);
    if (partial && !answer.close) return out; // the request is still being answered
    service_pending_ = false;
    if (pending_send_) {
        auto [conversation, seq] = std::move(*pending_send_);
        pending_send_.reset();
        const auto* answer_frame = out.frames.empty() ? nullptr : &out.frames.front();
        if (answer_frame && answer_frame->type == "ok") {
            // Stored (or a retry of a stored one): a hold at or above this seq is over.
            if (auto it = held_sends_.find(conversation);
                it != held_sends_.end() && seq >= it->second.seq)
                held_sends_.erase(it);
        } else if (answer_frame && answer_frame->error_code == "unavailable") {
            hold_send(conversation, seq, error_code::unavailable);
        }
    }
    phase_ = phase::authenticated;
    if (answer.close) {
        phase_ = phase::closing;
        out.close = answer.close;
        out.close_reason = std::move(answer.close_reason);
    }
    return out;
}

logic_output connection_logic::close_token_dead(const std::optional<std::string>& id,
                                                logic_output out) {
    out.frames.push_back(error_frame(id, error_code::not_authenticated,
                                     "the login token is no longer valid; log in again"));
    phase_ = phase::closing;
    out.close = close_codes::token_revoked;
    out.close_reason = "token revoked";
    return out;
}

logic_output connection_logic::on_account_result(const account_result& result) {
    logic_output out;
    if (phase_ != phase::request_pending || !pending_kind_) return out; // closed meanwhile
    const auto kind = *pending_kind_;
    out.in_type = kind == account_request::kind::register_identity
                      ? std::string(protocol::register_identity::wire_type)
                      : std::string(protocol::prekeys::wire_type);
    auto id = std::move(pending_id_);
    pending_id_.reset();
    pending_kind_.reset();
    auto keys = std::move(pending_prekeys_);
    pending_prekeys_.clear();
    phase_ = phase::authenticated;

    switch (result.what) {
    case account_result::status::token_dead:
        return close_token_dead(id, std::move(out));
    case account_result::status::unavailable:
        out.frames.push_back(
            error_frame(id, error_code::unavailable, "accounts are unavailable; try again"));
        return out;
    case account_result::status::internal:
        out.frames.push_back(error_frame(id, error_code::internal, "account record unreadable"));
        return out;
    case account_result::status::conflict:
        out.frames.push_back(
            error_frame(id, error_code::conflict,
                        "a different identity key is registered; an administrator must reset it"));
        return out;
    case account_result::status::ok:
        break;
    }
    if (kind == account_request::kind::register_identity) {
        out.frames.push_back(ok_frame(id));
        return out;
    }
    if (!result.identity_key) {
        out.frames.push_back(error_frame(id, error_code::conflict,
                                         "no identity key registered: register_identity first"));
        return out;
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (!accounts::verify_prekey(*result.identity_key, keys[i].prekey, keys[i].signature)) {
            out.frames.push_back(error_frame(
                id, error_code::bad_message,
                "keys[" + std::to_string(i) +
                    "].signature: does not verify against the registered identity key"));
            return out;
        }
    }
    // Verified: a matching service stores them (and answers the ok); without one they are
    // verified only.
    if (served(protocol::prekeys::wire_type)) {
        protocol::prekeys verified;
        verified.keys = std::move(keys);
        return to_service(id, protocol::client_message{std::move(verified)}, std::move(out));
    }
    out.frames.push_back(ok_frame(id, boost::json::object{{"verified", keys.size()}}));
    return out;
}

logic_output connection_logic::on_token_dead(std::string_view reason) {
    logic_output out;
    out.in_type = "revoked";
    if (phase_ == phase::closing) return out;
    phase_ = phase::closing;
    pending_id_.reset();
    pending_kind_.reset();
    pending_prekeys_.clear();
    service_pending_ = false;
    out.close = close_codes::token_revoked;
    out.close_reason = std::string(reason);
    return out;
}

logic_output connection_logic::on_session_result(const session_result& result) {
    logic_output out;
    out.in_type = "hello";
    if (phase_ != phase::hello_pending)
        return out; // closed or taken over meanwhile: nothing to answer
    auto id = std::move(pending_id_);
    pending_id_.reset();
    switch (result.what) {
    case session_result::status::ok: {
        phase_ = phase::authenticated;
        session_id_ = result.session_id;
        role_ = result.role;
        staff_ = result.staff;
        device_id_ = result.role == role::seeker ? result.device_id : std::string();
        protocol::hello_ok ok{result.session_id, result.role, result.resume_token,
                              result.conversations};
        out.frames.push_back(ok_frame(id, protocol::ok_fields(ok)));
        break;
    }
    case session_result::status::not_authenticated:
        out.frames.push_back(error_frame(id, error_code::not_authenticated,
                                         "unknown, expired or revoked token; log in again"));
        phase_ = phase::closing;
        out.close = close_codes::policy;
        out.close_reason = "not authenticated";
        break;
    case session_result::status::forbidden:
        out.frames.push_back(
            error_frame(id, error_code::forbidden, "this token's account may not take that role"));
        phase_ = phase::closing;
        out.close = close_codes::policy;
        out.close_reason = "wrong role";
        break;
    case session_result::status::banned:
        // Contract §8 (ours): a banned party is told so and starts over (after the ban).
        out.frames.push_back(error_frame(id, error_code::forbidden, "banned"));
        phase_ = phase::closing;
        out.close = close_codes::policy;
        out.close_reason = "banned";
        break;
    case session_result::status::internal:
        phase_ = phase::awaiting_hello;
        out.frames.push_back(error_frame(id, error_code::internal, "session record unreadable"));
        break;
    case session_result::status::not_found:
        phase_ = phase::awaiting_hello;
        out.frames.push_back(
            error_frame(id, error_code::not_found, "session expired; say hello with a role"));
        break;
    case session_result::status::unavailable:
        phase_ = phase::awaiting_hello;
        out.frames.push_back(
            error_frame(id, error_code::unavailable, "sessions are unavailable; try again"));
        break;
    }
    return out;
}

logic_output connection_logic::on_taken_over() {
    logic_output out;
    out.in_type = "takeover";
    if (phase_ == phase::closing) return out;
    phase_ = phase::closing;
    out.close = close_codes::taken_over;
    out.close_reason = "session resumed elsewhere";
    return out;
}

} // namespace kindred::server
