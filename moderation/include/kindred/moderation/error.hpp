// error.hpp — the moderation store's error codes, registered as the boost::system category
// "kindred.moderation", and the table that maps them (and the store's errors) to the
// contract's error codes. Pure values; safe from any thread.
#pragma once

#include <kindred/protocol/error.hpp>

#include <boost/system/error_code.hpp>

#include <string_view>
#include <type_traits>

namespace kindred::moderation {

enum class error {
    // A malformed id, or an id (conversation, session, username) that cannot name anything.
    // Refused before Redis is touched.
    not_found = 1,
    // Redis holds (or answered) something this library cannot read. Nothing more was written.
    corrupt,
};

const boost::system::error_category& moderation_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), moderation_category()};
}

// True for the store's "Redis is down or slow" outcomes (not_connected, timeout,
// disconnected, stopped): the server answers `unavailable`.
bool is_unavailable(const boost::system::error_code& ec) noexcept;

struct contract_error {
    protocol::error_code code = protocol::error_code::internal;
    std::string_view message; // never holds user data
};

// not_found → not_found "not found"; store outages → unavailable "storage unavailable, retry";
// corrupt and anything else → internal "internal error". Do not call it without an error.
contract_error to_contract(const boost::system::error_code& ec) noexcept;

} // namespace kindred::moderation

template <>
struct boost::system::is_error_code_enum<kindred::moderation::error> : std::true_type {};
