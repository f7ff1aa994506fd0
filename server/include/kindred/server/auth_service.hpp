// auth_service.hpp — POST /v1/auth/login and /v1/auth/logout behind the routes: the
// per-address limiter (memory only), a bound on logins waiting for a password hash, the
// account store, and the HTTP answers (200/204/401/429/503). Asio-free.
// Threading: login() and logout() may be called from any thread. The reply handler runs on
// the Redis client's strand or on a password-hash thread (account_store's rules), or inside
// the call when the answer is immediate (limited, busy): callers post to their own strand.
// Lifetime: the account_store and metrics must outlive every pending reply; the service
// itself may be destroyed with replies pending (they hold its shared state).
#pragma once

#include <kindred/accounts/rate_limit.hpp>
#include <kindred/server/http_routes.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace kindred::accounts {
class account_store;
}

namespace kindred::server {

class metrics;

struct auth_options {
    accounts::address_limiter::policy address_policy;
    // steady_clock::now by default; tests step it by hand.
    accounts::address_limiter::clock clock;
    // Logins allowed in flight at once (hash threads + their queue); more answer 503 at
    // once, so a flood cannot queue unbounded Argon2id work (64 MiB each).
    std::size_t max_pending_logins = 34;
};

class auth_service {
public:
    using reply_handler = std::function<void(http_response_spec)>;

    auth_service(accounts::account_store& accounts, metrics& stats, auth_options options);
    ~auth_service();
    auth_service(const auth_service&) = delete;
    auth_service& operator=(const auth_service&) = delete;

    // `address` is the client's IP address: used for the limiter only, never stored or logged.
    void login(login_request request, std::string address, reply_handler done);
    void logout(std::string token, reply_handler done);

    // Logins started and not yet answered.
    std::size_t pending_logins() const;

    struct state;

private:
    std::shared_ptr<state> state_;
};

// The answers, shared with tests.
http_response_spec login_ok_response(std::string_view token, std::string_view role,
                                     std::int64_t expires_at);
http_response_spec rate_limited_response(std::chrono::seconds retry_after);

} // namespace kindred::server
