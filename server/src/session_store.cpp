// session_store.cpp — see session_store.hpp. Never logs tokens or their hashes.
// Staff tokens are looked up through accounts::account_store; only their hashes are stored.
#include <kindred/accounts/account_store.hpp>
#include <kindred/server/lua_scripts.hpp>
#include <kindred/server/paced.hpp>
#include <kindred/server/session_store.hpp>
#include <kindred/server/staff_auth.hpp>
#include <kindred/store/client.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <memory>
#include <stdexcept>

namespace kindred::server {

namespace {

constexpr std::size_t session_bytes = 16; // 128 bits
constexpr std::size_t secret_bytes = 32;  // 256 bits

const store::script& create_script() {
    static const store::script s{std::string(lua::session_create)};
    return s;
}
const store::script& resume_script() {
    static const store::script s{std::string(lua::session_resume)};
    return s;
}
const store::script& release_script() {
    static const store::script s{std::string(lua::session_release)};
    return s;
}
const store::script& refresh_script() {
    static const store::script s{std::string(lua::session_refresh)};
    return s;
}

std::string random_base64url(std::size_t n) {
    std::vector<unsigned char> bytes(n);
    randombytes_buf(bytes.data(), n);
    std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), bytes.data(), n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(std::char_traits<char>::length(out.c_str()));
    return out;
}

bool is_base64url(std::string_view s, std::size_t chars) {
    return s.size() == chars && std::all_of(s.begin(), s.end(), [](unsigned char c) {
               return std::isalnum(c) || c == '-' || c == '_';
           });
}

constexpr std::size_t b64_chars(std::size_t bytes) {
    return (bytes * 4 + 2) / 3;
}

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Counts an operation in flight for its lifetime (shutdown waits for zero).
struct in_flight_guard {
    explicit in_flight_guard(std::shared_ptr<std::atomic<std::int64_t>> n)
        : n_(std::move(n)) {
        n_->fetch_add(1);
    }
    in_flight_guard(const in_flight_guard&) = delete;
    in_flight_guard& operator=(const in_flight_guard&) = delete;
    ~in_flight_guard() { n_->fetch_sub(1); }
    std::shared_ptr<std::atomic<std::int64_t>> n_;
};

} // namespace

bool session_store::is_device_id(std::string_view text) {
    return text.size() == 32 && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::string session_store::session_key(std::string_view session_id) {
    return "sess:{" + std::string(session_id) + "}";
}

std::string session_store::bus_channel(std::string_view instance_id) {
    return "bus:{" + std::string(instance_id) + "}";
}

std::string session_store::takeover_message(std::string_view session_id, std::uint64_t conn) {
    return boost::json::serialize(
        boost::json::object{{"type", "takeover"}, {"session", session_id}, {"conn", conn}});
}

std::optional<std::pair<std::string, std::uint64_t>>
session_store::parse_takeover(std::string_view payload) {
    boost::system::error_code ec;
    auto v = boost::json::parse(payload, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    const auto* type = o.if_contains("type");
    const auto* session = o.if_contains("session");
    const auto* conn = o.if_contains("conn");
    if (!type || !type->is_string() || type->as_string() != "takeover" || !session ||
        !session->is_string() || !conn)
        return std::nullopt;
    std::uint64_t c = 0;
    if (conn->is_uint64())
        c = conn->as_uint64();
    else if (conn->is_int64() && conn->as_int64() >= 0)
        c = static_cast<std::uint64_t>(conn->as_int64());
    else
        return std::nullopt;
    return std::pair{std::string(session->as_string()), c};
}

std::optional<std::string> session_store::session_of_token(std::string_view token) {
    auto dot = token.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto s = token.substr(0, dot);
    auto secret = token.substr(dot + 1);
    if (!is_base64url(s, b64_chars(session_bytes)) ||
        !is_base64url(secret, b64_chars(secret_bytes)))
        return std::nullopt;
    return std::string(s);
}

std::string session_store::token_hash(std::string_view token) {
    std::array<unsigned char, crypto_generichash_BYTES> h{};
    crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(token.data()),
                       token.size(), nullptr, 0);
    std::string hex(h.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), h.data(), h.size());
    hex.pop_back();
    return hex;
}

