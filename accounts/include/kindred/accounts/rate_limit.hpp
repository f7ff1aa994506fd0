// rate_limit.hpp — brute-force limits on staff login.
//   * Per username: counted in Redis by account_store::login (lockout_policy below), so that
//     every server instance sees the same count.
//   * Per client address: address_limiter, IN MEMORY ONLY. The address is never stored,
//     logged or kept as text: entries are keyed by a SipHash of it under a random per-process
//     key, and forgotten when their window ends.
// Threading: address_limiter is safe to call from any thread (one mutex; every call is
// O(1) apart from a rare prune when the table is full). No clock of its own: it reads the
// injected one, so tests step time by hand.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace kindred::accounts {

// Per username: more than max_failures failed logins within `window` of the first one lock
// the name for the rest of that window (every attempt counts while locked; a success
// clears the count).
struct lockout_policy {
    std::uint32_t max_failures = 5;
    std::chrono::seconds window{15 * 60};
};

// Seconds to put in Retry-After for `remaining` time left (rounded up, at least 1).
std::chrono::seconds retry_after_seconds(std::chrono::steady_clock::duration remaining) noexcept;

class address_limiter {
public:
    using clock = std::function<std::chrono::steady_clock::time_point()>;

    struct policy {
        std::uint32_t max_failures = 20;      // failed logins per address per window
        std::chrono::seconds window{15 * 60}; // fixed window from the first failure
        std::size_t max_entries = 100'000;    // memory bound: past it, the oldest are dropped
    };

    address_limiter(policy p, clock now);

    // nullopt: the address may try now; else how long it must wait (for Retry-After).
    std::optional<std::chrono::seconds> check(std::string_view address);
    // A failed login from this address (wrong password, unknown user, disabled account).
    void record_failure(std::string_view address);
    // A successful login: forget this address's failures.
    void record_success(std::string_view address);
    // Addresses currently tracked (for tests and metrics).
    std::size_t size() const;

private:
    struct entry {
        std::chrono::steady_clock::time_point window_start;
        std::uint32_t failures = 0;
    };
    std::uint64_t key_of(std::string_view address) const noexcept;
    void prune(std::chrono::steady_clock::time_point now);

    policy policy_;
    clock now_;
    std::array<unsigned char, 16> siphash_key_{};
    mutable std::mutex mutex_;
    std::unordered_map<std::uint64_t, entry> entries_;
};

} // namespace kindred::accounts
