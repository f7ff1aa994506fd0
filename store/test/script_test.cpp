// script_test.cpp — the local SHA1 that names scripts for EVALSHA (FIPS 180 test vectors).
#include <kindred/store/script.hpp>

#include <gtest/gtest.h>

#include <string>

using kindred::store::script;
using kindred::store::sha1_hex;

TEST(Sha1, MatchesStandardVectors) {
    EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    EXPECT_EQ(sha1_hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1, HandlesBlockBoundaries) {
    // 55, 56 and 64 bytes: the padding needs one block, two blocks, one more block.
    EXPECT_EQ(sha1_hex(std::string(55, 'a')), "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    EXPECT_EQ(sha1_hex(std::string(56, 'a')), "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    EXPECT_EQ(sha1_hex(std::string(64, 'a')), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

TEST(Script, NamesItselfBySha1OfTheSource) {
    script s("return 1");
    EXPECT_EQ(s.source(), "return 1");
    EXPECT_EQ(s.sha1(), sha1_hex("return 1"));
    EXPECT_EQ(s.sha1().size(), 40u);
    script copy = s;
    EXPECT_EQ(&copy.source(), &s.source()); // copies share the source
}
