// staff.hpp — peer accounts for a benchmark run, made straight in Redis through
// kindred::accounts with Argon2id's test-only minimum cost (kindredctl always hashes at the
// interactive cost, ~0.1 s each: an hour for a thousand peers), then logged in the same way
// to get their tokens. The server reads the cost from each hash, so nothing else changes.
// Threading: call from one thread; it runs its own io_context thread while it works.
#pragma once

#include <string>
#include <vector>

namespace kindred::bench {

struct staff_request {
    std::string redis;                  // "unix:/path" or "tcp://host:port"
    std::vector<std::string> usernames; // new, unique names
    std::string tag;                    // certified until 2099 (must be in the server's catalog)
    std::string language;
};

// One login token per username, in order. Throws std::runtime_error naming the first failure.
std::vector<std::string> create_peer_tokens(const staff_request& request);

} // namespace kindred::bench
