// account_store_redis_test.cpp — account_store against a real redis-server (label: redis):
// accounts, tokens, revocation notices, identity keys, lockout, audit.
#include "accounts_test_support.hpp"
#include <kindred/accounts/keys.hpp>
#include <kindred/accounts/token.hpp>

#include <sodium.h>

#include <atomic>

using namespace kindred::accounts;
using namespace kindred::accounts::test;
using kindred::testsupport::eventually;
using kindred::testsupport::redis_process;
namespace ks = kindred::store;

namespace {

// 2026-03-15T12:00:00Z; tests that need real expiry use the system clock instead.
constexpr std::int64_t t0 = 1773576000000;
const std::string pw = "correct horse battery";

struct fixture {
    explicit fixture(account_store_options extra = {}, bool real_clock = false) {
        client.start();
        EXPECT_TRUE(eventually([&] { return client.connected(); }));
        extra.catalog = {{"grief", "addiction", "caregiving"}, {"en", "es", "fr"}};
        extra.limits = password_limits::test_only_minimum();
        if (!real_clock) extra.now_ms = [this] { return now.load(); };
        accounts = std::make_unique<account_store>(client, std::move(extra));
    }

    boost::system::error_code add(const std::string& name, role r = role::peer,
                                  const std::string& password = pw) {
        return done([&](auto h) {
            accounts->create("tester", {name, r, "Alias " + name, {"en", "es"}}, password,
                             std::move(h));
        });
    }

    std::vector<std::string> audit_entries() {
        auto text = redis.command({"XRANGE", "audit", "-", "+"});
        std::vector<std::string> lines;
        std::string line;
        for (char c : text) {
            if (c == '\n') {
                lines.push_back(line);
                line.clear();
            } else {
                line += c;
            }
        }
        if (!line.empty()) lines.push_back(line);
        return lines;
    }

    std::atomic<std::int64_t> now{t0};
    io_thread io;
    redis_process redis;
    ks::client client{io.io, fast_client(redis.unix_address())};
    std::unique_ptr<account_store> accounts;
};

// Subscribes to the revocation channel and waits until Redis confirmed it.
struct revocation_listener {
    revocation_listener(io_thread& io, redis_process& redis) {
        ks::subscriber_options o;
        o.address = ks::parse_endpoint(redis.unix_address()).value();
        o.reconnect_initial = 20ms;
        sub = std::make_unique<ks::subscriber>(io.io, o);
        auto ready = std::make_shared<std::promise<void>>();
        auto f = ready->get_future();
        sub->subscribe(
            std::string(keys::revoked_channel),
            [this](std::string_view, std::string_view payload) { log.push(std::string(payload)); },
            [ready](boost::system::error_code) { ready->set_value(); });
        sub->start();
        EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    }
    std::vector<revocation> notices() {
        std::vector<revocation> out;
        for (const auto& m : log.snapshot())
            if (auto r = parse_revocation(m)) out.push_back(*r);
        return out;
    }
    channel_log log;
    std::unique_ptr<ks::subscriber> sub;
};

} // namespace

TEST(AccountStoreRedis, CreateGetAndList) {
    fixture f;
    ASSERT_FALSE(f.add("river"));
    ASSERT_FALSE(f.add("alder", role::moderator));

    auto [ec, a] = get(*f.accounts, "river");
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(a.username, "river");
    EXPECT_EQ(a.role, role::peer);
    EXPECT_EQ(a.alias, "Alias river");
    EXPECT_EQ(a.languages, (std::vector<std::string>{"en", "es"}));
    EXPECT_FALSE(a.disabled);
    EXPECT_FALSE(a.identity_key);
    EXPECT_TRUE(a.certifications.empty());
    EXPECT_EQ(a.created_at, t0);
    EXPECT_EQ(a.updated_at, t0);

    // The password is stored only as an Argon2id hash.
    auto stored = f.redis.command({"HGET", "user:{river}", "password"});
    EXPECT_EQ(stored.rfind("$argon2id$", 0), 0u) << stored;
    EXPECT_EQ(stored.find(pw), std::string::npos);
    EXPECT_EQ(f.redis.command({"SISMEMBER", "users", "river"}), "1");

    auto [lec, all] = wait_for<boost::system::error_code, std::vector<account>>(
        [&](auto h) { f.accounts->list(std::move(h)); });
    ASSERT_FALSE(lec);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].username, "alder");
    EXPECT_EQ(all[0].role, role::moderator);
    EXPECT_EQ(all[1], a);
}

