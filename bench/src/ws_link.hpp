// ws_link.hpp — one asynchronous WebSocket client connection for the load generator: connect
// (optionally from a chosen 127.0.0.x source address), upgrade, read text frames, write a
// queue of text frames one at a time. No timers and no threads of its own, so ten thousands
// of them fit on one io_context.
// Lifetime: owned through shared_ptr; pending handlers keep it alive. After abort() no
// callback is ever called again, so the owner may forget it at once.
// Threading: every member runs on the io_context's (single) thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kindred::bench {

struct ws_target {
    boost::asio::ip::tcp::endpoint server;
    std::string host_header; // "host:port"
    std::string path = "/v1/ws";
};

class ws_link : public std::enable_shared_from_this<ws_link> {
public:
    struct callbacks {
        std::function<void()> on_open;                            // upgrade done
        std::function<void(std::string_view)> on_text;            // one text message
        std::function<void(boost::system::error_code)> on_closed; // connect failed or lost
    };

    ws_link(boost::asio::io_context& io, callbacks cb);
    ~ws_link();
    ws_link(const ws_link&) = delete;
    ws_link& operator=(const ws_link&) = delete;

    void start(const ws_target& target, std::optional<boost::asio::ip::address_v4> source);
    void send(std::string text);
    // Closes the socket without a closing handshake (what a phone losing its network does).
    void abort();
    bool is_open() const noexcept { return open_ && !dead_; }

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    callbacks cb_;
    bool open_ = false;
    bool dead_ = false;
    bool writing_ = false;

    void on_connect(boost::system::error_code ec);
    void on_handshake(boost::system::error_code ec);
    void do_read();
    void on_read(boost::system::error_code ec);
    void do_write();
    void on_write(boost::system::error_code ec);
    void fail(boost::system::error_code ec);
};

} // namespace kindred::bench
