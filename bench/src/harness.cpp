// harness.cpp — parties, shards and the progress line; see harness.hpp.
#include "harness.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <future>
#include <iostream>

namespace kindred::bench {

namespace net = boost::asio;
namespace ev = client::chat_events;
using boost::system::error_code;

// Every session gets tick() this often: it only re-sends what waited for a time
// (rate_limited, unavailable), so a coarse period costs nothing in the measurements.
constexpr auto tick_period = std::chrono::milliseconds(250);

struct harness::shard_state {
    net::io_context io{1}; // one thread per io_context: the concurrency hint skips locking
    net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
    net::steady_timer ticker{io};
    std::vector<party*> parties; // the shard thread's own list (ticks)
    std::thread thread;

    void schedule_tick() {
        ticker.expires_after(tick_period);
        ticker.async_wait([this](error_code ec) {
            if (ec) return;
            const auto now = unix_ms();
            for (auto* p : parties)
                p->tick(now);
            schedule_tick();
        });
    }
};

// ---------------------------------------------------------------------------------------------
party::party(harness& h, std::size_t index_, std::size_t shard_, client::chat_session session,
             std::optional<net::ip::address_v4> source)
    : index(index_)
    , shard(shard_)
    , h_(h)
    , session_(std::move(session))
    , source_(source) {}

net::io_context& party::io() {
    return h_.io(shard);
}

void party::post(std::function<void()> fn) {
    net::post(io(), std::move(fn));
}

void party::connect() {
    if (link_) link_->abort();
    if (!connecting_) ++h_.count.connecting;
    connecting_ = true;
    connect_started_ns = steady_ns();
    link_ = std::make_shared<ws_link>(io(), ws_link::callbacks{
                                                [this] { on_open(); },
                                                [this](std::string_view t) { on_text(t); },
                                                [this](error_code ec) { on_closed(ec); },
                                            });
    link_->start(h_.options.target, source_);
}

void party::on_open() {
    connecting_ = false;
    --h_.count.connecting;
    ++h_.count.open;
    socket_open = true;
    session_.on_connected(unix_ms());
    flush();
}

void party::on_text(std::string_view text) {
    session_.on_frame(text, unix_ms());
    flush();
}

void party::on_closed(error_code ec) {
    if (socket_open) {
        --h_.count.open;
        ++h_.count.lost;
        h_.problem("party " + std::to_string(index) + ": connection lost: " + ec.message());
    } else {
        connecting_ = false;
        --h_.count.connecting;
        ++h_.count.connect_failed;
        h_.problem("party " + std::to_string(index) + ": connect failed: " + ec.message());
    }
    socket_open = false;
    if (ready) --h_.count.ready;
    ready = false;
    session_.on_disconnected();
    flush();
    if (reconnect_on_loss) {
        retry_ = std::make_shared<net::steady_timer>(io(), std::chrono::milliseconds(250));
        retry_->async_wait([this](error_code e) {
            if (!e) connect();
        });
    }
}

void party::drop() {
    if (link_) link_->abort();
    link_.reset();
    if (connecting_) --h_.count.connecting;
    connecting_ = false;
    if (socket_open) --h_.count.open;
    socket_open = false;
    if (ready) --h_.count.ready;
    ready = false;
    session_.on_disconnected();
    flush();
}

void party::tick(std::int64_t now) {
    session_.tick(now);
    flush();
}

void party::flush() {
    // Events may send (closed-loop relay), which queues more frames: loop until both are empty.
    for (;;) {
        auto frames = session_.take_outgoing();
        if (link_ && socket_open) {
            for (auto& f : frames)
                link_->send(std::move(f));
        }
        // Frames taken while no socket is open are dropped on purpose: the session re-sends
        // every unanswered request and unacknowledged message after the next hello.
        auto events = session_.take_events();
        if (events.empty()) return;
        for (auto& e : events) {
            bookkeep(e);
            if (on_event) on_event(*this, e);
        }
    }
}

std::size_t party::unacknowledged() const {
    return conversation.empty() ? 0 : session_.unacknowledged(conversation);
}

bool party::send_bench(std::int64_t timestamp_ns) {
    if (conversation.empty()) return false;
    // "<steady ns> <k> <sender index> " then padding: the receiver needs only the first three.
    std::string text = std::to_string(timestamp_ns) + ' ' + std::to_string(sent) + ' ' +
                       std::to_string(index) + ' ';
    if (text.size() < h_.options.message_size)
        text.append(h_.options.message_size - text.size(), 'x');
    auto r = session_.send_text(conversation, text);
    if (auto* err = std::get_if<ev::error>(&r)) {
        h_.problem("party " + std::to_string(index) + ": send refused: " + err->code + " " +
                   err->message);
        return false;
    }
    ++sent;
    ++h_.count.sent;
    flush();
    return true;
}

void party::on_message(const ev::message& m) {
    // Parse "<ts> <k> <sender>": from_chars, no allocation.
    const char* p = m.text.data();
    const char* end = p + m.text.size();
    std::int64_t ts = 0;
    std::uint64_t k = 0;
    auto r1 = std::from_chars(p, end, ts);
    if (r1.ec != std::errc{} || r1.ptr == end) {
        ++malformed;
        return;
    }
    auto r2 = std::from_chars(r1.ptr + 1, end, k);
    if (r2.ec != std::errc{} || k > 100'000'000) {
        ++malformed;
        return;
    }
    const auto now = steady_ns();
    if (got.size() <= k) got.resize(k + 1, 0);
    // The partner numbers its messages 0, 1, 2, ... in send order: a first copy below the
    // highest number seen so far arrived out of order (a second copy is counted by got).
    if (got[k] == 0 && static_cast<std::int64_t>(k) < last_got) ++out_of_order;
    last_got = std::max(last_got, static_cast<std::int64_t>(k));
    if (got[k] < 255) ++got[k];
    ++h_.count.received;
    if (ts >= h_.window_from_ns.load(std::memory_order_relaxed) &&
        ts < h_.window_to_ns.load(std::memory_order_relaxed)) {
        latency_ns.push_back(now - ts);
        ++h_.count.window_received;
    }
}

void party::bookkeep(client::chat_event& e) {
    auto who = [&] { return "party " + std::to_string(index) + ": "; };
    std::visit(
        [&](auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, ev::ready>) {
                if (!ready) ++h_.count.ready;
                ready = true;
                ready_ns = steady_ns();
                ++h_.count.ready_total;
                if (x.resumed) {
                    ++resumed;
                    ++h_.count.resumed;
                }
            } else if constexpr (std::is_same_v<T, ev::session_restarted>) {
                ++restarted;
                ++h_.count.restarted;
                h_.problem(who() + "resume refused, session restarted (" +
                           std::to_string(x.lost_conversations.size()) + " conversations lost)");
            } else if constexpr (std::is_same_v<T, ev::session_failed>) {
                h_.problem(who() + "session failed: " + x.code + " " + x.message);
            } else if constexpr (std::is_same_v<T, ev::matched>) {
                ++matched_events;
                ++h_.count.matched;
                conversations.push_back(x.conversation_id);
                if (conversation.empty()) conversation = x.conversation_id;
                most_active = std::max(most_active, ++active);
                if (is_peer() && active > capacity) {
                    h_.problem(who() + "matched " + std::to_string(active) +
                               " conversations at once, capacity " + std::to_string(capacity));
                }
            } else if constexpr (std::is_same_v<T, ev::ended>) {
                --active;
                ++h_.count.ended;
            } else if constexpr (std::is_same_v<T, ev::shift>) {
                most_shift_active = std::max(most_shift_active, x.active);
                if (x.state == protocol::shift_status::on && !shift_on) {
                    shift_on = true;
                    ++h_.count.shift_on;
                }
                if (x.active > capacity) {
                    h_.problem(who() + "shift reports " + std::to_string(x.active) +
                               " active, capacity " + std::to_string(capacity));
                }
            } else if constexpr (std::is_same_v<T, ev::delivered>) {
                ++acked;
                ++h_.count.acked;
            } else if constexpr (std::is_same_v<T, ev::message>) {
                on_message(x);
            } else if constexpr (std::is_same_v<T, ev::history_incomplete>) {
                h_.problem(who() + "history incomplete in " + x.conversation_id);
            } else if constexpr (std::is_same_v<T, ev::error>) {
                ++h_.count.errors;
                // Both are retried by the session after retry_after_ms: load, not a fault.
                if (x.code == "rate_limited") {
                    ++h_.count.rate_limited;
                } else if (x.code == "unavailable") {
                    ++h_.count.unavailable;
                } else {
                    h_.problem(who() + x.context + ": " + x.code + " " + x.message);
                }
            }
        },
        e);
}