TEST(AccountStoreRedis, CreateRefusesDuplicatesAndBadInput) {
    fixture f;
    ASSERT_FALSE(f.add("river"));
    EXPECT_EQ(f.add("river"), error::already_exists);
    EXPECT_EQ(f.add("River"), error::invalid_username);
    EXPECT_EQ(f.add("river2", role::peer, "short"), error::invalid_password);
    auto create = [&](new_account a, std::string actor = "tester") {
        return done([&](auto h) { f.accounts->create(actor, a, pw, std::move(h)); });
    };
    EXPECT_EQ(create({"river3", role::peer, " padded", {"en"}}), error::invalid_alias);
    EXPECT_EQ(create({"river3", role::peer, "River", {"en", "xx"}}), error::unknown_language);
    EXPECT_EQ(create({"river3", role::peer, "River", {}}), error::no_languages);
    EXPECT_EQ(create({"river3", role::peer, "River", {"en"}}, "bad actor"), error::invalid_actor);
    // Nothing was written by the refused requests.
    EXPECT_EQ(f.redis.command({"SMEMBERS", "users"}), "river");
}

TEST(AccountStoreRedis, UnknownAndMalformedNamesAreNotFound) {
    fixture f;
    EXPECT_EQ(get(*f.accounts, "nobody").first, error::not_found);
    EXPECT_EQ(get(*f.accounts, "Not A Name").first, error::not_found);
    EXPECT_EQ(done([&](auto h) { f.accounts->set_disabled("tester", "nobody", true, h); }),
              error::not_found);
    EXPECT_EQ(done([&](auto h) { f.accounts->remove("tester", "nobody", h); }), error::not_found);
    EXPECT_EQ(done([&](auto h) { f.accounts->set_alias("tester", "nobody", "X", h); }),
              error::not_found);
    EXPECT_EQ(done([&](auto h) { f.accounts->set_password("tester", "nobody", pw, h); }),
              error::not_found);
}

