// paced.hpp — for_each_paced: one asynchronous operation per item with at most `window` of
// them outstanding, then a `finished` call. Periodic sweeps over every session or every
// conversation use it so they never put thousands of Redis commands at once in front of a
// match or a message on the shared connection (docs/performance.md, "match").
// Threading: `done` may be called from any thread, exactly once per started item, also from
// inside `start` (no recursion: the caller's loop starts the next item). Asio-free.
// Lifetime: the shared state lives until the last `done`; `start` and `finished` are copied
// into it.
#pragma once

#include <cstddef>
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

} // namespace kindred::server
