// kindred_chat.cpp — `kindred-chat`: chat from a terminal as a seeker or a peer. A thin loop
// that runs chat_session (the state machine) over ws_client and http_client: it reads lines
// from stdin, prints events, and reconnects with backoff when the socket drops (the session
// resumes and re-sends what was not acknowledged). Single-threaded: it alternates a short
// socket read and a poll of stdin. It never prints a token, and logs nothing anywhere else.
//
// Exit codes: 0 done (/quit, end of input, or the seeker's conversation ended), 2 usage error,
// 3 the server could not be reached (first connection or login request), 4 refused by the
// server (login failed, token revoked, session refused, taken over), 5 identity file error.
#include <kindred/client/chat_session.hpp>
#include <kindred/client/http_client.hpp>
#include <kindred/client/ws_client.hpp>
#include <kindred/protocol/base64.hpp>

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace po = boost::program_options;
namespace kc = kindred::client;
namespace ev = kindred::client::chat_events;
namespace e2e = kindred::client::e2e;

namespace {

// Ctrl-C: the first one quits cleanly (ends the conversation / shift), a second one exits.
volatile std::sig_atomic_t interrupted = 0;
void on_sigint(int) {
    if (interrupted) std::_Exit(130);
    interrupted = 1;
}

enum exit_code : int { ok = 0, usage = 2, unreachable = 3, refused = 4, identity_error = 5 };

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct url_parts {
    std::string host;
    unsigned short port = 8080;
    std::string target = "/v1/ws";
};

// ws://host[:port][/path]. TLS (wss) needs a TLS-capable client: not in this tool.
std::optional<url_parts> parse_url(const std::string& url, std::string& why) {
    const std::string scheme = "ws://";
    if (url.rfind(scheme, 0) != 0) {
        why = url.rfind("wss://", 0) == 0 ? "wss:// is not supported; use ws://"
                                          : "the URL must start with ws://";
        return std::nullopt;
    }
    url_parts u;
    auto rest = url.substr(scheme.size());
    if (auto slash = rest.find('/'); slash != std::string::npos) {
        if (rest.substr(slash) != "/") u.target = rest.substr(slash);
        rest = rest.substr(0, slash);
    }
    if (auto colon = rest.rfind(':'); colon != std::string::npos) {
        const auto port = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
        if (port.empty() || port.size() > 5 ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            std::stoul(port) == 0 || std::stoul(port) > 65535) {
            why = "bad port in the URL";
            return std::nullopt;
        }
        u.port = static_cast<unsigned short>(std::stoul(port));
    }
    if (rest.empty()) {
        why = "no host in the URL";
        return std::nullopt;
    }
    u.host = rest;
    return u;
}

std::vector<std::string> split_list(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const auto& v : values) {
        std::stringstream ss(v);
        std::string item;
        while (std::getline(ss, item, ',')) {
            if (!item.empty()) out.push_back(item);
        }
    }
    return out;
}

std::string spaced_code(const std::string& code) {
    std::string out;
    for (std::size_t i = 0; i < code.size(); ++i) {
        if (i > 0 && i % 4 == 0) out += ' ';
        out += code[i];
    }
    return out;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items)
        out += (out.empty() ? "" : ", ") + i;
    return out;
}

