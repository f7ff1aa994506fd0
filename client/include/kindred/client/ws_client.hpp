// ws_client.hpp — a blocking WebSocket client for tests, the bench and (later) the CLI.
// Lifetime: owns its own io_context and socket; the destructor drops the TCP connection
// without a closing handshake (call close() first for a clean close).
// Threading: one thread at a time. Every call runs the private io_context until its own
// operation finishes or its timeout passes; no background threads.
// The header is Asio-free (pimpl), so code that includes it compiles fast.
#pragma once

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kindred::client {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct ws_options {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    std::string target = "/v1/ws";
    header_list headers; // extra handshake headers, e.g. {"Origin", "https://x.example"}
    std::chrono::milliseconds timeout{5000}; // TCP connect + HTTP upgrade
    // Incoming message limit; large so that the server's limits are what a test observes.
    std::size_t read_message_max = 16 * 1024 * 1024;
};

// The result of connect(): ok, or why not. A refused upgrade keeps the HTTP status and body.
struct connect_result {
    boost::system::error_code ec;
    int http_status = 0; // 101 on success; the server's status (403, 426, ...) when refused
    std::string body;    // the refusal's body (JSON error for Kindred)
    header_list headers; // the handshake response's headers
    bool ok() const { return !ec; }
};

// One thing receive() can return.
struct ws_frame {
    enum class kind {
        text,    // a text message (payload in text)
        binary,  // a binary message (payload in text)
        close,   // the server closed: close_code and close_reason are set
        timeout, // nothing arrived in time; the read stays pending for the next receive()
        error,   // the connection failed without a close frame (ec says why)
    };
    kind type = kind::timeout;
    std::string text;
    std::uint16_t close_code = 0;
    std::string close_reason;
    boost::system::error_code ec;

    bool is_text() const { return type == kind::text; }
    bool is_close() const { return type == kind::close; }
    bool is_timeout() const { return type == kind::timeout; }
    bool is_error() const { return type == kind::error; }
};

// A short human-readable description of a frame, for test failure messages.
std::string describe(const ws_frame& frame);

class ws_client {
public:
    ws_client();
    ~ws_client();
    ws_client(ws_client&&) noexcept;
    ws_client& operator=(ws_client&&) noexcept;
    ws_client(const ws_client&) = delete;
    ws_client& operator=(const ws_client&) = delete;

    // Connects to options.host:options.port and upgrades options.target. A client can
    // connect once; create a new one to reconnect.
    connect_result connect(const ws_options& options);

    // Convenience: connect to 127.0.0.1:port/v1/ws or throw std::runtime_error.
    static ws_client open(unsigned short port, header_list headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

    bool is_open() const;

    // Sends one message and waits (up to timeout) until it is written. Outgoing text is not
    // validated: invalid UTF-8 and oversized payloads go out as they are.
    boost::system::error_code
    send_text(std::string_view payload,
              std::chrono::milliseconds timeout = std::chrono::seconds(5));
    boost::system::error_code
    send_binary(std::string_view payload,
                std::chrono::milliseconds timeout = std::chrono::seconds(5));

    // The next message, close, error or a timeout. After a timeout the read stays pending, so
    // nothing is lost; after a close or an error every later call returns the same result.
    ws_frame receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));

    // Sends json_text (which must carry a string "id") and receives until the text frame
    // whose "re" equals that id. Returns every frame received on the way, the matching one
    // last; when a close, error or the timeout comes first, that is the last element instead.
    std::vector<ws_frame> request(std::string_view json_text,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

    // Starts the closing handshake with code (and reason) and waits for the server's close.
    boost::system::error_code close(std::uint16_t code = 1000, std::string_view reason = {},
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace kindred::client
