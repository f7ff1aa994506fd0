// password.hpp — staff passwords: Argon2id hashes in libsodium's self-describing string
// format (crypto_pwhash_str), verification, generated one-time passwords.
// Pure functions apart from libsodium's RNG; safe from any thread. Hashing is CPU- and
// memory-heavy on purpose (interactive limits: ~0.1 s and 64 MiB): never on an I/O thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kindred::accounts {

// Argon2id cost parameters.
struct password_limits {
    unsigned long long opslimit = 0;
    std::size_t memlimit = 0;

    // crypto_pwhash_OPSLIMIT/MEMLIMIT_INTERACTIVE: the floor for real accounts.
    static password_limits interactive() noexcept;
    // crypto_pwhash_OPSLIMIT/MEMLIMIT_MODERATE: stronger, ~0.7 s and 256 MiB.
    static password_limits moderate() noexcept;
    // crypto_pwhash_*_MIN. TESTS ONLY, so that a test can hash many passwords quickly; the
    // server and kindredctl never use it.
    static password_limits test_only_minimum() noexcept;
};

// The encoded Argon2id hash ("$argon2id$v=19$m=...,t=...,p=1$salt$hash") of the password
// with a random salt; nullopt when libsodium cannot allocate the memory.
std::optional<std::string> hash_password(std::string_view password,
                                         password_limits limits = password_limits::interactive());

// Whether `password` matches `encoded` (a crypto_pwhash_str string). False for any
// malformed hash. Takes the time the hash's own parameters ask for.
bool verify_password(std::string_view encoded, std::string_view password);

// A hash of a random password nobody knows, with the given limits: verified against when the
// user does not exist or is disabled, so that those cases cost the same time as a wrong
// password. nullopt when libsodium cannot allocate.
std::optional<std::string> make_dummy_hash(password_limits limits);

// The alphabet of generated passwords: no 0/O, 1/l/I (read aloud or copied by hand).
inline constexpr std::string_view generated_password_alphabet =
    "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
inline constexpr std::size_t generated_password_chars = 20; // ~116 bits

// A uniformly random password of `chars` characters from generated_password_alphabet.
std::string generate_password(std::size_t chars = generated_password_chars);

} // namespace kindred::accounts
