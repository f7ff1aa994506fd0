// instance_registry.hpp — this instance in Redis: `inst:{id}` written every heartbeat_s with
// a TTL of 3 × heartbeat_s (and its entry in the registry zset), a PING every tick for
// readiness, and the TTL refresh of the sessions its connections hold (each once per
// heartbeat, a slice every tick). /readyz is ready() — Redis answered a PING recently AND the
// last heartbeat write succeeded.
// Threading: ready() from any thread; the rest from main. Handlers run on an internal strand.
// Lifetime: the io_context, Redis client, metrics, registry and session store outlive it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}
namespace kindred::store {
class client;
}

namespace kindred::server {

class metrics;
class connection_registry;
class session_store;

struct instance_registry_options {
    std::string instance_id;
    std::chrono::seconds heartbeat{5};
    // PING (and readiness) period; readiness needs a PING answered within 3 ticks.
    std::chrono::milliseconds tick{500};
};

class instance_registry {
public:
    instance_registry(boost::asio::io_context& io, store::client& redis, metrics& stats,
                      connection_registry& connections, session_store& sessions,
                      instance_registry_options options);
    ~instance_registry();
    instance_registry(const instance_registry&) = delete;
    instance_registry& operator=(const instance_registry&) = delete;

    void start();
    bool ready() const;
    // Stops the heartbeat and deletes inst:{id} (and its registry entry); done runs once the
    // DEL completed or failed.
    void deregister(std::function<void()> done);

    static std::string instance_key(const std::string& instance_id);
    // The registry zset: every instance id, score = when its last heartbeat lapses (Unix ms).
    // Written with each heartbeat (which also prunes entries lapsed for a heartbeat period),
    // removed on deregister; read by ops_instances.lua instead of a SCAN.
    static std::string registry_key() { return "instances:{ops}"; }

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace kindred::server
