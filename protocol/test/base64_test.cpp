// base64_test.cpp — RFC 4648 test vectors and the strict decoder's rejects.
#include <kindred/protocol/base64.hpp>

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace {

using namespace kindred::protocol;

std::vector<std::uint8_t> bytes_of(std::string_view s) {
    return {s.begin(), s.end()};
}

struct vector_case {
    const char* plain;
    const char* encoded;
};

// RFC 4648 §10.
constexpr vector_case rfc_vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(Base64, EncodesRfc4648Vectors) {
    for (const auto& v : rfc_vectors) {
        EXPECT_EQ(base64_encode(bytes_of(v.plain)), v.encoded) << v.plain;
    }
}

TEST(Base64, DecodesRfc4648Vectors) {
    for (const auto& v : rfc_vectors) {
        auto decoded = base64_decode(v.encoded);
        ASSERT_TRUE(decoded.has_value()) << v.encoded;
        EXPECT_EQ(*decoded, bytes_of(v.plain)) << v.encoded;
    }
}

TEST(Base64, RoundTripsEveryByteValueAndLength) {
    std::vector<std::uint8_t> all;
    for (int i = 0; i < 256; ++i)
        all.push_back(static_cast<std::uint8_t>(i));
    for (std::size_t n = 0; n <= all.size(); n += 1) {
        std::vector<std::uint8_t> slice(all.begin(), all.begin() + static_cast<long>(n));
        const std::string text = base64_encode(slice);
        EXPECT_EQ(text.size(), base64_encoded_size(n));
        auto back = base64_decode(text);
        ASSERT_TRUE(back.has_value()) << n;
        EXPECT_EQ(*back, slice) << n;
    }
}

TEST(Base64, UsesTheStandardAlphabetNotUrlSafe) {
    EXPECT_EQ(base64_encode(std::vector<std::uint8_t>{0xfb, 0xff}), "+/8=");
}

TEST(Base64, RejectsMalformedText) {
    const char* rejects[] = {
        "Zg",       // no padding
        "Zg=",      // length not a multiple of 4
        "Zm9vY",    // length not a multiple of 4
        "Z===",     // three padding characters
        "====",     // only padding
        "Zg==Zg==", // padding in the middle
        "Zm=v",     // '=' inside a quad
        "Zm9v\n",   // whitespace
        " Zm9v",    // whitespace
        "Zm9-",     // URL-safe alphabet
        "Zm9_",     // URL-safe alphabet
        "Zm9.",     // not in any alphabet
        "Zh==",     // non-zero bits under the padding ("Zg==" is the encoding)
        "Zm9=",     // non-zero bits under the padding ("Zm8=" is the encoding)
    };
    for (const char* text : rejects)
        EXPECT_FALSE(base64_decode(text).has_value()) << text;
}

TEST(Base64, RejectsNulAndHighBytes) {
    EXPECT_FALSE(base64_decode(std::string_view("Zm\0v", 4)).has_value());
    EXPECT_FALSE(base64_decode("Zm\xc3\xa9").has_value());
}

} // namespace

TEST(Base64Exact, DecodesExactlyTheRequestedSizeWithoutAllocating) {
    for (std::size_t n = 0; n < 40; ++n) {
        std::vector<std::uint8_t> data(n);
        for (std::size_t i = 0; i < n; ++i)
            data[i] = static_cast<std::uint8_t>(i * 37 + n);
        const std::string text = kindred::protocol::base64_encode(data);
        std::vector<std::uint8_t> out(n, 0xee);
        EXPECT_TRUE(kindred::protocol::base64_decode_exact(text, out)) << text;
        EXPECT_EQ(out, data);
        // One byte more or less than the text holds is refused.
        std::vector<std::uint8_t> longer(n + 1);
        EXPECT_FALSE(kindred::protocol::base64_decode_exact(text, longer)) << text;
        if (n > 0) {
            std::vector<std::uint8_t> shorter(n - 1);
            EXPECT_FALSE(kindred::protocol::base64_decode_exact(text, shorter)) << text;
        }
        std::string appended = "x";
        kindred::protocol::base64_append(appended, data);
        EXPECT_EQ(appended, "x" + text);
    }
}

TEST(Base64Exact, RefusesWhatTheVectorDecoderRefuses) {
    std::array<std::uint8_t, 2> two{};
    std::array<std::uint8_t, 1> one{};
    EXPECT_FALSE(kindred::protocol::base64_decode_exact("AB*=", two));
    EXPECT_FALSE(kindred::protocol::base64_decode_exact("AAB=", two)); // bits under padding
    EXPECT_FALSE(kindred::protocol::base64_decode_exact("AB==", one)); // bits under padding
    EXPECT_FALSE(kindred::protocol::base64_decode_exact("A===", one));
    EXPECT_FALSE(kindred::protocol::base64_decode_exact("AA=A", two));
    EXPECT_TRUE(kindred::protocol::base64_decode_exact("AAA=", two));
    EXPECT_TRUE(kindred::protocol::base64_decode_exact("AA==", one));
}
