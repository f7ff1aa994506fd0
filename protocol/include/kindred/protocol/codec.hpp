// codec.hpp — JSON text ⇄ typed messages. Decoding validates types, ranges, lengths and
// base64 sizes (not server config: catalog tags, certified tags); it never throws on any input
// and never puts an input value into an error message (so messages are safe to log).
// Pure functions; safe from any thread.
#pragma once

#include <kindred/protocol/error.hpp>
#include <kindred/protocol/messages.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace kindred::protocol {

struct decode_failure {
    error_code code = error_code::bad_message;
    std::string message; // "<field path>: <what is wrong>", e.g. "copies[0].nonce: ..."
    bool operator==(const decode_failure&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Server side: client → server.
struct decoded {
    std::optional<std::string> id; // set whenever a valid id was present, even if the rest
                                   // failed, so the error can carry `re`
    std::string type;              // the wire type if it was a string (even unknown), else empty
    std::variant<client_message, decode_failure> result;
};
decoded decode_client_message(std::string_view text);

// {"type":"ok","re":re, ...fields}. Keys "type" and "re" in `fields` are ignored.
std::string encode_ok(std::string_view re, const boost::json::object& fields = {});
// The same text as encode_ok(re, ok_fields(result)), written directly (the ok of every send).
std::string encode_ok(std::string_view re, const send_ok& result);
// {"type":"error"[,"re":re],"code":code,"message":message[,"retry_after_ms":n]}
std::string encode_error(std::optional<std::string_view> re, error_code code,
                         std::string_view message, std::optional<std::int64_t> retry_after_ms = {});
std::string encode_error(std::optional<std::string_view> re, const decode_failure& failure);
std::string encode_event(const server_event& event);
namespace detail {
// encode_event through a JSON object for every event type; encode_event writes the `message`
// event directly and must give exactly this text (the codec tests compare them).
std::string encode_event_generic(const server_event& event);
} // namespace detail

// The result fields of typed ok answers, for encode_ok(re, ok_fields(result)).
boost::json::object ok_fields(const hello_ok& result);
boost::json::object ok_fields(const send_ok& result);
boost::json::object ok_fields(const sync_ok& result);
boost::json::object ok_fields(const moderator_keys_ok& result);
boost::json::object ok_fields(const join_ok& result);
boost::json::object ok_fields(const escalate_ok& result); // also report_ok
boost::json::object ok_fields(const consult_ok& result);
boost::json::object ok_fields(const my_summary_ok& result);

// ---------------------------------------------------------------------------------------------
// Client side (the C++ client, bench and tests): client → server encoding, server → client
// decoding.
std::string encode_client_message(const client_message& message,
                                  std::optional<std::string_view> id = {});

// Loose: any JSON object with a string "type". `re` is set when it is a string. `body` is the
// whole object (type and re included).
struct server_frame {
    std::string type;
    std::optional<std::string> re;
    boost::json::object body;
};
std::optional<server_frame> decode_server_frame(std::string_view text);

// Strict decoding of an event frame (type other than ok/error), with the same rules as the
// server's decoder. A "matched" frame is a seeker_matched when it has "peer", else peer_matched.
std::variant<server_event, decode_failure> decode_server_event(const server_frame& frame);

struct error_frame {
    std::optional<std::string> re;
    error_code code = error_code::internal;
    std::string message;
    std::optional<std::int64_t> retry_after_ms;
    bool operator==(const error_frame&) const = default;
};
// nullopt unless the frame is {"type":"error"} with a known code and a string message.
std::optional<error_frame> decode_error_frame(const server_frame& frame);

// Typed reading of an ok frame's body; T is one of hello_ok, send_ok, sync_ok,
// moderator_keys_ok, join_ok, escalate_ok (= report_ok), consult_ok, my_summary_ok.
template <class T>
std::variant<T, decode_failure> decode_ok(const boost::json::object& body);

} // namespace kindred::protocol
