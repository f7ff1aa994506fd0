// session_service.hpp — what a WebSocket connection needs from session storage: create a
// seeker session, create a staff session for a login token, resume one by token (taking it
// over from its previous connection; a staff session's login token is checked again), and
// release it when the connection ends (the grace period starts). session_store implements it
// on Redis; tests may fake it.
// Threading: callable from any thread; handlers may run on any thread (post back to yours).
#pragma once

#include <kindred/protocol/messages.hpp>
#include <kindred/server/connection_logic.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace kindred::server {

class session_service {
public:
    using result_handler = std::function<void(session_result)>;
    virtual ~session_service() = default;

    // A new session held by connection `conn` of this instance. `device_id` (a seeker's
    // device_id_of(hello.device), or empty) is stored with it; a banned device → banned.
    virtual void create(protocol::role role, std::string device_id, std::uint64_t conn,
                        result_handler h) = 0;
    // A new peer/moderator session for the holder of a staff login token. The token must be
    // live and belong to an account of that role: not_authenticated (unknown, expired, logged
    // out, disabled), forbidden (another role, admin included), banned (the account is banned
    // now), unavailable (Redis down). On success the result carries the staff identity.
    virtual void create_staff(protocol::role role, std::string token, std::uint64_t conn,
                              result_handler h) = 0;
    // The session of `resume_token`, now held by `conn`. A previous holder (this or another
    // instance) is told to close 4001. Unknown, expired or forged tokens: not_found. A staff
    // session's login token is checked again: dead → not_authenticated (and released). A
    // banned session, device or account → banned (the session stays with its holder).
    // `device_id` (empty: none) is recorded on a seeker session that has none yet.
    virtual void resume(std::string resume_token, std::string device_id, std::uint64_t conn,
                        result_handler h) = 0;
    // The connection ended: if it still holds the session, the session lives for the grace.
    virtual void release(std::string session_id, std::uint64_t conn) = 0;
};

} // namespace kindred::server
