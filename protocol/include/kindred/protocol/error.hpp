// error.hpp — the contract's error codes (protocol.md §2): stable strings clients switch on.
// Pure values; safe from any thread.
#pragma once

#include <optional>
#include <string_view>

namespace kindred::protocol {

enum class error_code {
    bad_json,          // not JSON, or JSON that is not an object
    bad_message,       // a known field is missing, of the wrong type or out of range
    unknown_type,      // `type` is a string no message has
    too_large,         // over a size limit that is not the frame limit (that one closes 1009)
    not_authenticated, // anything before a successful `hello`
    forbidden,         // the session's role may not do this
    not_found,         // no such thing, or not a party of it (never a hint it exists)
    conflict,          // state forbids it now (already queued, lower seq, other identity key)
    rate_limited,      // sent with retry_after_ms
    unavailable,       // retryable: Redis or another dependency is down
    internal,          // a bug on our side; the message says nothing more
};

// The wire string: "bad_json", "bad_message", ...
std::string_view to_string(error_code code);
std::optional<error_code> error_code_from_string(std::string_view text);

} // namespace kindred::protocol
