// connection.cpp — connect, handshake deadline, reconnect with jittered exponential backoff.
#include "connection.hpp"

#include <kindred/store/error.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace kindred::store::detail {

namespace asio = boost::asio;

connection::connection(asio::io_context& io, connection_settings settings)
    : strand_(asio::make_strand(io))
    , settings_(std::move(settings))
    , reconnect_timer_(strand_)
    , connect_timer_(strand_)
    , backoff_(settings_.reconnect_initial)
    , rng_(std::random_device{}()) {}

connection::~connection() {
    // Normally stop() freed the link already; this covers an io_context torn down with our
    // handlers unrun.
    if (link_) link_->abandon();
}

void connection::start() {
    asio::dispatch(strand_, [self = shared_from_this()] {
        if (self->state_ == state::idle) self->connect();
    });
}

void connection::stop() {
    asio::dispatch(strand_, [self = shared_from_this()] {
        if (self->state_ == state::stopped) return;
        self->state_ = state::stopped;
        self->reconnect_timer_.cancel();
        self->connect_timer_.cancel();
        self->on_stop();
        if (self->link_) self->link_->close(); // in-flight callbacks see closing_error() == stopped
        self->set_connected(false);
    });
}

boost::system::error_code connection::closing_error() const noexcept {
    return state_ == state::stopped ? error::stopped : error::disconnected;
}

void connection::connect() {
    state_ = state::connecting;
    std::weak_ptr<connection> weak = shared_from_this();
    link::events ev;
    ev.on_up = [weak](const std::shared_ptr<link>& l) {
        if (auto self = weak.lock()) self->handle_up(l);
    };
    ev.on_closed = [weak](const std::shared_ptr<link>& l) {
        if (auto self = weak.lock()) self->handle_closed(l);
    };
    std::string why;
    link_ = link::open(strand_, settings_.address, std::move(ev), this, why);
    if (!link_) {
        if (++failed_attempts_ == 1)
            spdlog::warn("store {}: cannot connect to redis: {}; retrying", settings_.name, why);
        else
            spdlog::debug("store {}: connect attempt {} failed: {}", settings_.name,
                          failed_attempts_, why);
        schedule_reconnect();
        return;
    }
    connect_timer_.expires_after(settings_.connect_timeout);
    connect_timer_.async_wait(
        [self = shared_from_this(), l = link_](const boost::system::error_code& ec) {
            if (ec || self->link_ != l) return;
            if (self->state_ == state::connecting || self->state_ == state::handshaking)
                self->drop("connect timeout");
        });
}

void connection::handle_up(const std::shared_ptr<link>& l) {
    if (l != link_ || state_ != state::connecting || !l->alive()) return;
    state_ = state::handshaking;
    on_link_up();
}

void connection::handshake_done() {
    if (state_ != state::handshaking) return;
    state_ = state::ready;
    connect_timer_.cancel();
    backoff_ = settings_.reconnect_initial;
    failed_attempts_ = 0;
    set_connected(true);
    on_ready();
}

void connection::drop(const char* why) {
    if (!link_ || !link_->alive()) return;
    drop_reason_ = why;
    set_connected(false);
    link_->close(); // on_closed follows, posted
}

void connection::handle_closed(const std::shared_ptr<link>& l) {
    if (l != link_) return;
    bool was_ready = state_ == state::ready;
    std::string why = drop_reason_ ? drop_reason_ : l->last_error();
    drop_reason_ = nullptr;
    link_.reset();
    connect_timer_.cancel();
    on_link_down();
    if (state_ == state::stopped) return;
    set_connected(false);
    if (was_ready) {
        spdlog::warn("store {}: redis connection lost{}{}; reconnecting", settings_.name,
                     why.empty() ? "" : ": ", why);
    } else if (++failed_attempts_ == 1) {
        spdlog::warn("store {}: cannot connect to redis{}{}; retrying", settings_.name,
                     why.empty() ? "" : ": ", why);
    } else {
        spdlog::debug("store {}: connect attempt {} failed{}{}", settings_.name, failed_attempts_,
                      why.empty() ? "" : ": ", why);
    }
    schedule_reconnect();
}

void connection::schedule_reconnect() {
    state_ = state::backoff;
    // ±20% jitter so that many instances do not reconnect in lockstep after a Redis restart.
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    auto delay = std::chrono::milliseconds(
        std::max<long long>(1, static_cast<long long>(backoff_.count() * jitter(rng_))));
    backoff_ =
        std::min(backoff_ * 2, std::max(settings_.reconnect_max, settings_.reconnect_initial));
    reconnect_timer_.expires_after(delay);
    reconnect_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->state_ != state::backoff) return;
        self->connect();
    });
}

void connection::set_connected(bool value) {
    connected_.store(value, std::memory_order_release);
    if (value == reported_connected_) return;
    reported_connected_ = value;
    if (value) spdlog::info("store {}: connected to redis", settings_.name);
    if (settings_.on_state)
        asio::post(strand_, [self = shared_from_this(), value] {
            if (self->state_ != state::stopped) // observers are quiet once stopped
                self->settings_.on_state(value);
        });
}

} // namespace kindred::store::detail
