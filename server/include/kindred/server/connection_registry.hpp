// connection_registry.hpp — the open WebSocket connections of this instance, by connection id,
// so a takeover (4001), a dead staff token (4003) or a shutdown (1012) can reach a connection
// from any thread. Staff connections also record what authenticated them (token hash, user,
// expiry) so that revocation notices, the periodic re-check and expiry can find them.
// Threading: every member is thread-safe (one mutex; handles are called outside it).
// Lifetime: holds weak references only; a connection removes itself when it ends.
#pragma once

#include <kindred/accounts/keys.hpp>
#include <kindred/server/connection_logic.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
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
    // The staff token of this connection died: close 4003 (no more frames are handled).
    virtual void token_dead(std::string reason) {
        close(close_codes::token_revoked, std::move(reason));
    }
    // Push a server event (already encoded) to the client if this connection still holds
    // session_id; `type` is the metrics label. Dropped once the connection is closing.
    virtual void deliver(const std::string& session_id, std::string text, std::string type) {
        (void)session_id;
        (void)text;
        (void)type;
    }
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
    // (connection id, session id) of every connection that holds a session — or, with
    // slices > 1, of those whose connection id % slices == slice (one slice of them per
    // tick, copying only that slice).
    std::vector<std::pair<std::uint64_t, std::string>> sessions(std::uint64_t slices = 1,
                                                                std::uint64_t slice = 0) const;
    // The live connections holding session_id (normally at most one).
    std::vector<std::shared_ptr<connection_handle>> find_session(std::string_view session_id) const;
    // Every live handle at this moment.
    std::vector<std::shared_ptr<connection_handle>> snapshot() const;

    // ---- staff connections ----
    // What authenticated connection `id` (set after a staff hello or resume).
    void set_staff(std::uint64_t id, staff_identity who);
    // Staff connections whose token the notice kills.
    std::vector<std::uint64_t> revoked_by(const accounts::revocation& notice) const;
    // Staff connections whose token expired at or before now_ms (Unix ms).
    std::vector<std::uint64_t> expired(std::int64_t now_ms) const;
    // The distinct token hashes of open staff connections (for the periodic re-check).
    std::vector<std::string> staff_token_hashes() const;
    // Staff connections authenticated by this token hash.
    std::vector<std::uint64_t> with_token_hash(std::string_view token_hash) const;
    std::size_t staff_count() const;

private:
    std::atomic<std::uint64_t> next_id_{1};
    mutable std::mutex mutex_;
    struct entry {
        std::weak_ptr<connection_handle> handle;
        std::string session_id;
        std::optional<staff_identity> staff;
    };
    std::unordered_map<std::uint64_t, entry> handles_;
    // session id -> connection ids holding it (normally one). find_session runs for every
    // live delivery and every matching pass's queue report: a scan of handles_ cost O(all
    // connections) each time, which the 10,000-client storm and the 6,000-connection match
    // benchmark showed as the server thread's largest cost.
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::unordered_multimap<std::string, std::uint64_t, string_hash, std::equal_to<>> by_session_;
    void unindex(std::uint64_t id, const std::string& session_id); // mutex held
};

} // namespace kindred::server
