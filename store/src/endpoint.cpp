// endpoint.cpp — parsing and printing Redis endpoints. Input is untrusted: no throws.
#include <kindred/store/endpoint.hpp>

#include <charconv>

namespace kindred::store {
namespace {

// sun_path holds 108 bytes including the terminating NUL.
constexpr std::size_t max_unix_path = 107;

boost::system::result<endpoint> fail(std::string* why, std::string text) {
    if (why) *why = std::move(text);
    return error::bad_endpoint;
}

boost::system::result<endpoint> parse_unix(std::string_view path, std::string* why) {
    if (path.empty())
        return fail(why, "unix endpoint without a path (expected unix:/path/redis.sock)");
    if (path.size() > max_unix_path) return fail(why, "unix socket path longer than 107 bytes");
    if (path.find('\0') != std::string_view::npos)
        return fail(why, "unix socket path contains a NUL byte");
    return endpoint::unix_socket(std::string(path));
}

boost::system::result<endpoint> parse_tcp(std::string_view rest, std::string* why) {
    std::string_view host;
    std::string_view port_text;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos)
            return fail(why, "tcp endpoint: '[' without ']' around the IPv6 address");
        host = rest.substr(1, close - 1);
        auto after = rest.substr(close + 1);
        if (after.empty() || after.front() != ':')
            return fail(why, "tcp endpoint without a port (expected tcp://host:port)");
        port_text = after.substr(1);
    } else {
        auto colon = rest.rfind(':');
        if (colon == std::string_view::npos)
            return fail(why, "tcp endpoint without a port (expected tcp://host:port)");
        host = rest.substr(0, colon);
        port_text = rest.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return fail(why, "tcp endpoint: put an IPv6 address in brackets, tcp://[::1]:6379");
    }
    if (host.empty()) return fail(why, "tcp endpoint without a host (expected tcp://host:port)");
    for (char c : host) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_' || c == ':' || c == '%';
        if (!ok) return fail(why, "tcp endpoint: the host has characters a host name cannot have");
    }
    if (port_text.empty())
        return fail(why, "tcp endpoint without a port (expected tcp://host:port)");
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size())
        return fail(why, "tcp endpoint: the port is not a number");
    if (value == 0 || value > 65535) return fail(why, "tcp endpoint: the port is not in 1..65535");
    return endpoint::tcp(std::string(host), static_cast<std::uint16_t>(value));
}

} // namespace

endpoint endpoint::unix_socket(std::string path) {
    endpoint e;
    e.type = kind::unix_socket;
    e.path = std::move(path);
    return e;
}

endpoint endpoint::tcp(std::string host, std::uint16_t port) {
    endpoint e;
    e.type = kind::tcp;
    e.host = std::move(host);
    e.port = port;
    return e;
}

std::string endpoint::to_string() const {
    if (type == kind::unix_socket) return "unix:" + path;
    if (host.find(':') != std::string::npos) return "tcp://[" + host + "]:" + std::to_string(port);
    return "tcp://" + host + ":" + std::to_string(port);
}

boost::system::result<endpoint> parse_endpoint(std::string_view text, std::string* why) {
    if (text.empty())
        return fail(why,
                    "empty redis endpoint (expected unix:/path/redis.sock or tcp://host:port)");
    if (text.starts_with("unix:")) {
        auto path = text.substr(5);
        if (path.starts_with("//")) path.remove_prefix(2); // unix:///run/redis.sock, URL style
        return parse_unix(path, why);
    }
    if (text.starts_with("tcp://")) return parse_tcp(text.substr(6), why);
    if (text.starts_with('/') || text.starts_with("./") || text.starts_with("../"))
        return parse_unix(text, why);
    return fail(why, "redis endpoint must be unix:/path/redis.sock, /path/redis.sock or "
                     "tcp://host:port");
}

} // namespace kindred::store