TEST(AccountStoreRedis, CertifyRevokeAliasLanguages) {
    fixture f;
    ASSERT_FALSE(f.add("river"));
    f.now = t0 + 1000;
    EXPECT_FALSE(done([&](auto h) {
        f.accounts->certify("tester", "river", {"grief", "addiction"}, "2027-06-30", h);
    }));
    EXPECT_FALSE(done(
        [&](auto h) { f.accounts->certify("tester", "river", {"caregiving"}, "2026-03-15", h); }));
    EXPECT_EQ(done([&](auto h) {
                  f.accounts->certify("tester", "river", {"astrology"}, "2027-06-30", h);
              }),
              error::unknown_tag);
    EXPECT_EQ(
        done([&](auto h) { f.accounts->certify("tester", "river", {"grief"}, "2026-03-14", h); }),
        error::date_in_past);
    EXPECT_EQ(
        done([&](auto h) { f.accounts->certify("tester", "river", {"grief"}, "2027-02-30", h); }),
        error::invalid_date);

    auto [ec, a] = get(*f.accounts, "river");
    ASSERT_FALSE(ec);
    ASSERT_EQ(a.certifications.size(), 3u);
    EXPECT_EQ(a.certifications[0], (certification{"addiction", {2027, 6, 30}}));
    EXPECT_EQ(a.certifications[1], (certification{"caregiving", {2026, 3, 15}}));
    EXPECT_EQ(a.certifications[2], (certification{"grief", {2027, 6, 30}}));
    EXPECT_EQ(a.updated_at, t0 + 1000);
    // caregiving lapses when 2026-03-15 ends (UTC).
    EXPECT_EQ(a.active_tags(end_of_day_ms({2026, 3, 15})),
              (std::vector<std::string>{"addiction", "grief"}));

    // Revoking takes tags that are no longer in the catalog, and ignores ones not held.
    f.redis.command({"HSET", "user:{river}", "cert:retired_tag", "2027-01-01"});
    EXPECT_FALSE(done([&](auto h) {
        f.accounts->revoke_tags("tester", "river", {"grief", "retired_tag", "caregiving"}, h);
    }));
    EXPECT_FALSE(done([&](auto h) { f.accounts->revoke_tags("tester", "river", {"grief"}, h); }));
    EXPECT_EQ(done([&](auto h) { f.accounts->revoke_tags("tester", "river", {"Bad Tag"}, h); }),
              error::invalid_tag);

    EXPECT_FALSE(done([&](auto h) { f.accounts->set_alias("tester", "river", "Río", h); }));
    EXPECT_EQ(done([&](auto h) { f.accounts->set_alias("tester", "river", "", h); }),
              error::invalid_alias);
    EXPECT_FALSE(done([&](auto h) {
        f.accounts->set_languages("tester", "river", {"fr", "en"}, h);
    }));
    EXPECT_EQ(done([&](auto h) { f.accounts->set_languages("tester", "river", {"de"}, h); }),
              error::unknown_language);

    auto [ec2, b] = get(*f.accounts, "river");
    ASSERT_FALSE(ec2);
    ASSERT_EQ(b.certifications.size(), 1u);
    EXPECT_EQ(b.certifications[0].tag, "addiction");
    EXPECT_EQ(b.alias, "Río");
    EXPECT_EQ(b.languages, (std::vector<std::string>{"fr", "en"}));
}

TEST(AccountStoreRedis, LoginLookupLogoutWithNotice) {
    fixture f;
    revocation_listener listener(f.io, f.redis);
    ASSERT_FALSE(f.add("river"));
    f.redis.command({"HSET", "user:{river}", "cert:grief", "2027-06-30"});

    auto [ec, r] = login(*f.accounts, "river", pw);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(looks_like_token(r.token));
    EXPECT_EQ(r.username, "river");
    EXPECT_EQ(r.role, role::peer);
    EXPECT_EQ(r.alias, "Alias river");
    EXPECT_EQ(r.expires_at, t0 + 12 * 3600 * 1000);

    // Redis holds the hash of the token, never the token.
    const auto h = token_hash(r.token);
    EXPECT_EQ(f.redis.command({"HGET", "token:{" + h + "}", "user"}), "river");
    EXPECT_EQ(f.redis.command({"SISMEMBER", "user:{river}:tokens", h}), "1");
    auto ttl = std::stoll(f.redis.command({"PTTL", "token:{" + h + "}"}));
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 12 * 3600 * 1000);
    for (const auto& k : f.redis.keys())
        EXPECT_EQ(k.find(r.token), std::string::npos) << k;

    auto [lec, info] = lookup(*f.accounts, r.token);
    ASSERT_FALSE(lec) << lec.message();
    EXPECT_EQ(info.token_hash, h);
    EXPECT_EQ(info.expires_at, r.expires_at);
    EXPECT_EQ(info.account.username, "river");
    EXPECT_EQ(info.account.role, role::peer);
    EXPECT_EQ(info.account.alias, "Alias river");
    EXPECT_EQ(info.account.active_tags(t0), (std::vector<std::string>{"grief"}));

    auto [hec, by_hash] = wait_for<boost::system::error_code, token_info>(
        [&](auto cb) { f.accounts->lookup_hash(h, std::move(cb)); });
    EXPECT_FALSE(hec);
    EXPECT_EQ(by_hash.account.username, "river");

    EXPECT_FALSE(done([&](auto cb) { f.accounts->logout(r.token, cb); }));
    EXPECT_EQ(lookup(*f.accounts, r.token).first, error::not_found);
    EXPECT_EQ(done([&](auto cb) { f.accounts->logout(r.token, cb); }), error::not_found);
    EXPECT_EQ(f.redis.command({"EXISTS", "token:{" + h + "}"}), "0");
    EXPECT_EQ(f.redis.command({"SISMEMBER", "user:{river}:tokens", h}), "0");

    ASSERT_TRUE(eventually([&] { return !listener.notices().empty(); }));
    auto n = listener.notices();
    ASSERT_EQ(n.size(), 1u);
    EXPECT_EQ(n[0].token_hash, h);
    EXPECT_EQ(n[0].reason, "logout");
}

