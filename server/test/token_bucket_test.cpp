// token_bucket_test.cpp — burst, refill and retry_after with a hand-stepped clock.
#include <kindred/server/token_bucket.hpp>

#include <gtest/gtest.h>

namespace ks = kindred::server;
using namespace std::chrono_literals;

TEST(TokenBucket, AllowsTheBurstThenRefuses) {
    ks::token_bucket::clock::time_point t{};
    ks::token_bucket b(20, 40, t);
    for (int i = 0; i < 40; ++i)
        ASSERT_TRUE(b.take(t).allowed) << i;
    auto d = b.take(t);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_ms, 50); // one token at 20/s
}

TEST(TokenBucket, RefillsAtTheRateUpToTheBurst) {
    ks::token_bucket::clock::time_point t{};
    ks::token_bucket b(10, 5, t);
    for (int i = 0; i < 5; ++i)
        b.take(t);
    EXPECT_FALSE(b.take(t).allowed);
    t += 100ms; // one token
    EXPECT_TRUE(b.take(t).allowed);
    EXPECT_FALSE(b.take(t).allowed);
    t += 1h; // never more than the burst
    EXPECT_DOUBLE_EQ(b.tokens(t), 5.0);
}

TEST(TokenBucket, RetryAfterShrinksAsTimePasses) {
    ks::token_bucket::clock::time_point t{};
    ks::token_bucket b(1, 1, t);
    EXPECT_TRUE(b.take(t).allowed);
    EXPECT_EQ(b.take(t).retry_after_ms, 1000);
    t += 600ms;
    EXPECT_EQ(b.take(t).retry_after_ms, 400);
}

TEST(TokenBucket, ClockSteppingBackMintsNothing) {
    ks::token_bucket::clock::time_point t{10s};
    ks::token_bucket b(100, 1, t);
    EXPECT_TRUE(b.take(t).allowed);
    EXPECT_FALSE(b.take(t - 5s).allowed);
}