// ---------------------------------------------------------------------------------------------
harness::harness(harness_options o)
    : options(std::move(o)) {
    const auto n = std::max<std::size_t>(1, options.threads);
    for (std::size_t i = 0; i < n; ++i)
        shards_.push_back(std::make_unique<shard_state>());
}

harness::~harness() {
    stop();
    // Parties own sockets and timers registered with the shards' io_contexts: they must go
    // first, while those io_contexts still exist.
    parties.clear();
}

net::io_context& harness::io(std::size_t shard) {
    return shards_[shard]->io;
}

party& harness::add(client::chat_session session,
                    std::function<void(party&, client::chat_event&)> on_event) {
    const std::size_t index = parties.size();
    const std::size_t shard = index % shards_.size();
    std::optional<net::ip::address_v4> source;
    if (options.source_addresses > 0) {
        // 127.0.0.1 .. 127.0.0.N: the whole 127/8 is loopback on Linux, and each source
        // address has its own ~28k ephemeral ports towards the server.
        const auto x = static_cast<unsigned>(1 + index % options.source_addresses);
        source = net::ip::address_v4((127u << 24) | x);
    }
    parties.push_back(std::make_unique<party>(*this, index, shard, std::move(session), source));
    party* p = parties.back().get();
    p->on_event = std::move(on_event);
    if (started_ns_ == 0) {
        shards_[shard]->parties.push_back(p);
    } else {
        net::post(shards_[shard]->io, [s = shards_[shard].get(), p] { s->parties.push_back(p); });
    }
    return *p;
}

