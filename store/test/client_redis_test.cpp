// client_redis_test.cpp — kindred::store::client against a real redis-server (label: redis).
#include "store_test_support.hpp"
#include <kindred/testsupport/redis_process.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <future>

using namespace kindred::store;
using namespace kindred::store::test;
using kindred::testsupport::eventually;
using kindred::testsupport::redis_options;
using kindred::testsupport::redis_process;

TEST(ClientRedis, SetGetIncrAndNil) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    auto set = run(c, {"SET", "greeting", "hello"});
    EXPECT_FALSE(set.ec);
    EXPECT_TRUE(set.value.is_status("OK"));

    auto get = run(c, {"GET", "greeting"});
    EXPECT_FALSE(get.ec);
    EXPECT_TRUE(get.value.is_string());
    EXPECT_EQ(get.value.str(), "hello");

    auto missing = run(c, {"GET", "no-such-key"});
    EXPECT_FALSE(missing.ec);
    EXPECT_TRUE(missing.value.is_nil());

    EXPECT_EQ(run(c, {"INCR", "counter"}).value.integer(), 1);
    EXPECT_EQ(run(c, {"INCRBY", "counter", "41"}).value.integer(), 42);
    EXPECT_EQ(run(c, {"GET", "counter"}).value.to_integer(), 42);
    EXPECT_EQ(redis.command({"GET", "counter"}), "42");
}

TEST(ClientRedis, ArraysAndErrorReplies) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    EXPECT_EQ(run(c, {"RPUSH", "list", "a", "b", "c"}).value.integer(), 3);
    auto range = run(c, {"LRANGE", "list", "0", "-1"});
    EXPECT_FALSE(range.ec);
    ASSERT_TRUE(range.value.is_array());
    ASSERT_EQ(range.value.size(), 3u);
    EXPECT_EQ(range.value.at(0).str(), "a");
    EXPECT_EQ(range.value.at(2).str(), "c");

    auto empty = run(c, {"LRANGE", "nothing", "0", "-1"});
    EXPECT_TRUE(empty.value.is_array());
    EXPECT_EQ(empty.value.size(), 0u);

    auto mixed = run(c, {"EVAL", "return {1, 'two', false}", "0"});
    ASSERT_TRUE(mixed.value.is_array());
    EXPECT_EQ(mixed.value.at(0).integer(), 1);
    EXPECT_EQ(mixed.value.at(1).str(), "two");
    EXPECT_TRUE(mixed.value.at(2).is_nil());

    auto wrong = run(c, {"INCR", "list"});
    EXPECT_EQ(wrong.ec, error::reply_error);
    EXPECT_TRUE(wrong.value.is_error_code("WRONGTYPE")) << wrong.value.debug_string();

    auto unknown = run(c, {"NO-SUCH-COMMAND"});
    EXPECT_EQ(unknown.ec, error::reply_error);
    EXPECT_TRUE(unknown.value.is_error_code("ERR"));

    // An error reply does not disturb the pipeline.
    EXPECT_EQ(run(c, {"LLEN", "list"}).value.integer(), 3);
}

TEST(ClientRedis, ValuesAreBinarySafe) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));
    std::string bytes("\0\r\n$3\r\nxyz\xff", 12);
    EXPECT_FALSE(run(c, {"SET", std::string("k\0ey", 4), bytes}).ec);
    auto get = run(c, {"GET", std::string("k\0ey", 4)});
    EXPECT_EQ(get.value.str(), bytes);
}

TEST(ClientRedis, ThousandPipelinedIncrsCompleteInOrder) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    constexpr int n = 1000;
    auto values = std::make_shared<std::vector<long long>>(); // touched on the strand only
    auto all_done = std::make_shared<std::promise<void>>();
    for (int i = 0; i < n; ++i) {
        c.command({"INCR", "seq"}, [values, all_done](boost::system::error_code ec, reply r) {
            values->push_back(ec ? -1 : r.integer());
            if (values->size() == n) all_done->set_value();
        });
    }
    ASSERT_EQ(all_done->get_future().wait_for(20s), std::future_status::ready);
    ASSERT_EQ(values->size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        ASSERT_EQ((*values)[i], i + 1) << "at " << i;
}