// stdin, line by line, without blocking the socket loop.
class line_reader {
public:
    // Waits up to timeout_ms for input; returns complete lines (and the last partial one at EOF).
    std::vector<std::string> poll_lines(int timeout_ms) {
        std::vector<std::string> lines;
        if (eof_) return lines;
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) > 0) {
            char buf[4096];
            const auto n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                eof_ = true;
                if (!partial_.empty()) lines.push_back(std::exchange(partial_, {}));
            } else {
                partial_.append(buf, static_cast<std::size_t>(n));
            }
        }
        for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n')) {
            auto line = partial_.substr(0, nl);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            lines.push_back(std::move(line));
            partial_.erase(0, nl + 1);
        }
        return lines;
    }
    // Blocking: the first line (the password for --password-stdin, the intake confirmation).
    std::optional<std::string> read_line() {
        for (;;) {
            if (auto nl = partial_.find('\n'); nl != std::string::npos) {
                auto line = partial_.substr(0, nl);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                partial_.erase(0, nl + 1);
                return line;
            }
            if (eof_) {
                if (partial_.empty()) return std::nullopt;
                return std::exchange(partial_, {});
            }
            char buf[4096];
            const auto n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                eof_ = true;
            } else {
                partial_.append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    bool eof() const { return eof_ && partial_.empty(); }

private:
    std::string partial_;
    bool eof_ = false;
};

// The peer's identity file (mode 0600): line 1 the identity seed (base64 of 32 bytes), line 2
// the next prekey index (decimal; prekeys are derived from the seed, see chat_session.hpp).
struct identity_state {
    e2e::seed seed;
    std::uint64_t next_prekey = 0;
};

// Writes a temporary file (0600) next to path and renames it over path: never a torn file.
bool save_identity(const std::string& path, const identity_state& state, std::string& why) {
    const auto tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        why = std::string("cannot write the identity file: ") + std::strerror(errno);
        return false;
    }
    auto text = kindred::protocol::base64_encode(state.seed.view()) + "\n" +
                std::to_string(state.next_prekey) + "\n";
    const bool written =
        ::write(out, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
        ::fsync(out) == 0;
    ::close(out);
    sodium_memzero(text.data(), text.size());
    if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
        why = std::string("cannot write the identity file: ") + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    return true;
}

std::optional<identity_state> load_identity(const std::string& path, std::string& why) {
    identity_state state;
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        randombytes_buf(state.seed.data(), state.seed.size());
        if (!save_identity(path, state, why)) return std::nullopt;
        std::cout << "* created a new identity key in " << path << '\n';
        return state;
    }
    if (fd < 0) {
        why = std::string("cannot open the identity file: ") + std::strerror(errno);
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        why = "the identity file is not a regular file";
        return std::nullopt;
    }
    if ((st.st_mode & 077) != 0) {
        ::close(fd);
        why = "the identity file must be readable by its owner only (chmod 600)";
        return std::nullopt;
    }
    char buf[256];
    const auto n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    std::string text(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    sodium_memzero(buf, sizeof buf);
    const auto nl = text.find('\n');
    std::string seed_line = text.substr(0, nl);
    std::string index_line = nl == std::string::npos ? std::string() : text.substr(nl + 1);
    while (!index_line.empty() && (index_line.back() == '\n' || index_line.back() == '\r'))
        index_line.pop_back();
    if (!seed_line.empty() && seed_line.back() == '\r') seed_line.pop_back();
    auto bytes = kindred::protocol::base64_decode(seed_line);
    sodium_memzero(text.data(), text.size());
    sodium_memzero(seed_line.data(), seed_line.size());
    if (!bytes || bytes->size() != e2e::key_bytes) {
        why = "the identity file does not start with a base64 32-byte seed";
        return std::nullopt;
    }
    std::copy(bytes->begin(), bytes->end(), state.seed.data());
    sodium_memzero(bytes->data(), bytes->size());
    if (!index_line.empty()) {
        if (index_line.size() > 18 || !std::all_of(index_line.begin(), index_line.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; })) {
            why = "the identity file's second line is not a prekey index";
            return std::nullopt;
        }
        state.next_prekey = std::stoull(index_line);
    }
    return state;
}

// POST /v1/auth/login → the token (never printed).
int login(const url_parts& url, const std::string& username, const std::string& password,
          std::string& token) {
    boost::json::object body{{"username", username}, {"password", password}};
    auto r = kc::http_request("POST", url.host, url.port, "/v1/auth/login",
                              {{"Content-Type", "application/json"}}, boost::json::serialize(body),
                              std::chrono::seconds(15));
    if (r.ec || r.status == 0) {
        std::cerr << "kindred-chat: cannot reach " << url.host << ':' << url.port << " ("
                  << r.ec.message() << ")\n";
        return unreachable;
    }
    if (r.status == 401) {
        std::cerr << "kindred-chat: login failed: unknown username or wrong password\n";
        return refused;
    }
    if (r.status == 429) {
        std::cerr << "kindred-chat: login rate limited; try again later\n";
        return refused;
    }
    if (r.status != 200) {
        std::cerr << "kindred-chat: login answered HTTP " << r.status << '\n';
        return r.status >= 500 ? unreachable : refused;
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("token") ||
        !v.as_object().at("token").is_string()) {
        std::cerr << "kindred-chat: login answer without a token\n";
        return unreachable;
    }
    const auto& role = v.as_object().if_contains("role");
    if (role && role->is_string() && role->as_string() != "peer") {
        std::cerr << "kindred-chat: this account is not a peer account\n";
        return refused;
    }
    token = std::string(v.as_object().at("token").as_string());
    return ok;
}

