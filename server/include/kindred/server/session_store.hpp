// session_store.hpp — sessions in Redis (session_service on kindred::store::client).
//   sess:{S}  hash {role, instance, conn, token_hash, created_at
//                   [, user, auth_hash, auth_expires_at]   (staff: the login token's hash)
//                   [, device]}                             (seeker: its device id, never the
//                                                            device secret)
//             TTL: connected_ttl while a connection holds it (refreshed), grace after release.
// Bans (moderation's keys, written by moderation_store::ban) are checked in the same script as
// the create or resume: <mod>ban:d:<device_id> for a seeker's device, <mod>ban:s:<S> on resume,
// <mod>ban:p:<username> for staff; one existing → status banned.
// S is 128 random bits (base64url); the resume token is "S.secret" with 256 secret bits, and
// only its BLAKE2b hash (crypto_generichash) is stored, so a Redis dump cannot resume anyone.
// Each step that reads and writes the hash is one Lua script (server/lua/), so concurrent
// resumes on several instances cannot both hold a session.
// Threading: callable from any thread; handlers run on the Redis client's strand.
// Lifetime: must outlive its pending handlers (main stops the client before destroying it).
#pragma once

#include <kindred/server/session_service.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kindred::store {
class client;
}
namespace kindred::accounts {
class account_store;
}

namespace kindred::server {

struct session_store_options {
    std::string instance_id;
    std::chrono::seconds grace{120};         // after the connection drops
    std::chrono::seconds connected_ttl{120}; // while connected; refreshed by refresh()
    // Tell connection `conn` of this instance that `session` was taken over.
    std::function<void(std::uint64_t conn, const std::string& session)> local_takeover;
    // Staff tokens are looked up here. None: every staff hello is not_authenticated. Must
    // outlive the store's pending handlers.
    accounts::account_store* accounts = nullptr;
    // moderation_options::key_prefix: where the ban keys live.
    std::string moderation_prefix = "mod:{mod}:";
};

class session_store final : public session_service {
public:
    session_store(store::client& redis, session_store_options options);

    void create(protocol::role role, std::string device_id, std::uint64_t conn,
                result_handler h) override;
    void create_staff(protocol::role role, std::string token, std::uint64_t conn,
                      result_handler h) override;
    void resume(std::string resume_token, std::string device_id, std::uint64_t conn,
                result_handler h) override;
    void release(std::string session_id, std::uint64_t conn) override;
    // Refreshes the TTL of sessions still held by these (conn, session) pairs.
    void refresh(std::vector<std::pair<std::uint64_t, std::string>> held);
    // Refresh scripts outstanding at a time (for_each_paced).
    static constexpr std::size_t refresh_in_flight = 16;

    // Redis operations started and not yet completed (shutdown waits for zero).
    std::int64_t in_flight() const { return in_flight_->load(); }

    static std::string session_key(std::string_view session_id);
    static std::string bus_channel(std::string_view instance_id);
    // The bus message that tells another instance to close a connection (4001).
    static std::string takeover_message(std::string_view session_id, std::uint64_t conn);
    // Parses a takeover message; nullopt for anything else (bus payloads are untrusted).
    static std::optional<std::pair<std::string, std::uint64_t>>
    parse_takeover(std::string_view payload);
    // Splits "S.secret"; nullopt unless both parts have the shape this store issues.
    static std::optional<std::string> session_of_token(std::string_view token);
    static std::string token_hash(std::string_view token);
    // A device id as device_id_of makes it: 32 lowercase hex digits. Anything else is not
    // used as a key (the store treats it as no device).
    static bool is_device_id(std::string_view text);

private:
    void create_session(protocol::role role, std::string device_id, std::uint64_t conn,
                        std::optional<staff_identity> staff, result_handler h);
    void after_resume(std::string id, std::string token, std::uint64_t conn, protocol::role role,
                      std::string old_instance, std::string old_conn, std::string auth_hash,
                      std::string device_id, result_handler h);

    store::client& redis_;
    session_store_options options_;
    // Shared with pending handlers, which may be destroyed after this store (at shutdown).
    std::shared_ptr<std::atomic<std::int64_t>> in_flight_ =
        std::make_shared<std::atomic<std::int64_t>>(0);
};

} // namespace kindred::server
