// script.cpp — Lua script value and the SHA1 that names it in EVALSHA (FIPS 180-4). A small
// local implementation: hiredis has none, and it saves a SCRIPT LOAD round trip at start-up.
#include <kindred/store/script.hpp>

#include <array>
#include <cstdint>

namespace kindred::store {
namespace {

constexpr std::uint32_t rotl(std::uint32_t x, int n) {
    return (x << n) | (x >> (32 - n));
}

class sha1_state {
public:
    void update(std::string_view bytes) {
        for (unsigned char c : bytes) {
            block_[fill_++] = c;
            if (fill_ == 64) {
                compress();
                fill_ = 0;
            }
        }
        length_ += bytes.size();
    }

    std::array<std::uint8_t, 20> finish() {
        std::uint64_t bits = length_ * 8;
        block_[fill_++] = 0x80;
        if (fill_ > 56) {
            while (fill_ < 64)
                block_[fill_++] = 0;
            compress();
            fill_ = 0;
        }
        while (fill_ < 56)
            block_[fill_++] = 0;
        for (int i = 7; i >= 0; --i)
            block_[fill_++] = static_cast<std::uint8_t>(bits >> (i * 8));
        compress();
        std::array<std::uint8_t, 20> out{};
        for (int i = 0; i < 5; ++i)
            for (int j = 0; j < 4; ++j)
                out[i * 4 + j] = static_cast<std::uint8_t>(h_[i] >> (24 - j * 8));
        return out;
    }

private:
    void compress() {
        std::uint32_t w[80];
        for (int i = 0; i < 16; ++i)
            w[i] = std::uint32_t(block_[i * 4]) << 24 | std::uint32_t(block_[i * 4 + 1]) << 16 |
                   std::uint32_t(block_[i * 4 + 2]) << 8 | std::uint32_t(block_[i * 4 + 3]);
        for (int i = 16; i < 80; ++i)
            w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4];
        for (int i = 0; i < 80; ++i) {
            std::uint32_t f, k;
            if (i < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            } else if (i < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
            e = d;
            d = c;
            c = rotl(b, 30);
            b = a;
            a = t;
        }
        h_[0] += a;
        h_[1] += b;
        h_[2] += c;
        h_[3] += d;
        h_[4] += e;
    }

    std::uint32_t h_[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    std::uint8_t block_[64] = {};
    std::size_t fill_ = 0;
    std::uint64_t length_ = 0;
};

} // namespace

std::string sha1_hex(std::string_view bytes) {
    sha1_state state;
    state.update(bytes);
    auto digest = state.finish();
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(40);
    for (auto b : digest) {
        out += hex[b >> 4];
        out += hex[b & 0xF];
    }
    return out;
}

script::script(std::string source) {
    auto sha = sha1_hex(source);
    data_ = std::make_shared<const data>(data{std::move(source), std::move(sha)});
}

} // namespace kindred::store