void harness::start() {
    started_ns_ = steady_ns();
    for (auto& s : shards_) {
        s->schedule_tick();
        s->thread = std::thread([st = s.get()] { st->io.run(); });
    }
}

void harness::stop() {
    if (stopped_ || started_ns_ == 0) return;
    stopped_ = true;
    for (auto& s : shards_) {
        s->work.reset();
        s->io.stop();
    }
    for (auto& s : shards_)
        if (s->thread.joinable()) s->thread.join();
}

void harness::for_each_party(const std::function<void(party&)>& fn) {
    std::vector<std::future<void>> done;
    for (auto& s : shards_) {
        auto p = std::make_shared<std::promise<void>>();
        done.push_back(p->get_future());
        net::post(s->io, [s = s.get(), &fn, p] {
            for (auto* party : s->parties)
                fn(*party);
            p->set_value();
        });
    }
    for (auto& d : done)
        d.wait();
}

void harness::problem(std::string text) {
    std::lock_guard lock(problems_mutex_);
    ++problem_count_;
    if (problems_.size() < 50) problems_.push_back(std::move(text));
}

std::vector<std::string> harness::problems() const {
    std::lock_guard lock(problems_mutex_);
    return problems_;
}

std::size_t harness::problem_count() const {
    std::lock_guard lock(problems_mutex_);
    return problem_count_;
}

void harness::print_progress(const std::string& phase) {
    const double t = static_cast<double>(steady_ns() - started_ns_) / 1e9;
    char buf[512];
    std::snprintf(
        buf, sizeof buf,
        "[%s %6.1fs %s] open %lld ready %lld matched %lld sent %lld acked %lld "
        "received %lld retried %lld lost %lld problems %zu",
        options.scenario.c_str(), t, phase.c_str(), static_cast<long long>(count.open.load()),
        static_cast<long long>(count.ready.load()), static_cast<long long>(count.matched.load()),
        static_cast<long long>(count.sent.load()), static_cast<long long>(count.acked.load()),
        static_cast<long long>(count.received.load()),
        static_cast<long long>(count.rate_limited.load() + count.unavailable.load()),
        static_cast<long long>(count.lost.load()), problem_count());
    std::string line = buf;
    if (progress_extra) line += " " + progress_extra();
    std::cerr << line << std::endl;
}

bool harness::wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                         const std::string& phase) {
    const auto start = std::chrono::steady_clock::now();
    auto next_print = start + std::chrono::seconds(1);
    while (!done()) {
        const auto now = std::chrono::steady_clock::now();
        if (now - start >= timeout) return done();
        if (now >= next_print) {
            print_progress(phase);
            next_print += std::chrono::seconds(1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

void harness::run_for(std::chrono::milliseconds d, const std::string& phase) {
    wait_until([] { return false; }, d, phase);
}

} // namespace kindred::bench
