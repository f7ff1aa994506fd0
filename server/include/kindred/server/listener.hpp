// listener.hpp — accepts TCP connections on the configured address and hands each one to an
// HTTP session (which may upgrade it to a WebSocket session) on its own strand.
// Threading: open() and start() are called once from main before the io_context threads run
// handlers that matter; stop() may be called from any thread.
// Lifetime: the io_context and the server_context must outlive it.
#pragma once

#include <kindred/server/server_context.hpp>

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace kindred::server {

class listener {
public:
    listener(boost::asio::io_context& io, server_context& ctx);
    ~listener();
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;

    // Resolves host (numeric or a name), binds and listens. Port 0 picks a free port.
    boost::system::error_code open(const std::string& host, std::uint16_t port);
    // Serve HTTPS and WSS instead of plain text (before start()). Returns "" or the error,
    // naming the option (--tls-cert / --tls-key) and the file.
    std::string enable_tls(const std::string& cert_file, const std::string& key_file);
    // The bound port (after open).
    std::uint16_t port() const;
    void start();
    // Stops accepting: the listening socket is closed; open connections are untouched.
    void stop();

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace kindred::server
