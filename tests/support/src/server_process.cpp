// server_process.cpp — a real kindred-server per test; see server_process.hpp.
#include <kindred/testsupport/server_process.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kindred::testsupport {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string default_test_config() {
    return R"({
  // Written by tests/support server_process: a small, known catalog.
  "allowed_origins": ["https://kindred.test"],
  "languages": [
    {"id": "en", "label": "English"},
    {"id": "es", "label": "Español"}
  ],
  "tags": [
    {"id": "grief", "labels": {"en": "Grief and loss", "es": "Duelo y pérdida"}},
    {"id": "test_tag", "labels": {"en": "Test tag"}}
  ],
  "crisis_resources": [
    {"region": "INTL", "name": "Find a Helpline", "url": "https://findahelpline.com",
     "languages": ["en", "es"]}
  ]
}
)";
}

namespace {

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string unique_instance_id() {
    static std::atomic<int> counter{0};
    return "test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// The port file holds the port in decimal and a newline; a partial file is never seen
// because the server renames it into place, but parse defensively anyway.
unsigned short read_port_file(const fs::path& path) {
    std::ifstream in(path);
    std::string text;
    if (!std::getline(in, text) || text.empty()) return 0;
    try {
        unsigned long v = std::stoul(text);
        return v > 0 && v < 65536 ? static_cast<unsigned short>(v) : 0;
    } catch (const std::exception&) {
        return 0;
    }
}

} // namespace

int simple_http_status(unsigned short port, const std::string& target,
                       std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left_ms = [&] {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
        return static_cast<int>(ms < 0 ? 0 : ms);
    };
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return 0;
    struct fd_guard {
        int fd;
        ~fd_guard() { ::close(fd); }
    } guard{fd};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EINPROGRESS) return 0;
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, left_ms()) != 1) return 0;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return 0;
    }
    const std::string req = "GET " + target +
                            " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                            "\r\nConnection: close\r\n\r\n";
    std::size_t sent = 0;
    while (sent < req.size()) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, left_ms()) != 1) return 0;
        ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return 0;
        sent += static_cast<std::size_t>(n);
    }
    std::string reply;
    while (reply.find("\r\n") == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, left_ms()) != 1) return 0;
        char buf[512];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return 0;
        reply.append(buf, static_cast<std::size_t>(n));
    }
    // "HTTP/1.1 200 OK"
    if (reply.rfind("HTTP/1.", 0) != 0 || reply.size() < 12) return 0;
    try {
        return std::stoi(reply.substr(9, 3));
    } catch (const std::exception&) {
        return 0;
    }
}

server_process::server_process(server_options options)
    : options_(std::move(options))
    , dir_("kindred-server") {
    if (options_.instance_id.empty()) options_.instance_id = unique_instance_id();
    if (options_.web_root) {
        web_root_ = *options_.web_root;
    } else {
        web_root_ = dir_.path() / "web";
        fs::create_directories(web_root_);
        write_file(web_root_ / "index.html", default_index_html);
    }
    config_path_ = dir_.path() / "kindred.json";
    write_file(config_path_, options_.config_json ? *options_.config_json : default_test_config());
    port_file_ = dir_.path() / "port";
    start();
}

server_process::~server_process() {
    process_.kill_now();
}

void server_process::start() {
    std::error_code ec;
    fs::remove(port_file_, ec);
    port_ = 0;
    std::vector<std::string> argv = {
        (build_bin_dir() / "kindred-server").string(),
        "--config",
        config_path_.string(),
        "--listen",
        options_.listen,
        "--port-file",
        port_file_.string(),
        "--web-root",
        web_root_.string(),
        "--instance-id",
        options_.instance_id,
    };
    if (!options_.redis.empty()) argv.insert(argv.end(), {"--redis", options_.redis});
    // The server refuses to start without its lexicon; the test server runs in a temp folder,
    // so give it the shipped file unless the test names one itself. The source folder comes
    // from CMake, not __FILE__, which a compiler cache may rewrite to a relative path.
    if (std::find(options_.args.begin(), options_.args.end(), "--lexicon") == options_.args.end()) {
        const fs::path repo = KINDRED_TESTSUPPORT_SOURCE_DIR;
        argv.insert(argv.end(),
                    {"--lexicon", (repo / "moderation" / "lexicon" / "lexicon.json").string()});
    }
    argv.insert(argv.end(), options_.args.begin(), options_.args.end());
    process_ = child_process::spawn(argv, dir_.path() / "server.log", options_.env);

    bool up = eventually(
        [&] {
            if (!process_.running()) return true; // exited: stop waiting, report below
            if (port_ == 0) port_ = read_port_file(port_file_);
            if (port_ == 0 || simple_http_status(port_, "/healthz") != 200) return false;
            return !options_.wait_ready || simple_http_status(port_, "/readyz") == 200;
        },
        options_.start_timeout);
    if (!up || !process_.running()) {
        const std::string why =
            process_.running() ? "no port file and /healthz 200 within the timeout"
                               : "it exited with code " + std::to_string(process_.wait_for(0ms));
        process_.kill_now();
        throw std::runtime_error("kindred-server did not come up (" + why + ", port " +
                                 std::to_string(port_) + "); log:\n" + process_.log());
    }
}

int server_process::stop(int sig, std::chrono::milliseconds timeout) {
    int code = process_.stop(sig, timeout);
    if (code == -1) process_.kill_now();
    return code;
}

void server_process::kill9() {
    process_.kill_now();
}

} // namespace kindred::testsupport
