// staff_auth.hpp — the pure decisions of staff authentication: what a token lookup means for a
// staff hello (role check), what an account answer means for a staff request, and which open
// staff connections a revocation notice or the clock kills. No I/O, no clock of its own.
// Threading: free functions; safe from any thread.
#pragma once

#include <kindred/accounts/account_store.hpp>
#include <kindred/accounts/keys.hpp>
#include <kindred/protocol/messages.hpp>
#include <kindred/server/connection_logic.hpp>

#include <boost/system/error_code.hpp>

#include <optional>

namespace kindred::server {

// The protocol role a staff account may take in hello; nullopt for admin (admin tokens are for
// admin pages, never for a WebSocket session).
std::optional<protocol::role> hello_role_of(accounts::role r) noexcept;

struct staff_check {
    session_result::status what = session_result::status::unavailable;
    std::optional<staff_identity> staff; // set when what == ok
};

// The answer of account_store::lookup / lookup_hash for a hello (or a resume) asking `asked`:
//   not_found → not_authenticated; Redis down → unavailable; another accounts error →
//   internal; an account of another role (admin included) → forbidden; else ok with the
//   identity to remember (username, token hash, expiry).
staff_check check_staff_token(const boost::system::error_code& ec, const accounts::token_info& info,
                              protocol::role asked);

// account_store::register_identity's answer as an account_result.
account_result register_identity_result(const boost::system::error_code& ec);
// account_store::lookup_hash's answer as an account_result for load_identity (the identity key
// registered now, if any). An account whose role changed away from peer counts as dead.
account_result load_identity_result(const boost::system::error_code& ec,
                                    const accounts::token_info& info);

// Whether a revocation notice kills the token of this connection.
bool revokes(const accounts::revocation& notice, const staff_identity& who) noexcept;

} // namespace kindred::server