session_store::session_store(store::client& redis, session_store_options options)
    : redis_(redis)
    , options_(std::move(options)) {
    // Idempotent and thread-safe; main has already checked it succeeds.
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
}

void session_store::create(protocol::role role, std::string device_id, std::uint64_t conn,
                           result_handler h) {
    // Only seekers have devices.
    if (role != protocol::role::seeker || !is_device_id(device_id)) device_id.clear();
    create_session(role, std::move(device_id), conn, std::nullopt, std::move(h));
}

void session_store::create_staff(protocol::role role, std::string token, std::uint64_t conn,
                                 result_handler h) {
    if (!options_.accounts) {
        session_result out;
        out.what = session_result::status::not_authenticated;
        h(std::move(out));
        return;
    }
    options_.accounts->lookup(
        std::move(token),
        [this, role, conn, h = std::move(h), g = std::make_shared<in_flight_guard>(in_flight_)](
            boost::system::error_code ec, accounts::token_info info) mutable {
            auto check = check_staff_token(ec, info, role);
            if (check.what != session_result::status::ok) {
                session_result out;
                out.what = check.what;
                h(std::move(out));
                return;
            }
            create_session(role, {}, conn, std::move(check.staff), std::move(h));
        });
}

void session_store::create_session(protocol::role role, std::string device_id, std::uint64_t conn,
                                   std::optional<staff_identity> staff, result_handler h) {
    std::string id = random_base64url(session_bytes);
    std::string token = id + "." + random_base64url(secret_bytes);
    std::string hash = token_hash(token);
    std::vector<std::string> keys{session_key(id)};
    if (!device_id.empty()) keys.push_back(options_.moderation_prefix + "ban:d:" + device_id);
    if (staff) keys.push_back(options_.moderation_prefix + "ban:p:" + staff->username);
    std::vector<std::string> args{std::string(protocol::to_string(role)),
                                  options_.instance_id,
                                  std::to_string(conn),
                                  hash,
                                  std::to_string(unix_ms()),
                                  std::to_string(options_.connected_ttl.count()),
                                  staff ? staff->username : std::string(),
                                  staff ? staff->token_hash : std::string(),
                                  staff ? std::to_string(staff->expires_at) : std::string(),
                                  device_id};
    redis_.eval(create_script(), std::move(keys), std::move(args),
                [h = std::move(h), id, token, role, staff = std::move(staff),
                 device_id = std::move(device_id),
                 g = std::make_shared<in_flight_guard>(in_flight_)](boost::system::error_code ec,
                                                                    store::reply r) mutable {
                    session_result out;
                    if (!ec && r.integer() == -1) {
                        out.what = session_result::status::banned;
                    } else if (ec || r.integer() != 1) {
                        out.what = session_result::status::unavailable;
                    } else {
                        out.what = session_result::status::ok;
                        out.session_id = id;
                        out.role = role;
                        out.resume_token = token;
                        out.staff = std::move(staff);
                        out.device_id = std::move(device_id);
                    }
                    h(std::move(out));
                });
}

void session_store::resume(std::string resume_token, std::string device_id, std::uint64_t conn,
                           result_handler h) {
    auto id = session_of_token(resume_token);
    if (!id) {
        session_result out;
        out.what = session_result::status::not_found;
        h(std::move(out));
        return;
    }
    if (!is_device_id(device_id)) device_id.clear();
    std::string hash = token_hash(resume_token);
    std::vector<std::string> keys{session_key(*id), options_.moderation_prefix + "ban:s:" + *id};
    if (!device_id.empty()) keys.push_back(options_.moderation_prefix + "ban:d:" + device_id);
    redis_.eval(resume_script(), std::move(keys),
                {hash, options_.instance_id, std::to_string(conn),
                 std::to_string(options_.connected_ttl.count()), device_id,
                 options_.moderation_prefix},
                [this, h = std::move(h), id = *id, token = std::move(resume_token), conn,
                 g = std::make_shared<in_flight_guard>(in_flight_)](boost::system::error_code ec,
                                                                    store::reply r) mutable {
                    session_result out;
                    if (ec) {
                        out.what = session_result::status::unavailable;
                        h(std::move(out));
                        return;
                    }
                    if (r.is_array() && r.size() >= 1 && r.at(0).str() == "banned") {
                        out.what = session_result::status::banned;
                        h(std::move(out));
                        return;
                    }
                    if (!r.is_array() || r.size() < 6 || r.at(0).str() != "ok") {
                        out.what = session_result::status::not_found;
                        h(std::move(out));
                        return;
                    }
                    auto role = protocol::from_string<protocol::role>(r.at(1).str());
                    if (!role) {
                        out.what = session_result::status::not_found;
                        h(std::move(out));
                        return;
                    }
                    after_resume(std::move(id), std::move(token), conn, *role, r.at(2).str(),
                                 r.at(3).str(), r.at(4).str(), r.at(5).str(), std::move(h));
                });
}

