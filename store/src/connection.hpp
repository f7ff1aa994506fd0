// connection.hpp — (internal) the connect / handshake / reconnect-with-backoff state machine
// shared by client and subscriber. Derived classes add what flows over the link.
//
// States: idle → connecting (socket) → handshaking (derived's first exchange) → ready;
// any failure → backoff → connecting …; stop() → stopped, from any state, for good.
// Threading: every member below the public ones runs on strand_. start()/stop() dispatch.
// Lifetime: shared; handlers hold shared_ptrs, link callbacks hold weak ones (no cycle).
#pragma once

#include "link.hpp"
#include <kindred/store/endpoint.hpp>

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>

namespace kindred::store::detail {

struct connection_settings {
    endpoint address;
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds reconnect_initial{50};
    std::chrono::milliseconds reconnect_max{2000};
    std::string name;
    std::function<void(bool)> on_state;
};

class connection : public std::enable_shared_from_this<connection> {
public:
    connection(boost::asio::io_context& io, connection_settings settings);
    virtual ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void start();
    void stop();
    bool connected() const noexcept { return connected_.load(std::memory_order_acquire); }
    const strand_type& strand() const noexcept { return strand_; }

protected:
    enum class state { idle, connecting, handshaking, ready, backoff, stopped };

    // Hooks for derived classes, on the strand.
    // The socket connected: start the handshake on link_, then call handshake_done().
    virtual void on_link_up() = 0;
    // The link is gone (hiredis already ran every callback with a null reply).
    virtual void on_link_down() = 0;
    // stop() was called; the link (if any) is closed right after this returns.
    virtual void on_stop() = 0;
    // Ready: the connection answered its handshake.
    virtual void on_ready() {}

    void handshake_done();
    // Closes the current link; on_link_down and a reconnect follow. Safe to call twice.
    void drop(const char* why);
    // The error that in-flight work gets when the link is freed now.
    boost::system::error_code closing_error() const noexcept;

    template <class Derived>
    std::shared_ptr<Derived> self_as() {
        return std::static_pointer_cast<Derived>(shared_from_this());
    }

    strand_type strand_;
    connection_settings settings_;
    state state_ = state::idle;
    std::shared_ptr<link> link_;

private:
    void connect();
    void schedule_reconnect();
    void handle_up(const std::shared_ptr<link>& l);
    void handle_closed(const std::shared_ptr<link>& l);
    void set_connected(bool value);

    boost::asio::steady_timer reconnect_timer_;
    boost::asio::steady_timer connect_timer_;
    std::chrono::milliseconds backoff_;
    std::minstd_rand rng_;
    std::atomic<bool> connected_{false};
    bool reported_connected_ = false;
    unsigned failed_attempts_ = 0;
    const char* drop_reason_ = nullptr; // why we closed the current link ourselves
};

} // namespace kindred::store::detail
