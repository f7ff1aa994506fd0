// subscriber.hpp — one Redis pub/sub connection (classic SUBSCRIBE), read continuously so
// Redis never drops it for a full output buffer. Reconnects with backoff; after a reconnect
// it subscribes every channel again and then calls on_resubscribed: pub/sub is
// at-most-once, so the owner re-reads from the store whatever it may have missed.
//
// Threading: every handler and callback runs on the subscriber's own strand, never inside
// a call into this API. All member functions may be called from any thread: they post into
// the strand. Messages of one channel arrive in the order Redis published them.
//
// Lifetime: as for client: create, subscribe/start (either order), stop(). The destructor
// calls stop(). A stopped subscriber stays stopped. Destroy it before its io_context.
// Handlers may run after stop() returns (it only posts); message handlers, on_state and
// on_resubscribed are not called once stop() has taken effect on the strand.
#pragma once

#include <kindred/store/endpoint.hpp>
#include <kindred/store/error.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace kindred::store {

struct subscriber_options {
    endpoint address;
    // Deadline for a connection attempt: socket connect plus the confirmation of every
    // subscription.
    std::chrono::milliseconds connect_timeout{1000};
    // Reconnect delays, as in client_options.
    std::chrono::milliseconds reconnect_initial{50};
    std::chrono::milliseconds reconnect_max{2000};
    // Health check: every ping_interval the subscriber re-subscribes a private heartbeat
    // channel (hiredis 0.14 cannot carry PING on a subscribed connection) and drops the
    // connection when Redis does not confirm within ping_timeout. Zero interval disables it.
    std::chrono::milliseconds ping_interval{1000};
    std::chrono::milliseconds ping_timeout{1000};
    std::string name = "redis-sub";

    // After a reconnect (not the first connection), once every channel is subscribed again.
    std::function<void()> on_resubscribed;
    // Readiness changes: true once every subscription is confirmed, false when lost.
    std::function<void(bool connected)> on_state;
};

class subscriber {
public:
    // channel and payload are valid only during the call; payloads are binary-safe.
    using message_handler = std::function<void(std::string_view channel, std::string_view payload)>;
    using done_handler = std::function<void(boost::system::error_code)>;

    subscriber(boost::asio::io_context& io, subscriber_options options);
    ~subscriber();
    subscriber(const subscriber&) = delete;
    subscriber& operator=(const subscriber&) = delete;

    void start();
    // Unsubscribes and closes; pending done handlers get error::stopped. Idempotent.
    void stop();
    bool connected() const noexcept;

    // Subscribes `channel` (kept across reconnects) and delivers its messages to `on_message`
    // (replacing an earlier handler of the same channel). `on_done`, optional, runs once when
    // Redis first confirms the subscription — from then on no message is missed while the
    // connection holds — or with error::stopped / operation_aborted (unsubscribed first).
    void subscribe(std::string channel, message_handler on_message, done_handler on_done = {});
    // Stops deliveries for `channel` as soon as this runs on the strand.
    void unsubscribe(std::string channel);
    // Replaces options.on_resubscribed.
    void on_resubscribed(std::function<void()> callback);

    class impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace kindred::store
