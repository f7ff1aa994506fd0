// paced.hpp — for_each_paced: one asynchronous operation per item with at most `window` of
// them outstanding, then a `finished` call; after_all: the join of n asynchronous answers;
// slices_per_period: how a periodic sweep is cut into one slice per tick. Periodic sweeps
// over every session or every conversation use them so they never put thousands of Redis
// commands at once in front of a match or a message on the shared connection
// (docs/performance.md, "match").
// Threading: `done` may be called from any thread, exactly once per started item, also from
// inside `start` (no recursion: the caller's loop starts the next item). Asio-free.
// Lifetime: the shared state lives until the last `done`; `start` and `finished` are copied
// into it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace kindred::server {

template <class T>
void for_each_paced(std::vector<T> items, std::size_t window,
                    std::function<void(const T& item, std::function<void()> done)> start,
                    std::function<void()> finished = {}) {
    struct state : std::enable_shared_from_this<state> {
        std::mutex mutex;
        std::vector<T> items;
        std::size_t window = 1;
        std::size_t next = 0;
        std::size_t in_flight = 0;
        bool pumping = false; // a thread is in pump()'s loop: others only update the counts
        bool ended = false;
        std::function<void(const T&, std::function<void()>)> start;
        std::function<void()> finished;

        void pump() {
            std::unique_lock lock(mutex);
            if (pumping) return; // that loop sees the freed slot
            pumping = true;
            while (next < items.size() && in_flight < window) {
                const std::size_t i = next++;
                ++in_flight;
                lock.unlock();
                start(items[i], [self = this->shared_from_this()] { self->one_done(); });
                lock.lock();
            }
            pumping = false;
            if (next == items.size() && in_flight == 0 && !ended) {
                ended = true;
                lock.unlock();
                if (finished) finished();
            }
        }
        void one_done() {
            {
                std::lock_guard lock(mutex);
                --in_flight;
            }
            pump();
        }
    };
    auto s = std::make_shared<state>();
    s->items = std::move(items);
    s->window = window == 0 ? 1 : window;
    s->start = std::move(start);
    s->finished = std::move(finished);
    s->pump();
}

// A callable that runs `then` on its n-th call, from whichever thread makes it; the earlier
// calls only count. Copies share the count. What a caller wrote before its call is visible to
// `then` (acquire-release on the count).
inline std::function<void()> after_all(int n, std::function<void()> then) {
    auto remaining = std::make_shared<std::atomic<int>>(n);
    return [remaining, then = std::move(then)] {
        if (remaining->fetch_sub(1, std::memory_order_acq_rel) == 1) then();
    };
}

// A sweep over everything once per `period`, one slice every `tick`: the number of slices
// (at least 1; slice k of a round is the items whose number % slices == k).
inline std::uint64_t slices_per_period(std::chrono::milliseconds period,
                                       std::chrono::milliseconds tick) {
    if (tick.count() <= 0 || period <= tick) return 1;
    return static_cast<std::uint64_t>(period / tick);
}

} // namespace kindred::server
