// io_thread.hpp — an io_context run on its own thread for the length of a test (header-only;
// the test links kindred::net). Declare it first in a test, so that it is destroyed last: after
// the clients it runs, and after whatever their handlers capture.
// The destructor waits up to 10 s for run() to return by itself once the clients are stopped,
// and fails the test if it does not: a handler or timer leaked.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace kindred::testsupport {

class io_thread {
public:
    io_thread()
        : guard_(boost::asio::make_work_guard(io))
        , thread_([this] {
            io.run();
            done_.set_value();
        }) {}
    ~io_thread() {
        guard_.reset();
        if (done_future_.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            ADD_FAILURE() << "io_context still has work 10 s after the test: a handler leaked";
            io.stop();
        }
        thread_.join();
    }
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;

    boost::asio::io_context io;

private:
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::promise<void> done_;
    std::future<void> done_future_ = done_.get_future();
    std::thread thread_;
};

} // namespace kindred::testsupport
