// kindred_chat_cli_test.cpp — the kindred-chat executable as a person runs it: --help, usage
// errors, an unreachable server, and a seeker's hello against a real kindred-server with a real
// redis-server. It does not depend on matching or relay being served. Skipped when
// kindred-server is not built in the same bin folder (build the kindred-server target first).
#include <kindred/testsupport/process.hpp>
#include <kindred/testsupport/redis_process.hpp>
#include <kindred/testsupport/server_process.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace ts = kindred::testsupport;
using namespace std::chrono_literals;

std::string chat_bin() {
    return (ts::build_bin_dir() / "kindred-chat").string();
}

// Runs kindred-chat to its exit (stdin is /dev/null); returns the exit code and the output.
int run_chat(const ts::temp_dir& dir, const std::vector<std::string>& args, std::string& output) {
    std::vector<std::string> argv{chat_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto child = ts::child_process::spawn(argv, dir.path() / "chat.log");
    const int code = child.wait_for(20s);
    output = child.log();
    return code;
}

TEST(KindredChatCli, HelpDescribesModesAndExitCodes) {
    ts::temp_dir dir("kindred-chat");
    std::string out;
    EXPECT_EQ(run_chat(dir, {"--help"}, out), 0);
    EXPECT_NE(out.find("seeker --tags"), std::string::npos) << out;
    EXPECT_NE(out.find("--password-stdin"), std::string::npos) << out;
    EXPECT_NE(out.find("Exit codes"), std::string::npos) << out;
}

TEST(KindredChatCli, UsageErrorsExitTwo) {
    ts::temp_dir dir("kindred-chat");
    std::string out;
    EXPECT_EQ(run_chat(dir, {"nobody"}, out), 2) << out;
    EXPECT_EQ(run_chat(dir, {"seeker", "--languages", "en"}, out), 2) << out;
    EXPECT_NE(out.find("--tags is required"), std::string::npos) << out;
    EXPECT_EQ(run_chat(dir,
                       {"--url", "wss://x:1", "seeker", "--tags", "grief", "--languages", "en"},
                       out),
              2)
        << out;
    EXPECT_EQ(
        run_chat(dir, {"peer", "--username", "river", "--tags", "grief", "--languages", "en"}, out),
        2)
        << out; // no --password-stdin
}

TEST(KindredChatCli, UnreachableServerExitsThree) {
    ts::temp_dir dir("kindred-chat");
    const auto port = ts::free_tcp_port();
    std::string out;
    EXPECT_EQ(run_chat(dir,
                       {"--url", "ws://127.0.0.1:" + std::to_string(port), "seeker", "--tags",
                        "grief", "--languages", "en"},
                       out),
              3)
        << out;
    EXPECT_NE(out.find("cannot connect"), std::string::npos) << out;
}

TEST(KindredChatCli, SeekerSaysHelloAndLeavesCleanly) {
    if (!std::filesystem::exists(ts::build_bin_dir() / "kindred-server")) {
        GTEST_SKIP() << "kindred-server is not built in " << ts::build_bin_dir();
    }
    ts::redis_process redis;
    ts::server_options options;
    options.redis = redis.unix_address();
    ts::server_process server(options);
    ts::temp_dir dir("kindred-chat");
    std::string out;
    // stdin is /dev/null: the CLI connects, says hello, asks for a match, and on end of input
    // cancels and exits 0.
    EXPECT_EQ(run_chat(dir,
                       {"--url", "ws://127.0.0.1:" + std::to_string(server.port()), "seeker",
                        "--tags", "grief", "--languages", "en"},
                       out),
              0)
        << out << "\n--- server log:\n"
        << server.log();
    EXPECT_NE(out.find("* connected"), std::string::npos) << out;
    EXPECT_EQ(out.find("resume"), std::string::npos) << out; // never prints the token
}

} // namespace