// The terminal side: numbers conversations, prints events, turns lines into actions.
class chat_app {
public:
    chat_app(kc::chat_session session, std::optional<kc::match_request> match)
        : session_(std::move(session))
        , match_(std::move(match)) {}

    kc::chat_session& session() { return session_; }
    // Peer with an identity file: saves the next prekey index; false stops the program.
    std::function<bool(std::uint64_t)> on_prekeys_reserved;
    bool discard_outgoing() const { return discard_outgoing_; }
    bool done() const { return done_; }
    int exit_status() const { return exit_; }

    void start() {
        if (match_) {
            if (auto e = session_.request_match(*match_)) {
                std::cerr << "kindred-chat: " << e->message << '\n';
                finish(usage);
            }
        }
    }

    void on_line(const std::string& line) {
        if (line.empty()) return;
        if (line[0] == '/') {
            command(line);
            return;
        }
        if (!current_) {
            std::cout << "* not in a conversation yet\n";
            return;
        }
        auto r = session_.send_text(*current_, line);
        if (auto* e = std::get_if<ev::error>(&r)) {
            std::cout << "! not sent: " << e->code << '\n';
        }
    }

    void on_input_closed() { quit(); }

    void handle_events() {
        for (auto& e : session_.take_events())
            std::visit([this](auto& x) { show(x); }, e);
        std::cout.flush();
    }

    // The quit sequence waits for the answers to end/shift_end, then stops.
    void quit() {
        if (quitting_) return;
        quitting_ = true;
        if (session_.local_role() == kindred::protocol::role::peer) {
            session_.end_shift();
        } else if (session_.active_conversations().empty() && match_) {
            session_.cancel_match();
        }
        for (const auto& id : session_.active_conversations())
            session_.end(id);
        quit_deadline_ = now_ms() + 3000;
    }

    void tick() {
        // Leave once the session is up with nothing left open, or after a short grace.
        if (quitting_ && ((session_.is_ready() && session_.active_conversations().empty()) ||
                          now_ms() > quit_deadline_)) {
            finish(exit_);
        }
    }

    void finish(int code) {
        exit_ = code;
        done_ = true;
    }

private:
    std::string label(const std::string& id) {
        auto [it, added] = numbers_.try_emplace(id, static_cast<int>(numbers_.size()) + 1);
        return numbers_.size() > 1 ? "[" + std::to_string(it->second) + "] " : "";
    }

    void command(const std::string& line) {
        std::istringstream in(line);
        std::string cmd;
        in >> cmd;
        if (cmd == "/quit") {
            quit();
        } else if (cmd == "/end") {
            if (current_)
                session_.end(*current_);
            else
                std::cout << "* not in a conversation\n";
        } else if (cmd == "/safety") {
            if (auto code = current_ ? session_.safety_code(*current_) : std::nullopt) {
                std::cout << "* safety code: " << spaced_code(*code)
                          << " (the other side should see the same)\n";
            } else {
                std::cout << "* not in a conversation\n";
            }
        } else if (cmd == "/switch") {
            int n = 0;
            in >> n;
            for (const auto& [id, number] : numbers_) {
                if (number == n && session_.safety_code(id)) {
                    current_ = id;
                    std::cout << "* now writing in [" << n << "]\n";
                    return;
                }
            }
            std::cout << "* no active conversation [" << n << "]\n";
        } else if (cmd == "/help") {
            std::cout << "  type a line and press enter to send it\n"
                         "  /end       end the current conversation\n"
                         "  /safety    show the safety code (compare it with the other side)\n"
                         "  /switch N  write in conversation [N] (peers with capacity > 1)\n"
                         "  /quit      end and leave\n";
        } else {
            std::cout << "* unknown command; /help lists them\n";
        }
    }

