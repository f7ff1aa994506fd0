// keys.cpp — Redis key names and the revocation notice.
#include "sodium_init.hpp"
#include <kindred/accounts/keys.hpp>
#include <kindred/accounts/model.hpp>
#include <kindred/accounts/token.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <array>

namespace kindred::accounts {

namespace keys {

std::string user(std::string_view username) {
    return "user:{" + std::string(username) + "}";
}

std::string user_tokens(std::string_view username) {
    return "user:{" + std::string(username) + "}:tokens";
}

std::string token(std::string_view token_hash) {
    return "token:{" + std::string(token_hash) + "}";
}

std::string login_fail(std::string_view attempted_username) {
    detail::ensure_sodium();
    std::array<unsigned char, 16> h{};
    crypto_generichash(h.data(), h.size(),
                       reinterpret_cast<const unsigned char*>(attempted_username.data()),
                       attempted_username.size(), nullptr, 0);
    std::array<char, 33> hex{};
    sodium_bin2hex(hex.data(), hex.size(), h.data(), h.size());
    return "login_fail:{" + std::string(hex.data()) + "}";
}

} // namespace keys

std::string format_revocation(const revocation& r) {
    boost::json::object o;
    if (!r.token_hash.empty()) o["token_hash"] = r.token_hash;
    if (!r.user.empty()) o["user"] = r.user;
    o["reason"] = r.reason;
    return boost::json::serialize(o);
}

std::optional<revocation> parse_revocation(std::string_view payload) {
    boost::system::error_code ec;
    auto v = boost::json::parse(payload, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    revocation r;
    auto text = [&](const char* name, std::string& out) {
        if (const auto* f = o.if_contains(name); f && f->is_string())
            out.assign(f->as_string().c_str(), f->as_string().size());
    };
    text("token_hash", r.token_hash);
    text("user", r.user);
    text("reason", r.reason);
    const bool hash_ok = looks_like_token_hash(r.token_hash);
    const bool user_ok = valid_username(r.user);
    if (!hash_ok) r.token_hash.clear();
    if (!user_ok) r.user.clear();
    if (!hash_ok && !user_ok) return std::nullopt;
    return r;
}

} // namespace kindred::accounts
