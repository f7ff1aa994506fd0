// client.hpp — one pipelined Redis command connection over hiredis 0.14, driven by Asio:
// reconnects with backoff, per-command timeouts, a health-check PING, Lua scripts by SHA.
//
// Threading: every handler and observer runs on the client's own strand (one per client),
// never inside a call into this API. Handlers of one client run one at a time, in the order
// their replies arrive; callers that need another strand post to it. All member functions
// may be called from any thread: they post into the strand (dispatch when already on it).
//
// Lifetime: create, start(), use, stop(). A stopped client stays stopped. The destructor
// calls stop(); pending work keeps the internals alive until it completes, so destroying a
// client with commands in flight is safe as long as its io_context is still run afterwards
// (or destroyed). Destroy every client before its io_context. stop() only posts: handlers
// (with error::stopped) may run after it returns, so whatever they capture must live until
// the io_context has run them. Observers (on_state, on_latency) are not called once stop()
// has taken effect on the strand.
//
// Error model (see error.hpp): every command's handler is called exactly once, with
//   - success and the reply;
//   - error::reply_error and the error reply (its text in reply.str());
//   - error::not_connected at once, without sending, while there is no ready connection —
//     commands are NOT queued during an outage, so the caller can answer `unavailable`;
//   - error::timeout when no reply came before options.command_timeout (the late reply is
//     dropped; the command may still have run) — or, for a command sent with
//     on_stall::fail, once Redis has answered nothing at all for options.stall_timeout;
//   - error::not_connected, without sending, for a command sent with on_stall::fail while
//     Redis is stalled (no reply since the stall was detected);
//   - error::disconnected when the connection dropped with the command in flight (it may
//     or may not have run);
//   - error::stopped after stop();
//   - error::invalid_command for an empty command or SUBSCRIBE/MONITOR-like commands (use
//     kindred::store::subscriber for pub/sub).
#pragma once

#include <kindred/store/endpoint.hpp>
#include <kindred/store/error.hpp>
#include <kindred/store/reply.hpp>
#include <kindred/store/script.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace kindred::store {

// What a command does when Redis stops answering altogether (client_options::stall_timeout):
// wait for its own deadline (command_timeout), or fail as soon as the stall is seen. `fail`
// suits commands a caller may safely retry and whose caller waits for an answer (a chat
// send, idempotent by its seq): a frozen Redis then costs the user stall_timeout, not a
// second.
enum class on_stall { wait, fail };

struct client_options {
    endpoint address;
    // Deadline of each command, from when it is sent. Also the deadline of the health PING.
    std::chrono::milliseconds command_timeout{1000};
    // A Redis that answers nothing at all for this long while a command sent with
    // on_stall::fail waits is stalled (SIGSTOP, a network partition, a long blocking call):
    // those commands complete with error::timeout at once, and later ones with
    // error::not_connected without being sent, until the next reply arrives. A busy Redis
    // that keeps answering is not stalled, however long its queue — but Redis runs every
    // command it read from a connection in one go before writing their replies, so slow
    // commands pipelined together (long scripts) do look like a stall. The connection itself
    // is kept (the health PING decides about it). Zero disables it.
    std::chrono::milliseconds stall_timeout{0};
    // Deadline for a connection attempt: socket connect plus the first PING's answer.
    std::chrono::milliseconds connect_timeout{1000};
    // Reconnect delays: first delay, doubled after each failed attempt up to the maximum,
    // with ±20% jitter; back to the first delay once a connection is ready. Forever, until
    // stop().
    std::chrono::milliseconds reconnect_initial{50};
    std::chrono::milliseconds reconnect_max{2000};
    // Interval of the health PING while connected; a PING without a reply within
    // command_timeout drops the connection (in-flight commands fail) and reconnects.
    // Zero disables it.
    std::chrono::milliseconds ping_interval{1000};
    // A name for this connection in logs (e.g. "cmd-3"); never an address or secret.
    std::string name = "redis";

    // Observers, called on the client's strand, never after stop(). Both optional.
    // Each completed command that was sent (success, error reply, timeout, disconnected):
    // its time from send to completion, for the latency histogram.
    std::function<void(std::chrono::steady_clock::duration, const boost::system::error_code&)>
        on_latency;
    // Connection readiness changes: true once a connection answers, false when it is lost.
    std::function<void(bool connected)> on_state;
};

class client {
public:
    using handler = std::function<void(boost::system::error_code, reply)>;

    client(boost::asio::io_context& io, client_options options);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Starts connecting (and reconnecting, forever, until stop()).
    void start();
    // Closes the connection; every pending handler completes with error::stopped. Idempotent.
    void stop();
    // Whether a connection is ready right now (answered its handshake PING and nothing has
    // failed since). Any thread.
    bool connected() const noexcept;
    const client_options& options() const noexcept;

    // Sends one command; replies come back in the order commands were sent (pipelined).
    void command(std::vector<std::string> args, handler h, on_stall stall = on_stall::wait);

    // Runs a Lua script: EVALSHA by its SHA1; on a NOSCRIPT error it sends SCRIPT LOAD and
    // EVALSHA again (pipelined, once), so callers never see NOSCRIPT unless the script fails
    // to load. The handler gets the script's reply (or error, as for command()).
    void eval(const script& s, std::vector<std::string> keys, std::vector<std::string> args,
              handler h, on_stall stall = on_stall::wait);
    // Loads a script ahead of use (SCRIPT LOAD); the handler gets its SHA1 as a string
    // reply, or error::unexpected_reply when Redis names another SHA1.
    void load(const script& s, handler h);
    // Loads every script (pipelined); `done` runs once with the first error, or success.
    void load_all(std::span<const script* const> scripts,
                  std::function<void(boost::system::error_code)> done);

    // PUBLISH channel payload; the reply is the number of subscribers that received it.
    void publish(std::string channel, std::string payload, handler h);

    class impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace kindred::store
