// error.hpp — the accounts library's error codes, registered as the boost::system category
// "kindred.accounts". Asynchronous operations report one of these, a kindred::store error
// (Redis unreachable, timeout, ...: see is_unavailable()), or success.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace kindred::accounts {

enum class error {
    // Validation of values (untrusted or operator input).
    invalid_username = 1, // not [a-z0-9][a-z0-9._-]{2,31}
    invalid_role,         // not peer, moderator or admin
    invalid_alias,        // not 1–32 printable characters of valid UTF-8, or padded with spaces
    invalid_password,     // shorter than min_password_bytes or longer than max_password_bytes
    invalid_date,         // not a real YYYY-MM-DD date
    date_in_past,         // a certification that would already have expired
    invalid_tag,          // not a tag id ([a-z0-9_-]{1,32})
    unknown_tag,          // a tag id that is not in the catalog
    no_languages,         // an account needs at least one language
    unknown_language,     // a language id that is not in the catalog
    invalid_identity_key, // not a 32-byte Ed25519 public key (canonical, not of small order)
    invalid_actor,        // an audit actor that is not 1–64 of [A-Za-z0-9._@-]
    // Outcomes.
    not_found,       // no such account; or a token that is unknown, expired, logged out, revoked
    already_exists,  // an account with this username exists
    conflict,        // a different identity key is already registered
    bad_credentials, // login: unknown user, wrong password or disabled account (one answer)
    rate_limited,    // login: too many failures; retry_after says when to try again
    corrupt_record,  // Redis holds a record this library cannot read (a bug or manual edit)
    internal,        // libsodium could not hash (out of memory)
};

const boost::system::error_category& accounts_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), accounts_category()};
}

// True for the store's "Redis is down or slow" outcomes (not_connected, timeout,
// disconnected, stopped): answer `unavailable` (HTTP 503), the client may retry.
bool is_unavailable(const boost::system::error_code& ec) noexcept;

// True for the validation errors above (invalid_username … invalid_actor): the request
// itself is wrong (HTTP 400 / bad_message / kindredctl exit 2).
bool is_invalid_input(const boost::system::error_code& ec) noexcept;

} // namespace kindred::accounts

template <>
struct boost::system::is_error_code_enum<kindred::accounts::error> : std::true_type {};
