// main.cpp — `kindred-bench`: the load generator. Parses the options, runs one scenario
// against a running kindred-server, prints a progress line on stderr every second, a human
// summary on stdout, and writes the JSON result (--json FILE).
// Exit codes: 0 every check passed, 1 a correctness check failed (loss, duplicate, double
// assignment, a session not resumed, connections not ready), 2 usage error, 3 the run could
// not be set up (server or Redis unreachable, accounts refused).
#include "scenarios.hpp"
#include <kindred/net/descriptors.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

namespace po = boost::program_options;
namespace json = boost::json;
using namespace kindred::bench;

namespace {

enum exit_code : int { passed = 0, check_failed = 1, usage = 2, setup_failed = 3 };

const char* const scenarios_help = R"(Scenarios:
  idle   --connections N: N seekers say hello and wait --duration s. Server RSS per
         connection (--server-pid), handshakes/s, server CPU while idle.
  relay  --pairs M: M matched pairs (peers log in, register identity and prekeys, start
         shifts; seekers request_match; real E2E) send to each other at --rate msgs/s in
         total, or with --rate 0 as fast as acks allow (--window sends in flight per
         client). Delivered msgs/s, latency p50/p90/p99/p99.9, server (--server-pid) and
         Redis (--redis-pid) CPU per message; then checks every message arrived once.
  match  --peers P (capacity 1..--capacity-max), seekers arriving at --rate/s for
         --duration s, each ending --hold-ms after matched. request->matched percentiles;
         checks no double assignment and no peer above capacity.
  storm  --clients N (N/2 pairs): all sockets dropped at once, all resume and sync. Time
         until all resumed; checks every acknowledged message arrived exactly once.
  echo   --pairs M against kindred-bench-echo (no Redis, no protocol): the networking
         ceiling. Same pacing (--rate, --window), frames as long as a Kindred `send` of
         --size plaintext bytes, the same figures and exactly-once check as relay.
relay, match and storm create peer accounts in Redis (--redis, the server's Redis) with a
test-only password hash cost; the server's catalog must hold --tag and --language, and its
rate limits must be raised (bench/run.sh does both).
)";

struct url_parts {
    std::string host;
    std::string port = "80";
    std::string path = "/v1/ws";
};

std::optional<url_parts> parse_url(const std::string& url) {
    const std::string scheme = "ws://";
    if (url.rfind(scheme, 0) != 0) return std::nullopt;
    url_parts u;
    auto rest = url.substr(scheme.size());
    if (auto slash = rest.find('/'); slash != std::string::npos) {
        if (rest.substr(slash) != "/") u.path = rest.substr(slash);
        rest = rest.substr(0, slash);
    }
    if (auto colon = rest.rfind(':'); colon != std::string::npos) {
        u.port = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
    }
    if (rest.empty() || u.port.empty()) return std::nullopt;
    u.host = rest;
    return u;
}

// A process's command line from /proc (NUL-separated arguments), for the result file: the
// server's limits and thread count are part of what a figure means.
std::string command_line(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!raw.empty() && raw.back() == '\0')
        raw.pop_back();
    std::replace(raw.begin(), raw.end(), '\0', ' ');
    return raw;
}

std::string utc_now(const char* format) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

} // namespace

