// token.cpp — login token text and its stored hash.
#include "sodium_init.hpp"
#include <kindred/accounts/token.hpp>

#include <algorithm>
#include <array>

namespace kindred::accounts {

std::string generate_token() {
    detail::ensure_sodium();
    std::array<unsigned char, token_bytes> raw{};
    randombytes_buf(raw.data(), raw.size());
    std::array<char,
               sodium_base64_ENCODED_LEN(token_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)>
        text{};
    sodium_bin2base64(text.data(), text.size(), raw.data(), raw.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw.data(), raw.size());
    return std::string(text.data());
}

bool looks_like_token(std::string_view text) noexcept {
    return text.size() == token_chars && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
           });
}

std::string token_hash(std::string_view token) {
    detail::ensure_sodium();
    std::array<unsigned char, 32> h{};
    crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(token.data()),
                       token.size(), nullptr, 0);
    std::array<char, 65> hex{};
    sodium_bin2hex(hex.data(), hex.size(), h.data(), h.size());
    return std::string(hex.data());
}

bool looks_like_token_hash(std::string_view text) noexcept {
    return text.size() == token_hash_chars && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

} // namespace kindred::accounts
