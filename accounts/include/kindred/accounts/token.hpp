// token.hpp — staff login tokens: 256 random bits as base64url text (the bearer secret), and
// the BLAKE2b hash under which a token is stored — Redis never holds the token itself.
// Pure functions apart from libsodium's RNG; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kindred::accounts {

inline constexpr std::size_t token_bytes = 32;      // 256 bits of randomness
inline constexpr std::size_t token_chars = 43;      // base64url without padding
inline constexpr std::size_t token_hash_chars = 64; // hex of a 32-byte BLAKE2b

// A fresh token: token_bytes random bytes, base64url (RFC 4648 §5) without padding.
std::string generate_token();

// Whether `text` has the shape generate_token() produces (length and alphabet). Anything
// else cannot be a token: answer not_found without asking Redis.
bool looks_like_token(std::string_view text) noexcept;

// Lower-case hex of the 32-byte crypto_generichash (BLAKE2b, unkeyed) of the token text.
// Tokens carry 256 random bits, so an unkeyed fast hash is enough: nobody can invert it or
// guess a preimage.
std::string token_hash(std::string_view token);

// Whether `text` is a token hash as token_hash() prints it (64 lower-case hex digits).
bool looks_like_token_hash(std::string_view text) noexcept;

} // namespace kindred::accounts
