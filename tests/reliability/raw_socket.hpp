// raw_socket.hpp — a hand-built HTTP/WebSocket client on a plain POSIX socket, for hostile
// input: any bytes on the wire (unmasked frames, RSV bits, reserved opcodes, broken UTF-8,
// malformed handshakes) that a real client library refuses to produce.
// Header-only (inline), so the folder's CMake glob needs no new source file.
// Threading: one thread; every call blocks at most its timeout.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kindred::reltest {

using namespace std::chrono_literals;

// One frame as built for the wire. Defaults: a final, masked text frame.
struct frame_spec {
    std::uint8_t opcode = 0x1; // 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong
    std::string payload;
    bool fin = true;
    bool masked = true;   // clients must mask; false builds the forbidden unmasked frame
    std::uint8_t rsv = 0; // the three RSV bits (0..7), all 0 unless an extension says otherwise
};

// The frame's bytes: the shortest length form, a fixed non-zero mask key when masked.
inline std::string build_frame(const frame_spec& f) {
    std::string out;
    out.push_back(static_cast<char>((f.fin ? 0x80 : 0) | ((f.rsv & 7) << 4) | (f.opcode & 0x0f)));
    const std::uint64_t n = f.payload.size();
    const char mask_bit = f.masked ? static_cast<char>(0x80) : 0;
    if (n < 126) {
        out.push_back(static_cast<char>(mask_bit | static_cast<char>(n)));
    } else if (n < 65536) {
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xff));
    } else {
        out.push_back(static_cast<char>(mask_bit | 127));
        for (int i = 7; i >= 0; --i)
            out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    }
    const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    if (f.masked) out.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(f.masked ? static_cast<char>(f.payload[i] ^ key[i % 4]) : f.payload[i]);
    return out;
}

inline std::string text_frame(std::string payload) {
    return build_frame({0x1, std::move(payload)});
}

// A masked close frame carrying `code` (network order) and `reason`.
inline std::string close_frame(std::uint16_t code, std::string_view reason = {}) {
    std::string p;
    p.push_back(static_cast<char>(code >> 8));
    p.push_back(static_cast<char>(code & 0xff));
    p.append(reason);
    return build_frame({0x8, p});
}

// An HTTP response as read from the socket.
struct http_reply {
    int status = 0; // 0 when no status line arrived in time
    std::string head;
    std::string body;
};

// What the server sent, parsed from its (unmasked) frames.
struct server_frame {
    enum class kind { frame, eof, timeout } what = kind::timeout;
    std::uint8_t opcode = 0;
    std::string payload;
    std::uint16_t close_code = 0; // for a close frame that carries one
    bool is_close() const { return what == kind::frame && opcode == 0x8; }
};

inline std::string describe(const server_frame& f) {
    if (f.what == server_frame::kind::eof) return "eof";
    if (f.what == server_frame::kind::timeout) return "timeout";
    if (f.opcode == 0x8) return "close " + std::to_string(f.close_code);
    return "opcode " + std::to_string(f.opcode) + " " + f.payload.substr(0, 200);
}

// Milliseconds since `start`, for printing measured times.
inline double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

class raw_socket {
public:
    using clock = std::chrono::steady_clock;

