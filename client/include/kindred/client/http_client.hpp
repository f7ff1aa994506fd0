// http_client.hpp — blocking one-shot HTTP/1.1 requests for tests and tools.
// Each call opens its own connection (Connection: close), runs a private io_context until the
// response is read or the timeout passes, and closes. Safe to call from any thread; calls
// share nothing. Asio-free header.
#pragma once

#include <kindred/client/ws_client.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kindred::client {

struct http_response {
    boost::system::error_code ec; // set when no complete response was read
    int status = 0;               // 0 when no status line arrived
    header_list headers;          // in the order received; names as sent by the server
    std::string body;

    // The first header with this name (case-insensitive), if any.
    std::optional<std::string> header(std::string_view name) const;
};

// A request with method, target and extra headers (Host and Connection are added). HEAD
// responses are read without a body, as HTTP requires.
http_response http_request(std::string_view method, std::string_view host, unsigned short port,
                           std::string_view target, const header_list& headers = {},
                           std::string_view body = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(5));

inline http_response http_get(std::string_view host, unsigned short port, std::string_view target,
                              const header_list& headers = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return http_request("GET", host, port, target, headers, {}, timeout);
}

// Sends exactly these bytes (a malformed request, oversized headers, an odd target) and
// parses whatever response comes back. When the server closes without answering, ec is set
// and status is 0.
http_response http_raw(std::string_view host, unsigned short port, std::string_view bytes,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace kindred::client
