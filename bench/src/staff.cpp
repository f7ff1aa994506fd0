// staff.cpp — peer accounts and logins for a run; see staff.hpp.
#include "staff.hpp"

#include <kindred/accounts/account_store.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/endpoint.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <future>
#include <stdexcept>
#include <thread>

namespace kindred::bench {

namespace ka = kindred::accounts;

namespace {

// Runs `start(i, done)` for every index with at most `window` in flight; throws on the first
// error. Bounded so a 20k-peer run does not queue 20k Argon2 jobs and Lua calls at once.
template <class Start>
void run_all(std::size_t count, const char* what, const std::vector<std::string>& names,
             Start start) {
    constexpr std::size_t window = 256;
    for (std::size_t base = 0; base < count; base += window) {
        const std::size_t n = std::min(window, count - base);
        std::vector<std::future<boost::system::error_code>> results;
        for (std::size_t i = base; i < base + n; ++i) {
            auto p = std::make_shared<std::promise<boost::system::error_code>>();
            results.push_back(p->get_future());
            start(i, [p](boost::system::error_code ec) { p->set_value(ec); });
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (auto ec = results[i].get()) {
                throw std::runtime_error(std::string(what) + " " + names[base + i] + ": " +
                                         ec.message());
            }
        }
    }
}

} // namespace

std::vector<std::string> create_peer_tokens(const staff_request& request) {
    std::string why;
    auto address = store::parse_endpoint(request.redis, &why);
    if (!address) throw std::runtime_error("--redis: " + why);

    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    std::vector<std::string> tokens(request.usernames.size());
    std::exception_ptr failure;
    {
        store::client_options co;
        co.address = *address;
        co.command_timeout = std::chrono::seconds(20);
        co.name = "bench-staff";
        store::client client(io, co);
        client.start();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!client.connected() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        try {
            if (!client.connected())
                throw std::runtime_error("cannot reach Redis at " + request.redis);
            ka::account_store_options ao;
            ao.catalog = {{request.tag}, {request.language}};
            ao.limits = ka::password_limits::test_only_minimum();
            ka::account_store accounts(client, ao);
            const auto& names = request.usernames;
            auto password = [](const std::string& name) { return name + "-bench-password"; };
            run_all(names.size(), "create", names, [&](std::size_t i, auto done) {
                accounts.create(
                    "kindred-bench",
                    ka::new_account{
                        names[i], ka::role::peer, "Bench " + std::to_string(i), {request.language}},
                    password(names[i]), done);
            });
            run_all(names.size(), "certify", names, [&](std::size_t i, auto done) {
                accounts.certify("kindred-bench", names[i], {request.tag}, "2099-01-01", done);
            });
            run_all(names.size(), "login", names, [&](std::size_t i, auto done) {
                accounts.login(
                    names[i], password(names[i]),
                    [&tokens, i, done](boost::system::error_code ec, ka::login_result r) {
                        if (!ec) tokens[i] = std::move(r.token);
                        done(ec);
                    });
            });
        } catch (...) {
            failure = std::current_exception();
        }
        client.stop();
    }
    work.reset();
    runner.join();
    if (failure) std::rethrow_exception(failure);
    return tokens;
}

} // namespace kindred::bench