TEST(AccountStoreRedis, MalformedTokensAreNotFound) {
    fixture f;
    EXPECT_EQ(lookup(*f.accounts, "").first, error::not_found);
    EXPECT_EQ(lookup(*f.accounts, "short").first, error::not_found);
    EXPECT_EQ(lookup(*f.accounts, generate_token()).first, error::not_found);
    EXPECT_EQ(done([&](auto h) { f.accounts->logout("x", h); }), error::not_found);
}

TEST(AccountStoreRedis, UnknownUserWrongPasswordAndDisabledGiveTheSameAnswer) {
    fixture f;
    ASSERT_FALSE(f.add("river"));
    ASSERT_FALSE(f.add("alder"));
    ASSERT_FALSE(done([&](auto h) { f.accounts->set_disabled("tester", "alder", true, h); }));

    auto wrong = login(*f.accounts, "river", "wrong password!");
    auto unknown = login(*f.accounts, "nobody", pw);
    auto disabled = login(*f.accounts, "alder", pw);
    auto malformed = login(*f.accounts, "Not A Name", pw);
    for (const auto* r : {&wrong, &unknown, &disabled, &malformed}) {
        EXPECT_EQ(r->first, error::bad_credentials);
        EXPECT_TRUE(r->second.token.empty());
    }
    // No token was issued for any of them.
    EXPECT_TRUE(f.redis.keys("token:*").empty());
}

