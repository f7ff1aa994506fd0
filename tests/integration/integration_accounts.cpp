// integration_accounts.cpp — see the header. The only integration TU that includes Asio (the
// io_context the Redis client needs), so it links kindred::net.
#include "integration_accounts.hpp"

#include <kindred/accounts/account_store.hpp>
#include <kindred/store/client.hpp>
#include <kindred/testsupport/process.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace kindred::itest {

namespace ka = kindred::accounts;

std::string password_of(const std::string& username) {
    return username + "-password-for-tests";
}

void create_certified_peers(const std::filesystem::path& redis_socket,
                            const std::vector<std::string>& usernames,
                            const std::vector<std::string>& tags) {
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    {
        store::client_options co;
        co.address = store::endpoint::unix_socket(redis_socket.string());
        co.command_timeout = std::chrono::seconds(10);
        store::client client(io, co);
        client.start();
        EXPECT_TRUE(kindred::testsupport::eventually([&] { return client.connected(); },
                                                     std::chrono::seconds(10)));
        ka::account_store_options ao;
        // The catalog of default_test_config().
        ao.catalog = {{"grief", "test_tag"}, {"en", "es"}};
        ao.limits = ka::password_limits::test_only_minimum();
        ka::account_store accounts(client, ao);
        // All creates in flight at once (the hash runs inline in this thread; it is tiny).
        std::vector<std::future<boost::system::error_code>> created;
        for (const auto& name : usernames) {
            auto p = std::make_shared<std::promise<boost::system::error_code>>();
            created.push_back(p->get_future());
            accounts.create("test", ka::new_account{name, ka::role::peer, "Alias " + name, {"en"}},
                            password_of(name),
                            [p](boost::system::error_code ec) { p->set_value(ec); });
        }
        for (std::size_t i = 0; i < created.size(); ++i) {
            auto ec = created[i].get();
            EXPECT_FALSE(ec) << "create " << usernames[i] << ": " << ec.message();
        }
        std::vector<std::future<boost::system::error_code>> certified;
        for (const auto& name : usernames) {
            auto p = std::make_shared<std::promise<boost::system::error_code>>();
            certified.push_back(p->get_future());
            accounts.certify("test", name, tags, "2099-01-01",
                             [p](boost::system::error_code ec) { p->set_value(ec); });
        }
        for (std::size_t i = 0; i < certified.size(); ++i) {
            auto ec = certified[i].get();
            EXPECT_FALSE(ec) << "certify " << usernames[i] << ": " << ec.message();
        }
        client.stop();
    }
    work.reset();
    runner.join();
}

} // namespace kindred::itest