void session_store::after_resume(std::string id, std::string token, std::uint64_t conn,
                                 protocol::role role, std::string old_instance,
                                 std::string old_conn_text, std::string auth_hash,
                                 std::string device_id, result_handler h) {
    // Tells the previous holder (if any, and not this very connection) to close 4001.
    auto take_over = [this, id, conn, old_instance, old_conn_text] {
        std::uint64_t old_conn = 0;
        auto [p, perr] = std::from_chars(old_conn_text.data(),
                                         old_conn_text.data() + old_conn_text.size(), old_conn);
        bool has_holder = !old_conn_text.empty() && perr == std::errc{} &&
                          p == old_conn_text.data() + old_conn_text.size();
        if (!has_holder || (old_instance == options_.instance_id && old_conn == conn)) return;
        if (old_instance == options_.instance_id) {
            if (options_.local_takeover) options_.local_takeover(old_conn, id);
        } else if (!old_instance.empty()) {
            // At most once is enough: a holder that misses it still loses the session (its
            // refresh and release scripts no longer match).
            redis_.publish(bus_channel(old_instance), takeover_message(id, old_conn),
                           [](boost::system::error_code, store::reply) {});
        }
    };
    if (role == protocol::role::seeker) {
        take_over();
        session_result out;
        out.what = session_result::status::ok;
        out.session_id = std::move(id);
        out.role = role;
        out.resume_token = std::move(token);
        out.device_id = std::move(device_id);
        h(std::move(out));
        return;
    }
    // A staff session lives only as long as the login token that opened it.
    if (!options_.accounts || auth_hash.empty()) {
        release(id, conn);
        session_result out;
        out.what = session_result::status::not_authenticated;
        h(std::move(out));
        return;
    }
    options_.accounts->lookup_hash(
        std::move(auth_hash), [this, id = std::move(id), token = std::move(token), conn, role,
                               take_over = std::move(take_over), h = std::move(h),
                               g = std::make_shared<in_flight_guard>(in_flight_)](
                                  boost::system::error_code ec, accounts::token_info info) mutable {
            auto check = check_staff_token(ec, info, role);
            session_result out;
            if (check.what != session_result::status::ok) {
                // The resume script made this connection the holder: let go at once.
                release(id, conn);
                out.what = check.what;
                h(std::move(out));
                return;
            }
            take_over();
            out.what = session_result::status::ok;
            out.session_id = std::move(id);
            out.role = role;
            out.resume_token = std::move(token);
            out.staff = std::move(check.staff);
            h(std::move(out));
        });
}

void session_store::release(std::string session_id, std::uint64_t conn) {
    redis_.eval(
        release_script(), {session_key(session_id)},
        {options_.instance_id, std::to_string(conn), std::to_string(options_.grace.count())},
        [g = std::make_shared<in_flight_guard>(in_flight_)](boost::system::error_code,
                                                            store::reply) {});
}

void session_store::refresh(std::vector<std::pair<std::uint64_t, std::string>> held) {
    // Paced: an instance holding 19,000 sessions would otherwise queue 19,000 scripts at once
    // every heartbeat, and every match and message behind them (tens of milliseconds).
    for_each_paced<std::pair<std::uint64_t, std::string>>(
        std::move(held), refresh_in_flight,
        [this](const std::pair<std::uint64_t, std::string>& h, std::function<void()> done) {
            redis_.eval(
                refresh_script(), {session_key(h.second)},
                {options_.instance_id, std::to_string(h.first),
                 std::to_string(options_.connected_ttl.count())},
                [done = std::move(done)](boost::system::error_code, store::reply) { done(); });
        });
}

} // namespace kindred::server
