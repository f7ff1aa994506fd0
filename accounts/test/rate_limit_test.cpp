// rate_limit_test.cpp — the in-memory per-address login limiter, with a hand-stepped clock
// (label: unit).
#include <kindred/accounts/rate_limit.hpp>

#include <gtest/gtest.h>

using namespace kindred::accounts;
using namespace std::chrono_literals;

namespace {

struct fake_clock {
    std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
    address_limiter::clock fn() {
        return [this] { return now; };
    }
};

address_limiter::policy small_policy() {
    address_limiter::policy p;
    p.max_failures = 3;
    p.window = 60s;
    p.max_entries = 1000;
    return p;
}

} // namespace

TEST(AddressLimiter, AllowsUntilTheLimitThenLocksForTheRestOfTheWindow) {
    fake_clock c;
    address_limiter l(small_policy(), c.fn());
    const std::string a = "192.0.2.7";
    for (int i = 0; i < 3; ++i) {
        EXPECT_FALSE(l.check(a)) << i;
        l.record_failure(a);
        c.now += 5s;
    }
    // First failure at t0, now t0+15s: locked for the 45 s left.
    auto wait = l.check(a);
    ASSERT_TRUE(wait);
    EXPECT_EQ(*wait, 45s);
    c.now += 44s;
    ASSERT_TRUE(l.check(a));
    EXPECT_EQ(*l.check(a), 1s);
    c.now += 1s;
    EXPECT_FALSE(l.check(a)); // the window is over
    EXPECT_EQ(l.size(), 0u);  // and forgotten
}

TEST(AddressLimiter, RetryAfterRoundsUp) {
    fake_clock c;
    address_limiter l(small_policy(), c.fn());
    for (int i = 0; i < 3; ++i)
        l.record_failure("a");
    c.now += 59s + 500ms;
    ASSERT_TRUE(l.check("a"));
    EXPECT_EQ(*l.check("a"), 1s);
    EXPECT_EQ(retry_after_seconds(1ms), 1s);
    EXPECT_EQ(retry_after_seconds(1001ms), 2s);
    EXPECT_EQ(retry_after_seconds(0ms), 1s);
}

TEST(AddressLimiter, AddressesAreCountedSeparately) {
    fake_clock c;
    address_limiter l(small_policy(), c.fn());
    for (int i = 0; i < 3; ++i)
        l.record_failure("198.51.100.1");
    EXPECT_TRUE(l.check("198.51.100.1"));
    EXPECT_FALSE(l.check("198.51.100.2"));
    EXPECT_FALSE(l.check("2001:db8::1"));
}

TEST(AddressLimiter, SuccessForgetsFailures) {
    fake_clock c;
    address_limiter l(small_policy(), c.fn());
    l.record_failure("a");
    l.record_failure("a");
    l.record_success("a");
    EXPECT_EQ(l.size(), 0u);
    l.record_failure("a");
    l.record_failure("a");
    EXPECT_FALSE(l.check("a"));
}

TEST(AddressLimiter, NewWindowStartsAfterTheOldOneEnds) {
    fake_clock c;
    address_limiter l(small_policy(), c.fn());
    l.record_failure("a");
    l.record_failure("a");
    c.now += 61s;
    l.record_failure("a"); // old window over: this is failure 1 of a new one
    EXPECT_FALSE(l.check("a"));
    l.record_failure("a");
    l.record_failure("a");
    EXPECT_TRUE(l.check("a"));
}

TEST(AddressLimiter, MemoryIsBounded) {
    fake_clock c;
    auto p = small_policy();
    p.max_entries = 100;
    address_limiter l(p, c.fn());
    for (int i = 0; i < 1000; ++i) {
        l.record_failure("10.0.0." + std::to_string(i));
        c.now += 1ms;
    }
    EXPECT_LE(l.size(), 100u);
    // The newest address is still tracked.
    l.record_failure("10.0.0.999");
    l.record_failure("10.0.0.999");
    EXPECT_TRUE(l.check("10.0.0.999"));
}

TEST(AddressLimiter, ExpiredEntriesArePrunedFirstWhenFull) {
    fake_clock c;
    auto p = small_policy();
    p.max_entries = 10;
    address_limiter l(p, c.fn());
    for (int i = 0; i < 10; ++i)
        l.record_failure("old" + std::to_string(i));
    c.now += 2min;
    l.record_failure("new");
    EXPECT_EQ(l.size(), 1u);
}
