// codec.cpp — JSON text ⇄ typed messages (see codec.hpp and protocol/README.md for the rules).
#include "fields.hpp"
#include <kindred/protocol/codec.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <charconv>
#include <type_traits>
#include <utility>

namespace kindred::protocol {
namespace detail {

std::string cross_check(const hello& m) {
    if (m.resume_token) return {}; // a resumed session keeps its role; the server checks it
    if (!m.role) return "role: required (seeker, peer or moderator), or resume_token";
    if (*m.role != role::seeker && !m.token) {
        return "token: required for role " + std::string(to_string(*m.role));
    }
    return {};
}

std::string cross_check(const send& m) {
    for (std::size_t i = 0; i < m.copies.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            if (m.copies[j].to == m.copies[i].to) {
                return "copies[" + std::to_string(i) + "].to: duplicate recipient";
            }
        }
    }
    return {};
}

namespace {

// Reads `T` from `in`: the field list, then the cross-field checks.
template <class T>
std::string read(const json::object& in, T& out) {
    std::string error;
    reader r(in, error);
    fields(r, out);
    if (error.empty()) error = cross_check(out);
    return error;
}

template <class T>
json::object write(const T& message) {
    json::object o;
    writer w(o);
    fields(w, message);
    return o;
}

// Finds the alternative of `Variant` whose wire_type is `type`, and reads it.
// Returns false when no alternative has that type.
template <class Variant, std::size_t I = 0>
bool read_by_type(std::string_view type, const json::object& in, Variant& out, std::string& error) {
    if constexpr (I == std::variant_size_v<Variant>) {
        return false;
    } else {
        using T = std::variant_alternative_t<I, Variant>;
        if (type != T::wire_type) return read_by_type<Variant, I + 1>(type, in, out, error);
        T message{};
        error = read(in, message);
        if (error.empty()) out = std::move(message);
        return true;
    }
}

json::value parse(std::string_view text, boost::system::error_code& ec,
                  json::storage_ptr storage = {}) {
    // Defaults on purpose: nesting beyond 32 levels, comments, trailing commas and invalid
    // UTF-8 are errors.
    return json::parse(text, ec, std::move(storage), json::parse_options{});
}

// Hand-written encoders for the two frames every relayed message costs (the `message` event
// and the `ok` of a send). Their output equals, byte for byte, what the generic encoders below
// give (codec tests compare both); they skip the JSON object, its allocations and a base64
// temporary. A string they would have to escape sends them back to the generic encoder.

// True when Boost.JSON serialises `s` as itself between quotes: printable ASCII other than
// '"' and '\\' (ids are; anything else takes the generic path).
bool plain_json_text(std::string_view s) {
    for (const unsigned char c : s)
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
    return true;
}

void append_integer(std::string& out, std::int64_t v) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, v);
    out.append(digits, r.ptr);
}

// {"type":"message","conversation_id":…,"offset":…,"from":…,"seq":…,"nonce":…,
//  "ciphertext":…,"sent_at":…}: the field order of KINDRED_FIELDS(message_event).
std::optional<std::string> encode_message_fast(const message_event& e) {
    if (!plain_json_text(e.conversation_id)) return std::nullopt;
    std::string out;
    out.reserve(160 + e.conversation_id.size() + base64_encoded_size(e.ciphertext.size()));
    out += R"({"type":"message","conversation_id":")";
    out += e.conversation_id;
    out += R"(","offset":)";
    append_integer(out, e.offset);
    out += R"(,"from":")";
    out += to_string(e.from);
    out += R"(","seq":)";
    append_integer(out, e.seq);
    out += R"(,"nonce":")";
    base64_append(out, e.nonce);
    out += R"(","ciphertext":")";
    base64_append(out, e.ciphertext);
    out += R"(","sent_at":)";
    append_integer(out, e.sent_at);
    out += '}';
    return out;
}

} // namespace
} // namespace detail

namespace json = boost::json;

decoded decode_client_message(std::string_view text) {
    decoded out{{}, {}, decode_failure{}};
    auto failure = [&](error_code code, std::string message) {
        out.result = decode_failure{code, std::move(message)};
        return out;
    };

    // Decoded messages copy what they keep, so the parse tree lives in a scratch arena: small
    // frames cost no heap allocation for the tree.
    std::array<unsigned char, 4096> scratch;
    json::monotonic_resource arena(scratch.data(), scratch.size());
    boost::system::error_code ec;
    const json::value root = detail::parse(text, ec, &arena);
    if (ec) return failure(error_code::bad_json, "not valid JSON");
    const json::object* in = root.if_object();
    if (!in) return failure(error_code::bad_json, "must be a JSON object");

    const json::value* type = in->if_contains("type");
    if (type && type->is_string()) out.type.assign(type->get_string());

    if (const json::value* id = in->if_contains("id")) {
        const json::string* s = id->if_string();
        if (!s || count_code_points(*s) > limits::max_id_chars) {
            return failure(error_code::bad_message,
                           "id: must be a string of at most 64 characters");
        }
        out.id.emplace(*s);
    }

    if (!type) return failure(error_code::bad_message, "type: required");
    if (!type->is_string()) return failure(error_code::bad_message, "type: must be a string");

    client_message message;
    std::string error;
    if (!detail::read_by_type(out.type, *in, message, error)) {
        return failure(error_code::unknown_type, "unknown type");
    }
    if (!error.empty()) return failure(error_code::bad_message, std::move(error));
    out.result = std::move(message);
    return out;
}

std::string encode_ok(std::string_view re, const json::object& fields) {
    json::object o;
    o.reserve(fields.size() + 2);
    o["type"] = "ok";
    o["re"] = re;
    for (const auto& field : fields) {
        if (field.key() == "type" || field.key() == "re") continue;
        o[field.key()] = field.value();
    }
    return json::serialize(o);
}