TEST(ClientRedis, TimeoutDropsTheLateReplyAndKeepsRepliesAligned) {
    std::atomic<int> calls{0};
    io_thread io;
    redis_process redis;
    auto opts = fast_client(unix_endpoint(redis.unix_address()));
    opts.ping_interval = 0ms; // keep the same connection across the pause
    opts.command_timeout = 200ms;
    client c(io.io, opts);
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    redis.pause();
    auto first = std::make_shared<std::promise<result>>();
    c.command({"INCR", "late"}, [&calls, first](boost::system::error_code ec, reply r) {
        if (calls++ == 0) first->set_value({ec, std::move(r)});
    });
    auto f = first->get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get().ec, error::timeout);
    redis.resume();

    // The INCR ran late; its reply must be dropped, not handed to the next command.
    auto get = run(c, {"GET", "late"});
    EXPECT_FALSE(get.ec);
    EXPECT_TRUE(get.value.is_string()) << get.value.debug_string();
    EXPECT_EQ(get.value.str(), "1");
    EXPECT_EQ(run(c, {"ECHO", "x"}).value.str(), "x");
    EXPECT_EQ(calls.load(), 1);
}

// A frozen Redis (SIGSTOP): a fail-fast command completes at the stall timeout, long before
// its command deadline; a plain command sent with it still waits for that deadline; while
// stalled, later fail-fast commands are refused without being sent; after SIGCONT the
// connection serves again and the stalled command's late reply is dropped.
TEST(ClientRedis, StalledRedisFailsFailFastCommandsAtTheStallTimeout) {
    io_thread io;
    redis_process redis;
    auto opts = fast_client(unix_endpoint(redis.unix_address()));
    opts.ping_interval = 0ms; // keep the same connection across the pause
    opts.command_timeout = 5000ms;
    opts.stall_timeout = 100ms;
    client c(io.io, opts);
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    using clock = std::chrono::steady_clock;
    struct timed {
        boost::system::error_code ec;
        clock::duration after;
    };
    const auto send = [&c](std::vector<std::string> args, on_stall stall) {
        auto p = std::make_shared<std::promise<timed>>();
        const auto start = clock::now();
        c.command(
            std::move(args),
            [p, start](boost::system::error_code ec, reply) {
                p->set_value({ec, clock::now() - start});
            },
            stall);
        return p->get_future();
    };

    redis.pause();
    auto fast = send({"INCR", "stalled"}, on_stall::fail);
    auto slow = send({"GET", "other"}, on_stall::wait);
    ASSERT_EQ(fast.wait_for(10s), std::future_status::ready);
    const auto f = fast.get();
    EXPECT_EQ(f.ec, error::timeout);
    const auto fast_ms = std::chrono::duration_cast<std::chrono::milliseconds>(f.after).count();
    std::printf("fail-fast command answered after %lld ms (stall timeout 100 ms)\n",
                static_cast<long long>(fast_ms));
    // Not a speed assertion: the bound that matters is "well before the 5 s deadline".
    EXPECT_GE(fast_ms, 90);
    EXPECT_LT(fast_ms, 2500);
    // The plain command is still waiting (its deadline is 5 s away).
    EXPECT_EQ(slow.wait_for(0ms), std::future_status::timeout);
    // Stalled: a new fail-fast command is refused at once, without being sent.
    auto refused = send({"INCR", "never-sent"}, on_stall::fail);
    ASSERT_EQ(refused.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(refused.get().ec, error::not_connected);

    redis.resume();
    ASSERT_EQ(slow.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(slow.get().ec); // answered after the resume, before its deadline
    // The stalled INCR ran late (its reply was dropped); the refused one never ran.
    auto get = run(c, {"GET", "stalled"});
    EXPECT_FALSE(get.ec);
    EXPECT_EQ(get.value.str(), "1");
    EXPECT_TRUE(run(c, {"GET", "never-sent"}).value.is_nil());
    // Replies flow again, so fail-fast commands are sent again.
    auto again = send({"INCR", "stalled"}, on_stall::fail);
    ASSERT_EQ(again.wait_for(10s), std::future_status::ready);
    EXPECT_FALSE(again.get().ec);
}

// A stall is measured from the last reply, not per command: W1 (a 300 ms script) runs alone;
// W2 (another 300 ms) and F (an INCR) are sent 50 ms later and run after it. F waits ~550 ms,
// longer than the 500 ms stall timeout, but W1's reply came at ~300 ms, so Redis is not
// stalled and all three succeed. (A per-command 500 ms deadline would have failed F.)
TEST(ClientRedis, CommandWaitingBehindSlowOnesIsNotFailedWhileRepliesFlow) {
    io_thread io;
    redis_process redis;
    auto opts = fast_client(unix_endpoint(redis.unix_address()));
    opts.ping_interval = 0ms;
    opts.command_timeout = 20000ms;
    opts.stall_timeout = 500ms;
    client c(io.io, opts);
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    const std::string busy = "local t = redis.call('TIME') "
                             "local start = t[1] * 1000000 + t[2] "
                             "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start "
                             ">= 300000 return redis.call('INCR', KEYS[1])";
    using clock = std::chrono::steady_clock;
    std::vector<std::future<std::pair<boost::system::error_code, clock::duration>>> done;
    const auto send = [&](std::vector<std::string> args) {
        auto p =
            std::make_shared<std::promise<std::pair<boost::system::error_code, clock::duration>>>();
        done.push_back(p->get_future());
        const auto start = clock::now();
        c.command(
            std::move(args),
            [p, start](boost::system::error_code ec, reply) {
                p->set_value({ec, clock::now() - start});
            },
            on_stall::fail);
    };
    send({"EVAL", busy, "1", "busy"});
    std::this_thread::sleep_for(50ms);
    send({"EVAL", busy, "1", "busy"});
    send({"INCR", "fast"});
    for (auto& f : done)
        ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    const auto f = done[2].get();
    std::printf("INCR behind two 300 ms scripts answered after %lld ms (stall timeout 500 ms)\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(f.second).count()));
    EXPECT_FALSE(f.first) << f.first.message();
    EXPECT_FALSE(done[0].get().first);
    EXPECT_FALSE(done[1].get().first);
    EXPECT_EQ(run(c, {"GET", "busy"}).value.str(), "2");
    EXPECT_EQ(run(c, {"GET", "fast"}).value.str(), "1");
}

TEST(ClientRedis, PausedRedisAnswersTimeoutsThenRecoversAfterResume) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    redis.pause();
    auto during = run(c, {"GET", "k"});
    EXPECT_TRUE(during.ec == error::timeout || during.ec == error::not_connected) << during.ec;
    // The health PING notices the hang and connected() says so.
    EXPECT_TRUE(eventually([&] { return !c.connected(); }));
    EXPECT_EQ(run(c, {"GET", "k"}).ec, error::not_connected);

    redis.resume();
    ASSERT_TRUE(eventually([&] { return c.connected(); }, 10s));
    auto after = run(c, {"SET", "k", "v"});
    EXPECT_FALSE(after.ec);
    EXPECT_TRUE(after.value.is_status("OK"));
}

TEST(ClientRedis, FailsFastWhileRedisIsStoppedAndReconnectsAfterRestart) {
    shared_list<bool> states;
    io_thread io;
    redis_process redis;
    auto opts = fast_client(unix_endpoint(redis.unix_address()));
    opts.on_state = [&states](bool up) { states.push(up); };
    client c(io.io, opts);
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));
    EXPECT_FALSE(run(c, {"SET", "k", "1"}).ec);

    redis.stop();
    ASSERT_TRUE(eventually([&] { return !c.connected(); }));
    // No queueing during an outage: the command is refused without being sent.
    auto refused = run(c, {"GET", "k"});
    EXPECT_EQ(refused.ec, error::not_connected);

    redis.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }, 10s));
    EXPECT_FALSE(run(c, {"SET", "k", "2"}).ec);
    EXPECT_EQ(run(c, {"GET", "k"}).value.str(), "2");
    EXPECT_TRUE(eventually([&] { return states.size() >= 3; }));
    EXPECT_EQ(states.snapshot(), (std::vector<bool>{true, false, true}));
}

