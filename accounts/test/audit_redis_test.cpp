// audit_redis_test.cpp — the audit chain as the accounts scripts write it to a real
// redis-server (label: redis), and tampering with it: a changed field, a deleted entry, a
// re-added (moved) entry, swapped entries, a cut tail, and trimming.
#include "accounts_test_support.hpp"
#include <kindred/accounts/audit.hpp>

using namespace kindred::accounts;
using namespace kindred::accounts::test;
using kindred::testsupport::eventually;
using kindred::testsupport::redis_process;
namespace ks = kindred::store;

namespace {

struct fixture {
    fixture() {
        client.start();
        EXPECT_TRUE(eventually([&] { return client.connected(); }));
        account_store_options o;
        o.catalog = {{"grief"}, {"en"}};
        o.limits = password_limits::test_only_minimum();
        o.now_ms = [] { return std::int64_t{1773576000000}; };
        accounts = std::make_unique<account_store>(client, std::move(o));
    }

    // Five chained entries: create, alias, languages, disable, enable.
    void five_changes() {
        ASSERT_FALSE(done([&](auto h) {
            accounts->create("tester", {"river", role::peer, "River", {"en"}},
                             "correct horse battery", std::move(h));
        }));
        ASSERT_FALSE(
            done([&](auto h) { accounts->set_alias("tester", "river", "Riv", std::move(h)); }));
        ASSERT_FALSE(done(
            [&](auto h) { accounts->set_languages("tester", "river", {"en"}, std::move(h)); }));
        ASSERT_FALSE(
            done([&](auto h) { accounts->set_disabled("ops", "river", true, std::move(h)); }));
        ASSERT_FALSE(
            done([&](auto h) { accounts->set_disabled("ops", "river", false, std::move(h)); }));
    }

    ks::reply cmd(std::vector<std::string> args) {
        auto [ec, r] = wait_for<boost::system::error_code, ks::reply>(
            [&](auto h) { client.command(std::move(args), std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    std::vector<audit_entry> entries() {
        return audit_entries_from_reply(cmd({"XRANGE", "audit", "-", "+"}));
    }
    audit_report verify() {
        auto [ec, r] = wait_for<boost::system::error_code, audit_report>(
            [&](auto h) { verify_audit(client, "audit", std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    std::vector<std::string> fields_of(const audit_entry& e) {
        return {"seq",    e.seq,    "prev",   e.prev,   "hash", e.hash, "actor",  e.actor,
                "action", e.action, "target", e.target, "at",   e.at,   "detail", e.detail};
    }
    // Rewrites the stream with these entries, each under its own id.
    void rewrite(const std::vector<audit_entry>& v) {
        cmd({"DEL", "audit"});
        for (const auto& e : v) {
            std::vector<std::string> args{"XADD", "audit", e.id};
            for (auto& f : fields_of(e))
                args.push_back(f);
            cmd(args);
        }
    }

    io_thread io;
    redis_process redis;
    ks::client client{io.io, fast_client(redis.unix_address())};
    std::unique_ptr<account_store> accounts;
};

} // namespace

TEST(AuditRedis, ScriptsAppendAChainThatVerifies) {
    fixture f;
    f.five_changes();
    auto v = f.entries();
    ASSERT_EQ(v.size(), 5u);
    EXPECT_EQ(v[0].prev, audit_genesis);
    for (std::size_t i = 0; i < v.size(); ++i) {
        EXPECT_TRUE(v[i].chained);
        EXPECT_EQ(v[i].seq, std::to_string(i + 1));
        EXPECT_EQ(v[i].hash, audit_hash(v[i])) << "Lua and C++ disagree on entry " << i;
        if (i > 0) {
            EXPECT_EQ(v[i].prev, v[i - 1].hash);
        }
    }
    EXPECT_EQ(v[3].action, "user.disable");
    EXPECT_EQ(v[3].actor, "ops");
    auto head = f.cmd({"HMGET", "audit:head", "hash", "seq"});
    ASSERT_EQ(head.size(), 2u);
    EXPECT_EQ(head.elements()[0].str(), v.back().hash);
    EXPECT_EQ(head.elements()[1].str(), "5");
    auto r = f.verify();
    EXPECT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.checked, 5u);
}

TEST(AuditRedis, AChangedFieldIsNamed) {
    fixture f;
    f.five_changes();
    auto v = f.entries();
    v[2].actor = "someone-else";
    f.rewrite(v);
    auto r = f.verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_id, v[2].id);
    EXPECT_NE(r.reason.find("hash mismatch"), std::string::npos) << r.reason;
}

TEST(AuditRedis, ADeletedMiddleEntryIsDetected) {
    fixture f;
    f.five_changes();
    auto v = f.entries();
    f.cmd({"XDEL", "audit", v[2].id});
    auto r = f.verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_id, v[3].id);
    EXPECT_NE(r.reason.find("missing"), std::string::npos) << r.reason;
}

TEST(AuditRedis, AMovedOrSwappedEntryIsDetected) {
    fixture f;
    f.five_changes();
    auto v = f.entries();
    // Re-added at the end: the gap it leaves is named.
    f.cmd({"XDEL", "audit", v[1].id});
    std::vector<std::string> args{"XADD", "audit", "*"};
    for (auto& x : f.fields_of(v[1]))
        args.push_back(x);
    f.cmd(args);
    auto r = f.verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_id, v[2].id);

    // Two entries' contents swapped under the original ids.
    auto w = v;
    std::swap(w[3].seq, w[4].seq);
    std::swap(w[3].prev, w[4].prev);
    std::swap(w[3].hash, w[4].hash);
    std::swap(w[3].action, w[4].action);
    f.rewrite(w);
    r = f.verify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_id, w[3].id);
    EXPECT_NE(r.reason.find("missing"), std::string::npos) << r.reason;
}

TEST(AuditRedis, ACutTailIsDetectedButTrimmingIsNot) {
    fixture f;
    f.five_changes();
    auto v = f.entries();
    f.cmd({"XDEL", "audit", v[4].id});
    auto r = f.verify();
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.reason.find("newest entries are missing"), std::string::npos) << r.reason;

    f.rewrite(v);
    f.cmd({"XTRIM", "audit", "MAXLEN", "3"});
    r = f.verify();
    EXPECT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.checked, 3u);

    auto [ec, tail] = wait_for<boost::system::error_code, std::vector<audit_entry>>(
        [&](auto h) { tail_audit(f.client, "audit", 2, std::move(h)); });
    ASSERT_FALSE(ec);
    ASSERT_EQ(tail.size(), 2u);
    EXPECT_EQ(tail[0].seq, "4");
    EXPECT_EQ(tail[1].seq, "5");
}