    void show(ev::ready& e) {
        std::cout << (e.resumed ? "* reconnected, session resumed\n" : "* connected\n");
    }
    void show(ev::session_restarted& e) {
        for (const auto& id : e.lost_conversations) {
            std::cout << "! " << label(id)
                      << "the session expired: that conversation is gone, and messages not "
                         "yet delivered were lost\n";
            if (current_ == id) current_.reset();
        }
        if (match_ && !quitting_) {
            std::cout << "* asking for a new peer\n";
            session_.request_match(*match_);
        }
    }
    void show(ev::session_failed& e) {
        std::cerr << "kindred-chat: the server refused the session (" << e.code
                  << "): " << e.message << '\n';
        finish(refused);
    }
    void show(ev::queued& e) {
        std::cout << "* waiting for a peer: position " << e.position;
        if (e.estimated_wait_s) std::cout << ", about " << *e.estimated_wait_s << " s";
        std::cout << '\n';
    }
    void show(ev::matched& e) {
        current_ = e.conversation_id;
        const auto l = label(e.conversation_id);
        if (session_.local_role() == kindred::protocol::role::seeker) {
            std::cout << "* " << l << "you are talking with " << e.other;
            if (!e.shared_tags.empty()) std::cout << " (shared: " << join(e.shared_tags) << ")";
            if (e.relaxed)
                std::cout << " — no peer shared your topics, so this is the next free one";
        } else {
            std::cout << "* " << l << "a seeker joined (waited " << e.waited_s << " s, risk "
                      << kindred::protocol::to_string(e.risk) << ")";
            if (!e.shared_tags.empty()) std::cout << ", topics: " << join(e.shared_tags);
        }
        std::cout << "\n* safety code " << spaced_code(e.safety_code) << " (/safety)\n";
        if (e.intake) std::cout << "* " << l << "intake: " << *e.intake << '\n';
    }
    void show(ev::message& e) {
        std::cout << label(e.conversation_id) << e.sender << ": " << e.text << '\n';
        session_.displayed(e.conversation_id, e.offset);
    }
    void show(ev::delivered&) {}
    void show(ev::receipt& e) {
        std::cout << "* " << label(e.conversation_id) << "read (#" << e.offset << ")\n";
    }
    void show(ev::typing&) {}
    void show(ev::ended& e) {
        std::cout << "* " << label(e.conversation_id) << "conversation ended by " << e.by << " ("
                  << e.reason << ")\n";
        if (current_ == e.conversation_id) {
            current_.reset();
            auto rest = session_.active_conversations();
            if (!rest.empty()) current_ = rest.front();
        }
        // A seeker is done when its conversation ends, unless the server re-queues it.
        if (session_.local_role() == kindred::protocol::role::seeker &&
            e.reason != "peer_unavailable" && e.reason != "transfer") {
            finish(exit_);
        }
        if (e.reason == "peer_unavailable" || e.reason == "transfer") {
            std::cout << "* you are first in line for the next peer\n";
        }
    }
    void show(ev::history_incomplete& e) {
        std::cout << "! " << label(e.conversation_id) << "messages may be missing\n";
    }
    void show(ev::joined& e) {
        std::cout << "* " << label(e.conversation_id) << "moderator " << e.alias << " joined\n";
    }
    void show(ev::shift& e) {
        std::cout << "* shift " << kindred::protocol::to_string(e.state) << " (" << e.active << '/'
                  << e.capacity << ")\n";
        if (quitting_ && e.state == kindred::protocol::shift_status::off) finish(exit_);
    }
    void show(ev::prekeys_uploaded& e) { std::cout << "* uploaded " << e.count << " prekeys\n"; }
    void show(ev::prekeys_reserved& e) {
        if (on_prekeys_reserved && !on_prekeys_reserved(e.next_index)) {
            discard_outgoing_ = true; // never upload prekeys a restart would derive again
            finish(identity_error);
        }
    }
    void show(ev::error& e) {
        std::cout << "! " << e.context << ": " << e.code << " — " << e.message << '\n';
    }

    kc::chat_session session_;
    std::optional<kc::match_request> match_;
    std::optional<std::string> current_;
    std::map<std::string, int> numbers_;
    bool done_ = false;
    bool quitting_ = false;
    bool discard_outgoing_ = false;
    std::int64_t quit_deadline_ = 0;
    int exit_ = ok;
};

