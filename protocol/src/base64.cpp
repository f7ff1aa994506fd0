// base64.cpp — RFC 4648 §4 base64 with padding; the decoder is strict (see base64.hpp).
#include <kindred/protocol/base64.hpp>

#include <array>

namespace kindred::protocol {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t invalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_reverse() {
    std::array<std::uint8_t, 256> table{};
    for (auto& v : table)
        v = invalid;
    for (std::uint8_t i = 0; i < 64; ++i)
        table[static_cast<unsigned char>(alphabet[i])] = i;
    return table;
}
constexpr std::array<std::uint8_t, 256> reverse = make_reverse();

} // namespace

namespace {

// Writes the encoding of `data` at `o` (base64_encoded_size(data.size()) chars).
void encode_at(char* o, std::span<const std::uint8_t> data) {
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        const std::uint32_t n =
            (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
        *o++ = alphabet[(n >> 18) & 63];
        *o++ = alphabet[(n >> 12) & 63];
        *o++ = alphabet[(n >> 6) & 63];
        *o++ = alphabet[n & 63];
    }
    const std::size_t rest = data.size() - i;
    if (rest > 0) {
        std::uint32_t n = std::uint32_t{data[i]} << 16;
        if (rest == 2) n |= std::uint32_t{data[i + 1]} << 8;
        *o++ = alphabet[(n >> 18) & 63];
        *o++ = alphabet[(n >> 12) & 63];
        *o++ = rest == 2 ? alphabet[(n >> 6) & 63] : '=';
        *o++ = '=';
    }
}

// The number of bytes `text` decodes to, or nullopt when its length or padding cannot be
// base64 (the characters are checked by decode_at).
std::optional<std::size_t> decoded_size(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
    return text.size() / 4 * 3 - padding;
}

// Decodes `text` (whose decoded_size is `size`) into `out`; false on any invalid character
// or non-zero bits under the padding.
bool decode_at(std::string_view text, std::size_t size, std::uint8_t* out) {
    const std::size_t padding = text.size() / 4 * 3 - size;
    const std::size_t full = text.size() - (padding > 0 ? 4 : 0); // quads without padding
    std::size_t i = 0;
    for (; i < full; i += 4) {
        const std::uint8_t a = reverse[static_cast<unsigned char>(text[i])];
        const std::uint8_t b = reverse[static_cast<unsigned char>(text[i + 1])];
        const std::uint8_t c = reverse[static_cast<unsigned char>(text[i + 2])];
        const std::uint8_t d = reverse[static_cast<unsigned char>(text[i + 3])];
        // Digits are 0..63; `invalid` (also '=' in the middle) has the top bits set.
        if (((a | b | c | d) & 0xc0) != 0) return false;
        const std::uint32_t n =
            (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) | (std::uint32_t{c} << 6) | d;
        *out++ = static_cast<std::uint8_t>(n >> 16);
        *out++ = static_cast<std::uint8_t>(n >> 8);
        *out++ = static_cast<std::uint8_t>(n);
    }
    if (padding > 0) {
        // The last quad: "xy==" (1 byte) or "xyz=" (2 bytes).
        const std::size_t data = 4 - padding;
        std::uint32_t n = 0;
        for (std::size_t k = 0; k < data; ++k) {
            const std::uint8_t d = reverse[static_cast<unsigned char>(text[i + k])];
            if (d == invalid) return false;
            n = (n << 6) | d;
        }
        // Non-zero bits under the padding would give a second encoding of the same bytes.
        if (padding == 2) {
            if ((n & 0x0f) != 0) return false;
            *out++ = static_cast<std::uint8_t>(n >> 4);
        } else {
            if ((n & 0x03) != 0) return false;
            *out++ = static_cast<std::uint8_t>(n >> 10);
            *out++ = static_cast<std::uint8_t>(n >> 2);
        }
    }
    return true;
}

} // namespace

std::string base64_encode(std::span<const std::uint8_t> data) {
    std::string out;
    base64_append(out, data);
    return out;
}

void base64_append(std::string& out, std::span<const std::uint8_t> data) {
    const std::size_t at = out.size();
    out.resize(at + base64_encoded_size(data.size()));
    encode_at(out.data() + at, data);
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
    const auto size = decoded_size(text);
    if (!size) return std::nullopt;
    std::vector<std::uint8_t> out(*size);
    if (!decode_at(text, *size, out.data())) return std::nullopt;
    return out;
}

bool base64_decode_exact(std::string_view text, std::span<std::uint8_t> out) {
    const auto size = decoded_size(text);
    if (!size || *size != out.size()) return false;
    return decode_at(text, *size, out.data());
}

} // namespace kindred::protocol
