// event_bus.hpp — reach a session wherever it is connected. Local connections are served
// directly (fast path); otherwise `sess:{S}` names the holding instance and the message is
// PUBLISHed on its `bus:{instance}` channel, whose subscriber hands it to handle().
// Pub/sub is at-most-once: a lost publish loses a live push only. Anything that must not be
// lost (stored messages) is recovered by `sync` from the stored log.
// Two kinds of message: `deliver` (an encoded server event pushed to the client as is) and
// named notices (`notify`) for a service on the holding instance (e.g. `matched`, so the
// seeker's instance can add the intake it keeps in memory).
// Threading: every member is thread-safe; handlers run on the Redis client's strand, on the
// subscriber's strand, or on the caller's thread (local fast path).
// Lifetime: the client and the registry outlive it; register notice handlers before start.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace kindred::store {
class client;
}

namespace kindred::server {

class connection_registry;
class delivery_tracker;

class event_bus {
public:
    // A notice for `session`, held by a connection of this instance.
    using notice_handler =
        std::function<void(const std::string& session, const boost::json::object& body)>;
    // Whether some instance took the message (false: no live holder, or nobody subscribed).
    using reached_handler = std::function<void(bool reached)>;

    event_bus(store::client& redis, connection_registry& connections, std::string instance_id);

    // Before any message arrives (not synchronised against handle()).
    void on_notice(std::string kind, notice_handler h);
    // Before any message arrives: live `message` events for local sessions then go through
    // the tracker (duplicates dropped, gaps read from the log). None: pushed as they come.
    void set_tracker(delivery_tracker* tracker) { tracker_ = tracker; }
    // Pushes an encoded event to this instance's connections holding `session` (no tracker);
    // false when none holds it.
    bool push_local(const std::string& session, std::string text, std::string_view type);

    // Push an encoded event to the client holding `session`, wherever it is connected.
    void deliver(std::string session, std::string type, std::string text,
                 reached_handler done = {});
    // deliver() of a live `message` event (`text`) for `conversation` at `offset`: the same
    // routing, but a local holder gets it without the event being parsed again.
    void deliver_live(std::string session, std::string conversation, std::int64_t offset,
                      std::string text, reached_handler done = {});
    // A notice of `kind` for the service on the instance holding `session`.
    void notify(std::string session, std::string kind, boost::json::object body,
                reached_handler done = {});

    // Subscriber side: one payload from bus:{this instance}. False when it is not a bus
    // message of ours (e.g. a takeover, handled by session_store) or malformed (ignored:
    // bus payloads are untrusted).
    bool handle(std::string_view payload);

    const std::string& instance_id() const noexcept { return instance_id_; }

    // Wire form: {"type":"deliver","session":S,"event_type":T,"event":TEXT} and
    // {"type":"notice","session":S,"kind":K,"body":{...}}.
    static std::string deliver_message(std::string_view session, std::string_view type,
                                       std::string_view text);
    static std::string notice_message(std::string_view session, std::string_view kind,
                                      const boost::json::object& body);

private:
    bool dispatch_local(const std::string& session, const boost::json::object& message);
    void route(std::string session, boost::json::object message, reached_handler done);
    // The holder is not here: look it up in `sess:{S}` and publish on its bus channel.
    void route_remote(std::string session, boost::json::object message, reached_handler done);

    store::client& redis_;
    connection_registry& connections_;
    std::string instance_id_;
    std::map<std::string, notice_handler, std::less<>> notices_;
    delivery_tracker* tracker_ = nullptr;
};

} // namespace kindred::server
