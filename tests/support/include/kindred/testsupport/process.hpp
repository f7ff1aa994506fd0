// process.hpp — child processes for tests: start a real program, stop it, read its log.
// Threading: a child_process is used from one test thread. Lifetime: the destructor kills the
// child (SIGKILL) and reaps it, so a failing test never leaves a process behind.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/types.h>

namespace kindred::testsupport {

// A fresh directory under $TMPDIR (or /tmp), removed by the caller or by temp_dir's destructor.
class temp_dir {
public:
    explicit temp_dir(std::string_view prefix = "kindred");
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

class child_process {
public:
    child_process() = default;
    // Starts argv[0] (looked up in PATH when it has no slash) with stdout and stderr appended
    // to log_path. extra_env entries are "NAME=value". Throws std::runtime_error on failure.
    static child_process spawn(const std::vector<std::string>& argv,
                               const std::filesystem::path& log_path,
                               const std::vector<std::string>& extra_env = {});
    child_process(child_process&& other) noexcept;
    child_process& operator=(child_process&& other) noexcept;
    ~child_process();

    pid_t pid() const { return pid_; }
    bool running();
    // Sends sig and waits up to timeout for the exit. Returns the exit status as the shell
    // reports it (code, or 128+signal), or -1 when it did not exit in time.
    int stop(int sig, std::chrono::milliseconds timeout);
    // Waits up to timeout for the child to exit by itself; same return values as stop().
    int wait_for(std::chrono::milliseconds timeout);
    void kill_now(); // SIGKILL and reap
    void signal(int sig);
    const std::filesystem::path& log_path() const { return log_path_; }
    std::string log() const; // the whole log so far

private:
    pid_t pid_ = -1;
    int status_ = -1;
    std::filesystem::path log_path_;
};

// Polls pred every 10 ms until it is true or timeout passes; returns pred's last answer.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred())
            return true;
        struct timespec ts{0, 10'000'000};
        nanosleep(&ts, nullptr);
    }
    return pred();
}

// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close).
unsigned short free_tcp_port();

// Where the build put its executables (KINDRED_BINARY_DIR, set by CMake for tests).
std::filesystem::path build_bin_dir();

} // namespace kindred::testsupport
