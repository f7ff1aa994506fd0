// echo_server.cpp — `kindred-bench-echo`: the networking ceiling for kindred-bench. A bare Beast
// WebSocket server with no Redis, no protocol and no storage: connections are paired by their
// first text frame {"pair":"<id>"}, both members are told {"paired":true}, and from then on
// every text frame is relayed unchanged to the other member. What kindred-server does on top
// of this (decode, store in Redis, look up the recipient, encode) is what it costs over the
// ceiling, measured by `kindred-bench --scenario echo` against this and `relay` against Kindred.
// Threading: one io_context run by --threads threads; every connection lives on its own strand
// and a relayed frame is posted to the partner's strand, so no connection state is shared.
// The pairing table is the only shared state (a mutex, touched once per connection).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/program_options.hpp>

#include <sys/resource.h>

#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace po = boost::program_options;
using tcp = net::ip::tcp;
using boost::system::error_code;

class connection;

// Who waits for its partner: pair id → the first member. Erased when the second arrives or the
// first leaves.
struct pairing {
    std::mutex m;
    std::unordered_map<std::string, std::weak_ptr<connection>> waiting;
};

// The id inside {"pair":"<id>"}: the frame is the generator's, a trivial scheme is enough, but
// anything else is still refused rather than trusted.
std::optional<std::string> pair_id(std::string_view text) {
    constexpr std::string_view key = "\"pair\":\"";
    const auto at = text.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    const auto from = at + key.size();
    const auto to = text.find('"', from);
    if (to == std::string_view::npos || to == from || to - from > 128) return std::nullopt;
    return std::string(text.substr(from, to - from));
}

class connection : public std::enable_shared_from_this<connection> {
public:
    connection(tcp::socket socket, pairing& p)
        : ws_(std::move(socket))
        , pairs_(p) {}

    void start() {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.read_message_max(1 << 20);
        ws_.async_accept([self = shared_from_this()](error_code ec) {
            if (!ec) self->do_read();
        });
    }

    // On this connection's strand: queue one frame for the client.
    void push(std::shared_ptr<const std::string> frame) {
        if (closed_) return;
        queue_.push_back(std::move(frame));
        if (!writing_) do_write();
    }

private:
    websocket::stream<tcp::socket> ws_;
    pairing& pairs_;
    beast::flat_buffer buffer_;
    std::string id_;
    std::weak_ptr<connection> partner_;
    std::deque<std::shared_ptr<const std::string>> queue_;
    bool writing_ = false;
    bool closed_ = false;

    void do_read() {
        ws_.async_read(buffer_, [self = shared_from_this()](error_code ec, std::size_t) {
            self->on_read(ec);
        });
    }

    void on_read(error_code ec) {
        if (ec) return close();
        std::string_view text(static_cast<const char*>(buffer_.data().data()), buffer_.size());
        if (!ws_.got_text()) {
            // Binary frames are not part of the scheme: ignored.
        } else if (id_.empty()) {
            if (auto id = pair_id(text)) join(std::move(*id));
        } else if (auto p = partner_.lock()) {
            auto frame = std::make_shared<const std::string>(text);
            net::post(p->ws_.get_executor(), [p, frame] { p->push(frame); });
        }
        buffer_.consume(buffer_.size());
        do_read();
    }

    void join(std::string id) {
        id_ = std::move(id);
        std::shared_ptr<connection> other;
        {
            std::lock_guard lock(pairs_.m);
            auto it = pairs_.waiting.find(id_);
            if (it == pairs_.waiting.end()) {
                pairs_.waiting.emplace(id_, weak_from_this());
                return;
            }
            other = it->second.lock();
            pairs_.waiting.erase(it);
        }
        if (!other) return; // the first member left: this one waits for nobody
        partner_ = other;
        auto self = shared_from_this();
        auto paired = std::make_shared<const std::string>(R"({"paired":true})");
        // The other's partner_ is its own strand's: set it there, then tell it.
        net::post(other->ws_.get_executor(), [other, self, paired] {
            other->partner_ = self;
            other->push(paired);
        });
        push(paired);
    }

