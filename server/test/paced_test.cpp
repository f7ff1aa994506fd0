// paced_test.cpp — for_each_paced: every item started once, never more than the window
// outstanding, `finished` exactly once after the last `done`, synchronous completions
// without recursion, completions from other threads.
#include <kindred/server/paced.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

namespace kindred::server {
namespace {

TEST(ForEachPaced, StartsEveryItemOnceAndNeverMoreThanTheWindow) {
    std::vector<int> items(100);
    std::iota(items.begin(), items.end(), 0);
    std::deque<std::function<void()>> pending; // completions, run later in order
    std::vector<int> started;
    std::size_t outstanding = 0, most = 0;
    int finished = 0;
    for_each_paced<int>(
        items, 8,
        [&](const int& i, std::function<void()> done) {
            started.push_back(i);
            most = std::max(most, ++outstanding);
            pending.push_back([&outstanding, done = std::move(done)] {
                --outstanding;
                done();
            });
        },
        [&] { ++finished; });
    EXPECT_EQ(started.size(), 8u); // the window, nothing more until a completion
    while (!pending.empty()) {
        EXPECT_EQ(finished, 0);
        auto next = std::move(pending.front());
        pending.pop_front();
        next();
    }
    EXPECT_EQ(started, items); // in order, each once
    EXPECT_EQ(most, 8u);
    EXPECT_EQ(finished, 1);
}

TEST(ForEachPaced, CompletionsInsideStartDoNotRecurse) {
    // 200,000 synchronous completions would overflow the stack if each started the next
    // from inside the previous one.
    std::vector<int> items(200000, 1);
    long sum = 0;
    int finished = 0;
    for_each_paced<int>(
        std::move(items), 4,
        [&](const int& v, std::function<void()> done) {
            sum += v;
            done();
        },
        [&] { ++finished; });
    EXPECT_EQ(sum, 200000);
    EXPECT_EQ(finished, 1);
}

TEST(ForEachPaced, NoItemsFinishesAtOnceAndAZeroWindowMeansOne) {
    int finished = 0;
    for_each_paced<int>(
        {}, 8, [](const int&, std::function<void()>) { FAIL(); }, [&] { ++finished; });
    EXPECT_EQ(finished, 1);

    std::vector<std::function<void()>> pending;
    for_each_paced<int>({1, 2, 3}, 0, [&](const int&, std::function<void()> done) {
        pending.push_back(std::move(done));
    });
    ASSERT_EQ(pending.size(), 1u);
    pending[0]();
    EXPECT_EQ(pending.size(), 2u);
}

TEST(ForEachPaced, CompletionsFromOtherThreads) {
    std::vector<int> items(2000, 1);
    std::atomic<int> started{0}, outstanding{0}, most{0}, finished{0};
    std::vector<std::thread> threads;
    std::mutex threads_mutex;
    for_each_paced<int>(
        std::move(items), 16,
        [&](const int&, std::function<void()> done) {
            ++started;
            int now = ++outstanding;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            std::lock_guard lock(threads_mutex);
            threads.emplace_back([&outstanding, done = std::move(done)] {
                --outstanding;
                done();
            });
        },
        [&] { ++finished; });
    // Threads may still be added while earlier ones run: join until none are left.
    for (std::size_t i = 0;; ++i) {
        std::thread t;
        {
            std::lock_guard lock(threads_mutex);
            if (i >= threads.size()) break;
            t = std::move(threads[i]);
        }
        t.join();
    }
    EXPECT_EQ(started.load(), 2000);
    EXPECT_LE(most.load(), 16);
    EXPECT_EQ(finished.load(), 1);
}

TEST(AfterAll, RunsThenOnTheLastCallOnlyWhateverTheThreads) {
    std::atomic<int> ran{0};
    int written = 0;
    auto one_done = after_all(3, [&] {
        ++ran;
        EXPECT_EQ(written, 2); // both writes made before the other calls are visible
    });
    auto copy = one_done; // copies share the count
    std::thread a([&, copy] {
        written += 1; // before this call: the last caller (or `then`) sees it
        copy();
    });
    a.join();
    written += 1;
    one_done();
    EXPECT_EQ(ran.load(), 0);
    one_done();
    EXPECT_EQ(ran.load(), 1);
}

TEST(SlicesPerPeriod, TicksInAPeriodAndAtLeastOne) {
    using std::chrono::milliseconds;
    EXPECT_EQ(slices_per_period(milliseconds(5000), milliseconds(500)), 10u);
    EXPECT_EQ(slices_per_period(std::chrono::seconds(5), milliseconds(500)), 10u);
    EXPECT_EQ(slices_per_period(milliseconds(5200), milliseconds(500)), 10u); // rounded down
    EXPECT_EQ(slices_per_period(milliseconds(300), milliseconds(500)), 1u);
    EXPECT_EQ(slices_per_period(milliseconds(500), milliseconds(500)), 1u);
    EXPECT_EQ(slices_per_period(milliseconds(5000), milliseconds(0)), 1u);
}

} // namespace
} // namespace kindred::server
