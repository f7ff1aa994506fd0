// token_bucket.cpp — see token_bucket.hpp.
#include <kindred/server/token_bucket.hpp>

#include <algorithm>
#include <cmath>

namespace kindred::server {

token_bucket::token_bucket(double rate_per_s, double burst, clock::time_point now)
    : rate_(rate_per_s > 0 ? rate_per_s : 1)
    , burst_(burst >= 1 ? burst : 1)
    , tokens_(burst_)
    , last_(now) {}

void token_bucket::refill(clock::time_point now) {
    // A clock that steps back (it should not: steady) must not mint tokens.
    if (now <= last_) return;
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    last_ = now;
}

double token_bucket::tokens(clock::time_point now) {
    refill(now);
    return tokens_;
}

token_bucket::decision token_bucket::take(clock::time_point now) {
    refill(now);
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return {true, 0};
    }
    double wait_s = (1.0 - tokens_) / rate_;
    auto ms = static_cast<std::int64_t>(std::ceil(wait_s * 1000.0));
    return {false, std::max<std::int64_t>(ms, 1)};
}

} // namespace kindred::server
