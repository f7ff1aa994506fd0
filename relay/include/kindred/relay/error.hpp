// error.hpp — the relay's error codes, registered as the boost::system category "kindred.relay",
// and the one table that maps them (and the store's errors) to the contract's error codes.
// Pure values; safe from any thread.
#pragma once

#include <kindred/protocol/error.hpp>

#include <boost/system/error_code.hpp>

#include <string_view>
#include <type_traits>

namespace kindred::relay {

enum class error {
    // No such conversation, a malformed id, or the caller is not one of its parties. One
    // answer for all of them: never a hint that the conversation exists.
    not_found = 1,
    // append / add_party on a conversation that has ended.
    ended,
    // append: a seq lower than the sender's last stored one, and not itself stored.
    seq_conflict,
    // append: the copies are not exactly one per other party present (missing, extra, for
    // the sender itself, for a party not in the conversation, or twice for one party).
    bad_copies,
    // append: seq outside 1..2^53-1.
    invalid_seq,
    // read: after outside 0..2^53-1.
    invalid_after,
    // end: reason is not a reason id ([a-z0-9_-]{1,64}).
    invalid_reason,
    // create: the conversation id is taken by other parties (an id generator bug).
    already_exists,
    // Redis holds something this library cannot read, or a log whose top entry is above the
    // meta's last_offset (a manual edit or a bug). Nothing was written.
    corrupt,
};

const boost::system::error_category& relay_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), relay_category()};
}

// True for the store's "Redis is down or slow" outcomes (not_connected, timeout,
// disconnected, stopped). After timeout/disconnected an append may have been stored: the
// client retries with the same seq and gets the original offset.
bool is_unavailable(const boost::system::error_code& ec) noexcept;

// What the server answers for an error of this library or of the store.
struct contract_error {
    protocol::error_code code = protocol::error_code::internal;
    // The contract's `message`: names the field for bad_message; never holds user data.
    std::string_view message;
};

// The table (relay/README.md lists it too):
//   not_found                      → not_found    "conversation not found"
//   ended                          → conflict     "conversation ended"
//   seq_conflict                   → conflict     "seq is lower than one already stored"
//   bad_copies                     → bad_message  "copies"
//   invalid_seq / invalid_after    → bad_message  "seq" / "after"
//   invalid_reason                 → bad_message  "reason"
//   already_exists, corrupt        → internal     "internal error"
//   store not_connected, timeout,
//   disconnected, stopped          → unavailable  "storage unavailable, retry"
//   any other store error          → internal     "internal error"
// Success maps to internal (a caller bug); do not call it without an error.
contract_error to_contract(const boost::system::error_code& ec) noexcept;

} // namespace kindred::relay

template <>
struct boost::system::is_error_code_enum<kindred::relay::error> : std::true_type {};
