// error.hpp — the store's error codes, registered as the boost::system category "kindred.store".
// Every completion handler of this library reports one of these (or success).
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace kindred::store {

enum class error {
    // No reply before the command's deadline. The command may still run on Redis; its late
    // reply is dropped.
    timeout = 1,
    // No usable connection right now: the command was not sent. Commands are never queued
    // while disconnected, so the caller can answer `unavailable` at once.
    not_connected,
    // The connection dropped while the command was in flight: it may or may not have run.
    disconnected,
    // The client was stopped (stop() or destruction) before the command completed.
    stopped,
    // Redis answered with an error reply; the reply passed along holds its text.
    reply_error,
    // The reply does not have the shape the operation needs (e.g. a script load that did
    // not return a SHA1).
    unexpected_reply,
    // An empty argument list, or a command this connection cannot carry (SUBSCRIBE, MONITOR
    // … on a command connection: they would change the connection's mode).
    invalid_command,
    // An endpoint string that is neither "unix:/path", "/path" nor "tcp://host:port".
    bad_endpoint,
};

const boost::system::error_category& store_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), store_category()};
}

} // namespace kindred::store

template <>
struct boost::system::is_error_code_enum<kindred::store::error> : std::true_type {};

namespace kindred::store {

// True for "Redis is down or slow": not_connected, timeout, disconnected, stopped. After
// timeout/disconnected a write may have happened (callers retry idempotently).
inline bool is_unavailable(const boost::system::error_code& ec) noexcept {
    return ec == error::not_connected || ec == error::timeout || ec == error::disconnected ||
           ec == error::stopped;
}

} // namespace kindred::store