int run(chat_app& app, const url_parts& url, line_reader& input) {
    kc::ws_client ws;
    bool connected = false;
    bool ever_connected = false;
    std::int64_t next_attempt = 0;
    std::int64_t backoff_ms = 250;
    app.start();
    while (!app.done()) {
        const auto now = now_ms();
        if (!connected && now >= next_attempt) {
            ws = kc::ws_client{};
            kc::ws_options options;
            options.host = url.host;
            options.port = url.port;
            options.target = url.target;
            auto r = ws.connect(options);
            if (r.ok()) {
                connected = true;
                ever_connected = true;
                backoff_ms = 250;
                app.session().on_connected(now);
            } else if (!ever_connected) {
                std::cerr << "kindred-chat: cannot connect to " << url.host << ':' << url.port
                          << " ("
                          << (r.http_status ? "HTTP " + std::to_string(r.http_status)
                                            : r.ec.message())
                          << ")\n";
                return unreachable;
            } else {
                next_attempt = now + backoff_ms;
                std::cout << "* reconnecting in " << backoff_ms << " ms\n" << std::flush;
                backoff_ms = std::min<std::int64_t>(backoff_ms * 2, 10000);
            }
        }
        auto drop = [&](const std::string& why) {
            std::cout << "* connection lost (" << why << ")\n" << std::flush;
            connected = false;
            app.session().on_disconnected();
            next_attempt = now_ms() + backoff_ms;
        };
        for (const auto& frame : app.session().take_outgoing()) {
            if (!connected) break;
            if (auto ec = ws.send_text(frame)) drop(ec.message());
        }
        if (connected) {
            auto f = ws.receive(std::chrono::milliseconds(40));
            if (f.is_text()) {
                app.session().on_frame(f.text, now_ms());
            } else if (f.is_close()) {
                if (f.close_code == 4001) {
                    std::cerr << "kindred-chat: this session was taken over by another "
                                 "connection\n";
                    return refused;
                }
                if (f.close_code == 4003 || f.close_code == 1008) {
                    app.handle_events();
                    std::cerr << "kindred-chat: the server closed the session (" << f.close_code
                              << ")\n";
                    return refused;
                }
                drop("closed " + std::to_string(f.close_code));
            } else if (f.is_error()) {
                drop(f.ec.message());
            }
        }
        for (const auto& line : input.poll_lines(connected ? 0 : 40))
            app.on_line(line);
        if (input.eof() || interrupted) app.on_input_closed();
        app.session().tick(now_ms());
        app.handle_events();
        app.tick();
        if (app.session().has_failed()) break;
    }
    // Send what the last events produced (receipts, end), then close cleanly.
    if (connected) {
        if (!app.discard_outgoing()) {
            for (const auto& frame : app.session().take_outgoing())
                ws.send_text(frame);
        }
        ws.close(1000, {}, std::chrono::seconds(1));
    }
    return app.exit_status();
}

void print_help(const po::options_description& global, const po::options_description& seeker,
                const po::options_description& peer) {
    std::cout << "kindred-chat — talk through a Kindred server from a terminal, end-to-end "
                 "encrypted.\n\n"
                 "usage: kindred-chat [--url ws://HOST:PORT] seeker --tags T[,T] --languages "
                 "L[,L] [--intake TEXT]\n"
                 "       kindred-chat [--url ws://HOST:PORT] peer --username NAME "
                 "--password-stdin --tags T --languages L\n"
                 "                    [--capacity N] [--identity-file PATH]\n\n"
              << global << '\n'
              << seeker << '\n'
              << peer
              << "\nIn the chat: type a line to send it; /end, /safety, /switch N, /quit, /help.\n"
                 "The connection is re-established automatically and nothing is lost.\n\n"
                 "Exit codes: 0 done, 2 usage error, 3 server unreachable, 4 refused by the "
                 "server\n(login failed, token revoked, session taken over), 5 identity file "
                 "error.\n";
}

} // namespace

