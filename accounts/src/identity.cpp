// identity.cpp — Ed25519 identity keys and prekey signatures (libsodium).
#include "sodium_init.hpp"
#include <kindred/accounts/identity.hpp>
#include <kindred/protocol/base64.hpp>

namespace kindred::accounts {

bool valid_identity_key(const identity_key& key) noexcept {
    try {
        detail::ensure_sodium();
    } catch (...) {
        return false;
    }
    return crypto_core_ed25519_is_valid_point(key.data()) == 1;
}

boost::system::result<identity_key> parse_identity_key(std::string_view base64) {
    if (base64.size() != protocol::base64_encoded_size(32))
        return make_error_code(error::invalid_identity_key);
    auto bytes = protocol::base64_decode(base64);
    if (!bytes || bytes->size() != 32) return make_error_code(error::invalid_identity_key);
    identity_key key{};
    std::copy(bytes->begin(), bytes->end(), key.begin());
    if (!valid_identity_key(key)) return make_error_code(error::invalid_identity_key);
    return key;
}

std::string identity_key_to_base64(const identity_key& key) {
    return protocol::base64_encode(key);
}

bool verify_prekey(const identity_key& key, const prekey_bytes& prekey,
                   const signature_bytes& signature) noexcept {
    try {
        detail::ensure_sodium();
    } catch (...) {
        return false;
    }
    return crypto_sign_verify_detached(signature.data(), prekey.data(), prekey.size(),
                                       key.data()) == 0;
}

} // namespace kindred::accounts
