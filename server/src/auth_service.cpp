// auth_service.cpp — see auth_service.hpp. Logs one line per attempt: login_ok names the
// account (staff usernames are not secret), login_failed names only the reason — a failed
// attempt's "username" may be a mistyped password. Never a token, hash, password or address.
#include <kindred/accounts/account_store.hpp>
#include <kindred/accounts/error.hpp>
#include <kindred/server/auth_service.hpp>
#include <kindred/server/metrics.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace kindred::server {

namespace ka = kindred::accounts;
namespace json = boost::json;

struct auth_service::state {
    state(ka::account_store& a, metrics& m, auth_options o)
        : accounts(a)
        , stats(m)
        , limiter(
              o.address_policy, o.clock ? o.clock : [] { return std::chrono::steady_clock::now(); })
        , max_pending(o.max_pending_logins) {}

    ka::account_store& accounts;
    metrics& stats;
    ka::address_limiter limiter;
    std::size_t max_pending;
    std::atomic<std::size_t> pending{0};
};

namespace {

void failed(metrics& stats, std::string_view outcome) {
    stats.login_attempt(outcome);
    spdlog::info("event=login_failed reason={}", outcome);
}

} // namespace

http_response_spec login_ok_response(std::string_view token, std::string_view role,
                                     std::int64_t expires_at) {
    http_response_spec r;
    r.status = 200;
    r.content_type = "application/json";
    r.body =
        json::serialize(json::object{{"token", token}, {"role", role}, {"expires_at", expires_at}});
    return no_store(std::move(r));
}

http_response_spec rate_limited_response(std::chrono::seconds retry_after) {
    const auto s = std::max<std::int64_t>(1, retry_after.count());
    http_response_spec r;
    r.status = 429;
    r.content_type = "application/json";
    r.body = json::serialize(json::object{{"error", "rate_limited"},
                                          {"message", "too many failed logins; try again later"},
                                          {"retry_after_ms", s * 1000}});
    r.headers.emplace_back("Retry-After", std::to_string(s));
    return no_store(std::move(r));
}

auth_service::auth_service(ka::account_store& accounts, metrics& stats, auth_options options)
    : state_(std::make_shared<state>(accounts, stats, std::move(options))) {}

auth_service::~auth_service() = default;

std::size_t auth_service::pending_logins() const {
    return state_->pending.load();
}

void auth_service::login(login_request request, std::string address, reply_handler done) {
    auto& st = *state_;
    if (auto wait = st.limiter.check(address)) {
        sodium_memzero(request.password.data(), request.password.size());
        failed(st.stats, "address_limited");
        return done(rate_limited_response(*wait));
    }
    if (st.pending.fetch_add(1) >= st.max_pending) {
        st.pending.fetch_sub(1);
        sodium_memzero(request.password.data(), request.password.size());
        failed(st.stats, "busy");
        auto r = error_response(503, "unavailable", "too many logins in progress; try again");
        r.headers.emplace_back("Retry-After", "1");
        return done(no_store(std::move(r)));
    }
    // account_store wipes its copy of the password after verifying it.
    st.accounts.login(
        std::move(request.username), std::move(request.password),
        [self = state_, address = std::move(address),
         done = std::move(done)](boost::system::error_code ec, ka::login_result r) {
            self->pending.fetch_sub(1);
            if (!ec) {
                self->limiter.record_success(address);
                self->stats.login_attempt("ok");
                spdlog::info("event=login_ok user={} role={}", r.username, ka::to_string(r.role));
                return done(login_ok_response(r.token, ka::to_string(r.role), r.expires_at));
            }
            if (ec == ka::error::bad_credentials) {
                self->limiter.record_failure(address);
                failed(self->stats, "bad_credentials");
                return done(no_store(error_response(401, "not_authenticated",
                                                    "unknown username or wrong password")));
            }
            if (ec == ka::error::rate_limited) {
                // Guessing at a locked name still counts against the address.
                self->limiter.record_failure(address);
                failed(self->stats, "locked");
                return done(rate_limited_response(r.retry_after));
            }
            if (ka::is_unavailable(ec)) {
                failed(self->stats, "unavailable");
                return done(no_store(
                    error_response(503, "unavailable", "accounts are unavailable; try again")));
            }
            failed(self->stats, "internal");
            spdlog::error("event=login_error error=\"{}\"", ec.message());
            done(no_store(error_response(500, "internal", "login failed")));
        });
}

void auth_service::logout(std::string token, reply_handler done) {
    state_->accounts.logout(
        std::move(token), [done = std::move(done)](boost::system::error_code ec) {
            if (!ec) {
                spdlog::info("event=logout");
                http_response_spec r;
                r.status = 204;
                return done(no_store(std::move(r)));
            }
            if (ec == ka::error::not_found) {
                auto r = error_response(401, "not_authenticated", "unknown or expired token");
                r.headers.emplace_back("WWW-Authenticate", "Bearer");
                return done(no_store(std::move(r)));
            }
            if (ka::is_unavailable(ec))
                return done(no_store(
                    error_response(503, "unavailable", "accounts are unavailable; try again")));
            spdlog::error("event=logout_error error=\"{}\"", ec.message());
            done(no_store(error_response(500, "internal", "logout failed")));
        });
}

} // namespace kindred::server
