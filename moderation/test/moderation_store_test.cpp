// moderation_store_test.cpp — the moderation store against a real redis-server (label: redis):
// escalations (create, get, list, acknowledge/resolve and their races across two
// connections), re-paging on a fake clock (also two stores racing for the same due set),
// linking a session's escalations to its conversation, duty, bans, device blocks, consults,
// and the audit chain shared with accounts.
#include <kindred/accounts/account_store.hpp>
#include <kindred/accounts/audit.hpp>
#include <kindred/moderation/error.hpp>
#include <kindred/moderation/moderation_store.hpp>
#include <kindred/store/client.hpp>
#include <kindred/testsupport/io_thread.hpp>
#include <kindred/testsupport/redis_process.hpp>
#include <kindred/testsupport/wait_for.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

using namespace kindred::moderation;
using namespace std::chrono_literals;
using boost::system::error_code;
using kindred::testsupport::eventually;
using kindred::testsupport::io_thread;
using kindred::testsupport::redis_process;
namespace kp = kindred::protocol;
namespace ks = kindred::store;
namespace ka = kindred::accounts;

namespace {

constexpr std::int64_t t0 = 1773576000000; // the callers' clock (only stored and compared)
const std::string P = "mod:{mod}:";        // the default key prefix
const std::string device = "00112233445566778899aabbccddeeff";

ks::client_options fast_client(const std::string& address) {
    ks::client_options o;
    o.address = ks::parse_endpoint(address).value();
    o.command_timeout = 5000ms; // generous: sanitizer builds on 2 shared cores
    o.connect_timeout = 500ms;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 200ms;
    o.ping_interval = 500ms;
    o.name = "moderation-test";
    return o;
}

using kindred::testsupport::wait_for;

template <class T>
std::pair<error_code, T> wait(std::function<void(moderation_store::handler<T>)> start) {
    auto [ec, v] = wait_for<error_code, T>(std::move(start));
    return {ec, std::move(v)};
}

error_code done(std::function<void(moderation_store::done_handler)> start) {
    return std::get<0>(wait_for<error_code>(std::move(start)));
}

kp::excerpt sealed_for(std::string moderator, std::uint8_t fill) {
    return {std::move(moderator), kp::bytes(60, fill)};
}

new_escalation esc(kp::level level, std::string conv, std::int64_t at, std::string session = "s1") {
    new_escalation e;
    e.conversation_id = std::move(conv);
    e.level = level;
    e.category = kp::category::suicide_risk;
    e.source = kp::escalation_source::seeker;
    e.session = std::move(session);
    e.peer = e.conversation_id.empty() ? "" : "river";
    e.actor = "seeker";
    e.now_ms = at;
    return e;
}

using transition = std::pair<transition_result, escalation_record>;

struct store_on {
    store_on(io_thread& io, const std::string& address, moderation_options o)
        : client(io.io, fast_client(address)) {
        client.start();
        EXPECT_TRUE(eventually([&] { return client.connected(); }));
        store = std::make_unique<moderation_store>(client, std::move(o));
    }
    ks::client client;
    std::unique_ptr<moderation_store> store;
};

struct fixture {
    explicit fixture(moderation_options o = {})
        : a(io, redis.unix_address(), o) {}

    moderation_store& s() { return *a.store; }

