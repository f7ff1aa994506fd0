// endpoint.hpp — where a Redis server listens: a unix socket path or a TCP host and port.
// A plain value; parse_endpoint() takes untrusted text (config, environment, flags).
#pragma once

#include <kindred/store/error.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace kindred::store {

struct endpoint {
    enum class kind : std::uint8_t { unix_socket, tcp };

    kind type = kind::unix_socket;
    std::string path;       // unix_socket only
    std::string host;       // tcp only; a name or a numeric address, without brackets
    std::uint16_t port = 0; // tcp only

    static endpoint unix_socket(std::string path);
    static endpoint tcp(std::string host, std::uint16_t port);

    // "unix:/path" or "tcp://host:port" (IPv6 hosts in brackets): parse_endpoint() reads it back.
    std::string to_string() const;

    friend bool operator==(const endpoint&, const endpoint&) = default;
};

// Accepts "unix:/path/redis.sock", "unix:///path/redis.sock", a bare "/path/redis.sock" (or
// "./relative.sock"), and "tcp://host:port" with a port in
// 1..65535 ("tcp://[::1]:6379" for IPv6). Anything else gives error::bad_endpoint; when `why`
// is given it receives a sentence naming the problem, for the configuration error message.
// Note: a TCP host name is resolved with a blocking lookup when connecting (hiredis 0.14
// does it); use a numeric address or a name in /etc/hosts.
boost::system::result<endpoint> parse_endpoint(std::string_view text, std::string* why = nullptr);

} // namespace kindred::store
