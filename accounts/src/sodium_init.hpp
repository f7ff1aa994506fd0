// sodium_init.hpp — libsodium must be initialised once before its RNG and hashes are used.
// sodium_init() is thread-safe and idempotent; this calls it once per process.
#pragma once

#include <sodium.h>

#include <stdexcept>

namespace kindred::accounts::detail {

inline void ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) throw std::runtime_error("libsodium could not be initialised");
}

} // namespace kindred::accounts::detail
