// connection_registry.hpp — the open WebSocket connections of this instance, by connection id,
// so a takeover (4001) or a shutdown (1012) can reach a connection from any thread.
// Threading: every member is thread-safe (one mutex; handles are called outside it).
// Lifetime: holds weak references only; a connection removes itself when it ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kindred::server {

// What the registry can ask of a connection. Implementations post to their own strand.
class connection_handle {
public:
    virtual ~connection_handle() = default;
    // Close with this code after the frames already queued (1012 on shutdown).
    virtual void close(std::uint16_t code, std::string reason) = 0;
    // Another connection resumed session_id: close 4001 if this one still holds it.
    virtual void taken_over(const std::string& session_id) = 0;
};

class connection_registry {
public:
    // A process-unique connection id, also used in logs (conn=N) and in sess:{S}.conn.
    std::uint64_t next_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

    void add(std::uint64_t id, std::weak_ptr<connection_handle> handle);
    void remove(std::uint64_t id);
    std::shared_ptr<connection_handle> find(std::uint64_t id) const;
    std::size_t size() const;
    // The session a connection holds (set after hello), for the periodic TTL refresh.
    void set_session(std::uint64_t id, std::string session_id);
    // (connection id, session id) of every connection that holds a session.
    std::vector<std::pair<std::uint64_t, std::string>> sessions() const;
    // Every live handle at this moment.
    std::vector<std::shared_ptr<connection_handle>> snapshot() const;

private:
    std::atomic<std::uint64_t> next_id_{1};
    mutable std::mutex mutex_;
    struct entry {
        std::weak_ptr<connection_handle> handle;
        std::string session_id;
    };
    std::unordered_map<std::uint64_t, entry> handles_;
};

} // namespace kindred::server
