// keys.hpp — the accounts data model in Redis: key names, the revocation channel and its
// notice. No key holds a secret: tokens appear only as hashes, attempted login names only
// as hashes. Pure functions; safe from any thread. README.md documents each key.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kindred::accounts::keys {

// SET of every username.
inline constexpr std::string_view users = "users";
// STREAM of account changes: fields actor, action, target, at (Unix ms), detail. Shared
// with other folders' audit entries (moderation). Capped with XADD MAXLEN ~.
inline constexpr std::string_view audit = "audit";
// Pub/sub channel of token revocations (see revocation below).
inline constexpr std::string_view revoked_channel = "ctl:revoked";

// HASH user:{name} — role, alias, languages ("en,es"), disabled ("0"/"1"), password (the
// Argon2id string), created_at, updated_at, identity_key (base64, absent until registered),
// cert:<tag> = "YYYY-MM-DD" per certified tag. {name} is a Redis Cluster hash tag, so the
// user's keys share a slot.
std::string user(std::string_view username);
// SET user:{name}:tokens — hashes of this user's live tokens (dead ones pruned at login).
std::string user_tokens(std::string_view username);
// HASH token:{hash} — user, role, issued_at, expires_at; PEXPIRE = the token's lifetime.
std::string token(std::string_view token_hash);
// STRING login_fail:{h} — failed login count of one attempted name, EXPIRE = lockout window.
// h is the hex BLAKE2b-128 of the attempted name: a password typed into the name field by
// mistake never lands in a key.
std::string login_fail(std::string_view attempted_username);

} // namespace kindred::accounts::keys

namespace kindred::accounts {

// A notice on keys::revoked_channel: tokens died. Every server instance closes (4003) the
// sockets authenticated by them. Pub/sub is at-most-once, so servers also re-check the
// tokens of open staff sockets periodically (account_store::lookup_hash).
//   {"token_hash":"<64 hex>","reason":"logout"}                    one token
//   {"user":"<name>","reason":"disabled|deleted|password_changed"} every token of a user
struct revocation {
    std::string token_hash; // set for one token
    std::string user;       // set for all of a user's tokens
    std::string reason;
};

std::string format_revocation(const revocation& r);
// nullopt unless the payload is a JSON object with a well-formed token_hash or user
// (bus payloads are untrusted input).
std::optional<revocation> parse_revocation(std::string_view payload);

} // namespace kindred::accounts
