// account_store.hpp — staff accounts, login tokens and identity keys in Redis, over
// kindred::store::client. Every change is one Lua script (accounts/lua/) that also appends
// its audit entry and, when tokens die, publishes the revocation notice — so a change, its
// audit entry and its notice happen together or not at all.
//
// Threading: member functions may be called from any thread. Handlers run on the Redis
// client's strand, or — for the steps after a password hash (login, create, set_password)
// when options.run_blocking hands work to another thread — on that thread. A handler never
// runs inside the call that started it. Callers that need their own strand post to it.
// Handlers report success, an accounts::error, or a kindred::store error (is_unavailable()).
//
// Lifetime: the store::client must outlive every pending operation; the account_store itself
// may be destroyed with operations pending (they hold what they need).
#pragma once

#include <kindred/accounts/error.hpp>
#include <kindred/accounts/model.hpp>
#include <kindred/accounts/password.hpp>
#include <kindred/accounts/rate_limit.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kindred::store {
class client;
}

namespace kindred::accounts {

struct account_store_options {
    // Tags and languages an account may hold (the server configuration's catalog).
    accounts::catalog catalog;
    // Lifetime of a login token (config; default 12 h).
    std::chrono::milliseconds token_lifetime = std::chrono::hours(12);
    // Argon2id cost of new hashes and of the dummy hash. Never below interactive() outside
    // tests.
    password_limits limits = password_limits::interactive();
    // Runs a CPU-heavy job (Argon2id) somewhere that may block, e.g. a boost::asio::thread_pool.
    // Empty: the job runs inline — on the client's strand for login, in the caller's thread
    // for create/set_password. Fine for kindredctl and tests; the server must set it.
    std::function<void(std::function<void()>)> run_blocking;
    // Unix time in ms; empty: the system clock. Tests inject one for certification dates.
    std::function<std::int64_t()> now_ms;
    // Per-username login lockout.
    lockout_policy lockout;
    // XADD audit MAXLEN ~ this.
    std::size_t audit_max_len = 1'000'000;
};

// A fresh account. The password comes separately (it is hashed, never stored).
struct new_account {
    std::string username;
    accounts::role role = role::peer;
    std::string alias;
    std::vector<std::string> languages;
};

struct login_result {
    std::string token; // the bearer secret; shown to the client once, never stored or logged
    std::string username;
    accounts::role role = role::peer;
    std::string alias;
    std::int64_t expires_at = 0;         // Unix ms
    std::chrono::seconds retry_after{0}; // with error::rate_limited: for Retry-After
};

struct token_info {
    std::string token_hash; // what the revocation notice names
    std::int64_t expires_at = 0;
    accounts::account account; // as it is now (role, alias, certifications, identity key)
};

class account_store {
public:
    using done_handler = std::function<void(boost::system::error_code)>;
    using account_handler = std::function<void(boost::system::error_code, account)>;
    using list_handler = std::function<void(boost::system::error_code, std::vector<account>)>;
    using login_handler = std::function<void(boost::system::error_code, login_result)>;
    using token_handler = std::function<void(boost::system::error_code, token_info)>;

    account_store(store::client& redis, account_store_options options);
    ~account_store();
    account_store(const account_store&) = delete;
    account_store& operator=(const account_store&) = delete;

    const account_store_options& options() const noexcept;

    // ---- reads -------------------------------------------------------------------------
    // not_found when there is no such account (also for a malformed username).
    void get(std::string username, account_handler h);
    // Every account, sorted by username.
    void list(list_handler h);

    // ---- changes by an operator (audited with `actor`) ---------------------------------
    // Validates every field (invalid_* / unknown_* / no_languages), hashes the password,
    // creates the account. already_exists when the username is taken.
    void create(std::string actor, new_account a, std::string password, done_handler h);
    // New password hash; revokes every token of the user and clears its login lockout.
    void set_password(std::string actor, std::string username, std::string password,
                      done_handler h);
    // Disable: revokes every token and refuses login until enabled. Enable: allows login.
    void set_disabled(std::string actor, std::string username, bool disabled, done_handler h);
    // Deletes the account and revokes every token.
    void remove(std::string actor, std::string username, done_handler h);
    // Certifies catalog tags until the end of `until` (UTC), replacing earlier dates of
    // those tags. Errors: invalid_tag, unknown_tag, invalid_date, date_in_past.
    void certify(std::string actor, std::string username, std::vector<std::string> tags,
                 std::string until, done_handler h);
    // Removes certifications. Tags need not be in the catalog (a tag dropped from it can
    // still be revoked); ones the account does not hold are ignored.
    void revoke_tags(std::string actor, std::string username, std::vector<std::string> tags,
                     done_handler h);
    void set_alias(std::string actor, std::string username, std::string alias, done_handler h);
    void set_languages(std::string actor, std::string username, std::vector<std::string> languages,
                       done_handler h);
    // Forgets the registered identity key, so the peer's client can register a new one.
    void reset_identity(std::string actor, std::string username, done_handler h);

    // ---- the peer's own identity key (contract §5; audited with the username as actor) --
    // Success when none was registered (stores it) or the same key is registered; conflict
    // when another key is; not_found for no such account; invalid_identity_key.
    void register_identity(std::string username, identity_key key, done_handler h);

    // ---- authentication ------------------------------------------------------------------
    // Checks the username lockout (rate_limited with retry_after), then the password against
    // the stored hash — or against a dummy hash when the account does not exist or is
    // disabled, so that every failure costs the same time and gives the same answer:
    // bad_credentials. On success issues a token (token_lifetime) and clears the lockout.
    // The client address is not this function's business: see address_limiter.
    void login(std::string username, std::string password, login_handler h);
    // The live token's account: not_found when the token is malformed, unknown, expired,
    // logged out or revoked, or its account is disabled or deleted.
    void lookup(std::string token, token_handler h);
    // The same by token hash (for re-checking open sockets, which keep only the hash).
    void lookup_hash(std::string token_hash, token_handler h);
    // Deletes the token and publishes {"token_hash":…,"reason":"logout"}. not_found when
    // the token was not live.
    void logout(std::string token, done_handler h);

    class impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace kindred::accounts