    escalation_record create(new_escalation e) {
        auto [ec, r] =
            wait<escalation_record>([&](auto h) { s().create(std::move(e), std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    std::optional<escalation_record> get(const std::string& id) {
        auto [ec, r] =
            wait<std::optional<escalation_record>>([&](auto h) { s().get(id, std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    std::vector<escalation_record> list_open() {
        auto [ec, r] =
            wait<std::vector<escalation_record>>([&](auto h) { s().list_open(std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    transition ack(moderation_store& st, const std::string& id, const std::string& m,
                   std::int64_t at = t0 + 5000) {
        auto [ec, r] = wait<transition>([&](auto h) { st.acknowledge(id, m, at, std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    transition resolve(moderation_store& st, const std::string& id, const std::string& m,
                       kp::resolve_outcome o = kp::resolve_outcome::de_escalated) {
        auto [ec, r] =
            wait<transition>([&](auto h) { st.resolve(id, m, o, t0 + 9000, std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    std::vector<escalation_record> repage(moderation_store& st, std::int64_t now) {
        auto [ec, r] =
            wait<std::vector<escalation_record>>([&](auto h) { st.repage_due(now, std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    std::vector<on_duty_moderator> on_duty(std::int64_t now) {
        auto [ec, r] =
            wait<std::vector<on_duty_moderator>>([&](auto h) { s().on_duty(now, std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    std::set<std::string> on_duty_ids(std::int64_t now) {
        std::set<std::string> out;
        for (const auto& m : on_duty(now))
            out.insert(m.moderator_id);
        return out;
    }
    bool banned(std::string d, std::string sess, std::string peer) {
        auto [ec, r] = wait<bool>([&](auto h) { s().is_banned(d, sess, peer, std::move(h)); });
        EXPECT_FALSE(ec) << ec.message();
        return r;
    }
    std::vector<ka::audit_entry> audit() {
        auto [ec, r] = wait_for<error_code, ks::reply>([&](auto h) {
            a.client.command({"XRANGE", "audit", "-", "+"}, std::move(h));
        });
        EXPECT_FALSE(ec);
        return ka::audit_entries_from_reply(r);
    }
    std::int64_t pttl(const std::string& key) { return std::stoll(redis.command({"PTTL", key})); }

    io_thread io;
    redis_process redis;
    store_on a;
};

std::set<std::string> ids_of(const std::vector<escalation_record>& v) {
    std::set<std::string> out;
    for (const auto& r : v)
        out.insert(r.id);
    return out;
}

} // namespace

TEST(ModerationStoreRedis, CreateGetAndListOpen) {
    fixture f;
    auto e1 = esc(kp::level::imminent, "c1", t0);
    e1.note = "please help";
    e1.excerpts = {sealed_for("mod.a", 1), sealed_for("mod.b", 2)};
    const auto r1 = f.create(e1);
    const auto r2 = f.create(esc(kp::level::medium, "", t0 + 1, "s2"));
    auto e3 = esc(kp::level::high, "c3", t0 + 2);
    e3.source = kp::escalation_source::report;
    e3.category = kp::category::abuse;
    e3.reason = "harassment";
    e3.actor = "river";
    const auto r3 = f.create(e3);

    EXPECT_EQ(r1.id.size(), 32u);
    EXPECT_NE(r1.id, r2.id);
    EXPECT_EQ(r1.conversation_id, "c1");
    EXPECT_EQ(r1.level, kp::level::imminent);
    EXPECT_EQ(r1.state, kp::escalation_status::open);
    EXPECT_EQ(r1.created_at, t0);
    EXPECT_EQ(r1.note, "please help");
    EXPECT_EQ(r1.session, "s1");
    EXPECT_EQ(r1.peer, "river");
    EXPECT_EQ(r1.repaged, 0);
    EXPECT_EQ(r1.next_page_at, t0 + 30'000); // imminent: 30 s
    EXPECT_EQ(r1.excerpts, e1.excerpts);
    EXPECT_EQ(r2.next_page_at, 0); // medium: no deadline
    EXPECT_EQ(r2.conversation_id, "");
    EXPECT_EQ(r3.next_page_at, t0 + 2 + 120'000); // high: 120 s
    EXPECT_EQ(r3.reason, "harassment");
    EXPECT_EQ(r3.source, kp::escalation_source::report);

    auto got = f.get(r1.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->excerpts, e1.excerpts);
    EXPECT_EQ(got->note, "please help");
    EXPECT_EQ(got->next_page_at, t0 + 30'000);
    // Excerpts are stored as base64, never raw.
    std::string b64;
    for (int i = 0; i < 20; ++i)
        b64 += "AgIC"; // 60 bytes of 0x02
    EXPECT_EQ(f.redis.command({"HGET", P + "esc:" + r1.id + ":x", "mod.b"}), b64);
    EXPECT_FALSE(f.get("ffffffffffffffffffffffffffffffff"));
    EXPECT_FALSE(f.get("not-an-id"));
    EXPECT_FALSE(f.get(std::string(32, 'A'))); // uppercase hex is not an id

    const auto open = f.list_open();
    ASSERT_EQ(open.size(), 3u);
    EXPECT_EQ(open[0].id, r1.id);
    EXPECT_EQ(open[1].id, r2.id);
    EXPECT_EQ(open[2].id, r3.id);
    EXPECT_EQ(open[0].excerpts.size(), 2u);

    // Indexes: by conversation, or by session while queued.
    EXPECT_EQ(f.redis.command({"SISMEMBER", P + "esc:conv:c1", r1.id}), "1");
    EXPECT_EQ(f.redis.command({"SISMEMBER", P + "esc:sess:s2", r2.id}), "1");
    EXPECT_EQ(f.redis.command({"EXISTS", P + "esc:sess:s1"}), "0");
    // Open escalations never expire.
    EXPECT_EQ(f.pttl(P + "esc:" + r1.id), -1);

    auto [ec, lvl] = wait<std::optional<kp::level>>(
        [&](auto h) { f.s().conversation_level("c1", std::move(h)); });
    ASSERT_FALSE(ec);
    EXPECT_EQ(lvl, kp::level::imminent);
}

TEST(ModerationStoreRedis, AcknowledgeSameModeratorIsUnchangedOtherIsConflict) {
    fixture f;
    const auto r = f.create(esc(kp::level::imminent, "c1", t0));
    auto [res, rec] = f.ack(f.s(), r.id, "mod.a");
    EXPECT_EQ(res, transition_result::ok);
    EXPECT_EQ(rec.state, kp::escalation_status::acknowledged);
    EXPECT_EQ(rec.acknowledged_by, "mod.a");
    EXPECT_EQ(rec.acknowledged_at, t0 + 5000);
    EXPECT_EQ(rec.next_page_at, 0); // left esc:due
    EXPECT_EQ(f.redis.command({"ZSCORE", P + "esc:due", r.id}), "(nil)");

    auto [again, rec2] = f.ack(f.s(), r.id, "mod.a", t0 + 7000);
    EXPECT_EQ(again, transition_result::unchanged);
    EXPECT_EQ(rec2.acknowledged_at, t0 + 5000);

    auto [other, rec3] = f.ack(f.s(), r.id, "mod.b");
    EXPECT_EQ(other, transition_result::conflict);
    EXPECT_EQ(rec3.acknowledged_by, "mod.a");

    EXPECT_EQ(f.ack(f.s(), "ffffffffffffffffffffffffffffffff", "mod.a").first,
              transition_result::not_found);
    EXPECT_EQ(f.ack(f.s(), "bogus", "mod.a").first, transition_result::not_found);
    // Still open (acknowledged is unresolved): it stays in the watch replay.
    EXPECT_EQ(f.list_open().size(), 1u);
}

TEST(ModerationStoreRedis, ResolveOnceThenConflictAndExpires) {
    moderation_options o;
    o.resolved_ttl = 3600s;
    fixture f(o);
    const auto r = f.create(esc(kp::level::high, "c1", t0));
    ASSERT_EQ(f.ack(f.s(), r.id, "mod.a").first, transition_result::ok);
    auto [res, rec] = f.resolve(f.s(), r.id, "mod.b", kp::resolve_outcome::referred);
    EXPECT_EQ(res, transition_result::ok);
    EXPECT_EQ(rec.state, kp::escalation_status::resolved);
    EXPECT_EQ(rec.resolved_by, "mod.b");
    EXPECT_EQ(rec.resolved_at, t0 + 9000);
    EXPECT_EQ(rec.outcome, "referred");
    EXPECT_EQ(f.resolve(f.s(), r.id, "mod.a").first, transition_result::conflict);
    EXPECT_EQ(f.resolve(f.s(), r.id, "mod.b").first, transition_result::conflict);
    EXPECT_EQ(f.ack(f.s(), r.id, "mod.c").first, transition_result::conflict);
    EXPECT_EQ(f.resolve(f.s(), "ffffffffffffffffffffffffffffffff", "mod.a").first,
              transition_result::not_found);

    EXPECT_TRUE(f.list_open().empty());
    EXPECT_EQ(f.redis.command({"ZCARD", P + "esc:due"}), "0");
    const auto ttl = f.pttl(P + "esc:" + r.id);
    EXPECT_GT(ttl, 3'500'000);
    EXPECT_LE(ttl, 3'600'000);
    // Resolve straight from open works too.
    const auto r2 = f.create(esc(kp::level::low, "c2", t0));
    EXPECT_EQ(f.resolve(f.s(), r2.id, "mod.a").first, transition_result::ok);
}

TEST(ModerationStoreRedis, ResolvedExcerptsExpireWithTheRecord) {
    moderation_options o;
    o.resolved_ttl = 3600s;
    fixture f(o);
    auto e = esc(kp::level::medium, "c1", t0);
    e.excerpts = {sealed_for("mod.a", 7)};
    const auto r = f.create(e);
    EXPECT_EQ(f.pttl(P + "esc:" + r.id + ":x"), -1);
    ASSERT_EQ(f.resolve(f.s(), r.id, "mod.a").first, transition_result::ok);
    const auto ttl = f.pttl(P + "esc:" + r.id + ":x");
    EXPECT_GT(ttl, 3'500'000);
    EXPECT_LE(ttl, 3'600'000);
}

TEST(ModerationStoreRedis, ConcurrentAcknowledgesAndResolvesFromTwoClientsExactlyOneWins) {
    fixture f;
    store_on b(f.io, f.redis.unix_address(), {});
    constexpr int n = 25;
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i)
        ids.push_back(f.create(esc(kp::level::imminent, "c" + std::to_string(i), t0)).id);

    // Both requests are in flight before either answer is awaited.
    auto race = [&](auto start_a, auto start_b) {
        auto pa = std::make_shared<std::promise<transition>>();
        auto pb = std::make_shared<std::promise<transition>>();
        start_a([pa](error_code ec, transition t) {
            EXPECT_FALSE(ec);
            pa->set_value(std::move(t));
        });
        start_b([pb](error_code ec, transition t) {
            EXPECT_FALSE(ec);
            pb->set_value(std::move(t));
        });
        return std::make_pair(pa->get_future().get().first, pb->get_future().get().first);
    };
    int a_wins = 0;
    for (const auto& id : ids) {
        auto [ra, rb] =
            race([&](auto h) { f.s().acknowledge(id, "mod.a", t0 + 1, std::move(h)); },
                 [&](auto h) { b.store->acknowledge(id, "mod.b", t0 + 1, std::move(h)); });
        EXPECT_EQ((ra == transition_result::ok) + (rb == transition_result::ok), 1);
        EXPECT_EQ((ra == transition_result::conflict) + (rb == transition_result::conflict), 1);
        a_wins += ra == transition_result::ok;
        auto winner = f.get(id);
        ASSERT_TRUE(winner);
        EXPECT_EQ(winner->acknowledged_by, ra == transition_result::ok ? "mod.a" : "mod.b");
    }
    for (const auto& id : ids) {
        auto [ra, rb] = race(
            [&](auto h) {
                f.s().resolve(id, "mod.a", kp::resolve_outcome::other, t0 + 2, std::move(h));
            },
            [&](auto h) {
                b.store->resolve(id, "mod.b", kp::resolve_outcome::false_alarm, t0 + 2,
                                 std::move(h));
            });
        EXPECT_EQ((ra == transition_result::ok) + (rb == transition_result::ok), 1);
        EXPECT_EQ((ra == transition_result::conflict) + (rb == transition_result::conflict), 1);
    }
    // Exactly one acknowledge and one resolve per escalation reached the audit chain.
    std::map<std::string, int> acks, resolves;
    for (const auto& e : f.audit()) {
        if (e.action == "escalation.acknowledge") ++acks[e.target];
        if (e.action == "escalation.resolve") ++resolves[e.target];
    }
    for (const auto& id : ids) {
        EXPECT_EQ(acks[id], 1);
        EXPECT_EQ(resolves[id], 1);
    }
    (void)a_wins; // which one wins is up to Redis's arrival order
}

TEST(ModerationStoreRedis, RepageTakesOnlyDueOpenOnesAndMovesTheirNextDue) {
    fixture f;
    const auto imm = f.create(esc(kp::level::imminent, "c1", t0));
    const auto high = f.create(esc(kp::level::high, "c2", t0));
    const auto med = f.create(esc(kp::level::medium, "c3", t0));

    EXPECT_TRUE(f.repage(f.s(), t0 + 29'999).empty());
    auto first = f.repage(f.s(), t0 + 30'000);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].id, imm.id);
    EXPECT_EQ(first[0].repaged, 1);
    EXPECT_EQ(first[0].next_page_at, t0 + 60'000);
    EXPECT_TRUE(f.repage(f.s(), t0 + 30'000).empty()); // taken once

    auto second = f.repage(f.s(), t0 + 120'000);
    EXPECT_EQ(ids_of(second), (std::set<std::string>{imm.id, high.id}));
    for (const auto& r : second) {
        if (r.id == imm.id) {
            EXPECT_EQ(r.repaged, 2);
            EXPECT_EQ(r.next_page_at, t0 + 150'000);
        } else {
            EXPECT_EQ(r.repaged, 1);
            EXPECT_EQ(r.next_page_at, t0 + 240'000);
        }
    }

    // Acknowledged: no more re-pages. Medium never is.
    ASSERT_EQ(f.ack(f.s(), imm.id, "mod.a").first, transition_result::ok);
    auto third = f.repage(f.s(), t0 + 1'000'000);
    EXPECT_EQ(ids_of(third), (std::set<std::string>{high.id}));
    EXPECT_EQ(third[0].repaged, 2);
    EXPECT_EQ(f.get(med.id)->repaged, 0);
    EXPECT_EQ(f.get(imm.id)->repaged, 2);

    // A member of esc:due that is no longer open (here put back by hand) is dropped, not paged.
    f.redis.command({"ZADD", P + "esc:due", std::to_string(t0), imm.id});
    EXPECT_EQ(ids_of(f.repage(f.s(), t0 + 1'000'001)), std::set<std::string>{});
    EXPECT_EQ(f.redis.command({"ZSCORE", P + "esc:due", imm.id}), "(nil)");

    // Every re-page is audited by "system" with its count.
    int repages = 0;
    for (const auto& e : f.audit()) {
        if (e.action != "escalation.repage") continue;
        ++repages;
        EXPECT_EQ(e.actor, "system");
        EXPECT_FALSE(e.detail.empty());
    }
    EXPECT_EQ(repages, 4);
}

TEST(ModerationStoreRedis, TwoStoresRacingOnOneDueSetTakeEachRepageOnce) {
    moderation_options o;
    o.repage_batch = 7; // several rounds each
    fixture f(o);
    store_on b(f.io, f.redis.unix_address(), o);
    constexpr int n = 60;
    std::set<std::string> created;
    for (int i = 0; i < n; ++i)
        created.insert(f.create(esc(kp::level::imminent, "c" + std::to_string(i), t0)).id);

    // Both stores poll the same due set with the same clock until neither gets anything.
    std::vector<std::string> taken;
    for (int round = 0; round < 40; ++round) {
        auto pa = std::make_shared<std::promise<std::vector<escalation_record>>>();
        auto pb = std::make_shared<std::promise<std::vector<escalation_record>>>();
        f.s().repage_due(t0 + 30'000, [pa](error_code ec, std::vector<escalation_record> v) {
            EXPECT_FALSE(ec);
            pa->set_value(std::move(v));
        });
        b.store->repage_due(t0 + 30'000, [pb](error_code ec, std::vector<escalation_record> v) {
            EXPECT_FALSE(ec);
            pb->set_value(std::move(v));
        });
        auto va = pa->get_future().get();
        auto vb = pb->get_future().get();
        EXPECT_LE(va.size(), 7u);
        for (const auto* v : {&va, &vb})
            for (const auto& r : *v) {
                taken.push_back(r.id);
                EXPECT_EQ(r.repaged, 1);
            }
        if (va.empty() && vb.empty()) break;
    }
    EXPECT_EQ(taken.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(std::set<std::string>(taken.begin(), taken.end()), created);
}

TEST(ModerationStoreRedis, LinkMovesSessionEscalationsToTheConversation) {
    fixture f;
    const auto q1 = f.create(esc(kp::level::medium, "", t0, "s1"));
    const auto q2 = f.create(esc(kp::level::imminent, "", t0 + 1, "s1"));
    const auto other = f.create(esc(kp::level::low, "", t0, "s2"));

    auto [ec, linked] = wait<std::vector<escalation_record>>(
        [&](auto h) { f.s().link("s1", "conv-9", "river", std::move(h)); });
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(ids_of(linked), (std::set<std::string>{q1.id, q2.id}));
    for (const auto& r : linked) {
        EXPECT_EQ(r.conversation_id, "conv-9");
        EXPECT_EQ(r.peer, "river");
    }
    EXPECT_EQ(f.get(q2.id)->conversation_id, "conv-9");
    EXPECT_EQ(f.get(other.id)->conversation_id, "");
    EXPECT_EQ(f.redis.command({"EXISTS", P + "esc:sess:s1"}), "0");
    EXPECT_EQ(f.redis.command({"SCARD", P + "esc:conv:conv-9"}), "2");
    EXPECT_GT(f.pttl(P + "esc:conv:conv-9"), 0);

    auto [lec, lvl] = wait<std::optional<kp::level>>(
        [&](auto h) { f.s().conversation_level("conv-9", std::move(h)); });
    ASSERT_FALSE(lec);
    EXPECT_EQ(lvl, kp::level::imminent);
    auto [nec, none] = wait<std::optional<kp::level>>(
        [&](auto h) { f.s().conversation_level("conv-unknown", std::move(h)); });
    ASSERT_FALSE(nec);
    EXPECT_FALSE(none);

    auto [ec2, again] = wait<std::vector<escalation_record>>(
        [&](auto h) { f.s().link("s1", "conv-9", "river", std::move(h)); });
    ASSERT_FALSE(ec2);
    EXPECT_TRUE(again.empty());
    auto [bad, _] = wait<std::vector<escalation_record>>(
        [&](auto h) { f.s().link("s1", "bad:id", "river", std::move(h)); });
    EXPECT_EQ(bad, error::not_found);
}

TEST(ModerationStoreRedis, WatchRefreshUnwatchAndPresenceByClock) {
    fixture f; // presence_ttl 30 s
    kp::x25519_public_key k1{}, k2{};
    k1.fill(1);
    k2.fill(2);
    ASSERT_FALSE(done([&](auto h) { f.s().watch("mod.a", "sa", k1, t0, std::move(h)); }));
    ASSERT_FALSE(done([&](auto h) { f.s().watch("mod.b", "sb", k2, t0, std::move(h)); }));

    auto now = f.on_duty(t0);
    ASSERT_EQ(now.size(), 2u);
    std::map<std::string, on_duty_moderator> by;
    for (auto& m : now)
        by[m.moderator_id] = m;
    EXPECT_EQ(by["mod.a"].session, "sa");
    EXPECT_EQ(by["mod.a"].pubkey, k1);
    EXPECT_EQ(by["mod.b"].pubkey, k2);
    EXPECT_EQ(f.on_duty_ids(t0 + 29'999).size(), 2u);
    EXPECT_TRUE(f.on_duty_ids(t0 + 30'000).empty()); // expiry is not "on"

    // Only a pair whose session still holds duty is renewed.
    ASSERT_FALSE(done([&](auto h) {
        f.s().refresh({{"mod.a", "sa"}, {"mod.b", "wrong"}}, t0 + 20'000, std::move(h));
    }));
    EXPECT_EQ(f.on_duty_ids(t0 + 40'000), std::set<std::string>{"mod.a"});

    // A newer watch from another session takes duty over; the old session cannot unwatch it.
    ASSERT_FALSE(done([&](auto h) { f.s().watch("mod.a", "sa2", k2, t0 + 21'000, std::move(h)); }));
    ASSERT_FALSE(done([&](auto h) { f.s().unwatch("mod.a", "sa", std::move(h)); }));
    EXPECT_EQ(f.on_duty_ids(t0 + 22'000), (std::set<std::string>{"mod.a", "mod.b"}));
    EXPECT_EQ(f.on_duty(t0 + 22'000)[0].pubkey, k2);
    ASSERT_FALSE(done([&](auto h) { f.s().unwatch("mod.a", "sa2", std::move(h)); }));
    EXPECT_EQ(f.on_duty_ids(t0 + 22'000), std::set<std::string>{"mod.b"});
    EXPECT_EQ(f.redis.command({"HEXISTS", P + "mods:key", "mod.a"}), "0");

    // A later watch drops moderators whose presence has lapsed.
    ASSERT_FALSE(done([&](auto h) { f.s().watch("mod.c", "sc", k1, t0 + 100'000, std::move(h)); }));
    EXPECT_EQ(f.redis.command({"HEXISTS", P + "mods:sess", "mod.b"}), "0");
    EXPECT_EQ(f.on_duty_ids(t0 + 100'000), std::set<std::string>{"mod.c"});
}

TEST(ModerationStoreRedis, BansRefuseDeviceSessionAndPeerForTheirDuration) {
    fixture f;
    EXPECT_FALSE(f.banned(device, "s1", "river"));
    ASSERT_FALSE(done([&](auto h) {
        f.s().ban("mod.a", kp::party::seeker, device, "s1", "", "c1", 3600, t0, std::move(h));
    }));
    EXPECT_TRUE(f.banned(device, "", ""));
    EXPECT_TRUE(f.banned("", "s1", ""));
    EXPECT_TRUE(f.banned("ffffffffffffffffffffffffffffffff", "s1", ""));
    EXPECT_FALSE(f.banned("ffffffffffffffffffffffffffffffff", "s2", "river"));
    auto ttl = f.pttl(P + "ban:d:" + device);
    EXPECT_GT(ttl, 3'500'000);
    EXPECT_LE(ttl, 3'600'000);

    // A shorter second ban does not shorten the first.
    ASSERT_FALSE(done([&](auto h) {
        f.s().ban("mod.b", kp::party::seeker, device, "", "", "c1", 10, t0, std::move(h));
    }));
    EXPECT_GT(f.pttl(P + "ban:d:" + device), 3'500'000);

    // A seeker without a device: its session.
    ASSERT_FALSE(done([&](auto h) {
        f.s().ban("mod.a", kp::party::seeker, "", "s2", "", "", 3600, t0, std::move(h));
    }));
    EXPECT_TRUE(f.banned("", "s2", ""));
    // A peer: its account, briefly; it lapses by itself.
    ASSERT_FALSE(done([&](auto h) {
        f.s().ban("mod.a", kp::party::peer, "", "", "river", "c1", 1, t0, std::move(h));
    }));
    EXPECT_TRUE(f.banned("", "", "river"));
    EXPECT_FALSE(f.banned("", "", "brook"));
    EXPECT_TRUE(eventually([&] { return !f.banned("", "", "river"); }, 5s));

    // Nothing to ban.
    EXPECT_EQ(done([&](auto h) {
                  f.s().ban("mod.a", kp::party::peer, device, "s1", "", "c1", 60, t0, std::move(h));
              }),
              error::not_found);

    std::vector<std::string> actions;
    for (const auto& e : f.audit()) {
        actions.push_back(e.action);
        EXPECT_EQ(e.detail.find(device), std::string::npos);
        EXPECT_EQ(e.target.find(device), std::string::npos);
    }
    EXPECT_EQ(actions,
              (std::vector<std::string>{"ban.seeker", "ban.seeker", "ban.seeker", "ban.peer"}));
    EXPECT_EQ(f.audit()[0].detail, "3600");
}

TEST(ModerationStoreRedis, DeviceBlocksGrowAndAreAudited) {
    fixture f;
    ASSERT_FALSE(
        done([&](auto h) { f.s().block_device("river", device, "c1", t0, std::move(h)); }));
    ASSERT_FALSE(
        done([&](auto h) { f.s().block_device("brook", device, "c2", t0, std::move(h)); }));
    // Without a device only the audit entry is written.
    ASSERT_FALSE(done([&](auto h) { f.s().block_device("river", "", "c3", t0, std::move(h)); }));
    EXPECT_EQ(done([&](auto h) { f.s().block_device("river", "nothex", "c3", t0, std::move(h)); }),
              error::not_found);

    auto [ec, peers] =
        wait<std::vector<std::string>>([&](auto h) { f.s().device_blocks(device, std::move(h)); });
    ASSERT_FALSE(ec);
    EXPECT_EQ(peers, (std::vector<std::string>{"brook", "river"}));
    auto [ec2, none] = wait<std::vector<std::string>>(
        [&](auto h) { f.s().device_blocks("ffffffffffffffffffffffffffffffff", std::move(h)); });
    ASSERT_FALSE(ec2);
    EXPECT_TRUE(none.empty());
    const auto ttl = f.pttl(P + "dblock:" + device);
    EXPECT_GT(ttl, std::int64_t{89} * 24 * 3'600'000);

    const auto entries = f.audit();
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].action, "block");
    EXPECT_EQ(entries[0].actor, "river");
    EXPECT_EQ(entries[0].target, "c1");
    for (const auto& e : entries)
        EXPECT_EQ(e.detail.find(device), std::string::npos);
}

TEST(ModerationStoreRedis, ConsultsAreStoredBrieflyWithoutContent) {
    fixture f;
    auto [ec, c] = wait<consult_record>(
        [&](auto h) { f.s().create_consult("river", "peer-sess", "c1", t0, std::move(h)); });
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(c.id.size(), 32u);
    EXPECT_EQ(c.peer, "river");
    auto [ec2, got] =
        wait<std::optional<consult_record>>([&](auto h) { f.s().get_consult(c.id, std::move(h)); });
    ASSERT_FALSE(ec2);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->peer, "river");
    EXPECT_EQ(got->session, "peer-sess");
    EXPECT_EQ(got->conversation_id, "c1");
    EXPECT_EQ(got->created_at, t0);
    const auto ttl = f.pttl(P + "consult:" + c.id);
    EXPECT_GT(ttl, 86'000'000);
    EXPECT_LE(ttl, 86'400'000);

    auto [ec3, nocv] = wait<consult_record>(
        [&](auto h) { f.s().create_consult("river", "peer-sess", "", t0, std::move(h)); });
    ASSERT_FALSE(ec3);
    EXPECT_NE(nocv.id, c.id);
    EXPECT_EQ(wait<std::optional<consult_record>>([&](auto h) {
                  f.s().get_consult(nocv.id, std::move(h));
              }).second->conversation_id,
              "");
    EXPECT_FALSE(wait<std::optional<consult_record>>([&](auto h) {
                     f.s().get_consult("ffffffffffffffffffffffffffffffff", std::move(h));
                 }).second);
    EXPECT_FALSE(wait<std::optional<consult_record>>([&](auto h) {
                     f.s().get_consult("zz", std::move(h));
                 }).second);
}

TEST(ModerationStoreRedis, EveryActionIsAuditedInTheAccountsChainWhichVerifies) {
    fixture f;
    ka::account_store_options ao;
    ao.catalog = {{"grief"}, {"en"}};
    ao.limits = ka::password_limits::test_only_minimum();
    ao.now_ms = [] { return t0; };
    ka::account_store accounts(f.a.client, ao);
    ASSERT_FALSE(done([&](auto h) {
        accounts.create("ops", {"river", ka::role::peer, "River", {"en"}}, "correct horse battery",
                        std::move(h));
    }));

    auto e = esc(kp::level::imminent, "c1", t0);
    e.note = "a secret note";
    const auto r = f.create(e);
    auto rep = esc(kp::level::medium, "c1", t0 + 1);
    rep.source = kp::escalation_source::report;
    rep.reason = "spam";
    rep.actor = "river";
    const auto r2 = f.create(rep);
    ASSERT_EQ(f.repage(f.s(), t0 + 30'000).size(), 1u);
    ASSERT_EQ(f.ack(f.s(), r.id, "mod.a").first, transition_result::ok);
    ASSERT_EQ(f.resolve(f.s(), r.id, "mod.a", kp::resolve_outcome::emergency_services).first,
              transition_result::ok);
    ASSERT_FALSE(done([&](auto h) { f.s().audit_join("mod.a", "c1", t0 + 6, std::move(h)); }));
    ASSERT_FALSE(done([&](auto h) {
        f.s().ban("mod.a", kp::party::seeker, device, "s1", "", "c1", 60, t0 + 7, std::move(h));
    }));
    ASSERT_FALSE(done([&](auto h) {
        f.s().ban("mod.a", kp::party::peer, "", "", "brook", "c1", 60, t0 + 8, std::move(h));
    }));
    ASSERT_FALSE(
        done([&](auto h) { f.s().block_device("river", device, "c1", t0 + 9, std::move(h)); }));
    ASSERT_FALSE(done([&](auto h) { accounts.set_alias("ops", "river", "Riv", std::move(h)); }));

    const auto entries = f.audit();
    std::vector<std::string> actions;
    for (const auto& x : entries) {
        actions.push_back(x.action);
        EXPECT_TRUE(x.chained);
        EXPECT_EQ(x.detail.find("secret"), std::string::npos);
        EXPECT_EQ(x.detail.find(device), std::string::npos);
        EXPECT_EQ(x.target.find(device), std::string::npos);
    }
    EXPECT_EQ(actions,
              (std::vector<std::string>{"user.create", "escalation.create", "escalation.create",
                                        "report", "escalation.repage", "escalation.acknowledge",
                                        "escalation.resolve", "conversation.join", "ban.seeker",
                                        "ban.peer", "block", "user.set_alias"}));
    EXPECT_EQ(entries[1].actor, "seeker");
    EXPECT_EQ(entries[1].target, r.id);
    EXPECT_EQ(entries[2].actor, "river");
    EXPECT_EQ(entries[3].target, r2.id);
    EXPECT_EQ(entries[3].detail, "spam");
    EXPECT_EQ(entries[4].detail, "1");
    EXPECT_EQ(entries[6].detail, "emergency_services");
    EXPECT_EQ(entries[7].target, "c1");
    EXPECT_EQ(entries[8].detail, "60");

    auto [ec, report] = wait_for<error_code, ka::audit_report>(
        [&](auto h) { ka::verify_audit(f.a.client, "audit", std::move(h)); });
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(report.ok) << report.reason;
    EXPECT_EQ(report.checked, entries.size());

    // And a changed moderation entry is detected.
    ka::audit_verifier v;
    auto tampered = entries;
    tampered[6].detail = "false_alarm";
    for (const auto& x : tampered)
        v.add(x);
    EXPECT_FALSE(v.finish(std::nullopt).ok);
}

TEST(ModerationStoreRedis, MalformedInputIsRefusedWithoutTouchingRedis) {
    fixture f;
    auto bad = esc(kp::level::high, "c}1", t0);
    auto [ec, r] = wait<escalation_record>([&](auto h) { f.s().create(bad, std::move(h)); });
    EXPECT_EQ(ec, error::not_found);
    auto bad2 = esc(kp::level::high, "c1", t0, "sess:x");
    EXPECT_EQ(wait<escalation_record>([&](auto h) { f.s().create(bad2, std::move(h)); }).first,
              error::not_found);
    EXPECT_EQ(done([&](auto h) { f.s().audit_join("mod.a", "", t0, std::move(h)); }),
              error::not_found);
    EXPECT_EQ(f.redis.keys("*").size(), 0u);
}