TEST(ClientRedis, StartsBeforeRedisAndConnectsWhenItComes) {
    io_thread io;
    redis_process redis;
    redis.stop();
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    EXPECT_EQ(run(c, {"PING"}).ec, error::not_connected);
    redis.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }, 10s));
    EXPECT_TRUE(run(c, {"PING"}).value.is_status("PONG"));
}

TEST(ClientRedis, InFlightCommandsFailWithDisconnectedOnKill9) {
    shared_list<boost::system::error_code> results;
    io_thread io;
    redis_process redis;
    auto opts = fast_client(unix_endpoint(redis.unix_address()));
    opts.command_timeout = 20s; // only the crash may end these commands
    opts.ping_interval = 0ms;
    client c(io.io, opts);
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    auto record = [&results](boost::system::error_code ec, reply) { results.push(ec); };
    c.command({"BLPOP", "never", "0"}, record); // blocks the connection server-side
    c.command({"GET", "a"}, record);            // pipelined behind it
    c.command({"INCR", "b"}, record);
    ASSERT_TRUE(eventually([&] {
        return redis.command({"INFO", "clients"}).find("blocked_clients:1") != std::string::npos;
    }));
    EXPECT_EQ(results.size(), 0u);

    redis.kill9();
    ASSERT_TRUE(eventually([&] { return results.size() == 3; }));
    for (auto ec : results.snapshot())
        EXPECT_EQ(ec, error::disconnected);
    EXPECT_TRUE(eventually([&] { return !c.connected(); }));

    redis.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }, 10s));
    EXPECT_TRUE(run(c, {"PING"}).value.is_status("PONG"));
}

