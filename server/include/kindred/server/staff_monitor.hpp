// staff_monitor.hpp — closes (4003) the staff sockets of this instance whose login token died,
// within about a second wherever it died:
//   * revocation notices on ctl:revoked (logout, disable, delete, password change), at once;
//   * every `recheck` period: tokens past expires_at (local, no Redis);
//   * every `lookup` period, and at once after the subscriber reconnects (pub/sub is
//     at-most-once: notices published meanwhile are lost): a lookup of each distinct token
//     hash in Redis — spread over the period (a slice of the tokens every `recheck`, 16 in
//     flight), since 1,000 lookups at once queued every match and message behind them.
//     Notices reach every instance at once, so the lookup is a safety net for a token
//     deleted without one; doing all of them every `recheck` cost one Redis command per
//     staff socket per 500 ms — with 1,000 peers on shift, Redis's largest job.
// A Redis outage closes nothing: a token can only die in Redis, and the re-check resumes when
// Redis is back.
// Threading: start()/stop() from main; everything else runs on an internal strand.
// Lifetime: the io_context, account store, registry, metrics and subscriber outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}
namespace kindred::store {
class subscriber;
}
namespace kindred::accounts {
class account_store;
}

namespace kindred::server {

class connection_registry;
class metrics;

struct staff_monitor_options {
    std::chrono::milliseconds recheck{500};
    // Rounded up to a multiple of recheck.
    std::chrono::milliseconds lookup{5000};
    // Unix ms; empty: the system clock.
    std::function<std::int64_t()> now_ms;
};

class staff_monitor {
public:
    staff_monitor(boost::asio::io_context& io, accounts::account_store& accounts,
                  connection_registry& connections, metrics& stats, staff_monitor_options options);
    ~staff_monitor();
    staff_monitor(const staff_monitor&) = delete;
    staff_monitor& operator=(const staff_monitor&) = delete;

    // Subscribes ctl:revoked on `bus` (and takes its on_resubscribed hook; main.cpp replaces
    // it with one that also calls after_resubscribe()), starts the timer.
    void start(store::subscriber& bus);
    // What start()'s on_resubscribed hook does (tokens revoked meanwhile: check everything),
    // for an owner that combines several hooks. Any thread.
    void after_resubscribe();
    void stop();

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace kindred::server
