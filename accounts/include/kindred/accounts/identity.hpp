// identity.hpp — a peer's Ed25519 identity key (contract §5): checking one, its base64 form,
// and verifying that a prekey was signed by it. Pure functions; safe from any thread.
#pragma once

#include <kindred/accounts/model.hpp>

#include <boost/system/result.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace kindred::accounts {

using prekey_bytes = std::array<std::uint8_t, 32>;    // X25519 public key
using signature_bytes = std::array<std::uint8_t, 64>; // Ed25519 detached signature

// A usable Ed25519 public key: canonical encoding of a point in the main subgroup, not of
// small order (crypto_core_ed25519_is_valid_point). Rejects all-zero and similar junk keys.
bool valid_identity_key(const identity_key& key) noexcept;

// Standard base64 with padding (the contract's encoding) of exactly 32 bytes that pass
// valid_identity_key. Error: invalid_identity_key.
boost::system::result<identity_key> parse_identity_key(std::string_view base64);
std::string identity_key_to_base64(const identity_key& key);

// crypto_sign_verify_detached(signature, prekey, identity_key) == 0: the prekey bytes were
// signed by the identity key. False for any bad signature or unusable key; never throws.
bool verify_prekey(const identity_key& key, const prekey_bytes& prekey,
                   const signature_bytes& signature) noexcept;

} // namespace kindred::accounts
