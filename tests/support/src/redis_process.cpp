// redis_process.cpp — a private redis-server per test; see redis_process.hpp.
#include <kindred/testsupport/redis_process.hpp>

#include <hiredis/hiredis.h>

#include <csignal>
#include <stdexcept>

namespace kindred::testsupport {

redis_process::redis_process(redis_options options)
    : options_(std::move(options))
    , dir_("kindred-redis") {
    socket_ = dir_.path() / "redis.sock";
    if (options_.tcp)
        port_ = free_tcp_port();
    start();
}

redis_process::~redis_process() {
    drop_sync();
    process_.kill_now();
}

void redis_process::set_options(redis_options options) {
    options.tcp = options_.tcp; // the port was chosen (or not) by the constructor
    options_ = std::move(options);
}

std::string redis_process::tcp_address() const {
    return "tcp://127.0.0.1:" + std::to_string(port_);
}

void redis_process::start() {
    drop_sync();
    std::vector<std::string> argv = {
        "redis-server",
        "--port", std::to_string(port_), // 0 disables TCP
        "--bind", "127.0.0.1",
        "--unixsocket", socket_.string(),
        "--unixsocketperm", "700",
        "--dir", dir_.path().string(),
        "--save", "",
        "--daemonize", "no",
        "--loglevel", "warning",
        "--appendonly", options_.appendonly ? "yes" : "no",
    };
    if (options_.appendonly) {
        argv.insert(argv.end(), {"--appendfsync", "always"});
    }
    argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
    process_ = child_process::spawn(argv, dir_.path() / "redis.log");
    bool up = eventually(
        [&] {
            if (!process_.running())
                return false;
            try {
                return command({"PING"}) == "PONG";
            } catch (const std::exception&) {
                return false;
            }
        },
        std::chrono::seconds(10));
    if (!up)
        throw std::runtime_error("redis-server did not start; log:\n" + process_.log());
}

void redis_process::stop() {
    drop_sync();
    process_.stop(SIGTERM, std::chrono::seconds(10));
    process_.kill_now();
}

void redis_process::kill9() {
    drop_sync();
    process_.kill_now();
}

void redis_process::pause() { process_.signal(SIGSTOP); }
void redis_process::resume() { process_.signal(SIGCONT); }
bool redis_process::running() { return process_.running(); }

void redis_process::drop_sync() {
    if (sync_) {
        redisFree(sync_);
        sync_ = nullptr;
    }
}

static std::string reply_text(const redisReply* r) {
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return std::string(r->str, r->len);
    case REDIS_REPLY_ERROR:
        return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
        return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
        return "(nil)";
    case REDIS_REPLY_ARRAY: {
        std::string out;
        for (size_t i = 0; i < r->elements; ++i) {
            if (i)
                out += '\n';
            out += reply_text(r->element[i]);
        }
        return out;
    }
    default:
        return "";
    }
}

std::string redis_process::command(const std::vector<std::string>& args) {
    if (!sync_) {
        timeval tv{2, 0};
        sync_ = redisConnectUnixWithTimeout(socket_.c_str(), tv);
        if (!sync_ || sync_->err) {
            drop_sync();
            throw std::runtime_error("cannot reach test redis");
        }
        redisSetTimeout(sync_, tv);
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(sync_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (!reply) {
        drop_sync();
        throw std::runtime_error("test redis command failed");
    }
    std::string text = reply_text(reply);
    freeReplyObject(reply);
    return text;
}

std::vector<std::string> redis_process::keys(const std::string& pattern) {
    std::vector<std::string> out;
    std::string all = command({"KEYS", pattern});
    size_t start = 0;
    while (start < all.size()) {
        size_t nl = all.find('\n', start);
        if (nl == std::string::npos)
            nl = all.size();
        out.push_back(all.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

} // namespace kindred::testsupport
