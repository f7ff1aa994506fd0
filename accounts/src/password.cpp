// password.cpp — Argon2id through libsodium's crypto_pwhash_str family.
#include "sodium_init.hpp"
#include <kindred/accounts/password.hpp>

#include <array>
#include <cstdint>

namespace kindred::accounts {

password_limits password_limits::interactive() noexcept {
    return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}

password_limits password_limits::moderate() noexcept {
    return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}

password_limits password_limits::test_only_minimum() noexcept {
    return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

std::optional<std::string> hash_password(std::string_view password, password_limits limits) {
    detail::ensure_sodium();
    std::array<char, crypto_pwhash_STRBYTES> out{};
    // crypto_pwhash_str is Argon2id in libsodium >= 1.0.15.
    if (crypto_pwhash_str(out.data(), password.data(), password.size(), limits.opslimit,
                          limits.memlimit) != 0)
        return std::nullopt;
    return std::string(out.data());
}

bool verify_password(std::string_view encoded, std::string_view password) {
    detail::ensure_sodium();
    // libsodium wants a NUL-terminated string no longer than crypto_pwhash_STRBYTES - 1.
    if (encoded.empty() || encoded.size() >= crypto_pwhash_STRBYTES ||
        encoded.find('\0') != std::string_view::npos)
        return false;
    std::string z(encoded);
    return crypto_pwhash_str_verify(z.c_str(), password.data(), password.size()) == 0;
}

std::optional<std::string> make_dummy_hash(password_limits limits) {
    return hash_password(generate_password(32), limits);
}

std::string generate_password(std::size_t chars) {
    detail::ensure_sodium();
    std::string out;
    out.reserve(chars);
    const auto n = static_cast<std::uint32_t>(generated_password_alphabet.size());
    for (std::size_t i = 0; i < chars; ++i)
        out.push_back(generated_password_alphabet[randombytes_uniform(n)]);
    return out;
}

} // namespace kindred::accounts
