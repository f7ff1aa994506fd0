// chat_cli_test.cpp — issue #4 "done when": two people on two instances matched by tag and
// chatting end-to-end encrypted through the built `kindred-chat` (same bin folder as
// kindred-server): a peer on B, a seeker on A, each with its stdin on a FIFO the test writes
// and its stdout in a log file the test reads. Both get matched, a line typed on each side is
// printed on the other, `/end` ends it for both, and both exit 0.
#include "integration_support.hpp"
#include <kindred/testsupport/process.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <thread>

namespace kindred::itest {
namespace {

namespace ts = kindred::testsupport;

// A kindred-chat process whose standard input is a FIFO this object writes.
class chat_process {
public:
    chat_process(const std::filesystem::path& dir, const std::string& name,
                 const std::vector<std::string>& args) {
        const auto fifo = dir / (name + ".stdin");
        if (::mkfifo(fifo.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
        std::vector<std::string> argv{"/bin/sh", "-c", "exec \"$@\" < \"$CHAT_STDIN\"", "sh",
                                      (ts::build_bin_dir() / "kindred-chat").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        child_ =
            ts::child_process::spawn(argv, dir / (name + ".log"), {"CHAT_STDIN=" + fifo.string()});
        // Non-blocking open fails (ENXIO) until the child has opened its end: bounded wait.
        ts::eventually(
            [&] {
                fd_ = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
                return fd_ >= 0;
            },
            std::chrono::seconds(10));
        if (fd_ < 0) throw std::runtime_error("kindred-chat did not open its stdin: " + log());
        ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    }
    ~chat_process() {
        close_stdin();
        if (child_.running()) child_.stop(SIGKILL, std::chrono::seconds(5));
    }
    chat_process(const chat_process&) = delete;
    chat_process& operator=(const chat_process&) = delete;

    void type(const std::string& line) {
        const std::string text = line + "\n";
        ASSERT_EQ(::write(fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    }
    void close_stdin() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    std::string log() const { return child_.log(); }
    bool printed(const std::string& text, std::chrono::milliseconds within = 15s) {
        return ts::eventually([&] { return log().find(text) != std::string::npos; }, within);
    }
    int wait_exit(std::chrono::milliseconds timeout) { return child_.wait_for(timeout); }

private:
    ts::child_process child_;
    int fd_ = -1;
};

class ChatCli : public integration_test {};

// A load balancer in miniature: accepts on a loopback port and forwards each connection, byte
// for byte, to the backend port set at that moment (switch_to). Taking an instance out of
// rotation is what a real one does when the instance drains. Threading: one accept thread
// plus one thread per connection; the destructor closes everything and joins them.
class switch_proxy {
public:
    explicit switch_proxy(unsigned short backend)
        : backend_(backend) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(listen_fd_, 16) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            throw std::runtime_error("switch_proxy: cannot listen");
        port_ = ntohs(a.sin_port);
        accept_thread_ = std::thread([this] { accept_loop(); });
    }
    ~switch_proxy() {
        stopping_ = true;
        ::shutdown(listen_fd_, SHUT_RDWR);
        ::close(listen_fd_);
        accept_thread_.join();
        for (auto& t : pumps_)
            t.join();
    }
    switch_proxy(const switch_proxy&) = delete;
    switch_proxy& operator=(const switch_proxy&) = delete;

    unsigned short port() const { return port_; }
    void switch_to(unsigned short backend) { backend_ = backend; }

private:
    void accept_loop() {
        while (!stopping_) {
            const int client = ::accept(listen_fd_, nullptr, nullptr);
            if (client < 0) return;
            const int server = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            a.sin_port = htons(backend_.load());
            if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                if (server >= 0) ::close(server);
                ::close(client); // backend down: the client sees a close and retries
                continue;
            }
            pumps_.emplace_back([this, client, server] { pump(client, server); });
        }
    }

    // Copies both ways until either side closes (or the proxy stops), then closes both.
    void pump(int a, int b) {
        char buf[16384];
        pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
        while (!stopping_) {
            if (::poll(fds, 2, 100) < 0) break;
            bool done = false;
            for (int i = 0; i < 2 && !done; ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
                if (n <= 0) {
                    done = true;
                    break;
                }
                for (ssize_t off = 0; off < n;) {
                    const ssize_t w =
                        ::write(fds[1 - i].fd, buf + off, static_cast<size_t>(n - off));
                    if (w <= 0) {
                        done = true;
                        break;
                    }
                    off += w;
                }
            }
            if (done) break;
        }
        ::close(a);
        ::close(b);
    }

    int listen_fd_ = -1;
    unsigned short port_ = 0;
    std::atomic<unsigned short> backend_;
    std::atomic<bool> stopping_{false};
    std::thread accept_thread_;
    std::vector<std::thread> pumps_; // only the accept thread adds; joined after it ends
};

// Issue #9 item 5: SIGTERM's 1012 makes the C++ client (kindred-chat over chat_session)
// reconnect — through the balancer, to the other instance — resume, and lose nothing.
// What is done: a peer on B and a seeker through the proxy on A chat; the proxy takes A out of
//   rotation and A gets SIGTERM; the peer writes while the seeker is away; then both write.
// What must hold: A exits 0; the seeker's kindred-chat reports the close and "reconnected,
//   session resumed" (not a new session), receives the line written while it was away, and
//   what it writes afterwards reaches the peer; the peer never drops.
TEST_F(ChatCli, SigtermedInstanceSeekerResumesOnTheOtherThroughTheBalancer) {
    ::signal(SIGPIPE, SIG_IGN);
    start_server({"--shutdown-grace-s", "3"});
    auto b = another_server();
    const auto pw = add_staff("river", "peer");
    auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                        {"user", "certify", "river", "--tags", "grief", "--until", "2099-01-01"});
    ASSERT_EQ(r.code, 0) << r.output;
    ts::temp_dir dir("kindred-chat-drain");
    switch_proxy balancer(port());

    chat_process peer(dir.path(), "peer",
                      {"--url", "ws://127.0.0.1:" + std::to_string(b->port()), "peer", "--username",
                       "river", "--password-stdin", "--tags", "grief", "--languages", "en",
                       "--identity-file", (dir.path() / "river.identity").string()});
    peer.type(pw);
    ASSERT_TRUE(peer.printed("* shift on")) << peer.log();
    chat_process seeker(dir.path(), "seeker",
                        {"--url", "ws://127.0.0.1:" + std::to_string(balancer.port()), "seeker",
                         "--tags", "grief", "--languages", "en"});
    ASSERT_TRUE(seeker.printed("you are talking with Alias river")) << seeker.log();
    seeker.type("before the drain 1a2b");
    ASSERT_TRUE(peer.printed("seeker: before the drain 1a2b")) << peer.log();

    balancer.switch_to(b->port());
    server_->signal(SIGTERM);
    EXPECT_TRUE(seeker.printed("* connection lost (closed 1012)")) << seeker.log();
    peer.type("while you were away 5e6f");
    EXPECT_TRUE(seeker.printed("* reconnected, session resumed")) << seeker.log();
    EXPECT_TRUE(seeker.printed(": while you were away 5e6f")) << seeker.log();
    seeker.type("after the drain 9c8d");
    EXPECT_TRUE(peer.printed("seeker: after the drain 9c8d")) << peer.log();
    EXPECT_EQ(server_->wait_exit(10s), 0) << server_->log();
    EXPECT_EQ(peer.log().find("connection lost"), std::string::npos) << peer.log();
    // Each line arrived once.
    const auto seeker_log = seeker.log();
    EXPECT_EQ(seeker_log.find("5e6f"), seeker_log.rfind("5e6f")) << seeker_log;
    const auto peer_log = peer.log();
    EXPECT_EQ(peer_log.find("9c8d"), peer_log.rfind("9c8d")) << peer_log;
}

TEST_F(ChatCli, SeekerOnAAndPeerOnBChatThroughKindredChat) {
    ::signal(SIGPIPE, SIG_IGN); // a write to a FIFO whose reader died must fail, not kill us
    start_server();
    auto b = another_server();
    const auto pw = add_staff("river", "peer");
    auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                        {"user", "certify", "river", "--tags", "grief", "--until", "2099-01-01"});
    ASSERT_EQ(r.code, 0) << r.output;
    ts::temp_dir dir("kindred-chat-e2e");

    chat_process peer(dir.path(), "peer",
                      {"--url", "ws://127.0.0.1:" + std::to_string(b->port()), "peer", "--username",
                       "river", "--password-stdin", "--tags", "grief", "--languages", "en",
                       "--identity-file", (dir.path() / "river.identity").string()});
    peer.type(pw);
    ASSERT_TRUE(peer.printed("* shift on")) << peer.log() << "\n--- B:\n" << b->log();

    chat_process seeker(dir.path(), "seeker",
                        {"--url", "ws://127.0.0.1:" + std::to_string(port()), "seeker", "--tags",
                         "grief", "--languages", "en"});
    ASSERT_TRUE(seeker.printed("you are talking with Alias river")) << seeker.log();
    ASSERT_TRUE(peer.printed("a seeker joined")) << peer.log();

    seeker.type("hello from the seeker 7c1f");
    EXPECT_TRUE(peer.printed("seeker: hello from the seeker 7c1f")) << peer.log();
    peer.type("hello from the peer 93ab");
    EXPECT_TRUE(seeker.printed(": hello from the peer 93ab")) << seeker.log();

    seeker.type("/end");
    EXPECT_TRUE(seeker.printed("conversation ended by seeker")) << seeker.log();
    EXPECT_TRUE(peer.printed("conversation ended by seeker")) << peer.log();
    EXPECT_EQ(seeker.wait_exit(10s), 0) << seeker.log();
    // End of input is /quit for the peer: it ends its shift and exits.
    peer.close_stdin();
    EXPECT_EQ(peer.wait_exit(10s), 0) << peer.log();
    // Nothing typed reached a server log.
    EXPECT_EQ(server_->log().find("7c1f"), std::string::npos);
    EXPECT_EQ(b->log().find("93ab"), std::string::npos);
}

} // namespace
} // namespace kindred::itest
