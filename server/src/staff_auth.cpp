// staff_auth.cpp — see staff_auth.hpp.
#include <kindred/accounts/error.hpp>
#include <kindred/server/staff_auth.hpp>

namespace kindred::server {

namespace ka = kindred::accounts;

std::optional<protocol::role> hello_role_of(ka::role r) noexcept {
    switch (r) {
    case ka::role::peer:
        return protocol::role::peer;
    case ka::role::moderator:
        return protocol::role::moderator;
    case ka::role::admin:
        return std::nullopt;
    }
    return std::nullopt;
}

staff_check check_staff_token(const boost::system::error_code& ec, const ka::token_info& info,
                              protocol::role asked) {
    staff_check out;
    if (ec == ka::error::not_found) {
        out.what = session_result::status::not_authenticated;
        return out;
    }
    if (ka::is_unavailable(ec)) {
        out.what = session_result::status::unavailable;
        return out;
    }
    if (ec) {
        out.what = session_result::status::internal;
        return out;
    }
    if (hello_role_of(info.account.role) != asked) {
        out.what = session_result::status::forbidden;
        return out;
    }
    out.what = session_result::status::ok;
    out.staff = staff_identity{info.account.username, info.token_hash, info.expires_at};
    return out;
}

account_result register_identity_result(const boost::system::error_code& ec) {
    account_result r;
    if (!ec)
        r.what = account_result::status::ok;
    else if (ec == ka::error::conflict)
        r.what = account_result::status::conflict;
    else if (ec == ka::error::not_found)
        r.what = account_result::status::token_dead; // the account was deleted
    else if (ka::is_unavailable(ec))
        r.what = account_result::status::unavailable;
    else
        r.what = account_result::status::internal;
    return r;
}

account_result load_identity_result(const boost::system::error_code& ec,
                                    const ka::token_info& info) {
    account_result r;
    if (ec == ka::error::not_found)
        r.what = account_result::status::token_dead;
    else if (ka::is_unavailable(ec))
        r.what = account_result::status::unavailable;
    else if (ec)
        r.what = account_result::status::internal;
    else if (info.account.role != ka::role::peer)
        r.what = account_result::status::token_dead;
    else {
        r.what = account_result::status::ok;
        r.identity_key = info.account.identity_key;
    }
    return r;
}

bool revokes(const ka::revocation& notice, const staff_identity& who) noexcept {
    if (!notice.token_hash.empty() && notice.token_hash == who.token_hash) return true;
    if (!notice.user.empty() && notice.user == who.username) return true;
    return false;
}

} // namespace kindred::server