TEST(ClientRedis, StopCompletesEveryHandlerExactlyOnce) {
    constexpr int n = 50;
    std::vector<std::atomic<int>> calls(n);
    shared_list<boost::system::error_code> results;
    {
        io_thread io;
        redis_process redis;
        auto opts = fast_client(unix_endpoint(redis.unix_address()));
        opts.command_timeout = 20s;
        opts.ping_interval = 0ms;
        client c(io.io, opts);
        c.start();
        ASSERT_TRUE(eventually([&] { return c.connected(); }));

        redis.pause(); // nothing gets answered
        for (int i = 0; i < n; ++i)
            c.command({"INCR", "x"}, [&calls, &results, i](boost::system::error_code ec, reply) {
                calls[i]++;
                results.push(ec);
            });
        c.stop();
        ASSERT_TRUE(eventually([&] { return results.size() == n; }));
        for (auto ec : results.snapshot())
            EXPECT_EQ(ec, error::stopped);
        EXPECT_FALSE(c.connected());
        EXPECT_EQ(run(c, {"PING"}).ec, error::stopped); // stays stopped
        c.start();                                      // no effect after stop
        EXPECT_EQ(run(c, {"PING"}).ec, error::stopped);
        redis.resume();
    } // client, then redis, then the io thread (which checks that no work is left)
    for (int i = 0; i < n; ++i)
        EXPECT_EQ(calls[i].load(), 1) << "handler " << i;
}