TEST(AccountStoreRedis, TokenExpiresAtItsLifetime) {
    account_store_options o;
    o.token_lifetime = 60s;
    fixture f(o);
    ASSERT_FALSE(f.add("river"));
    auto [ec, r] = login(*f.accounts, "river", pw);
    ASSERT_FALSE(ec);
    EXPECT_EQ(r.expires_at, t0 + 60'000);
    f.now = t0 + 59'999;
    EXPECT_FALSE(lookup(*f.accounts, r.token).first);
    // Past expires_at the token is dead even if its key has not expired yet.
    f.now = t0 + 60'000;
    EXPECT_EQ(lookup(*f.accounts, r.token).first, error::not_found);
}

TEST(AccountStoreRedis, TokenKeyDiesWithItsTtl) {
    account_store_options o;
    o.token_lifetime = 300ms;
    fixture f(o, /*real_clock=*/true);
    ASSERT_FALSE(f.add("river"));
    auto [ec, r] = login(*f.accounts, "river", pw);
    ASSERT_FALSE(ec);
    const auto key = keys::token(token_hash(r.token));
    EXPECT_EQ(f.redis.command({"EXISTS", key}), "1");
    EXPECT_TRUE(eventually([&] { return f.redis.command({"EXISTS", key}) == "0"; }));
    EXPECT_EQ(lookup(*f.accounts, r.token).first, error::not_found);
    // The user's token set lives no longer than its tokens.
    EXPECT_TRUE(eventually([&] {
        return f.redis.command({"EXISTS", "user:{river}:tokens"}) == "0";
    }));
}

TEST(AccountStoreRedis, DisableRevokesEveryTokenAndPublishes) {
    fixture f;
    revocation_listener listener(f.io, f.redis);
    ASSERT_FALSE(f.add("river"));
    auto a = login(*f.accounts, "river", pw);
    auto b = login(*f.accounts, "river", pw);
    ASSERT_FALSE(a.first);
    ASSERT_FALSE(b.first);
    EXPECT_NE(a.second.token, b.second.token);
    EXPECT_EQ(f.redis.command({"SCARD", "user:{river}:tokens"}), "2");

    ASSERT_FALSE(done([&](auto h) { f.accounts->set_disabled("tester", "river", true, h); }));
    EXPECT_EQ(lookup(*f.accounts, a.second.token).first, error::not_found);
    EXPECT_EQ(lookup(*f.accounts, b.second.token).first, error::not_found);
    EXPECT_TRUE(f.redis.keys("token:*").empty());
    EXPECT_EQ(f.redis.command({"EXISTS", "user:{river}:tokens"}), "0");
    auto [gec, acct] = get(*f.accounts, "river");
    EXPECT_TRUE(acct.disabled);

    ASSERT_TRUE(eventually([&] { return !listener.notices().empty(); }));
    auto n = listener.notices();
    ASSERT_EQ(n.size(), 1u);
    EXPECT_EQ(n[0].user, "river");
    EXPECT_EQ(n[0].reason, "disabled");

    // Disabled: no login. Enabled again: login works.
    EXPECT_EQ(login(*f.accounts, "river", pw).first, error::bad_credentials);
    ASSERT_FALSE(done([&](auto h) { f.accounts->set_disabled("tester", "river", false, h); }));
    EXPECT_FALSE(login(*f.accounts, "river", pw).first);
}

TEST(AccountStoreRedis, DisabledFlagAloneHidesTokens) {
    // Defence in depth: even if a token survived (a manual edit), a disabled account's token
    // does not authenticate.
    fixture f;
    ASSERT_FALSE(f.add("river"));
    auto [ec, r] = login(*f.accounts, "river", pw);
    ASSERT_FALSE(ec);
    f.redis.command({"HSET", "user:{river}", "disabled", "1"});
    EXPECT_EQ(lookup(*f.accounts, r.token).first, error::not_found);
}

TEST(AccountStoreRedis, DeleteRemovesEverythingAndPublishes) {
    fixture f;
    revocation_listener listener(f.io, f.redis);
    ASSERT_FALSE(f.add("river"));
    ASSERT_FALSE(f.add("alder"));
    auto [ec, r] = login(*f.accounts, "river", pw);
    ASSERT_FALSE(ec);
    ASSERT_FALSE(done([&](auto h) { f.accounts->remove("tester", "river", h); }));
    EXPECT_EQ(get(*f.accounts, "river").first, error::not_found);
    EXPECT_EQ(lookup(*f.accounts, r.token).first, error::not_found);
    EXPECT_TRUE(f.redis.keys("user:{river}*").empty());
    EXPECT_TRUE(f.redis.keys("token:*").empty());
    EXPECT_EQ(f.redis.command({"SMEMBERS", "users"}), "alder");
    ASSERT_TRUE(eventually([&] { return !listener.notices().empty(); }));
    EXPECT_EQ(listener.notices()[0].user, "river");
    EXPECT_EQ(listener.notices()[0].reason, "deleted");
    // The name is free again.
    EXPECT_FALSE(f.add("river"));
}

TEST(AccountStoreRedis, PasswordChangeRevokesTokens) {
    fixture f;
    revocation_listener listener(f.io, f.redis);
    ASSERT_FALSE(f.add("river"));
    auto [ec, r] = login(*f.accounts, "river", pw);
    ASSERT_FALSE(ec);
    const std::string fresh = "a brand new passphrase";
    ASSERT_FALSE(done([&](auto h) { f.accounts->set_password("tester", "river", fresh, h); }));
    EXPECT_EQ(lookup(*f.accounts, r.token).first, error::not_found);
    EXPECT_EQ(login(*f.accounts, "river", pw).first, error::bad_credentials);
    EXPECT_FALSE(login(*f.accounts, "river", fresh).first);
    ASSERT_TRUE(eventually([&] { return !listener.notices().empty(); }));
    EXPECT_EQ(listener.notices()[0].reason, "password_changed");
    EXPECT_EQ(done([&](auto h) { f.accounts->set_password("tester", "river", "short", h); }),
              error::invalid_password);
}

TEST(AccountStoreRedis, IdentityRegisterSameConflictReset) {
    fixture f;
    ASSERT_FALSE(f.add("river"));
    ASSERT_GE(sodium_init(), 0);
    identity_key k1{}, k2{};
    std::array<unsigned char, crypto_sign_SECRETKEYBYTES> sk{};
    crypto_sign_keypair(k1.data(), sk.data());
    crypto_sign_keypair(k2.data(), sk.data());

    auto reg = [&](const std::string& name, identity_key k) {
        return done([&](auto h) { f.accounts->register_identity(name, k, h); });
    };
    EXPECT_FALSE(reg("river", k1));
    EXPECT_FALSE(reg("river", k1)); // the same key again: ok
    EXPECT_EQ(reg("river", k2), error::conflict);
    EXPECT_EQ(reg("nobody", k1), error::not_found);
    EXPECT_EQ(reg("river", identity_key{}), error::invalid_identity_key);

    auto [ec, a] = get(*f.accounts, "river");
    ASSERT_TRUE(a.identity_key);
    EXPECT_EQ(*a.identity_key, k1);

    ASSERT_FALSE(done([&](auto h) { f.accounts->reset_identity("admin-1", "river", h); }));
    auto [ec2, b] = get(*f.accounts, "river");
    EXPECT_FALSE(b.identity_key);
    EXPECT_FALSE(reg("river", k2));
    auto [ec3, c] = get(*f.accounts, "river");
    ASSERT_TRUE(c.identity_key);
    EXPECT_EQ(*c.identity_key, k2);
}

TEST(AccountStoreRedis, UsernameLockoutAfterFiveFailures) {
    fixture f;
    ASSERT_FALSE(f.add("river"));
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(login(*f.accounts, "river", "wrong password " + std::to_string(i)).first,
                  error::bad_credentials)
            << i;
    // Locked for the rest of the 15-minute window, even with the right password.
    auto [ec, r] = login(*f.accounts, "river", pw);
    EXPECT_EQ(ec, error::rate_limited);
    EXPECT_GT(r.retry_after.count(), 0);
    EXPECT_LE(r.retry_after.count(), 15 * 60);
    EXPECT_TRUE(r.token.empty());

    // Unknown names lock the same way (no hint that an account exists), and the counter key
    // does not hold the attempted name.
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(login(*f.accounts, "nobody", pw).first, error::bad_credentials);
    EXPECT_EQ(login(*f.accounts, "nobody", pw).first, error::rate_limited);
    for (const auto& k : f.redis.keys("login_fail:*"))
        EXPECT_EQ(k.find("nobody"), std::string::npos) << k;

    // An operator's password reset clears the lockout.
    ASSERT_FALSE(done([&](auto h) { f.accounts->set_password("tester", "river", pw, h); }));
    EXPECT_FALSE(login(*f.accounts, "river", pw).first);
}

TEST(AccountStoreRedis, SuccessfulLoginClearsFailures) {
    fixture f;
    ASSERT_FALSE(f.add("river"));
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(login(*f.accounts, "river", "wrong password!").first, error::bad_credentials);
    EXPECT_FALSE(login(*f.accounts, "river", pw).first);
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(login(*f.accounts, "river", "wrong password!").first, error::bad_credentials);
    EXPECT_FALSE(login(*f.accounts, "river", pw).first);
}

TEST(AccountStoreRedis, AuditRecordsEveryChangeWithoutSecrets) {
    fixture f;
    ASSERT_FALSE(f.add("river"));
    ASSERT_FALSE(
        done([&](auto h) { f.accounts->certify("ops", "river", {"grief"}, "2027-06-30", h); }));
    ASSERT_FALSE(done([&](auto h) { f.accounts->set_alias("ops", "river", "Brook", h); }));
    auto [ec, r] = login(*f.accounts, "river", pw);
    ASSERT_FALSE(ec);
    ASSERT_FALSE(
        done([&](auto h) { f.accounts->set_password("ops", "river", "new passphrase!", h); }));
    ASSERT_FALSE(done([&](auto h) { f.accounts->set_disabled("ops", "river", true, h); }));
    ASSERT_FALSE(done([&](auto h) { f.accounts->set_disabled("ops", "river", false, h); }));
    ASSERT_FALSE(done([&](auto h) { f.accounts->reset_identity("ops", "river", h); }));
    ASSERT_FALSE(done([&](auto h) { f.accounts->remove("ops", "river", h); }));

    auto entries = f.audit_entries();
    std::string all;
    for (const auto& e : entries)
        all += e + "\n";
    for (const char* action : {"user.create", "user.certify", "user.set_alias", "user.password",
                               "user.disable", "user.enable", "user.reset_identity", "user.delete"})
        EXPECT_NE(all.find(action), std::string::npos) << action << "\n" << all;
    EXPECT_NE(all.find("tester"), std::string::npos);
    EXPECT_NE(all.find("ops"), std::string::npos);
    EXPECT_NE(all.find("tags=grief until=2027-06-30"), std::string::npos);
    EXPECT_EQ(all.find(pw), std::string::npos);
    EXPECT_EQ(all.find("new passphrase"), std::string::npos);
    EXPECT_EQ(all.find("$argon2"), std::string::npos);
    EXPECT_EQ(all.find(r.token), std::string::npos);
    EXPECT_EQ(all.find(token_hash(r.token)), std::string::npos);
    // Each entry carries actor, action, target and at.
    EXPECT_EQ(f.redis.command({"XLEN", "audit"}), "8");
    auto first = f.redis.command({"XRANGE", "audit", "-", "+", "COUNT", "1"});
    for (const char* field : {"actor", "action", "target", "at"})
        EXPECT_NE(first.find(field), std::string::npos) << first;
}

TEST(AccountStoreRedis, RedisDownIsUnavailable) {
    fixture f;
    ASSERT_FALSE(f.add("river"));
    f.redis.stop();
    ASSERT_TRUE(eventually([&] { return !f.client.connected(); }));
    auto [ec, a] = get(*f.accounts, "river");
    EXPECT_TRUE(is_unavailable(ec)) << ec.message();
    auto [lec, r] = login(*f.accounts, "river", pw);
    EXPECT_TRUE(is_unavailable(lec)) << lec.message();
    // Bad input is still reported as such.
    EXPECT_EQ(f.add("Bad Name"), error::invalid_username);
}

TEST(AccountStoreRedis, BlockingWorkRunsWhereTheOwnerSays) {
    std::atomic<int> jobs{0};
    account_store_options o;
    o.run_blocking = [&](std::function<void()> job) {
        ++jobs;
        std::thread(std::move(job)).detach();
    };
    fixture f(o);
    ASSERT_FALSE(f.add("river"));
    EXPECT_EQ(jobs.load(), 1);
    EXPECT_FALSE(login(*f.accounts, "river", pw).first);
    EXPECT_EQ(login(*f.accounts, "river", "wrong password!").first, error::bad_credentials);
    EXPECT_FALSE(done([&](auto h) { f.accounts->set_password("tester", "river", pw, h); }));
    EXPECT_EQ(jobs.load(), 4);
}
