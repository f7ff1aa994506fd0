// redis_process.hpp — a real redis-server for one test, on its own unix socket (and, when
// asked, a free TCP port), with its data in a temporary folder. Stopped and removed by the
// destructor. Threading: used from the test's thread only.
#pragma once

#include <kindred/testsupport/process.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

struct redisContext;

namespace kindred::testsupport {

struct redis_options {
    bool tcp = false;         // also listen on 127.0.0.1:<free port>
    bool appendonly = false;  // AOF with appendfsync always
    std::vector<std::string> extra_args; // more redis-server arguments
};

class redis_process {
public:
    explicit redis_process(redis_options options = {});
    ~redis_process();
    redis_process(const redis_process&) = delete;
    redis_process& operator=(const redis_process&) = delete;

    const std::filesystem::path& socket_path() const { return socket_; }
    unsigned short port() const { return port_; } // 0 without tcp
    // The address Kindred's config takes: "unix:/path/redis.sock" (or "tcp://127.0.0.1:P").
    std::string unix_address() const { return "unix:" + socket_.string(); }
    std::string tcp_address() const;

    // The options the next start() uses: e.g. a fixture's Redis turned to AOF, then restart()
    // (tests/reliability). `tcp` cannot change after construction.
    void set_options(redis_options options);
    void start();            // starts and waits until it answers PING (throws on failure)
    void stop();             // SHUTDOWN NOSAVE-style stop via SIGTERM, waits for exit
    void kill9();            // SIGKILL: a crash
    void restart() { stop(); start(); }
    void pause();            // SIGSTOP: Redis hangs without closing sockets
    void resume();           // SIGCONT
    bool running();

    // A synchronous command for assertions, e.g. command({"GET","k"}). Returns the reply as
    // text: strings and status as is, integers in decimal, nil as "(nil)", errors as
    // "ERR ...", arrays as elements joined by '\n'. Throws when Redis cannot be reached.
    std::string command(const std::vector<std::string>& args);
    std::vector<std::string> keys(const std::string& pattern = "*");

private:
    redis_options options_;
    temp_dir dir_;
    std::filesystem::path socket_;
    unsigned short port_ = 0;
    child_process process_;
    redisContext* sync_ = nullptr;
    void drop_sync();
};

} // namespace kindred::testsupport
