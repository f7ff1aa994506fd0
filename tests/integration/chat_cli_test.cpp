// chat_cli_test.cpp — issue #4 "done when": two people on two instances matched by tag and
// chatting end-to-end encrypted through the built `kindred-chat` (same bin folder as
// kindred-server): a peer on B, a seeker on A, each with its stdin on a FIFO the test writes
// and its stdout in a log file the test reads. Both get matched, a line typed on each side is
// printed on the other, `/end` ends it for both, and both exit 0.
#include "integration_support.hpp"
#include <kindred/testsupport/process.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

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
