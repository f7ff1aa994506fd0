// store_test_support.hpp — helpers for the store's Redis tests: an io_context on its own
// thread, a blocking wrapper around client::command, and fast client options.
// Threading: io_thread runs every store handler on its thread; the test thread only waits.
#pragma once

#include <kindred/testsupport/io_thread.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/subscriber.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kindred::store::test {

using namespace std::chrono_literals;

using kindred::testsupport::io_thread;

struct result {
    boost::system::error_code ec;
    reply value;
};

// Runs one command and waits for its handler (generously: this is not a speed assertion).
inline result run(client& c, std::vector<std::string> args) {
    auto p = std::make_shared<std::promise<result>>();
    auto f = p->get_future();
    c.command(std::move(args), [p](boost::system::error_code ec, reply r) {
        p->set_value({ec, std::move(r)});
    });
    if (f.wait_for(20s) != std::future_status::ready) {
        ADD_FAILURE() << "command handler never ran";
        return {make_error_code(error::timeout), {}};
    }
    return f.get();
}

inline result run_eval(client& c, const script& s, std::vector<std::string> keys,
                       std::vector<std::string> args) {
    auto p = std::make_shared<std::promise<result>>();
    auto f = p->get_future();
    c.eval(s, std::move(keys), std::move(args), [p](boost::system::error_code ec, reply r) {
        p->set_value({ec, std::move(r)});
    });
    if (f.wait_for(20s) != std::future_status::ready) {
        ADD_FAILURE() << "eval handler never ran";
        return {make_error_code(error::timeout), {}};
    }
    return f.get();
}

// Short timeouts and backoff so that outage tests stay quick.
inline client_options fast_client(endpoint where) {
    client_options o;
    o.address = std::move(where);
    o.command_timeout = 500ms;
    o.connect_timeout = 500ms;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 200ms;
    o.ping_interval = 100ms;
    o.name = "test";
    return o;
}

inline subscriber_options fast_subscriber(endpoint where) {
    subscriber_options o;
    o.address = std::move(where);
    o.connect_timeout = 500ms;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 200ms;
    o.ping_interval = 100ms;
    o.ping_timeout = 300ms;
    o.name = "test-sub";
    return o;
}

inline endpoint unix_endpoint(const std::string& address) {
    return parse_endpoint(address).value();
}

// A list shared between the io thread (writer) and the test thread (reader).
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

private:
    mutable std::mutex m_;
    std::vector<T> items_;
};

} // namespace kindred::store::test