TEST(ClientRedis, DestroyingWithCommandsInFlightIsSafe) {
    shared_list<boost::system::error_code> results;
    io_thread io;
    redis_process redis;
    {
        client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
        c.start();
        ASSERT_TRUE(eventually([&] { return c.connected(); }));
        for (int i = 0; i < 100; ++i)
            c.command({"INCR", "y"},
                      [&results](boost::system::error_code ec, reply) { results.push(ec); });
    } // ~client stops it
    ASSERT_TRUE(eventually([&] { return results.size() == 100; }));
    for (auto ec : results.snapshot())
        EXPECT_TRUE(!ec || ec == error::stopped) << ec;
}

TEST(ClientRedis, RejectsCommandsThatChangeTheConnectionMode) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));
    EXPECT_EQ(run(c, {}).ec, error::invalid_command);
    EXPECT_EQ(run(c, {"subscribe", "x"}).ec, error::invalid_command);
    EXPECT_EQ(run(c, {"PSUBSCRIBE", "x*"}).ec, error::invalid_command);
    EXPECT_EQ(run(c, {"MONITOR"}).ec, error::invalid_command);
    EXPECT_TRUE(run(c, {"PING"}).value.is_status("PONG"));
}

TEST(ClientRedis, EvalshaWorksAndSurvivesScriptFlush) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));
    script add("return redis.call('INCRBY', KEYS[1], ARGV[1])");

    // Redis does not know it yet: NOSCRIPT → SCRIPT LOAD → EVALSHA, invisibly.
    auto first = run_eval(c, add, {"total"}, {"5"});
    EXPECT_FALSE(first.ec) << first.value.debug_string();
    EXPECT_EQ(first.value.integer(), 5);
    EXPECT_EQ(redis.command({"SCRIPT", "EXISTS", add.sha1()}), "1");
    // Our local SHA1 is the one Redis computes.
    EXPECT_EQ(redis.command({"SCRIPT", "LOAD", add.source()}), add.sha1());

    EXPECT_EQ(run_eval(c, add, {"total"}, {"2"}).value.integer(), 7);

    EXPECT_EQ(redis.command({"SCRIPT", "FLUSH"}), "OK");
    auto after_flush = run_eval(c, add, {"total"}, {"3"});
    EXPECT_FALSE(after_flush.ec) << after_flush.value.debug_string();
    EXPECT_EQ(after_flush.value.integer(), 10);
}

// Regression (found by relay's concurrent append test): a script first used on a connection
// while another connection loads it. With EVALSHA first, the early calls got NOSCRIPT, the
// later ones found the script, and the retries ran after them: pipelined calls out of order.
TEST(ClientRedis, PipelinedEvalsOfANewScriptRunInOrderWhileAnotherClientLoadsIt) {
    io_thread io;
    redis_process redis;
    client a(io.io, fast_client(unix_endpoint(redis.unix_address())));
    client b(io.io, fast_client(unix_endpoint(redis.unix_address())));
    a.start();
    b.start();
    ASSERT_TRUE(eventually([&] { return a.connected() && b.connected(); }));
    script push("return redis.call('RPUSH', KEYS[1], ARGV[1])");

    constexpr int n = 400;
    auto done = std::make_shared<std::atomic<int>>(0);
    auto all_done = std::make_shared<std::promise<void>>();
    for (int i = 0; i < n; ++i) {
        if (i == 5) b.load(push, [](boost::system::error_code, reply) {});
        a.eval(push, {"order"}, {std::to_string(i)},
               [done, all_done](boost::system::error_code, reply) {
                   if (done->fetch_add(1) + 1 == n) all_done->set_value();
               });
    }
    ASSERT_EQ(all_done->get_future().wait_for(20s), std::future_status::ready);
    auto stored = redis.command({"LRANGE", "order", "0", "-1"});
    std::string expected;
    for (int i = 0; i < n; ++i)
        expected += (i ? "\n" : "") + std::to_string(i);
    EXPECT_EQ(stored, expected);
}

// Regression: the subscriber restart test died of SIGPIPE (hiredis writes with write(2) to a
// Redis that had just closed the socket). Using the library must leave SIGPIPE ignored.
TEST(ClientRedis, ConnectingLeavesSigpipeIgnoredSoAClosedRedisCannotKillTheProcess) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));
    struct sigaction current {};
    ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &current), 0);
    EXPECT_EQ(current.sa_handler, SIG_IGN);
    redis.kill9(); // and a write after the drop fails with EPIPE instead of ending the test
    run(c, {"PING"});
    c.stop();
}