int main(int argc, char** argv) {
    bench_options o;
    std::string json_path;
    std::vector<std::string> labels;
    std::optional<long> server_pid, redis_pid;
    po::options_description desc(
        "kindred-bench — load generator for kindred-server\n\n"
        "Usage: kindred-bench --scenario S --url ws://HOST:PORT [options]\n\n"
        "Options");
    // clang-format off
    desc.add_options()
        ("help,h", "this help")
        ("scenario", po::value(&o.scenario), "idle | relay | match | storm | echo")
        ("url", po::value(&o.url)->default_value("ws://127.0.0.1:8080/v1/ws"),
         "the server's WebSocket URL (ws:// only)")
        ("redis", po::value(&o.redis), "the server's Redis (unix:/path or tcp://host:port), "
         "for peer accounts (relay, match, storm)")
        ("duration", po::value(&o.duration_s)->default_value(10), "measured seconds (idle: "
         "idle time; match: arrival time)")
        ("warmup", po::value(&o.warmup_s)->default_value(1), "relay: seconds before measuring")
        ("rate", po::value(&o.rate)->default_value(0), "relay: msgs/s in total, 0 = closed "
         "loop; match: seekers/s (0 = 50)")
        ("window", po::value(&o.window)->default_value(8), "relay closed loop: sends in flight "
         "per client")
        ("size", po::value(&o.h.message_size)->default_value(100), "relay/storm: plaintext "
         "bytes per message")
        ("connections", po::value(&o.connections)->default_value(1000), "idle: seekers")
        ("pairs", po::value(&o.pairs)->default_value(100), "relay: matched pairs")
        ("peers", po::value(&o.peers)->default_value(100), "match: peers on shift")
        ("capacity-max", po::value(&o.capacity_max)->default_value(5), "match: peer i has "
         "capacity 1 + i % this")
        ("hold-ms", po::value(&o.hold_ms)->default_value(1000), "match: a seeker ends its "
         "conversation this long after matched")
        ("clients", po::value(&o.clients)->default_value(200), "storm: clients (half peers, "
         "half seekers)")
        ("messages", po::value(&o.messages)->default_value(5), "storm: messages per client "
         "before the drop")
        ("concurrency", po::value(&o.concurrency)->default_value(256), "connects in flight")
        ("connect-rate", po::value(&o.connect_rate)->default_value(0), "idle: connects/s, 0 = "
         "as fast as --concurrency allows")
        ("threads", po::value(&o.h.threads)->default_value(1), "generator threads (each runs "
         "one io_context with its share of the connections)")
        ("source-addresses", po::value(&o.h.source_addresses)->default_value(250),
         "bind connections to 127.0.0.1..127.0.0.N in turn (loopback servers only; 0 = off)")
        ("server-pid", po::value<long>(), "the server's pid: RSS and CPU from /proc")
        ("redis-pid", po::value<long>(), "Redis's pid: CPU (and RSS) from /proc")
        ("tag", po::value(&o.tag)->default_value("grief"), "the tag peers and seekers use")
        ("language", po::value(&o.language)->default_value("en"), "the language they use")
        ("setup-rate", po::value(&o.setup_rate)->default_value(200), "relay, match, storm: "
         "peers and seekers connected (and shifts started, matches requested) per second "
         "while setting up; 0 = no pacing")
        ("setup-timeout", po::value(&o.setup_timeout_s)->default_value(120), "seconds allowed "
         "for each setup or drain phase")
        ("label", po::value(&labels), "KEY=VALUE recorded in the result's \"labels\" "
         "(repeatable; run.sh records Redis's AOF mode and the pinning)")
        ("json", po::value(&json_path), "write the result here (JSON)");
    // clang-format on
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << "kindred-bench: " << e.what() << "\n";
        return usage;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n" << scenarios_help;
        return passed;
    }
    if (o.scenario != "idle" && o.scenario != "relay" && o.scenario != "match" &&
        o.scenario != "storm" && o.scenario != "echo") {
        std::cerr << "kindred-bench: --scenario must be idle, relay, match, storm or echo\n";
        return usage;
    }
    if (vm.count("server-pid")) o.server_pid = static_cast<pid_t>(vm["server-pid"].as<long>());
    if (vm.count("redis-pid")) o.redis_pid = static_cast<pid_t>(vm["redis-pid"].as<long>());
    if (o.h.threads == 0 || o.h.threads > 64 || o.h.source_addresses > 254 || o.duration_s <= 0 ||
        o.warmup_s < 0 || o.rate < 0 || o.setup_rate < 0 || o.h.message_size > 60000 ||
        o.concurrency == 0 || o.capacity_max < 1 || o.hold_ms < 0 || o.messages < 0) {
        std::cerr << "kindred-bench: an option is out of range (see --help)\n";
        return usage;
    }
    auto url = parse_url(o.url);
    if (!url) {
        std::cerr << "kindred-bench: --url must look like ws://HOST:PORT[/path]\n";
        return usage;
    }
    o.h.scenario = o.scenario;
    // The Redis client logs its connects at info; only trouble belongs among the progress lines.
    spdlog::set_level(spdlog::level::warn);
    if (sodium_init() < 0) {
        std::cerr << "kindred-bench: libsodium failed to initialise\n";
        return setup_failed;
    }
    // Every connection is a file descriptor: the soft limit raised to the hard one, and the
    // table grown before the generator's threads start (a growth later stalls connect()).
    const auto nofile = kindred::net::prepare_descriptor_table().limit;
    {
        std::random_device rd;
        char id[16];
        std::snprintf(id, sizeof id, "%06x", rd() & 0xffffff);
        o.run_id = id;
    }

    // Resolved once: every connection then goes to this endpoint.
    try {
        boost::asio::io_context io;
        boost::asio::ip::tcp::resolver resolver(io);
        auto results = resolver.resolve(boost::asio::ip::tcp::v4(), url->host, url->port);
        o.h.target.server = results.begin()->endpoint();
    } catch (const std::exception& e) {
        std::cerr << "kindred-bench: cannot resolve " << url->host << ": " << e.what() << "\n";
        return setup_failed;
    }
    o.h.target.host_header = url->host + ":" + url->port;
    o.h.target.path = url->path;
    if (!o.h.target.server.address().is_loopback()) o.h.source_addresses = 0;

    const auto started_at = utc_now("%Y-%m-%dT%H:%M:%SZ");
    const auto server_command = o.server_pid ? command_line(*o.server_pid) : std::string();
    const auto redis_command = o.redis_pid ? command_line(*o.redis_pid) : std::string();
    scenario_result result;
    harness h(o.h);
    try {
        h.start();
        if (o.scenario == "idle")
            result = run_idle(o, h);
        else if (o.scenario == "relay")
            result = run_relay(o, h);
        else if (o.scenario == "match")
            result = run_match(o, h);
        else if (o.scenario == "echo")
            result = run_echo(o, h);
        else
            result = run_storm(o, h);
    } catch (const std::exception& e) {
        h.stop();
        std::cerr << "kindred-bench: " << o.scenario << " could not run: " << e.what() << "\n";
        for (auto& p : h.problems())
            std::cerr << "  " << p << "\n";
        return setup_failed;
    }
    h.stop();

    const auto problems = h.problems();
    const bool ok = h.problem_count() == 0;
    json::object out;
    out["scenario"] = o.scenario;
    out["started_at"] = started_at;
    std::string command;
    for (int i = 0; i < argc; ++i)
        command += (i ? " " : "") + std::string(argv[i]);
    out["command"] = command;
    utsname un{};
    ::uname(&un);
    out["machine"] = {{"cores", std::thread::hardware_concurrency()},
                      {"kernel", std::string(un.release)},
                      {"nofile", static_cast<std::uint64_t>(nofile)}};
    if (o.server_pid) out["server_command"] = server_command;
    if (o.redis_pid) out["redis_command"] = redis_command;
    out["generator"] = {
        {"threads", o.h.threads}, {"source_addresses", o.h.source_addresses}, {"run_id", o.run_id}};
    json::object label_json;
    for (const auto& l : labels) {
        const auto eq = l.find('=');
        if (eq == std::string::npos)
            label_json[l] = true;
        else
            label_json[l.substr(0, eq)] = l.substr(eq + 1);
    }
    out["labels"] = label_json;
    out["results"] = result.figures;
    // Answers the session retried by itself: they cost time, not correctness.
    out["retried_answers"] = {{"rate_limited", h.count.rate_limited.load()},
                              {"unavailable", h.count.unavailable.load()}};
    json::array pj;
    for (auto& p : problems)
        pj.push_back(json::value(p));
    out["checks"] = {{"passed", ok}, {"problem_count", h.problem_count()}, {"problems", pj}};

    std::cout << "kindred-bench " << o.scenario << " (" << started_at << ", run " << o.run_id
              << ")\n";
    for (auto& line : result.summary)
        std::cout << "  " << line << "\n";
    if (h.count.rate_limited.load() + h.count.unavailable.load() > 0)
        std::cout << "  retried answers: " << h.count.rate_limited.load() << " rate_limited, "
                  << h.count.unavailable.load() << " unavailable\n";
    std::cout << "  checks: " << (ok ? "passed" : "FAILED") << "\n";
    for (auto& p : problems)
        std::cout << "    " << p << "\n";
    if (h.problem_count() > problems.size())
        std::cout << "    ... and " << h.problem_count() - problems.size() << " more\n";
    if (!json_path.empty()) {
        std::ofstream f(json_path, std::ios::trunc);
        f << json::serialize(out) << "\n";
        if (!f) {
            std::cerr << "kindred-bench: cannot write " << json_path << "\n";
            return setup_failed;
        }
        std::cout << "  result: " << json_path << "\n";
    }
    return ok ? passed : check_failed;
}
