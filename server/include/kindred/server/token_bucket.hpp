// token_bucket.hpp — per-connection rate limit: `rate` tokens per second up to `burst`.
// The clock is passed in (steady_clock time points), so tests step time by hand.
// Threading: not synchronised; a connection uses its bucket on its own strand only.
#pragma once

#include <chrono>
#include <cstdint>

namespace kindred::server {

class token_bucket {
public:
    using clock = std::chrono::steady_clock;

    // Starts full.
    token_bucket(double rate_per_s, double burst, clock::time_point now);

    struct decision {
        bool allowed = false;
        std::int64_t retry_after_ms = 0; // when refused: time until one token, at least 1
    };
    // Takes one token when there is one.
    decision take(clock::time_point now);
    double tokens(clock::time_point now);

private:
    void refill(clock::time_point now);
    double rate_;
    double burst_;
    double tokens_;
    clock::time_point last_;
};

} // namespace kindred::server
