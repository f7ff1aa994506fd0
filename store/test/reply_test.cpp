// reply_test.cpp — the reply value type and its accessors.
#include <kindred/store/reply.hpp>

#include <gtest/gtest.h>

using kindred::store::reply;

TEST(Reply, DefaultIsNil) {
    reply r;
    EXPECT_TRUE(r.is_nil());
    EXPECT_EQ(r.type(), reply::kind::nil);
    EXPECT_EQ(r.integer(), 0);
    EXPECT_TRUE(r.str().empty());
    EXPECT_TRUE(r.elements().empty());
    EXPECT_EQ(r.debug_string(), "(nil)");
}

TEST(Reply, IntegerAccessors) {
    auto r = reply::make_integer(-42);
    EXPECT_TRUE(r.is_integer());
    EXPECT_EQ(r.integer(), -42);
    EXPECT_EQ(r.to_integer(), -42);
    EXPECT_TRUE(r.str().empty());
}

TEST(Reply, StringIsBinarySafe) {
    std::string bytes("a\0b", 3);
    auto r = reply::make_string(bytes);
    EXPECT_TRUE(r.is_string());
    EXPECT_EQ(r.str().size(), 3u);
    EXPECT_EQ(r.str(), bytes);
    EXPECT_EQ(r.to_integer(), std::nullopt);
}

TEST(Reply, ToIntegerParsesOnlyWholeDecimalStrings) {
    EXPECT_EQ(reply::make_string("17").to_integer(), 17);
    EXPECT_EQ(reply::make_string("-3").to_integer(), -3);
    EXPECT_EQ(reply::make_string("17x").to_integer(), std::nullopt);
    EXPECT_EQ(reply::make_string("").to_integer(), std::nullopt);
    EXPECT_EQ(reply::make_string("99999999999999999999").to_integer(), std::nullopt);
    EXPECT_EQ(reply::make_status("17").to_integer(), std::nullopt);
    EXPECT_EQ(reply{}.to_integer(), std::nullopt);
}

TEST(Reply, StatusAndError) {
    auto ok = reply::make_status("OK");
    EXPECT_TRUE(ok.is_status());
    EXPECT_TRUE(ok.is_status("OK"));
    EXPECT_FALSE(ok.is_status("PONG"));
    auto err = reply::make_error("NOSCRIPT No matching script. Please use EVAL.");
    EXPECT_TRUE(err.is_error());
    EXPECT_TRUE(err.is_error_code("NOSCRIPT"));
    EXPECT_FALSE(err.is_error_code("NOSCRIPTX"));
    EXPECT_FALSE(err.is_error_code("ERR"));
    EXPECT_TRUE(reply::make_error("WRONGTYPE").is_error_code("WRONGTYPE"));
    EXPECT_FALSE(reply::make_string("NOSCRIPT x").is_error_code("NOSCRIPT"));
}

TEST(Reply, ArraysNestAndIndexSafely) {
    auto r = reply::make_array(
        {reply::make_string("a"), reply::make_integer(2), reply::make_array({reply{}})});
    ASSERT_TRUE(r.is_array());
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r.at(0).str(), "a");
    EXPECT_EQ(r.at(1).integer(), 2);
    EXPECT_TRUE(r.at(2).at(0).is_nil());
    EXPECT_TRUE(r.at(99).is_nil()); // out of range: nil, no throw
    EXPECT_EQ(r.debug_string(), "[\"a\", (integer) 2, [(nil)]]");
}

TEST(Reply, EqualityComparesKindAndValue) {
    EXPECT_EQ(reply::make_string("x"), reply::make_string("x"));
    EXPECT_NE(reply::make_string("x"), reply::make_status("x"));
    EXPECT_NE(reply::make_integer(1), reply::make_integer(2));
    EXPECT_EQ(reply::make_array({reply::make_integer(1)}),
              reply::make_array({reply::make_integer(1)}));
    EXPECT_NE(reply::make_array({}), reply{});
}

TEST(Reply, KindNames) {
    EXPECT_STREQ(to_string(reply::kind::array), "array");
    EXPECT_STREQ(to_string(reply::kind::nil), "nil");
}
