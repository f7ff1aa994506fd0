// instance_registry.cpp — see instance_registry.hpp. Asio timers only (no Beast).
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/instance_registry.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/paced.hpp>
#include <kindred/server/session_store.hpp>
#include <kindred/store/client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdint>

namespace kindred::server {

namespace net = boost::asio;
using clock_type = std::chrono::steady_clock;

struct instance_registry::impl : std::enable_shared_from_this<instance_registry::impl> {
    impl(net::io_context& io, store::client& redis, metrics& stats,
         connection_registry& connections, session_store& sessions,
         instance_registry_options options)
        : strand_(net::make_strand(io))
        , timer_(strand_)
        , redis_(redis)
        , stats_(stats)
        , connections_(connections)
        , sessions_(sessions)
        , options_(std::move(options))
        , key_(instance_key(options_.instance_id)) {}

    void tick() {
        if (stopped_) return;
        auto self = shared_from_this();
        redis_.command({"PING"}, [self](boost::system::error_code ec, store::reply) {
            if (!ec) self->last_ping_ok_.store(clock_type::now().time_since_epoch().count());
            net::post(self->strand_, [self, ok = !ec] { self->after_ping(ok); });
        });
        timer_.expires_after(options_.tick);
        timer_.async_wait([self](boost::system::error_code ec) {
            if (!ec) self->tick();
        });
    }

    void after_ping(bool ok) {
        ping_failing_ = log_change(ok, ping_failing_);
        ping_ok_.store(ok);
        stats_.set_redis_up(ok);
        // Redis may have restarted without our key: readiness waits for a fresh heartbeat.
        if (!ok) heartbeat_ok_.store(false);
        stats_.set_ready(ready());
        if (ok && !stopped_) refresh_slice();
        const auto now = clock_type::now();
        // Write the heartbeat when due, and at once after a failure, so readiness comes back
        // as soon as Redis does.
        if (stopped_ || heartbeat_in_flight_ ||
            (heartbeat_ok_.load() && now - last_heartbeat_ < options_.heartbeat))
            return;
        heartbeat_in_flight_ = true;
        last_heartbeat_ = now;
        auto self = shared_from_this();
        const auto ttl = std::to_string(3 * options_.heartbeat.count());
        const auto started = std::to_string(started_at_ms_);
        // What `kindredctl status` shows next to the heartbeat (issue #9); written first, so a
        // live `inst:{id}` always has a fresh info hash beside it.
        const auto info = key_ + ":info";
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        redis_.command({"HSET", info, "heartbeat_at", std::to_string(now_ms), "connections",
                        std::to_string(connections_.size()), "seekers",
                        std::to_string(stats_.sessions_of_role(0)), "peers",
                        std::to_string(stats_.sessions_of_role(1)), "moderators",
                        std::to_string(stats_.sessions_of_role(2)), "draining",
                        stats_.draining() ? "1" : "0"},
                       [](boost::system::error_code, store::reply) {});
        redis_.command({"EXPIRE", info, ttl}, [](boost::system::error_code, store::reply) {});
        const std::int64_t lapse_ms = 3 * std::chrono::milliseconds(options_.heartbeat).count();
        redis_.command(
            {"ZADD", registry_key(), std::to_string(now_ms + lapse_ms), options_.instance_id},
            [](boost::system::error_code, store::reply) {});
        // Entries of instances gone for a whole lapse more (a margin for clocks that differ).
        redis_.command(
            {"ZREMRANGEBYSCORE", registry_key(), "-inf", std::to_string(now_ms - lapse_ms)},
            [](boost::system::error_code, store::reply) {});
        redis_.command({"SET", key_, started, "EX", ttl},
                       [self](boost::system::error_code ec, store::reply r) {
                           bool written = !ec && r.is_status("OK");
                           net::post(self->strand_, [self, written] {
                               self->heartbeat_in_flight_ = false;
                               self->heartbeat_ok_.store(written && !self->stopped_);
                               self->stats_.set_ready(self->ready());
                           });
                       });
    }

    // Sessions held here keep their connected TTL while the instance is alive: each is
    // refreshed once per heartbeat period, a slice (by connection id) every tick, so 19,000
    // sessions never become 19,000 scripts at once in front of matches and messages.
    void refresh_slice() {
        const auto slices = slices_per_period(options_.heartbeat, options_.tick);
        const std::uint64_t slice = ticks_++ % slices;
        auto held = connections_.sessions(slices, slice);
        if (!held.empty()) sessions_.refresh(std::move(held));
    }

    // Logs readiness transitions once each, not every tick.
    static bool log_change(bool ok, bool was_failing) {
        if (!ok && !was_failing) spdlog::warn("event=redis_unreachable");
        if (ok && was_failing) spdlog::info("event=redis_reachable");
        return !ok;
    }

    bool ready() const {
        auto last = last_ping_ok_.load();
        if (last == 0 || !ping_ok_.load() || !heartbeat_ok_.load()) return false;
        auto age = clock_type::now().time_since_epoch() - clock_type::duration(last);
        return age <= 3 * options_.tick;
    }

    net::strand<net::io_context::executor_type> strand_;
    net::steady_timer timer_;
    store::client& redis_;
    metrics& stats_;
    connection_registry& connections_;
    session_store& sessions_;
    instance_registry_options options_;
    std::string key_;
    std::int64_t started_at_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
    std::atomic<clock_type::rep> last_ping_ok_{0};
    std::atomic<bool> heartbeat_ok_{false};
    clock_type::time_point last_heartbeat_{};
    bool heartbeat_in_flight_ = false;
    std::uint64_t ticks_ = 0;  // for refresh_slice
    bool ping_failing_ = true; // until the first answer: logs redis_reachable once up
    std::atomic<bool> ping_ok_{false};
    bool stopped_ = false;
};

instance_registry::instance_registry(net::io_context& io, store::client& redis, metrics& stats,
                                     connection_registry& connections, session_store& sessions,
                                     instance_registry_options options)
    : impl_(std::make_shared<impl>(io, redis, stats, connections, sessions, std::move(options))) {}

instance_registry::~instance_registry() = default;

std::string instance_registry::instance_key(const std::string& instance_id) {
    return "inst:{" + instance_id + "}";
}

void instance_registry::start() {
    net::post(impl_->strand_, [self = impl_] { self->tick(); });
}

bool instance_registry::ready() const {
    return impl_->ready();
}

void instance_registry::deregister(std::function<void()> done) {
    net::post(impl_->strand_, [self = impl_, done = std::move(done)]() mutable {
        self->stopped_ = true;
        self->heartbeat_ok_.store(false);
        self->timer_.cancel();
        self->stats_.set_ready(false);
        self->redis_.command({"ZREM", registry_key(), self->options_.instance_id},
                             [](boost::system::error_code, store::reply) {});
        self->redis_.command({"DEL", self->key_, self->key_ + ":info"},
                             [done = std::move(done)](boost::system::error_code ec, store::reply) {
                                 if (ec)
                                     spdlog::warn("event=deregister_failed error=\"{}\"",
                                                  ec.message());
                                 done();
                             });
    });
}

} // namespace kindred::server