    void do_write() {
        writing_ = true;
        ws_.async_write(net::buffer(*queue_.front()),
                        [self = shared_from_this()](error_code ec, std::size_t) {
                            self->writing_ = false;
                            if (ec) return self->close();
                            self->queue_.pop_front();
                            if (!self->queue_.empty()) self->do_write();
                        });
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        queue_.clear();
        if (!id_.empty() && partner_.expired()) {
            std::lock_guard lock(pairs_.m);
            auto it = pairs_.waiting.find(id_);
            if (it != pairs_.waiting.end() && it->second.lock().get() == this)
                pairs_.waiting.erase(it);
        }
        error_code ignored;
        ws_.next_layer().close(ignored);
    }
};

class listener : public std::enable_shared_from_this<listener> {
public:
    listener(net::io_context& io, tcp::endpoint at, pairing& p)
        : io_(io)
        , acceptor_(net::make_strand(io))
        , pairs_(p) {
        acceptor_.open(at.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(at);
        acceptor_.listen(net::socket_base::max_listen_connections);
    }
    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    void run() { do_accept(); }
    void stop() {
        net::post(acceptor_.get_executor(), [self = shared_from_this()] {
            error_code ignored;
            self->acceptor_.close(ignored);
        });
    }

private:
    net::io_context& io_;
    tcp::acceptor acceptor_;
    pairing& pairs_;

    void do_accept() {
        acceptor_.async_accept(
            net::make_strand(io_), [self = shared_from_this()](error_code ec, tcp::socket s) {
                if (ec == net::error::operation_aborted) return;
                if (!ec) {
                    // As kindred-server: small frames go out at once.
                    error_code ignored;
                    s.set_option(tcp::no_delay(true), ignored);
                    std::make_shared<connection>(std::move(s), self->pairs_)->start();
                }
                // On an error (out of descriptors) keep accepting: the
                // generator reports the connects that failed.
                self->do_accept();
            });
    }
};

} // namespace

int main(int argc, char** argv) {
    std::string listen = "127.0.0.1:0";
    unsigned threads = 1;
    po::options_description desc("kindred-bench-echo — the bare Beast WebSocket relay that "
                                 "kindred-bench --scenario echo measures (no Redis)\n\n"
                                 "Usage: kindred-bench-echo [--listen HOST:PORT] [--threads N]\n\n"
                                 "Options");
    // clang-format off
    desc.add_options()
        ("help,h", "this help")
        ("listen", po::value(&listen)->default_value(listen), "address and port (0 = any free "
         "port; the chosen one is printed as `listening <port>`)")
        ("threads", po::value(&threads)->default_value(threads), "threads running the "
         "io_context");
    // clang-format on
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << "kindred-bench-echo: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc
                  << "\nConnections are paired by their first text frame "
                     "{\"pair\":\"<id>\"}; both are sent {\"paired\":true}, then each "
                     "text frame goes unchanged to the other member.\n";
        return 0;
    }
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || threads == 0 || threads > 256) {
        std::cerr << "kindred-bench-echo: --listen HOST:PORT and --threads 1..256\n";
        return 2;
    }
    // Every connection is a descriptor: raise the soft limit to the hard one, as the server.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }

    net::io_context io(static_cast<int>(threads));
    pairing pairs;
    std::shared_ptr<listener> l;
    try {
        const auto address = net::ip::make_address(listen.substr(0, colon));
        const auto port = static_cast<unsigned short>(std::stoul(listen.substr(colon + 1)));
        l = std::make_shared<listener>(io, tcp::endpoint(address, port), pairs);
    } catch (const std::exception& e) {
        std::cerr << "kindred-bench-echo: cannot listen on " << listen << ": " << e.what() << "\n";
        return 3;
    }
    l->run();
    std::cout << "listening " << l->port() << std::endl;

    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](error_code, int) {
        l->stop();
        io.stop();
    });
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i)
        pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool)
        t.join();
    return 0;
}