std::string encode_ok(std::string_view re, const send_ok& result) {
    if (!detail::plain_json_text(re)) return encode_ok(re, ok_fields(result));
    std::string out;
    out.reserve(48 + re.size());
    out += R"({"type":"ok","re":")";
    out += re;
    out += R"(","offset":)";
    detail::append_integer(out, result.offset);
    out += '}';
    return out;
}

std::string encode_error(std::optional<std::string_view> re, error_code code,
                         std::string_view message, std::optional<std::int64_t> retry_after_ms) {
    json::object o;
    o["type"] = "error";
    if (re) o["re"] = *re;
    o["code"] = to_string(code);
    o["message"] = message;
    if (retry_after_ms) o["retry_after_ms"] = *retry_after_ms;
    return json::serialize(o);
}

std::string encode_error(std::optional<std::string_view> re, const decode_failure& failure) {
    return encode_error(re, failure.code, failure.message);
}

std::string encode_event(const server_event& event) {
    if (const auto* m = std::get_if<message_event>(&event)) {
        if (auto fast = detail::encode_message_fast(*m)) return std::move(*fast);
    }
    return detail::encode_event_generic(event);
}

std::string detail::encode_event_generic(const server_event& event) {
    return std::visit(
        [](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            json::object o;
            o["type"] = T::wire_type;
            detail::writer w(o);
            fields(w, e);
            return json::serialize(o);
        },
        event);
}

json::object ok_fields(const hello_ok& result) {
    return detail::write(result);
}
json::object ok_fields(const send_ok& result) {
    return detail::write(result);
}
json::object ok_fields(const sync_ok& result) {
    return detail::write(result);
}
json::object ok_fields(const moderator_keys_ok& result) {
    return detail::write(result);
}
json::object ok_fields(const join_ok& result) {
    return detail::write(result);
}
json::object ok_fields(const escalate_ok& result) {
    return detail::write(result);
}
json::object ok_fields(const consult_ok& result) {
    return detail::write(result);
}
json::object ok_fields(const my_summary_ok& result) {
    return detail::write(result);
}

std::string encode_client_message(const client_message& message,
                                  std::optional<std::string_view> id) {
    return std::visit(
        [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            json::object o;
            o["type"] = T::wire_type;
            if (id) o["id"] = *id;
            detail::writer w(o);
            fields(w, m);
            return json::serialize(o);
        },
        message);
}

std::optional<server_frame> decode_server_frame(std::string_view text) {
    boost::system::error_code ec;
    json::value root = detail::parse(text, ec);
    if (ec || !root.is_object()) return std::nullopt;
    json::object& body = root.get_object();
    const json::value* type = body.if_contains("type");
    if (!type || !type->is_string()) return std::nullopt;
    server_frame frame;
    frame.type.assign(type->get_string());
    if (const json::value* re = body.if_contains("re"); re && re->is_string()) {
        frame.re.emplace(re->get_string());
    }
    frame.body = std::move(body);
    return frame;
}

std::variant<server_event, decode_failure> decode_server_event(const server_frame& frame) {
    server_event event;
    std::string error;
    bool known = false;
    if (frame.type == "matched") {
        // The same type for both sides; the seeker's carries "peer", the peer's "seeker".
        known = true;
        if (frame.body.contains("peer")) {
            seeker_matched m;
            error = detail::read(frame.body, m);
            event = std::move(m);
        } else {
            peer_matched m;
            error = detail::read(frame.body, m);
            event = std::move(m);
        }
    } else {
        known = detail::read_by_type(frame.type, frame.body, event, error);
    }
    if (!known) return decode_failure{error_code::unknown_type, "unknown type"};
    if (!error.empty()) return decode_failure{error_code::bad_message, std::move(error)};
    return event;
}

std::optional<error_frame> decode_error_frame(const server_frame& frame) {
    if (frame.type != "error") return std::nullopt;
    const json::value* code = frame.body.if_contains("code");
    const json::value* message = frame.body.if_contains("message");
    if (!code || !code->is_string() || !message || !message->is_string()) return std::nullopt;
    auto parsed = error_code_from_string(std::string_view(code->get_string()));
    if (!parsed) return std::nullopt;
    error_frame out;
    out.re = frame.re;
    out.code = *parsed;
    out.message.assign(message->get_string());
    if (const json::value* retry = frame.body.if_contains("retry_after_ms");
        retry && retry->is_int64()) {
        out.retry_after_ms = retry->get_int64();
    }
    return out;
}

template <class T>
std::variant<T, decode_failure> decode_ok(const json::object& body) {
    T result{};
    std::string error = detail::read(body, result);
    if (!error.empty()) return decode_failure{error_code::bad_message, std::move(error)};
    return result;
}

template std::variant<hello_ok, decode_failure> decode_ok<hello_ok>(const json::object&);
template std::variant<send_ok, decode_failure> decode_ok<send_ok>(const json::object&);
template std::variant<sync_ok, decode_failure> decode_ok<sync_ok>(const json::object&);
template std::variant<moderator_keys_ok, decode_failure>
decode_ok<moderator_keys_ok>(const json::object&);
template std::variant<join_ok, decode_failure> decode_ok<join_ok>(const json::object&);
template std::variant<escalate_ok, decode_failure> decode_ok<escalate_ok>(const json::object&);
template std::variant<consult_ok, decode_failure> decode_ok<consult_ok>(const json::object&);
template std::variant<my_summary_ok, decode_failure> decode_ok<my_summary_ok>(const json::object&);

} // namespace kindred::protocol