int main(int argc, char** argv) {
    std::string url_text = "ws://127.0.0.1:8080";
    std::string mode;
    std::vector<std::string> tags, languages;
    std::string intake, username, identity_file;
    std::int64_t capacity = 1;

    po::options_description global("Options");
    global.add_options()("help,h", "show this help")(
        "url", po::value(&url_text)->default_value(url_text), "the server's WebSocket URL");
    po::options_description seeker_opts("seeker");
    seeker_opts.add_options()("tags", po::value(&tags)->multitoken(),
                              "topics to talk about (from the server's catalog)")(
        "languages", po::value(&languages)->multitoken(), "languages you speak, e.g. en")(
        "intake", po::value(&intake),
        "a few words for the peer (the server reads this text; you are asked to confirm)")(
        "accept-intake-notice", "confirm the intake notice without a prompt");
    po::options_description peer_opts("peer");
    peer_opts.add_options()("username", po::value(&username), "your staff username")(
        "password-stdin", "read the password from the first line of stdin (required)")(
        "capacity", po::value(&capacity)->default_value(1), "conversations at once, 1-5")(
        "identity-file", po::value(&identity_file),
        "keeps your identity key across runs (created with mode 0600)");
    po::options_description all;
    all.add(global).add(seeker_opts).add(peer_opts);
    all.add_options()("mode", po::value(&mode));
    po::positional_options_description positional;
    positional.add("mode", 1);

    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(),
                  vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "kindred-chat: " << e.what() << " (see --help)\n";
        return usage;
    }
    if (vm.count("help")) {
        print_help(global, seeker_opts, peer_opts);
        return ok;
    }
    auto usage_error = [](const std::string& why) {
        std::cerr << "kindred-chat: " << why << " (see --help)\n";
        return usage;
    };
    if (mode != "seeker" && mode != "peer") return usage_error("say seeker or peer");
    std::string why;
    auto url = parse_url(url_text, why);
    if (!url) return usage_error(why);
    tags = split_list(tags);
    languages = split_list(languages);
    if (tags.empty()) return usage_error("--tags is required");
    if (languages.empty()) return usage_error("--languages is required");

    e2e::initialize();
    line_reader input;
    std::signal(SIGINT, on_sigint);

    if (mode == "seeker") {
        if (vm.count("username") || vm.count("password-stdin") || vm.count("identity-file")) {
            return usage_error("a seeker has no account: --username, --password-stdin and "
                               "--identity-file are for peers");
        }
        kc::match_request match{tags, languages, std::nullopt, false};
        if (vm.count("intake")) {
            std::cout << "Notice: the server reads your intake text to find the right peer and "
                         "to check for crisis words.\nIt is passed to your peer and never "
                         "stored. Your chat messages are end-to-end encrypted.\n";
            bool confirmed = vm.count("accept-intake-notice") > 0;
            if (!confirmed) {
                std::cout << "Send the intake? [y/N] " << std::flush;
                auto answer = input.read_line();
                confirmed = answer && (*answer == "y" || *answer == "Y" || *answer == "yes");
            }
            if (!confirmed) {
                std::cerr << "kindred-chat: intake not confirmed; run without --intake to skip "
                             "it\n";
                return usage;
            }
            match.intake = intake;
            match.intake_notice_confirmed = true;
        }
        chat_app app(kc::chat_session::seeker(), std::move(match));
        return run(app, *url, input);
    }

    if (username.empty()) return usage_error("--username is required for a peer");
    if (!vm.count("password-stdin")) {
        return usage_error("--password-stdin is required (passwords never go on the command "
                           "line)");
    }
    if (capacity < 1 || capacity > 5) return usage_error("--capacity must be 1 to 5");
    kc::peer_setup setup;
    setup.prekey_batch = 20;
    std::optional<identity_state> identity;
    if (identity_file.empty()) {
        std::cout << "* no --identity-file: using a new identity key for this run only (the "
                     "server keeps the first key it sees)\n";
        setup.identity = e2e::generate_identity_key_pair();
    } else {
        identity = load_identity(identity_file, why);
        if (!identity) {
            std::cerr << "kindred-chat: " << why << '\n';
            return identity_error;
        }
        setup.identity = e2e::identity_key_pair_from_seed(identity->seed.view());
        setup.prekey_seed = kc::derive_prekey_seed(identity->seed);
        setup.prekey_index = identity->next_prekey;
    }
    auto password = input.read_line();
    if (!password || password->empty()) return usage_error("no password on stdin");
    std::string token;
    const int status = login(*url, username, *password, token);
    sodium_memzero(password->data(), password->size());
    if (status != ok) return status;

    setup.token = std::move(token);
    auto session = kc::chat_session::peer(std::move(setup));
    session.start_shift({capacity, tags, languages});
    chat_app app(std::move(session), std::nullopt);
    if (identity) {
        // Persist the next prekey index before the upload that uses it goes out.
        app.on_prekeys_reserved = [&](std::uint64_t next) {
            identity->next_prekey = next;
            std::string save_why;
            if (save_identity(identity_file, *identity, save_why)) return true;
            std::cerr << "kindred-chat: " << save_why << '\n';
            return false;
        };
    }
    return run(app, *url, input);
}
