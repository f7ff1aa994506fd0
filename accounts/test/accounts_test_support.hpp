// accounts_test_support.hpp — helpers for the accounts Redis tests: an io_context on its own
// thread, a connected store client, blocking wrappers around account_store's callbacks.
// Threading: store handlers run on the io thread; the test thread only waits on futures.
#pragma once

#include <kindred/accounts/account_store.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/subscriber.hpp>
#include <kindred/testsupport/io_thread.hpp>
#include <kindred/testsupport/redis_process.hpp>
#include <kindred/testsupport/wait_for.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace kindred::accounts::test {

using namespace std::chrono_literals;

using kindred::testsupport::io_thread;

inline store::client_options fast_client(const std::string& address) {
    store::client_options o;
    o.address = store::parse_endpoint(address).value();
    o.command_timeout = 2000ms;
    o.connect_timeout = 500ms;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 200ms;
    o.ping_interval = 200ms;
    o.name = "accounts-test";
    return o;
}

using kindred::testsupport::wait_for;

inline boost::system::error_code done(std::function<void(account_store::done_handler)> start) {
    return std::get<0>(wait_for<boost::system::error_code>(std::move(start)));
}

inline std::pair<boost::system::error_code, account> get(account_store& s, std::string name) {
    auto [ec, a] =
        wait_for<boost::system::error_code, account>([&](auto h) { s.get(name, std::move(h)); });
    return {ec, std::move(a)};
}

inline std::pair<boost::system::error_code, login_result> login(account_store& s, std::string u,
                                                                std::string p) {
    auto [ec, r] = wait_for<boost::system::error_code, login_result>(
        [&](auto h) { s.login(u, p, std::move(h)); });
    return {ec, std::move(r)};
}

inline std::pair<boost::system::error_code, token_info> lookup(account_store& s,
                                                               std::string token) {
    auto [ec, r] = wait_for<boost::system::error_code, token_info>(
        [&](auto h) { s.lookup(token, std::move(h)); });
    return {ec, std::move(r)};
}

// Messages received on a channel, shared between the io thread and the test thread.
class channel_log {
public:
    void push(std::string m) {
        std::lock_guard lock(m_);
        items_.push_back(std::move(m));
    }
    std::vector<std::string> snapshot() const {
        std::lock_guard lock(m_);
        return items_;
    }

private:
    mutable std::mutex m_;
    std::vector<std::string> items_;
};

} // namespace kindred::accounts::test