TEST(ClientRedis, LoadReturnsTheSha1) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));
    script s("return ARGV[1]");
    auto p = std::make_shared<std::promise<result>>();
    c.load(s, [p](boost::system::error_code ec, reply r) { p->set_value({ec, std::move(r)}); });
    auto loaded = p->get_future().get();
    EXPECT_FALSE(loaded.ec);
    EXPECT_EQ(loaded.value.str(), s.sha1());
    EXPECT_EQ(redis.command({"SCRIPT", "EXISTS", s.sha1()}), "1");
}

TEST(ClientRedis, ScriptErrorsReachTheCaller) {
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));

    // Does not compile: the caller learns why, not a bare NOSCRIPT.
    script broken("return (");
    auto b = run_eval(c, broken, {}, {});
    EXPECT_EQ(b.ec, error::reply_error);
    EXPECT_TRUE(b.value.is_error());
    EXPECT_FALSE(b.value.is_error_code("NOSCRIPT")) << b.value.debug_string();

    // Compiles, fails at run time.
    script wrong("return redis.call('INCR', KEYS[1])");
    EXPECT_FALSE(run(c, {"SET", "s", "text"}).ec);
    auto w = run_eval(c, wrong, {"s"}, {});
    EXPECT_EQ(w.ec, error::reply_error);
    EXPECT_TRUE(w.value.is_error());
}

TEST(ClientRedis, WorksOverTcp) {
    io_thread io;
    redis_options tcp;
    tcp.tcp = true;
    redis_process redis(tcp);
    auto where = parse_endpoint(redis.tcp_address());
    ASSERT_TRUE(where);
    client c(io.io, fast_client(*where));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));
    EXPECT_TRUE(run(c, {"SET", "t", "cp"}).value.is_status("OK"));
    EXPECT_EQ(run(c, {"GET", "t"}).value.str(), "cp");

    redis.restart(); // same port
    ASSERT_TRUE(eventually([&] { return c.connected(); }, 10s));
    EXPECT_TRUE(run(c, {"PING"}).value.is_status("PONG"));
}

TEST(ClientRedis, ReportsLatencyOfEachSentCommand) {
    shared_list<boost::system::error_code> latencies;
    io_thread io;
    redis_process redis;
    auto opts = fast_client(unix_endpoint(redis.unix_address()));
    opts.ping_interval = 0ms; // only our commands
    opts.on_latency = [&latencies](std::chrono::steady_clock::duration d,
                                   const boost::system::error_code& ec) {
        if (d.count() >= 0) latencies.push(ec);
    };
    client c(io.io, opts);
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));
    run(c, {"SET", "a", "1"});
    run(c, {"GET", "a"});
    run(c, {"INCR", "nope", "extra-arg"}); // error reply
    run(c, {});                            // refused before sending: no latency
    auto seen = latencies.snapshot();
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_FALSE(seen[0]);
    EXPECT_FALSE(seen[1]);
    EXPECT_EQ(seen[2], error::reply_error);
}

TEST(ClientRedis, CommandsFromManyThreadsAllComplete) {
    std::atomic<int> ok{0};
    io_thread io;
    redis_process redis;
    client c(io.io, fast_client(unix_endpoint(redis.unix_address())));
    c.start();
    ASSERT_TRUE(eventually([&] { return c.connected(); }));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 250; ++i)
                c.command({"INCR", "shared"}, [&ok](boost::system::error_code ec, reply) {
                    if (!ec) ok++;
                });
        });
    for (auto& t : threads)
        t.join();
    ASSERT_TRUE(eventually([&] { return ok.load() == 1000; }));
    EXPECT_EQ(redis.command({"GET", "shared"}), "1000");
}
