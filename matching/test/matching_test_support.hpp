// matching_test_support.hpp — helpers for the matching store's Redis tests: an io_context on
// its own thread, one "instance" (client + matching_store + collected matches), blocking
// wrappers around the asynchronous calls, and a settable clock.
// Threading: store handlers run on the instance's io thread; the test thread only waits.
#pragma once

#include <kindred/testsupport/io_thread.hpp>
#include <kindred/matching/matching_store.hpp>
#include <kindred/store/client.hpp>
#include <kindred/testsupport/process.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kindred::matching::test {

using namespace std::chrono_literals;

using kindred::testsupport::io_thread;

template <class T>
class shared_list {
public:
    void push(T v) {
        std::lock_guard lock(m_);
        items_.push_back(std::move(v));
    }
    std::vector<T> snapshot() const {
        std::lock_guard lock(m_);
        return items_;
    }
    std::size_t size() const {
        std::lock_guard lock(m_);
        return items_.size();
    }
    void clear() {
        std::lock_guard lock(m_);
        items_.clear();
    }

private:
    mutable std::mutex m_;
    std::vector<T> items_;
};

// A clock the test moves by hand (Unix ms).
struct test_clock {
    std::shared_ptr<std::atomic<std::int64_t>> now =
        std::make_shared<std::atomic<std::int64_t>>(1'700'000'000'000);
    std::function<std::int64_t()> fn() const {
        return [n = now] { return n->load(); };
    }
    void advance(std::chrono::milliseconds d) { now->fetch_add(d.count()); }
    std::int64_t get() const { return now->load(); }
};

inline store::client_options fast_client(const std::string& address, std::string name) {
    store::client_options o;
    o.address = store::parse_endpoint(address).value();
    // Generous: these tests check outcomes, not speed, and run beside sanitizer builds and
    // other suites on 2 cores, where a burst of pipelined claims can take seconds.
    o.command_timeout = 10000ms;
    o.connect_timeout = 1000ms;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 200ms;
    o.ping_interval = 200ms;
    o.name = std::move(name);
    return o;
}

// One server instance's worth of matching: its own io thread, Redis client and store.
// Members are declared so that the store and client go first and the io thread (which waits
// for their handlers to finish) after them; the matches outlive everything.
struct instance {
    explicit instance(const std::string& address, matching_options options = {},
                      std::string name = "m")
        : client(io.io, fast_client(address, name))
        , store(client, with_sink(std::move(options))) {
        client.start();
        if (!testsupport::eventually([&] { return client.connected(); }, 10s))
            ADD_FAILURE() << "client never connected";
    }

    matching_options with_sink(matching_options o) {
        auto previous = std::move(o.on_match);
        o.on_match = [this, previous](const match_record& m) {
            matches.push(m);
            if (previous) previous(m);
        };
        return o;
    }

    shared_list<match_record> matches;
    io_thread io;
    store::client client;
    matching_store store;
};

template <class T>
struct outcome {
    boost::system::error_code ec;
    T value{};
};

// Starts an asynchronous call with a handler and waits for it (generously: not a speed test).
template <class T, class Start>
outcome<T> wait_for(Start start) {
    auto p = std::make_shared<std::promise<outcome<T>>>();
    auto f = p->get_future();
    start([p](boost::system::error_code ec, T v) { p->set_value({ec, std::move(v)}); });
    if (f.wait_for(20s) != std::future_status::ready) {
        ADD_FAILURE() << "handler never ran";
        return {};
    }
    return f.get();
}

template <class Start>
boost::system::error_code wait_done(Start start) {
    auto p = std::make_shared<std::promise<boost::system::error_code>>();
    auto f = p->get_future();
    start([p](boost::system::error_code ec) { p->set_value(ec); });
    if (f.wait_for(20s) != std::future_status::ready) {
        ADD_FAILURE() << "handler never ran";
        return {};
    }
    return f.get();
}

template <class Start>
sweep_report wait_pass(Start start) {
    auto p = std::make_shared<std::promise<sweep_report>>();
    auto f = p->get_future();
    start([p](const sweep_report& r) { p->set_value(r); });
    if (f.wait_for(20s) != std::future_status::ready) {
        ADD_FAILURE() << "pass never finished";
        return {};
    }
    return f.get();
}

} // namespace kindred::matching::test
