// wait_for.hpp — a test waits for one callback-style operation: start(handler) → the handler's
// arguments, or a recorded failure and abort after 30 s (a handler that never runs would hang
// the test otherwise). Header-only; for GoogleTest tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace kindred::testsupport {

template <class... Args>
std::tuple<Args...>
wait_for(std::type_identity_t<std::function<void(std::function<void(Args...)>)>> start) {
    auto p = std::make_shared<std::promise<std::tuple<Args...>>>();
    auto f = p->get_future();
    start([p](Args... args) { p->set_value(std::tuple<Args...>(std::move(args)...)); });
    if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        ADD_FAILURE() << "handler never ran";
        std::abort();
    }
    return f.get();
}

// The same for a handler of one argument: its value.
template <class T>
T wait_for_value(std::type_identity_t<std::function<void(std::function<void(T)>)>> start) {
    return std::get<0>(wait_for<T>(std::move(start)));
}

} // namespace kindred::testsupport