    // Connects to 127.0.0.1:port or throws.
    explicit raw_socket(unsigned short port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket");
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            fd_ = -1;
            throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port));
        }
    }
    ~raw_socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    raw_socket(raw_socket&& o) noexcept
        : fd_(std::exchange(o.fd_, -1))
        , in_(std::move(o.in_))
        , eof_(o.eof_) {}
    raw_socket(const raw_socket&) = delete;
    raw_socket& operator=(const raw_socket&) = delete;
    raw_socket& operator=(raw_socket&&) = delete;

    // Writes every byte; false when the peer is gone or the timeout passes.
    bool send(std::string_view bytes, std::chrono::milliseconds timeout = 2s) {
        const auto deadline = clock::now() + timeout;
        while (!bytes.empty()) {
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, left_ms(deadline)) != 1) return false;
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Reads one HTTP response: the head and a Content-Length body.
    http_reply read_http(std::chrono::milliseconds timeout = 2s) {
        const auto deadline = clock::now() + timeout;
        http_reply r;
        std::size_t end;
        while ((end = in_.find("\r\n\r\n")) == std::string::npos)
            if (!fill(deadline)) return r;
        r.head = in_.substr(0, end + 2);
        in_.erase(0, end + 4);
        if (r.head.rfind("HTTP/1.", 0) == 0 && r.head.size() >= 12)
            r.status = std::atoi(r.head.substr(9, 3).c_str());
        std::size_t length = 0;
        std::string lower = r.head;
        for (auto& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos)
            length = std::strtoul(lower.c_str() + at + 17, nullptr, 10);
        while (in_.size() < length)
            if (!fill(deadline)) break;
        r.body = in_.substr(0, std::min(length, in_.size()));
        in_.erase(0, r.body.size());
        return r;
    }

    // Sends a GET upgrade request for `target` with the standard headers (minus those named in
    // `drop`, plus `extra` lines) and reads the reply.
    http_reply upgrade(std::string_view target = "/v1/ws",
                       const std::vector<std::pair<std::string, std::string>>& extra = {},
                       const std::vector<std::string>& drop = {},
                       std::chrono::milliseconds timeout = 2s) {
        send(upgrade_request(target, extra, drop));
        return read_http(timeout);
    }

    static std::string
    upgrade_request(std::string_view target,
                    const std::vector<std::pair<std::string, std::string>>& extra = {},
                    const std::vector<std::string>& drop = {}) {
        const std::vector<std::pair<std::string, std::string>> standard{
            {"Host", "127.0.0.1"},
            {"Upgrade", "websocket"},
            {"Connection", "Upgrade"},
            {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
            {"Sec-WebSocket-Version", "13"}};
        std::string req = "GET " + std::string(target) + " HTTP/1.1\r\n";
        for (const auto& [name, value] : standard)
            if (std::find(drop.begin(), drop.end(), name) == drop.end())
                req += name + ": " + value + "\r\n";
        for (const auto& [name, value] : extra)
            req += name + ": " + value + "\r\n";
        return req + "\r\n";
    }

    // The next server frame (control frames included), or eof / timeout.
    server_frame read_frame(std::chrono::milliseconds timeout = 2s) {
        const auto deadline = clock::now() + timeout;
        server_frame f;
        auto need = [&](std::size_t n) {
            while (in_.size() < n)
                if (!fill(deadline)) return false;
            return true;
        };
        auto done = [&] {
            f.what = eof_ ? server_frame::kind::eof : server_frame::kind::timeout;
            return f;
        };
        if (!need(2)) return done();
        const auto b0 = static_cast<unsigned char>(in_[0]);
        const auto b1 = static_cast<unsigned char>(in_[1]);
        std::size_t header = 2;
        std::uint64_t n = b1 & 0x7f;
        if (n == 126) {
            if (!need(4)) return done();
            n = (static_cast<unsigned char>(in_[2]) << 8) | static_cast<unsigned char>(in_[3]);
            header = 4;
        } else if (n == 127) {
            if (!need(10)) return done();
            n = 0;
            for (int i = 0; i < 8; ++i)
                n = (n << 8) | static_cast<unsigned char>(in_[2 + i]);
            header = 10;
        }
        if (b1 & 0x80) header += 4; // a server must not mask; tolerate it anyway
        if (!need(header + n)) return done();
        f.what = server_frame::kind::frame;
        f.opcode = b0 & 0x0f;
        f.payload = in_.substr(header, n);
        if (b1 & 0x80)
            for (std::size_t i = 0; i < n; ++i)
                f.payload[i] = static_cast<char>(f.payload[i] ^ in_[header - 4 + i % 4]);
        in_.erase(0, header + n);
        if (f.opcode == 0x8 && f.payload.size() >= 2)
            f.close_code =
                static_cast<std::uint16_t>((static_cast<unsigned char>(f.payload[0]) << 8) |
                                           static_cast<unsigned char>(f.payload[1]));
        return f;
    }

    // Reads until a close frame, eof or the timeout; other frames go to `skipped`.
    server_frame read_until_close(std::chrono::milliseconds timeout = 2s,
                                  std::vector<server_frame>* skipped = nullptr) {
        const auto deadline = clock::now() + timeout;
        for (;;) {
            auto f = read_frame(std::chrono::milliseconds(left_ms(deadline)));
            if (f.what != server_frame::kind::frame || f.opcode == 0x8) return f;
            if (skipped) skipped->push_back(std::move(f));
        }
    }

    // Sends `json` as a masked text frame and returns the next text frame's payload (server
    // pings are skipped), or "" on eof, a close or a timeout.
    std::string request(std::string_view json, std::chrono::milliseconds timeout = 5s) {
        if (!send(text_frame(std::string(json)))) return {};
        const auto deadline = clock::now() + timeout;
        for (;;) {
            auto f = read_frame(std::chrono::milliseconds(left_ms(deadline)));
            if (f.what != server_frame::kind::frame || f.opcode == 0x8) return {};
            if (f.opcode == 0x1) return f.payload;
        }
    }

    // Reads a text frame (skipping pings) or "".
    std::string next_text(std::chrono::milliseconds timeout = 5s) {
        const auto deadline = clock::now() + timeout;
        for (;;) {
            auto f = read_frame(std::chrono::milliseconds(left_ms(deadline)));
            if (f.what != server_frame::kind::frame || f.opcode == 0x8) return {};
            if (f.opcode == 0x1) return f.payload;
        }
    }

private:
    int fd_ = -1;
    std::string in_; // read, not yet consumed
    bool eof_ = false;

    static int left_ms(clock::time_point deadline) {
        auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        return static_cast<int>(ms < 0 ? 0 : ms);
    }

    // Reads what is there; false on eof, an error or the deadline.
    bool fill(clock::time_point deadline) {
        if (eof_) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, left_ms(deadline)) != 1) return false;
        char buf[16384];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        in_.append(buf, static_cast<std::size_t>(n));
        return true;
    }
};

} // namespace kindred::reltest
