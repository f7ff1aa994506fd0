// integration_accounts.hpp — makes many certified peer accounts fast, straight through
// kindred::accounts with Argon2id's test-only minimum cost (the server reads the cost from the
// hash, so logins verify fast too). kindredctl always hashes at the interactive cost (~0.1 s
// and 64 MiB each), too slow for the 60 accounts of the race test.
// Threading: call from the test's thread; it runs its own io_context thread while it works.
// The header is Asio-free.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace kindred::itest {

// Creates each username as a peer (alias "Alias <name>", language en) with password
// password_of(username), certified for `tags` until 2099-01-01. Records a test failure for
// any account that could not be made.
void create_certified_peers(const std::filesystem::path& redis_socket,
                            const std::vector<std::string>& usernames,
                            const std::vector<std::string>& tags);

// The password create_certified_peers gives username.
std::string password_of(const std::string& username);

} // namespace kindred::itest
