// impaired_link.hpp — a pair of network namespaces joined by a "wire" whose delay, loss and
// black hole a test controls, as `tc netem` would on a veth pair (issue #8 item 8), built from
// what a kernel without netem offers:
//   - each namespace holds one TUN device (ks0 in the server's, 10.77.0.1; kc0 in the clients',
//     10.77.0.2, point-to-point); a forwarder thread in this process copies every IP packet
//     from one TUN device to the other after holding it `delay` (a FIFO per direction, so
//     packets are never reordered): the delay netem would add;
//   - loss and the black hole are nftables rules in each namespace (`numgen random mod 100 < N
//     drop`, then `drop` for everything) on the packets arriving from the wire, so the sender's
//     stack sees its packet leave and never hears of it again, as on a lossy or dead link.
// Names are unique per run ("kindred-rt-<pid>-<n>-s/-c"); the destructor removes both
// namespaces, and a new link removes those left by a run that was killed (dead pid).
// Threading: construct, set_* and destroy on the test's thread; the forwarder runs on its own
// thread. enter() switches only the calling thread's namespace (setns); sockets keep the
// namespace they were created in.
#pragma once

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kindred::rtest {

// Runs a shell command; its exit status and combined output.
struct shell_result {
    int status = -1;
    std::string output;
};
inline shell_result shell(const std::string& command) {
    shell_result r;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        r.output.append(buf, n);
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

// While alive, the calling thread is in the network namespace `ns_fd`; restores the previous one.
class netns_scope {
public:
    explicit netns_scope(int ns_fd)
        : saved_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
        if (saved_ < 0 || ::setns(ns_fd, CLONE_NEWNET) != 0)
            throw std::runtime_error(std::string("setns: ") + std::strerror(errno));
    }
    ~netns_scope() {
        ::setns(saved_, CLONE_NEWNET);
        ::close(saved_);
    }
    netns_scope(const netns_scope&) = delete;
    netns_scope& operator=(const netns_scope&) = delete;

private:
    int saved_;
};

class impaired_link {
public:
    static constexpr const char* server_address = "10.77.0.1";
    static constexpr const char* client_address = "10.77.0.2";

    // Why this machine cannot run the link, or "" when it can (root, `ip netns`, /dev/net/tun,
    // nft with numgen). Probes by doing: a throwaway namespace with an nft rule.
    static std::string unavailable_reason() {
        if (::geteuid() != 0) return "needs root (network namespaces, TUN devices, nftables)";
        if (!std::filesystem::exists("/dev/net/tun")) return "no /dev/net/tun";
        if (shell("command -v nft").status != 0)
            return "nft not installed (Debian package nftables; scripts/install-deps.sh test)";
        const std::string probe = "kindred-rt-probe-" + std::to_string(::getpid());
        auto add = shell("ip netns add " + probe);
        if (add.status != 0) return "ip netns add failed: " + add.output;
        auto rule = shell("ip netns exec " + probe +
                          " nft 'add table inet p; add chain inet p c { type filter hook "
                          "prerouting priority -300; }; add rule inet p c numgen random mod 100 "
                          "< 5 counter drop'");
        shell("ip netns del " + probe);
        if (rule.status != 0) return "nftables numgen rule refused: " + rule.output;
        return {};
    }

    impaired_link() {
        try {
            build();
        } catch (...) {
            tear_down(); // a half-built link leaves nothing behind either
            throw;
        }
    }

    ~impaired_link() { tear_down(); }
    impaired_link(const impaired_link&) = delete;
    impaired_link& operator=(const impaired_link&) = delete;

private:
    void build() {
        remove_stale();
        static std::atomic<int> counter{0};
        const std::string base =
            "kindred-rt-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
        server_ns_ = base + "-s";
        client_ns_ = base + "-c";
        for (auto* ns : {&server_ns_, &client_ns_}) {
            must("ip netns add " + *ns);
            made_.push_back(*ns);
            must("ip -n " + *ns + " link set lo up");
        }
        server_fd_ = open_ns(server_ns_);
        client_fd_ = open_ns(client_ns_);
        tun_s_ = open_tun(server_fd_, "ks0");
        tun_c_ = open_tun(client_fd_, "kc0");
        must("ip -n " + server_ns_ + " addr add " + server_address + " peer " + client_address +
             " dev ks0");
        must("ip -n " + server_ns_ + " link set ks0 up");
        must("ip -n " + client_ns_ + " addr add " + client_address + " peer " + server_address +
             " dev kc0");
        must("ip -n " + client_ns_ + " link set kc0 up");
        // One chain per namespace for what arrives from the wire; rules replaced by set_*().
        for (auto* ns : {&server_ns_, &client_ns_}) {
            must("ip netns exec " + *ns +
                 " nft 'add table inet kindred_wire; add chain inet kindred_wire in { type "
                 "filter hook prerouting priority -300; }'");
        }
        forwarder_ = std::thread([this] { forward(); });
    }

    void tear_down() {
        stop_ = true;
        if (forwarder_.joinable()) forwarder_.join();
        for (int* fd : {&tun_s_, &tun_c_, &server_fd_, &client_fd_}) {
            if (*fd >= 0) ::close(*fd);
            *fd = -1;
        }
        for (auto& ns : made_)
            shell("ip netns del " + ns);
        made_.clear();
    }

public:
    int server_ns_fd() const { return server_fd_; }
    int client_ns_fd() const { return client_fd_; }
    const std::string& server_ns() const { return server_ns_; }
    const std::string& client_ns() const { return client_ns_; }

    // Every packet, both ways, is held this long before it reaches the other side.
    void set_delay(std::chrono::milliseconds d) { delay_ms_ = static_cast<int>(d.count()); }
    // Each packet, both ways, is dropped on arrival with this probability (percent, 0–100;
    // 0 removes the rule). 100 is the black hole.
    void set_loss(int percent) {
        for (auto& [ns, dev] : {std::pair{server_ns_, "ks0"}, std::pair{client_ns_, "kc0"}}) {
            std::string cmd = "ip netns exec " + ns + " nft 'flush chain inet kindred_wire in";
            if (percent >= 100)
                cmd += std::string("; add rule inet kindred_wire in iifname \"") + dev +
                       "\" counter drop";
            else if (percent > 0)
                cmd += std::string("; add rule inet kindred_wire in iifname \"") + dev +
                       "\" numgen random mod 100 < " + std::to_string(percent) + " counter drop";
            must(cmd + "'");
        }
    }
    void black_hole() { set_loss(100); }

    // Packets the forwarder carried: [0] clients → server, [1] server → clients.
    std::array<long, 2> forwarded() const { return {forwarded_[0].load(), forwarded_[1].load()}; }
    // Packets the current nft rules dropped, both namespaces together.
    long dropped() const {
        long n = 0;
        for (auto& ns : {server_ns_, client_ns_}) {
            auto r = shell("ip netns exec " + ns + " nft list chain inet kindred_wire in");
            for (auto at = r.output.find("packets "); at != std::string::npos;
                 at = r.output.find("packets ", at + 1))
                n += std::atol(r.output.c_str() + at + 8);
        }
        return n;
    }

private:
    std::string server_ns_, client_ns_;
    std::vector<std::string> made_;
    int server_fd_ = -1, client_fd_ = -1, tun_s_ = -1, tun_c_ = -1;
    std::atomic<int> delay_ms_{0};
    std::atomic<bool> stop_{false};
    std::array<std::atomic<long>, 2> forwarded_{};
    std::thread forwarder_;

    static void must(const std::string& command) {
        auto r = shell(command);
        if (r.status != 0)
            throw std::runtime_error("`" + command + "` failed (" + std::to_string(r.status) +
                                     "): " + r.output);
    }

    static int open_ns(const std::string& name) {
        int fd = ::open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw std::runtime_error("open netns " + name + ": " + std::strerror(errno));
        return fd;
    }

    // A TUN device is created in the namespace of the thread that configures it.
    static int open_tun(int ns_fd, const char* name) {
        netns_scope in(ns_fd);
        int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) throw std::runtime_error(std::string("/dev/net/tun: ") + std::strerror(errno));
        ifreq ifr{};
        ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
        std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
        if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
            const int e = errno;
            ::close(fd);
            throw std::runtime_error(std::string("TUNSETIFF: ") + std::strerror(e));
        }
        return fd;
    }

    // Namespaces of an earlier run of this suite that was killed before its destructor ran.
    static void remove_stale() {
        auto r = shell("ip netns list");
        std::size_t at = 0;
        while ((at = r.output.find("kindred-rt-", at)) != std::string::npos) {
            auto end = r.output.find_first_of(" \n", at);
            const std::string name = r.output.substr(at, end - at);
            at = end;
            const long pid = std::atol(name.c_str() + std::strlen("kindred-rt-"));
            if (pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0)
                shell("ip netns del " + name);
        }
    }

    void forward() {
        using clock = std::chrono::steady_clock;
        struct packet {
            clock::time_point due;
            std::vector<char> bytes;
        };
        std::array<std::deque<packet>, 2> queue; // [0]: kc0 → ks0, [1]: ks0 → kc0
        const std::array<int, 2> in{tun_c_, tun_s_}, out{tun_s_, tun_c_};
        std::vector<char> buf(65536);
        while (!stop_.load()) {
            const auto now = clock::now();
            int wait_ms = 20;
            for (int d = 0; d < 2; ++d) {
                while (!queue[d].empty() && queue[d].front().due <= now) {
                    auto& p = queue[d].front();
                    // A full or downed device drops it, as a real link would.
                    (void)!::write(out[d], p.bytes.data(), p.bytes.size());
                    ++forwarded_[d];
                    queue[d].pop_front();
                }
                if (!queue[d].empty()) {
                    auto left =
                        std::chrono::ceil<std::chrono::milliseconds>(queue[d].front().due - now);
                    wait_ms = std::min(wait_ms, static_cast<int>(left.count()));
                }
            }
            std::array<pollfd, 2> p{pollfd{in[0], POLLIN, 0}, pollfd{in[1], POLLIN, 0}};
            ::poll(p.data(), 2, std::max(wait_ms, 0));
            for (int d = 0; d < 2; ++d) {
                if (!(p[d].revents & POLLIN)) continue;
                ssize_t n = 0;
                while ((n = ::read(in[d], buf.data(), buf.size())) > 0)
                    queue[d].push_back({clock::now() + std::chrono::milliseconds(delay_ms_.load()),
                                        std::vector<char>(buf.begin(), buf.begin() + n)});
            }
        }
    }
};

} // namespace kindred::rtest
