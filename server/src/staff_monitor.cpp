// staff_monitor.cpp — see staff_monitor.hpp. Asio timers only (no Beast). Logs the reason and
// the connection id of each close; never a token, hash or username from a notice.
#include <kindred/accounts/account_store.hpp>
#include <kindred/accounts/error.hpp>
#include <kindred/accounts/keys.hpp>
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/paced.hpp>
#include <kindred/server/staff_monitor.hpp>
#include <kindred/store/subscriber.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/spdlog.h>

#include <functional>
#include <string>
#include <vector>

namespace kindred::server {

namespace net = boost::asio;
namespace ka = kindred::accounts;

struct staff_monitor::impl : std::enable_shared_from_this<staff_monitor::impl> {
    impl(net::io_context& io, ka::account_store& a, connection_registry& c, metrics& m,
         staff_monitor_options o)
        : strand_(net::make_strand(io))
        , timer_(strand_)
        , accounts_(a)
        , connections_(c)
        , stats_(m)
        , options_(std::move(o)) {
        if (!options_.now_ms)
            options_.now_ms = [] {
                return std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                    .count();
            };
    }

    void close(const std::vector<std::uint64_t>& conns, const std::string& reason) {
        for (auto id : conns) {
            auto c = connections_.find(id);
            if (!c) continue;
            spdlog::info("event=staff_token_dead conn={} reason={}", id, reason);
            stats_.staff_socket_revoked(reason);
            c->token_dead(reason == "expired" ? "token expired" : "token revoked");
        }
    }

    // On the subscriber's strand; touches only the (thread-safe) registry.
    void on_notice(std::string_view payload) {
        auto notice = ka::parse_revocation(payload);
        if (!notice) return; // untrusted bus payload
        // The reason is one of a closed set in well-formed notices; anything else is logged
        // as "revoked" so a forged notice cannot write arbitrary text to the log.
        std::string reason = notice->reason;
        if (reason != "logout" && reason != "disabled" && reason != "deleted" &&
            reason != "password_changed")
            reason = "revoked";
        close(connections_.revoked_by(*notice), reason);
    }

    void schedule() {
        if (stopped_) return;
        timer_.expires_after(options_.recheck);
        timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec || self->stopped_) return;
            self->recheck(false);
            self->schedule();
        });
    }

    // On the strand. Expiry always; then the Redis lookup of one slice of the tokens (each
    // token once per `lookup` period, spread over its rounds: 1,000 peers' lookups at once
    // queued every match and message behind them), or of all of them when `everything`.
    void recheck(bool everything) {
        if (stopped_) return;
        close(connections_.expired(options_.now_ms()), "expired");
        const auto slices = slices_per_period(options_.lookup, options_.recheck);
        const std::uint64_t slice = rounds_++ % slices;
        // One round at a time: when Redis is slow, rounds do not pile up (a skipped slice
        // comes round again next period; a skipped `everything` runs at the next round).
        everything = everything || everything_pending_;
        if (looking_up_) {
            everything_pending_ = everything;
            return;
        }
        everything_pending_ = false;
        auto hashes = connections_.staff_token_hashes();
        if (!everything)
            std::erase_if(hashes, [&](const std::string& h) {
                return std::hash<std::string>{}(h) % slices != slice;
            });
        if (hashes.empty()) return;
        looking_up_ = true;
        for_each_paced<std::string>(
            std::move(hashes), lookups_in_flight,
            [self = shared_from_this()](const std::string& h, std::function<void()> done) {
                self->accounts_.lookup_hash(h, [self, h, done = std::move(done)](
                                                   boost::system::error_code ec, ka::token_info) {
                    net::post(self->strand_, [self, h, done, dead = ec == ka::error::not_found] {
                        if (dead && !self->stopped_)
                            self->close(self->connections_.with_token_hash(h), "recheck");
                        done();
                    });
                });
            },
            [self = shared_from_this()] {
                net::post(self->strand_, [self] { self->looking_up_ = false; });
            });
    }
    static constexpr std::size_t lookups_in_flight = 16;

    net::strand<net::io_context::executor_type> strand_;
    net::steady_timer timer_;
    ka::account_store& accounts_;
    connection_registry& connections_;
    metrics& stats_;
    staff_monitor_options options_;
    bool looking_up_ = false;  // a lookup round is running (one at a time)
    std::uint64_t rounds_ = 0; // recheck rounds, for the lookup slices
    bool everything_pending_ = false;
    bool stopped_ = false;
};

staff_monitor::staff_monitor(net::io_context& io, ka::account_store& accounts,
                             connection_registry& connections, metrics& stats,
                             staff_monitor_options options)
    : impl_(std::make_shared<impl>(io, accounts, connections, stats, std::move(options))) {}

staff_monitor::~staff_monitor() {
    stop();
}

void staff_monitor::start(store::subscriber& bus) {
    std::weak_ptr<impl> weak = impl_;
    bus.subscribe(std::string(ka::keys::revoked_channel),
                  [weak](std::string_view, std::string_view payload) {
                      if (auto self = weak.lock()) self->on_notice(payload);
                  });
    // Notices published while the subscriber was reconnecting are lost: check everything.
    bus.on_resubscribed([weak] {
        if (auto self = weak.lock())
            net::post(self->strand_, [self] {
                spdlog::info("event=staff_recheck_after_resubscribe");
                self->recheck(true);
            });
    });
    net::post(impl_->strand_, [self = impl_] { self->schedule(); });
}

void staff_monitor::after_resubscribe() {
    net::post(impl_->strand_, [self = impl_] {
        spdlog::info("event=staff_recheck_after_resubscribe");
        self->recheck(true);
    });
}

void staff_monitor::stop() {
    net::post(impl_->strand_, [self = impl_] {
        self->stopped_ = true;
        self->timer_.cancel();
    });
}

} // namespace kindred::server
