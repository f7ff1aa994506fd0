// server_process.hpp — a real kindred-server for one test: a config and web root in a temp
// folder, listening on 127.0.0.1 with a port the server picks (--port-file), its log in the
// temp folder. Started by the constructor (which waits for /healthz 200, by default also
// /readyz 200, or throws with the log); killed by the destructor. Threading: used from the test's
// thread only.
#pragma once

#include <kindred/testsupport/process.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kindred::testsupport {

struct server_options {
    std::string redis;             // --redis, e.g. redis_process::unix_address() (required)
    std::vector<std::string> args; // more command-line arguments, e.g. {"--heartbeat-s", "1"}
    // --listen. Readiness is checked on 127.0.0.1, so another address must include it
    // (e.g. "0.0.0.0:0" for a server that clients in another network namespace reach).
    std::string listen = "127.0.0.1:0";
    std::vector<std::string> env;                  // more "NAME=value" environment entries
    std::optional<std::string> config_json;        // nullopt: default_test_config()
    std::optional<std::filesystem::path> web_root; // nullopt: <tmp>/web with an index.html
    std::string instance_id;                       // empty: a unique "test-<pid>-<n>"
    std::chrono::milliseconds start_timeout{15000};
    // Also wait for /readyz 200 (Redis connected, instance registered), so a test's first
    // hello does not race the server's Redis connection. Off for tests that start the
    // server while Redis is down.
    bool wait_ready = true;
};

// The config file a server_process uses unless told otherwise: a small known catalog
// (tags grief and test_tag, languages en and es, one crisis resource) and one allowed origin,
// https://kindred.test. Listen address, Redis and web root come from flags.
std::string default_test_config();

// The contents of <tmp>/web/index.html in the default web root.
inline constexpr const char* default_index_html =
    "<!doctype html><title>Kindred test</title><p>kindred-test-index</p>\n";

class server_process {
public:
    explicit server_process(server_options options);
    ~server_process();
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    // The bound port, read from the port file (changes after restart()).
    unsigned short port() const { return port_; }
    const std::string& instance_id() const { return options_.instance_id; }
    const std::filesystem::path& dir() const { return dir_.path(); }
    const std::filesystem::path& web_root() const { return web_root_; }
    const std::filesystem::path& config_path() const { return config_path_; }
    std::string log() const { return process_.log(); } // every run's output so far
    bool running() { return process_.running(); }
    pid_t pid() const { return process_.pid(); }

    // Starts the server (again) and waits for its port file and /healthz 200 (and /readyz 200
    // when options.wait_ready); throws
    // std::runtime_error with the log when it exits or does not come up in time.
    void start();
    // Sends sig and waits for the exit; returns the exit code (128+signal when killed by one,
    // -1 when it did not exit within timeout, after which it is SIGKILLed).
    int stop(int sig = SIGTERM, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    void kill9();
    // Sends sig without waiting (e.g. SIGTERM, then watch the clients being closed).
    void signal(int sig) { process_.signal(sig); }
    // Waits for the exit; the exit code, or -1 when it is still running after timeout.
    int wait_exit(std::chrono::milliseconds timeout) { return process_.wait_for(timeout); }
    void restart() {
        stop();
        start();
    }

private:
    server_options options_;
    temp_dir dir_;
    std::filesystem::path web_root_;
    std::filesystem::path config_path_;
    std::filesystem::path port_file_;
    unsigned short port_ = 0;
    child_process process_;
};

// A blocking GET on 127.0.0.1:port with plain sockets (no Beast), for readiness checks.
// Returns the status code, or 0 when no status line arrived within timeout.
int simple_http_status(unsigned short port, const std::string& target,
                       std::chrono::milliseconds timeout = std::chrono::seconds(2));

} // namespace kindred::testsupport
