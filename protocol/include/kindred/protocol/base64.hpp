// base64.hpp — standard base64 with padding (RFC 4648 §4), the contract's encoding for keys,
// nonces, signatures and ciphertext. Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::protocol {

std::string base64_encode(std::span<const std::uint8_t> data);
// Appends the encoding of `data` to `out` (the hot encoders write base64 straight into the
// frame instead of through a temporary string).
void base64_append(std::string& out, std::span<const std::uint8_t> data);

// Strict: the length must be a multiple of 4, only the standard alphabet, '=' only as the last
// one or two characters, and the unused bits before the padding must be zero. So every byte
// string has exactly one accepted encoding and decode → encode gives back the same text.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);
// Decodes `text` into exactly `out.size()` bytes, without allocating; false when `text` is not
// strict base64 of that many bytes (fixed-size fields: nonces, keys, signatures).
bool base64_decode_exact(std::string_view text, std::span<std::uint8_t> out);

// Bytes that `encoded_chars` characters of padded base64 can hold at most, and the number of
// characters `byte_count` bytes take. Used to size-check before decoding.
constexpr std::size_t base64_encoded_size(std::size_t byte_count) {
    return (byte_count + 2) / 3 * 4;
}
constexpr std::size_t base64_max_decoded_size(std::size_t encoded_chars) {
    return encoded_chars / 4 * 3;
}

} // namespace kindred::protocol
