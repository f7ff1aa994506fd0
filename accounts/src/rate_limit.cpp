// rate_limit.cpp — the in-memory per-address login limiter.
#include "sodium_init.hpp"
#include <kindred/accounts/rate_limit.hpp>

#include <algorithm>

namespace kindred::accounts {

std::chrono::seconds retry_after_seconds(std::chrono::steady_clock::duration remaining) noexcept {
    auto s = std::chrono::ceil<std::chrono::seconds>(remaining);
    return std::max(s, std::chrono::seconds(1));
}

address_limiter::address_limiter(policy p, clock now)
    : policy_(p)
    , now_(std::move(now)) {
    detail::ensure_sodium();
    // A fresh key per process: the table holds no address, and its keys mean nothing
    // outside this process.
    randombytes_buf(siphash_key_.data(), siphash_key_.size());
    static_assert(sizeof(siphash_key_) == crypto_shorthash_KEYBYTES);
}

std::uint64_t address_limiter::key_of(std::string_view address) const noexcept {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, reinterpret_cast<const unsigned char*>(address.data()), address.size(),
                     siphash_key_.data());
    std::uint64_t k = 0;
    for (unsigned char b : out)
        k = (k << 8) | b;
    return k;
}

std::optional<std::chrono::seconds> address_limiter::check(std::string_view address) {
    const auto k = key_of(address);
    const auto now = now_();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(k);
    if (it == entries_.end()) return std::nullopt;
    const auto end = it->second.window_start + policy_.window;
    if (now >= end) {
        entries_.erase(it);
        return std::nullopt;
    }
    if (it->second.failures < policy_.max_failures) return std::nullopt;
    return retry_after_seconds(end - now);
}

void address_limiter::record_failure(std::string_view address) {
    const auto k = key_of(address);
    const auto now = now_();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(k);
    if (it != entries_.end() && now >= it->second.window_start + policy_.window) {
        entries_.erase(it);
        it = entries_.end();
    }
    if (it == entries_.end()) {
        if (entries_.size() >= policy_.max_entries) prune(now);
        it = entries_.emplace(k, entry{now, 0}).first;
    }
    ++it->second.failures;
}

void address_limiter::record_success(std::string_view address) {
    const auto k = key_of(address);
    std::lock_guard lock(mutex_);
    entries_.erase(k);
}

std::size_t address_limiter::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

// Called with the mutex held, when the table is full: drop expired windows; if none have
// expired (a wide attack), drop the oldest half — forgetting some counts is better than
// growing without bound.
void address_limiter::prune(std::chrono::steady_clock::time_point now) {
    std::erase_if(entries_,
                  [&](const auto& kv) { return now >= kv.second.window_start + policy_.window; });
    if (entries_.size() < policy_.max_entries) return;
    std::vector<std::chrono::steady_clock::time_point> starts;
    starts.reserve(entries_.size());
    for (const auto& kv : entries_)
        starts.push_back(kv.second.window_start);
    auto mid = starts.begin() + static_cast<std::ptrdiff_t>(starts.size() / 2);
    std::nth_element(starts.begin(), mid, starts.end());
    const auto cutoff = *mid;
    std::erase_if(entries_, [&](const auto& kv) { return kv.second.window_start <= cutoff; });
}

} // namespace kindred::accounts
