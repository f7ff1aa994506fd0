// samples.hpp — sample binary values and JSON helpers shared by the protocol tests.
#pragma once

#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/messages.hpp>

#include <boost/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kindred::protocol::test {

// `n` bytes counting up from `first`, so different fields get different values.
inline std::vector<std::uint8_t> sample_bytes(std::size_t n, std::uint8_t first = 1) {
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<std::uint8_t>(first + i);
    return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> sample_array(std::uint8_t first = 1) {
    std::array<std::uint8_t, N> out{};
    for (std::size_t i = 0; i < N; ++i)
        out[i] = static_cast<std::uint8_t>(first + i);
    return out;
}

inline std::string b64(std::size_t n, std::uint8_t first = 1) {
    return base64_encode(sample_bytes(n, first));
}

// Base64 texts of the sizes the contract fixes.
inline const std::string key32 = b64(32);       // X25519 / Ed25519 public key
inline const std::string sig64 = b64(64, 100);  // Ed25519 signature
inline const std::string nonce24 = b64(24, 50); // XChaCha20 nonce
inline const std::string ct48 = b64(48, 7);     // a ciphertext
inline const std::string sealed64 = b64(64, 9); // a crypto_box_seal

// Replaces "$K", "$S", "$N", "$C", "$E" in a JSON template with the samples above, so the
// tables stay readable.
inline std::string fill(std::string text) {
    const std::pair<std::string_view, const std::string*> subs[] = {
        {"$K", &key32}, {"$S", &sig64}, {"$N", &nonce24}, {"$C", &ct48}, {"$E", &sealed64}};
    for (const auto& [from, to] : subs) {
        for (std::size_t at = text.find(from); at != std::string::npos;
             at = text.find(from, at + to->size())) {
            text.replace(at, from.size(), *to);
        }
    }
    return text;
}

inline boost::json::value parse_json(const std::string& text) {
    return boost::json::parse(text);
}

} // namespace kindred::protocol::test
