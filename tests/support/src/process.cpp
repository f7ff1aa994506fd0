// process.cpp — fork/exec children for tests; see process.hpp.
#include <kindred/testsupport/process.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace kindred::testsupport {

namespace fs = std::filesystem;

temp_dir::temp_dir(std::string_view prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/" +
                          std::string(prefix) + "-XXXXXX";
    if (!mkdtemp(pattern.data()))
        throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
    path_ = pattern;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    if (std::getenv("KINDRED_KEEP_TEST_DIRS") == nullptr)
        fs::remove_all(path_, ec);
}

child_process child_process::spawn(const std::vector<std::string>& argv,
                                   const fs::path& log_path,
                                   const std::vector<std::string>& extra_env) {
    if (argv.empty())
        throw std::invalid_argument("spawn: empty argv");
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
        throw std::runtime_error("cannot open log " + log_path.string());
    std::vector<char*> args;
    for (auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(log_fd);
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls until exec.
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            ::dup2(devnull, STDIN_FILENO);
        ::setpgid(0, 0); // its own group, so a signal to the test runner does not reach it
        for (auto& e : extra_env)
            ::putenv(const_cast<char*>(e.c_str()));
        ::execvp(args[0], args.data());
        const char msg[] = "exec failed\n";
        [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(127);
    }
    ::close(log_fd);
    child_process p;
    p.pid_ = pid;
    p.log_path_ = log_path;
    return p;
}

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1))
    , status_(other.status_)
    , log_path_(std::move(other.log_path_)) {}

child_process& child_process::operator=(child_process&& other) noexcept {
    if (this != &other) {
        kill_now();
        pid_ = std::exchange(other.pid_, -1);
        status_ = other.status_;
        log_path_ = std::move(other.log_path_);
    }
    return *this;
}

child_process::~child_process() { kill_now(); }

static int shell_status(int status) {
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

bool child_process::running() {
    if (pid_ <= 0)
        return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        status_ = shell_status(status);
        pid_ = -1;
        return false;
    }
    return r == 0;
}

int child_process::wait_for(std::chrono::milliseconds timeout) {
    if (pid_ <= 0)
        return status_;
    bool exited = eventually([&] { return !running(); }, timeout);
    return exited ? status_ : -1;
}

void child_process::signal(int sig) {
    if (pid_ > 0)
        ::kill(pid_, sig);
}

int child_process::stop(int sig, std::chrono::milliseconds timeout) {
    if (pid_ <= 0)
        return status_;
    ::kill(pid_, sig);
    return wait_for(timeout);
}

void child_process::kill_now() {
    if (pid_ <= 0)
        return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    status_ = shell_status(status);
    pid_ = -1;
}

std::string child_process::log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

unsigned short free_tcp_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("bind to a free port failed");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

fs::path build_bin_dir() {
    if (const char* dir = std::getenv("KINDRED_BINARY_DIR"); dir && *dir)
        return dir;
#ifdef KINDRED_DEFAULT_BINARY_DIR
    return KINDRED_DEFAULT_BINARY_DIR;
#else
    return fs::current_path();
#endif
}

} // namespace kindred::testsupport
