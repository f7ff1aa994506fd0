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

std::string base64_encode(std::span<const std::uint8_t> data) {
    std::string out;
    out.resize(base64_encoded_size(data.size()));
    std::size_t o = 0;
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        const std::uint32_t n =
            (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
        out[o++] = alphabet[(n >> 18) & 63];
        out[o++] = alphabet[(n >> 12) & 63];
        out[o++] = alphabet[(n >> 6) & 63];
        out[o++] = alphabet[n & 63];
    }
    const std::size_t rest = data.size() - i;
    if (rest > 0) {
        std::uint32_t n = std::uint32_t{data[i]} << 16;
        if (rest == 2) n |= std::uint32_t{data[i + 1]} << 8;
        out[o++] = alphabet[(n >> 18) & 63];
        out[o++] = alphabet[(n >> 12) & 63];
        out[o++] = rest == 2 ? alphabet[(n >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;

    std::vector<std::uint8_t> out;
    out.reserve(text.size() / 4 * 3 - padding);
    const std::size_t full = text.size() - (padding > 0 ? 4 : 0); // quads without padding
    std::size_t i = 0;
    for (; i < full; i += 4) {
        std::uint32_t n = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const std::uint8_t d = reverse[static_cast<unsigned char>(text[i + k])];
            if (d == invalid) return std::nullopt; // also rejects '=' in the middle
            n = (n << 6) | d;
        }
        out.push_back(static_cast<std::uint8_t>(n >> 16));
        out.push_back(static_cast<std::uint8_t>(n >> 8));
        out.push_back(static_cast<std::uint8_t>(n));
    }
    if (padding > 0) {
        // The last quad: "xy==" (1 byte) or "xyz=" (2 bytes).
        const std::size_t data = 4 - padding;
        std::uint32_t n = 0;
        for (std::size_t k = 0; k < data; ++k) {
            const std::uint8_t d = reverse[static_cast<unsigned char>(text[i + k])];
            if (d == invalid) return std::nullopt;
            n = (n << 6) | d;
        }
        // Non-zero bits under the padding would give a second encoding of the same bytes.
        if (padding == 2) {
            if ((n & 0x0f) != 0) return std::nullopt;
            out.push_back(static_cast<std::uint8_t>(n >> 4));
        } else {
            if ((n & 0x03) != 0) return std::nullopt;
            out.push_back(static_cast<std::uint8_t>(n >> 10));
            out.push_back(static_cast<std::uint8_t>(n >> 2));
        }
    }
    return out;
}

} // namespace kindred::protocol
