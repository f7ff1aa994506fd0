// conversation_log_redis_test.cpp — the conversation log against a real redis-server
// (label: redis): offsets, idempotent retries, seq conflicts, copies, membership, end and
// purge, reads in batches and every way `recovered` turns false, concurrent appends from two
// connections, each party's list, and that only ciphertext reaches Redis.
#include <kindred/relay/conversation_log.hpp>
#include <kindred/store/client.hpp>
#include <kindred/testsupport/io_thread.hpp>
#include <kindred/testsupport/redis_process.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace kindred::relay;
using namespace std::chrono_literals;
using boost::system::error_code;
using kindred::testsupport::eventually;
using kindred::testsupport::redis_process;
namespace kp = kindred::protocol;
namespace ks = kindred::store;

namespace {

constexpr std::int64_t t0 = 1773576000000; // the callers' clock (only stored and compared)

using kindred::testsupport::io_thread;

ks::client_options fast_client(const std::string& address) {
    ks::client_options o;
    o.address = ks::parse_endpoint(address).value();
    o.command_timeout = 5000ms; // generous: sanitizer builds on 2 shared cores
    o.connect_timeout = 500ms;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 200ms;
    o.ping_interval = 500ms;
    o.name = "relay-test";
    return o;
}

// Waits for one handler call: start(handler) → (error_code, T).
template <class T>
std::pair<error_code, T> wait(const std::function<void(conversation_log::handler<T>)>& start) {
    auto p = std::make_shared<std::promise<std::pair<error_code, T>>>();
    auto f = p->get_future();
    start([p](error_code ec, T v) { p->set_value({ec, std::move(v)}); });
    if (f.wait_for(30s) != std::future_status::ready) {
        ADD_FAILURE() << "handler never ran";
        std::abort();
    }
    return f.get();
}

kp::message_copy copy_to(role to, std::string_view bytes, std::uint8_t nonce_byte = 1) {
    kp::message_copy c;
    c.to = to;
    c.nonce.fill(nonce_byte);
    c.ciphertext.assign(bytes.begin(), bytes.end());
    return c;
}

// Ciphertext stand-ins: unique per (sender, seq, recipient), at least 16 bytes.
std::string fake_ct(role from, std::int64_t seq, role to) {
    return "ct|" + std::string(kp::to_string(from)) + "|" + std::to_string(seq) + "|" +
           std::string(kp::to_string(to)) + "|0123456789abcdef";
}

read_request rq(std::string c, std::optional<member> reader, std::int64_t after = 0,
                std::size_t max_count = 256) {
    read_request r;
    r.conversation_id = std::move(c);
    r.reader = std::move(reader);
    r.after = after;
    r.max_count = max_count;
    return r;
}

struct fixture {
    explicit fixture(log_options o = {}) {
        client.start();
        EXPECT_TRUE(eventually([&] { return client.connected(); }));
        if (!o.new_epoch) o.new_epoch = [this] { return "epoch-" + std::to_string(++epochs); };
        log = std::make_unique<conversation_log>(client, std::move(o));
    }

    std::pair<error_code, create_result> create(const std::string& c, std::string seeker = "s1",
                                                std::string peer = "p1") {
        return wait<create_result>([&](auto h) {
            log->create(c, {seeker, peer, ""}, t0, std::move(h));
        });
    }

    std::pair<error_code, bool> discard(const std::string& c, std::string seeker = "s1",
                                        std::string peer = "p1") {
        return wait<bool>([&](auto h) { log->discard(c, {seeker, peer, ""}, std::move(h)); });
    }

    std::pair<error_code, append_result> append(const std::string& c, member from, std::int64_t seq,
                                                std::vector<kp::message_copy> copies) {
        append_request r{c, std::move(from), seq, std::move(copies), t0 + seq};
        return wait<append_result>([&](auto h) { log->append(r, std::move(h)); });
    }

    // A well-formed send: one copy per other party in `to`.
    std::pair<error_code, append_result> send(const std::string& c, member from, std::int64_t seq,
                                              std::vector<role> to = {}) {
        if (to.empty()) to = {from.role == role::seeker ? role::peer : role::seeker};
        std::vector<kp::message_copy> copies;
        for (role r : to)
            copies.push_back(copy_to(r, fake_ct(from.role, seq, r)));
        return append(c, std::move(from), seq, std::move(copies));
    }

    std::pair<error_code, read_result> read(read_request r) {
        return wait<read_result>([&](auto h) { log->read(r, std::move(h)); });
    }
    std::pair<error_code, read_result> read_all(read_request r) {
        return wait<read_result>([&](auto h) { log->read_all(r, std::move(h)); });
    }
    std::pair<error_code, end_result> end(const std::string& c, kp::ended_by by, std::string by_id,
                                          std::string reason = "done") {
        end_request r{c, by, std::move(by_id), std::move(reason), t0 + 1000};
        return wait<end_result>([&](auto h) { log->end(r, std::move(h)); });
    }
    std::pair<error_code, join_result> join(const std::string& c, std::string mod) {
        return wait<join_result>([&](auto h) { log->add_party(c, mod, t0, std::move(h)); });
    }
    std::pair<error_code, std::vector<kp::conversation_summary>> list(member who) {
        return wait<std::vector<kp::conversation_summary>>(
            [&](auto h) { log->list_for(who, std::move(h)); });
    }
    std::pair<error_code, conversation_meta> membership(const std::string& c, member who) {
        return wait<conversation_meta>([&](auto h) { log->membership(c, who, std::move(h)); });
    }

    std::int64_t int_of(const std::vector<std::string>& cmd) {
        return std::stoll(redis.command(cmd));
    }

    int epochs = 0;
    io_thread io;
    redis_process redis;
    ks::client client{io.io, fast_client(redis.unix_address())};
    std::unique_ptr<conversation_log> log;
};

const member seeker{role::seeker, "s1"};
const member peer{role::peer, "p1"};
const member moderator{role::moderator, "m1"};

} // namespace

TEST(ConversationLogRedis, CreateWritesMetaWithEpochAndHardLimit) {
    fixture f;
    auto [ec, r] = f.create("c1");
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(r.created);
    EXPECT_EQ(r.epoch, "epoch-1");
    EXPECT_EQ(f.redis.command({"HGET", "conv:{c1}", "state"}), "active");
    EXPECT_EQ(f.redis.command({"HGET", "conv:{c1}", "last_offset"}), "0");
    const auto ttl = f.int_of({"PTTL", "conv:{c1}"});
    EXPECT_GT(ttl, 86'000'000);
    EXPECT_LE(ttl, 86'400'000);

    // A retry with the same parties keeps the first epoch; other parties are refused.
    auto [ec2, again] = f.create("c1");
    ASSERT_FALSE(ec2);
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.epoch, "epoch-1");
    EXPECT_EQ(f.create("c1", "s2", "p1").first, error::already_exists);
    EXPECT_EQ(f.create("bad}id").first, error::not_found);

    auto [mec, m] = f.membership("c1", seeker);
    ASSERT_FALSE(mec);
    EXPECT_EQ(m.state, conversation_state::active);
    EXPECT_EQ(m.parties, (parties{"s1", "p1", ""}));
    EXPECT_EQ(m.created_at, t0);
    EXPECT_EQ(m.epoch, "epoch-1");
}

TEST(ConversationLogRedis, DiscardRemovesOnlyAnUntouchedConversation) {
    fixture f;
    // Created for a match that did not happen: gone, from both parties' lists too.
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_EQ(f.list(seeker).second.size(), 1u);
    auto [ec, removed] = f.discard("c1");
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(removed);
    EXPECT_EQ(f.int_of({"EXISTS", "conv:{c1}"}), 0);
    EXPECT_TRUE(f.list(seeker).second.empty());
    EXPECT_TRUE(f.list(peer).second.empty());
    EXPECT_EQ(f.discard("c1"), (std::pair<error_code, bool>{{}, false})); // missing

    // Anything but untouched is kept: other parties, a stored message, a moderator, the end.
    ASSERT_FALSE(f.create("c2").first);
    EXPECT_EQ(f.discard("c2", "s1", "p2"), (std::pair<error_code, bool>{{}, false}));
    EXPECT_EQ(f.discard("c2", "s2", "p1"), (std::pair<error_code, bool>{{}, false}));
    ASSERT_FALSE(f.send("c2", seeker, 1).first);
    EXPECT_EQ(f.discard("c2"), (std::pair<error_code, bool>{{}, false}));
    ASSERT_FALSE(f.create("c3").first);
    ASSERT_FALSE(f.join("c3", "m1").first);
    EXPECT_EQ(f.discard("c3"), (std::pair<error_code, bool>{{}, false}));
    ASSERT_FALSE(f.create("c4").first);
    ASSERT_FALSE(f.end("c4", kp::ended_by::system, "").first);
    EXPECT_EQ(f.discard("c4"), (std::pair<error_code, bool>{{}, false}));
    for (const char* c : {"c2", "c3", "c4"})
        EXPECT_EQ(f.int_of({"EXISTS", std::string("conv:{") + c + "}"}), 1) << c;
    EXPECT_EQ(f.list(seeker).second.size(), 3u);
    EXPECT_EQ(f.discard("bad}id").first, error::not_found);
}

TEST(ConversationLogRedis, OffsetsAreOneToNWithoutGaps) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    for (std::int64_t i = 1; i <= 20; ++i) {
        const member& from = i % 2 ? seeker : peer;
        auto [ec, r] = f.send("c1", from, (i + 1) / 2);
        ASSERT_FALSE(ec) << ec.message();
        EXPECT_EQ(r.offset, i);
        EXPECT_FALSE(r.duplicate);
        EXPECT_EQ(r.epoch, "epoch-1");
        ASSERT_EQ(r.recipients.size(), 1u);
        EXPECT_EQ(r.recipients[0], i % 2 ? peer : seeker);
    }
    EXPECT_EQ(f.redis.command({"XLEN", "conv:{c1}:log"}), "20");
    EXPECT_EQ(f.redis.command({"HGET", "conv:{c1}", "last_offset"}), "20");
    // Every key carries the conversation's hard limit.
    for (const char* k : {"conv:{c1}", "conv:{c1}:log", "conv:{c1}:seq"})
        EXPECT_GT(f.int_of({"PTTL", k}), 86'000'000) << k;
}

TEST(ConversationLogRedis, RetryReturnsOriginalOffsetAndStoresNothing) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_EQ(f.send("c1", seeker, 1).second.offset, 1);
    ASSERT_EQ(f.send("c1", peer, 1).second.offset, 2);
    ASSERT_EQ(f.send("c1", seeker, 2).second.offset, 3);

    auto [ec, r] = f.send("c1", seeker, 1);
    ASSERT_FALSE(ec);
    EXPECT_TRUE(r.duplicate);
    EXPECT_EQ(r.offset, 1);
    EXPECT_EQ(r.recipients, (std::vector<member>{peer}));
    EXPECT_EQ(f.redis.command({"XLEN", "conv:{c1}:log"}), "3");
    EXPECT_EQ(f.redis.command({"HGET", "conv:{c1}", "last_offset"}), "3");
    // The stored copy is the first one, not the retry's.
    EXPECT_EQ(f.send("c1", seeker, 2).second.offset, 3);
}

TEST(ConversationLogRedis, LowerSeqIsConflictAndSeqMaySkip) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_EQ(f.send("c1", seeker, 5).second.offset, 1);
    EXPECT_EQ(f.send("c1", seeker, 3).first, error::seq_conflict);
    EXPECT_EQ(f.send("c1", seeker, 9).second.offset, 2);
    EXPECT_EQ(f.send("c1", seeker, 7).first, error::seq_conflict);
    // Each sender has its own counter.
    EXPECT_EQ(f.send("c1", peer, 1).second.offset, 3);
    EXPECT_EQ(f.redis.command({"XLEN", "conv:{c1}:log"}), "3");
    EXPECT_EQ(f.send("c1", seeker, 0).first, error::invalid_seq);
    EXPECT_EQ(f.send("c1", seeker, kp::limits::max_safe_integer + 1).first, error::invalid_seq);
    EXPECT_EQ(f.send("c1", seeker, kp::limits::max_safe_integer).second.offset, 4);
}

TEST(ConversationLogRedis, CopiesMustBeExactlyOnePerOtherParty) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    auto ct = [](role to) { return copy_to(to, fake_ct(role::seeker, 1, to)); };
    // Missing, to the sender itself, to a party not present, twice, one extra.
    EXPECT_EQ(f.append("c1", seeker, 1, {}).first, error::bad_copies);
    EXPECT_EQ(f.append("c1", seeker, 1, {ct(role::seeker)}).first, error::bad_copies);
    EXPECT_EQ(f.append("c1", seeker, 1, {ct(role::moderator)}).first, error::bad_copies);
    EXPECT_EQ(f.append("c1", seeker, 1, {ct(role::peer), ct(role::peer)}).first, error::bad_copies);
    EXPECT_EQ(f.append("c1", seeker, 1, {ct(role::peer), ct(role::moderator)}).first,
              error::bad_copies);
    EXPECT_EQ(f.redis.command({"EXISTS", "conv:{c1}:log"}), "0");
    EXPECT_EQ(f.send("c1", seeker, 1, {role::peer}).second.offset, 1);

    // After a moderator joins, every message needs a moderator copy too.
    auto [jec, j] = f.join("c1", "m1");
    ASSERT_FALSE(jec);
    EXPECT_FALSE(j.already);
    EXPECT_EQ(j.previous, "");
    EXPECT_EQ(j.parties, (parties{"s1", "p1", "m1"}));
    EXPECT_EQ(f.send("c1", seeker, 2, {role::peer}).first, error::bad_copies);
    auto [ec, r] = f.send("c1", seeker, 2, {role::moderator, role::peer});
    ASSERT_FALSE(ec);
    EXPECT_EQ(r.offset, 2);
    EXPECT_EQ(r.recipients, (std::vector<member>{peer, moderator}));
    // The moderator sends to both; its seq is its own.
    EXPECT_EQ(f.send("c1", moderator, 1, {role::peer}).first, error::bad_copies);
    auto [mec, mr] = f.send("c1", moderator, 1, {role::seeker, role::peer});
    ASSERT_FALSE(mec);
    EXPECT_EQ(mr.offset, 3);
    EXPECT_EQ(mr.recipients, (std::vector<member>{seeker, peer}));
}

TEST(ConversationLogRedis, NonPartyGetsNotFoundForEverything) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_EQ(f.send("c1", seeker, 1).second.offset, 1);
    const member stranger{role::seeker, "s2"};
    const member wrong_role{role::peer, "s1"};
    EXPECT_EQ(f.send("c1", stranger, 2).first, error::not_found);
    EXPECT_EQ(f.send("c1", wrong_role, 1).first, error::not_found);
    EXPECT_EQ(f.send("c1", moderator, 1, {role::seeker, role::peer}).first, error::not_found);
    EXPECT_EQ(f.send("nope", seeker, 1).first, error::not_found);
    EXPECT_EQ(f.send("c1}x", seeker, 1).first, error::not_found);
    EXPECT_EQ(f.send("c1", {role::seeker, "s1:x"}, 1).first, error::not_found);
    // The retry of a stored seq by a stranger is not answered either.
    EXPECT_EQ(f.send("c1", stranger, 1).first, error::not_found);

    EXPECT_EQ(f.read(rq("c1", stranger)).first, error::not_found);
    EXPECT_EQ(f.read(rq("nope", seeker)).first, error::not_found);
    EXPECT_EQ(f.membership("c1", stranger).first, error::not_found);
    EXPECT_EQ(f.membership("c1", moderator).first, error::not_found);
    EXPECT_EQ(f.membership("nope", seeker).first, error::not_found);
    EXPECT_EQ(f.end("c1", kp::ended_by::seeker, "s2").first, error::not_found);
    EXPECT_EQ(f.end("c1", kp::ended_by::moderator, "m1").first, error::not_found);
    EXPECT_EQ(f.end("nope", kp::ended_by::system, "").first, error::not_found);
    // None of it changed anything.
    EXPECT_EQ(f.redis.command({"HGET", "conv:{c1}", "state"}), "active");
    EXPECT_EQ(f.redis.command({"XLEN", "conv:{c1}:log"}), "1");
    EXPECT_FALSE(f.membership("c1", seeker).first);
    EXPECT_FALSE(f.membership("c1", peer).first);
}

TEST(ConversationLogRedis, EndedConversationRefusesNewMessagesButAnswersRetries) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_EQ(f.send("c1", seeker, 1).second.offset, 1);
    auto [ec, e] = f.end("c1", kp::ended_by::peer, "p1", "done");
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_FALSE(e.already_ended);
    EXPECT_EQ(e.by, kp::ended_by::peer);
    EXPECT_EQ(e.parties, (parties{"s1", "p1", ""}));

    EXPECT_EQ(f.send("c1", seeker, 2).first, error::ended);
    EXPECT_EQ(to_contract(error::ended).code, kp::error_code::conflict);
    auto [rec, r] = f.send("c1", seeker, 1);
    ASSERT_FALSE(rec);
    EXPECT_TRUE(r.duplicate);
    EXPECT_EQ(r.offset, 1);
    EXPECT_EQ(f.join("c1", "m1").first, error::ended);
    // Still readable until the purge.
    auto [rdec, rd] = f.read(rq("c1", peer));
    ASSERT_FALSE(rdec);
    EXPECT_EQ(rd.entries.size(), 1u);
    EXPECT_EQ(rd.state, conversation_state::ended);
    EXPECT_TRUE(rd.recovered);
}

TEST(ConversationLogRedis, EndSetsPurgeTtlOnEveryKeyAndSecondEndReportsTheFirst) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_EQ(f.send("c1", seeker, 1).second.offset, 1);
    EXPECT_EQ(f.end("c1", kp::ended_by::seeker, "s1", "Not A Reason").first, error::invalid_reason);
    auto [ec, e] = f.end("c1", kp::ended_by::seeker, "s1", "done");
    ASSERT_FALSE(ec);
    for (const char* k : {"conv:{c1}", "conv:{c1}:log", "conv:{c1}:seq"}) {
        const auto ttl = f.int_of({"PTTL", k});
        EXPECT_GT(ttl, 0) << k;
        EXPECT_LE(ttl, 300'000) << k;
    }
    auto [ec2, again] = f.end("c1", kp::ended_by::system, "", "peer_unavailable");
    ASSERT_FALSE(ec2);
    EXPECT_TRUE(again.already_ended);
    EXPECT_EQ(again.by, kp::ended_by::seeker);
    EXPECT_EQ(again.reason, "done");
    EXPECT_EQ(again.ended_at, t0 + 1000);
    auto [mec, m] = f.membership("c1", peer);
    ASSERT_FALSE(mec);
    EXPECT_EQ(m.state, conversation_state::ended);
    EXPECT_EQ(m.ended_by, kp::ended_by::seeker);
    EXPECT_EQ(m.reason, "done");
    EXPECT_EQ(m.ended_at, t0 + 1000);
}

TEST(ConversationLogRedis, EndNeverExtendsBeyondTheHardLimit) {
    log_options o;
    o.hard_limit = 60s;
    o.purge_after = 300s;
    fixture f(o);
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_EQ(f.send("c1", seeker, 1).second.offset, 1);
    ASSERT_FALSE(f.end("c1", kp::ended_by::system, "").first);
    for (const char* k : {"conv:{c1}", "conv:{c1}:log", "conv:{c1}:seq"})
        EXPECT_LE(f.int_of({"PTTL", k}), 60'000) << k;
}

TEST(ConversationLogRedis, EndedConversationIsPurgedOnTime) {
    log_options o;
    o.purge_after = 1s;
    fixture f(o);
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_FALSE(f.create("c2", "s2", "p1").first);
    for (int i = 1; i <= 5; ++i)
        ASSERT_FALSE(f.send("c1", i % 2 ? seeker : peer, i).first);
    ASSERT_FALSE(f.end("c1", kp::ended_by::seeker, "s1").first);
    EXPECT_TRUE(eventually([&] { return f.redis.keys("conv:{c1}*").empty(); }, 5s))
        << f.redis.keys("conv:{c1}*").size();
    // The other conversation is untouched; the seeker's list no longer names c1.
    EXPECT_EQ(f.redis.command({"EXISTS", "conv:{c2}"}), "1");
    auto [lec, l] = f.list(seeker);
    ASSERT_FALSE(lec);
    EXPECT_TRUE(l.empty());
    EXPECT_EQ(f.read(rq("c1", seeker)).first, error::not_found);
}

TEST(ConversationLogRedis, EveryKeyIsGoneAtTheHardLimit) {
    log_options o;
    o.hard_limit = 1s;
    fixture f(o);
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_FALSE(f.join("c1", "m1").first);
    for (int i = 1; i <= 5; ++i) {
        const member& from = i % 2 ? seeker : peer;
        ASSERT_FALSE(
            f.send("c1", from, i, {i % 2 ? role::peer : role::seeker, role::moderator}).first);
    }
    ASSERT_EQ(f.redis.keys("*").size(), 6u); // meta, log, seq and three party indexes
    EXPECT_TRUE(eventually([&] { return f.redis.keys("*").empty(); }, 5s))
        << f.redis.keys("*").size();
}

TEST(ConversationLogRedis, ReadInBatchesReassemblesEverythingInOrder) {
    log_options o;
    o.batch_size = 7;
    fixture f(o);
    ASSERT_FALSE(f.create("c1").first);
    for (int i = 1; i <= 50; ++i)
        ASSERT_EQ(f.send("c1", i % 2 ? seeker : peer, i).second.offset, i);

    auto [ec, all] = f.read_all(rq("c1", peer));
    ASSERT_FALSE(ec);
    EXPECT_TRUE(all.recovered);
    EXPECT_FALSE(all.more);
    EXPECT_EQ(all.last_offset, 50);
    EXPECT_EQ(all.epoch, "epoch-1");
    ASSERT_EQ(all.entries.size(), 50u);
    for (int i = 1; i <= 50; ++i) {
        const entry& e = all.entries[i - 1];
        EXPECT_EQ(e.offset, i);
        EXPECT_EQ(e.seq, i);
        EXPECT_EQ(e.sent_at, t0 + i);
        const role from = i % 2 ? role::seeker : role::peer;
        const role to = i % 2 ? role::peer : role::seeker;
        EXPECT_EQ(e.from, from);
        ASSERT_EQ(e.copies.size(), 1u);
        const auto want = fake_ct(from, i, to);
        EXPECT_EQ(std::string(e.copies[0].ciphertext.begin(), e.copies[0].ciphertext.end()), want);
        EXPECT_EQ(e.copies[0].nonce[0], 1);
        // The reader's event exists only for the other side's messages.
        EXPECT_EQ(to_event("c1", e, role::peer).has_value(), from == role::seeker);
    }

    // What a live delivery builds from the request equals what a read gives back.
    append_request again{
        "c1", seeker, 1, {copy_to(role::peer, fake_ct(role::seeker, 1, role::peer))}, t0 + 1};
    EXPECT_EQ(entry_of(again, 1), all.entries[0]);

    // The same by hand, as a streaming sync would: bounded batches, after = last seen.
    std::vector<std::int64_t> seen;
    read_request r = rq("c1", seeker, 10, 8);
    for (int guard = 0; guard < 20; ++guard) {
        auto [bec, b] = f.read(r);
        ASSERT_FALSE(bec);
        EXPECT_TRUE(b.recovered);
        EXPECT_LE(b.entries.size(), 8u);
        for (const auto& e : b.entries)
            seen.push_back(e.offset);
        if (!b.more) break;
        r.after = b.entries.back().offset;
    }
    ASSERT_EQ(seen.size(), 40u);
    for (std::size_t i = 0; i < seen.size(); ++i)
        EXPECT_EQ(seen[i], static_cast<std::int64_t>(i) + 11);

    // Nothing after the end; after beyond the range is refused.
    auto [eec, empty] = f.read(rq("c1", seeker, 50));
    ASSERT_FALSE(eec);
    EXPECT_TRUE(empty.entries.empty());
    EXPECT_TRUE(empty.recovered);
    EXPECT_EQ(f.read(rq("c1", seeker, -1)).first, error::invalid_after);
    // A server-internal read (no reader) skips the party check.
    auto [iec, internal] = f.read(rq("c1", std::nullopt, 48));
    ASSERT_FALSE(iec);
    EXPECT_EQ(internal.entries.size(), 2u);
}

TEST(ConversationLogRedis, DeletedEntryInTheMiddleIsNotRecovered) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    for (int i = 1; i <= 10; ++i)
        ASSERT_FALSE(f.send("c1", seeker, i).first);
    ASSERT_EQ(f.redis.command({"XDEL", "conv:{c1}:log", "5-0"}), "1");

    auto [ec, all] = f.read_all(rq("c1", peer));
    ASSERT_FALSE(ec);
    EXPECT_FALSE(all.recovered);
    EXPECT_EQ(all.entries.size(), 9u); // what is there, flagged — never silently partial
    // A range that does not cross the gap is still vouched for.
    auto [ec2, after] = f.read(rq("c1", peer, 5));
    ASSERT_FALSE(ec2);
    EXPECT_TRUE(after.recovered);
    EXPECT_EQ(after.entries.size(), 5u);
    // One-entry batches: the one just before the gap is whole, the next one sees it.
    auto [ec3, before] = f.read(rq("c1", peer, 3, 1));
    ASSERT_FALSE(ec3);
    EXPECT_TRUE(before.recovered);
    EXPECT_TRUE(before.more);
    auto [ec4, across] = f.read(rq("c1", peer, 4, 1));
    ASSERT_FALSE(ec4);
    EXPECT_FALSE(across.recovered);
    ASSERT_EQ(across.entries.size(), 1u);
    EXPECT_EQ(across.entries[0].offset, 6);
    // New appends go on after the gap without reusing offsets.
    EXPECT_EQ(f.send("c1", seeker, 11).second.offset, 11);
}

TEST(ConversationLogRedis, UnreadableEntryIsLeftOutAndNotRecovered) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_FALSE(f.send("c1", seeker, 1).first);
    // An entry written by hand where offset 2 belongs, with a nonce of the wrong size.
    f.redis.command({"XADD", "conv:{c1}:log", "2-0", "from", "seeker", "seq", "2", "n:peer",
                     "short", "c:peer", "x"});
    f.redis.command({"HSET", "conv:{c1}", "last_offset", "2"});
    auto [ec, r] = f.read_all(rq("c1", peer));
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_FALSE(r.recovered);
    ASSERT_EQ(r.entries.size(), 1u);
    EXPECT_EQ(r.entries[0].offset, 1);
    EXPECT_EQ(f.send("c1", seeker, 3).second.offset, 3);
}

TEST(ConversationLogRedis, MissingStreamWithMetaIsNotRecovered) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    for (int i = 1; i <= 3; ++i)
        ASSERT_FALSE(f.send("c1", seeker, i).first);
    ASSERT_EQ(f.redis.command({"DEL", "conv:{c1}:log"}), "1");
    auto [ec, r] = f.read_all(rq("c1", peer));
    ASSERT_FALSE(ec);
    EXPECT_FALSE(r.recovered);
    EXPECT_TRUE(r.entries.empty());
    EXPECT_EQ(r.last_offset, 3);
    // Caught up to the meta's last offset: nothing to vouch for, nothing missing.
    EXPECT_TRUE(f.read(rq("c1", peer, 3)).second.recovered);
}

TEST(ConversationLogRedis, MissingMetaIsNotRecoveredWhenTheCallerKnowsTheConversation) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_FALSE(f.send("c1", seeker, 1).first);
    ASSERT_EQ(f.redis.command({"DEL", "conv:{c1}"}), "1");
    read_request r = rq("c1", peer, 0);
    EXPECT_EQ(f.read(r).first, error::not_found);
    r.known = true;
    auto [ec, res] = f.read(r);
    ASSERT_FALSE(ec);
    EXPECT_FALSE(res.recovered);
    EXPECT_FALSE(res.state);
    EXPECT_TRUE(res.entries.empty());
    // Without a meta nobody can append.
    EXPECT_EQ(f.send("c1", seeker, 2).first, error::not_found);
}

TEST(ConversationLogRedis, DifferentEpochIsNotRecovered) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_FALSE(f.send("c1", seeker, 1).first);
    read_request r = rq("c1", peer, 0);
    r.epoch = "epoch-1";
    EXPECT_TRUE(f.read(r).second.recovered);
    r.epoch = "epoch-0";
    auto [ec, res] = f.read(r);
    ASSERT_FALSE(ec);
    EXPECT_FALSE(res.recovered);
    EXPECT_EQ(res.epoch, "epoch-1");

    // History lost with its meta and the conversation created again: a new epoch, offsets
    // from 1 — a reader that knew the old epoch is told.
    f.redis.command({"DEL", "conv:{c1}"});
    auto [cec, c] = f.create("c1");
    ASSERT_FALSE(cec);
    EXPECT_EQ(c.epoch, "epoch-2");
    EXPECT_EQ(f.send("c1", seeker, 1).second.offset, 1);
    r.epoch = "epoch-1";
    EXPECT_FALSE(f.read(r).second.recovered);
}

TEST(ConversationLogRedis, CallerAheadOfTheStoreIsNotRecovered) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_FALSE(f.send("c1", seeker, 1).first);
    auto [ec, r] = f.read(rq("c1", peer, 4));
    ASSERT_FALSE(ec);
    EXPECT_FALSE(r.recovered);
}

TEST(ConversationLogRedis, LogAheadOfMetaIsCorruptAndChangesNothing) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_FALSE(f.send("c1", seeker, 1).first);
    f.redis.command({"XADD", "conv:{c1}:log", "9-0", "from", "seeker", "seq", "99"});
    EXPECT_EQ(f.send("c1", seeker, 2).first, error::corrupt);
    EXPECT_EQ(f.redis.command({"HGET", "conv:{c1}", "last_offset"}), "1");
    EXPECT_EQ(f.redis.command({"HEXISTS", "conv:{c1}:seq", "seeker:2"}), "0");
}

TEST(ConversationLogRedis, ModeratorJoinReplaceAndLists) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    ASSERT_FALSE(f.create("c2", "s2", "p1").first);
    ASSERT_FALSE(f.send("c1", seeker, 1).first);
    ASSERT_FALSE(f.send("c1", seeker, 2).first);

    auto [lec, l] = f.list(peer);
    ASSERT_FALSE(lec);
    ASSERT_EQ(l.size(), 2u);
    std::set<std::string> ids{l[0].conversation_id, l[1].conversation_id};
    EXPECT_EQ(ids, (std::set<std::string>{"c1", "c2"}));
    for (const auto& s : l) {
        EXPECT_EQ(s.state, "active");
        EXPECT_EQ(s.last_offset, s.conversation_id == "c1" ? 2 : 0);
    }
    auto [sec, sl] = f.list(seeker);
    ASSERT_FALSE(sec);
    EXPECT_EQ(sl, (std::vector<kp::conversation_summary>{{"c1", "active", 2}}));
    EXPECT_TRUE(f.list({role::seeker, "nobody"}).second.empty());
    EXPECT_TRUE(f.list({role::seeker, "bad:id"}).second.empty());

    ASSERT_FALSE(f.join("c1", "m1").first);
    auto [aec, a] = f.join("c1", "m1");
    ASSERT_FALSE(aec);
    EXPECT_TRUE(a.already);
    EXPECT_EQ(f.list(moderator).second,
              (std::vector<kp::conversation_summary>{{"c1", "active", 2}}));
    ASSERT_FALSE(f.send("c1", moderator, 1, {role::seeker, role::peer}).first);

    auto [rec, rep] = f.join("c1", "m2");
    ASSERT_FALSE(rec);
    EXPECT_EQ(rep.previous, "m1");
    EXPECT_EQ(f.membership("c1", moderator).first, error::not_found);
    EXPECT_TRUE(f.list(moderator).second.empty());
    // The new moderator counts its own seq from 1.
    const member m2{role::moderator, "m2"};
    EXPECT_EQ(f.send("c1", m2, 1, {role::seeker, role::peer}).second.offset, 4);
    EXPECT_EQ(f.join("nope", "m1").first, error::not_found);

    ASSERT_FALSE(f.end("c1", kp::ended_by::moderator, "m2", "done").first);
    auto [eec, el] = f.list(seeker);
    ASSERT_FALSE(eec);
    EXPECT_EQ(el, (std::vector<kp::conversation_summary>{{"c1", "ended", 4}}));
}

TEST(ConversationLogRedis, ConcurrentAppendsFromTwoConnectionsGetUniqueContiguousOffsets) {
    constexpr int per_sender = 500;
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    io_thread io2;
    ks::client client2{io2.io, fast_client(f.redis.unix_address())};
    client2.start();
    ASSERT_TRUE(eventually([&] { return client2.connected(); }));
    conversation_log log2(client2);
    // Scripts loaded before the race: see relay/README.md on NOSCRIPT and ordering.
    EXPECT_FALSE(wait<bool>([&](auto h) {
                     f.log->load_scripts([h](error_code ec) { h(ec, true); });
                 }).first);

    std::mutex m;
    std::vector<std::pair<role, append_result>> results;
    std::vector<error_code> errors;
    std::atomic<int> done{0};
    auto fire = [&](conversation_log& log, const member& from) {
        const role to = from.role == role::seeker ? role::peer : role::seeker;
        for (int seq = 1; seq <= per_sender; ++seq) {
            append_request r{"c1", from, seq, {copy_to(to, fake_ct(from.role, seq, to))}, t0};
            log.append(std::move(r), [&, who = from.role](error_code ec, append_result res) {
                {
                    std::lock_guard lock(m);
                    if (ec)
                        errors.push_back(ec);
                    else
                        results.emplace_back(who, std::move(res));
                }
                ++done;
            });
        }
    };
    // Two threads issue at once, each through its own connection and io_context thread.
    std::thread a([&] { fire(*f.log, seeker); });
    std::thread b([&] { fire(log2, peer); });
    a.join();
    b.join();
    ASSERT_TRUE(eventually([&] { return done.load() == 2 * per_sender; }, 30s)) << done.load();
    client2.stop();

    std::lock_guard lock(m);
    for (const auto& ec : errors)
        ADD_FAILURE() << ec.message();
    ASSERT_EQ(results.size(), 2u * per_sender);
    std::set<std::int64_t> offsets;
    for (const auto& [who, r] : results) {
        EXPECT_FALSE(r.duplicate);
        offsets.insert(r.offset);
    }
    ASSERT_EQ(offsets.size(), 2u * per_sender);
    EXPECT_EQ(*offsets.begin(), 1);
    EXPECT_EQ(*offsets.rbegin(), 2 * per_sender);

    // The log holds each (sender, seq) exactly once, in seq order per sender.
    auto [ec, all] = f.read_all(rq("c1", std::nullopt));
    ASSERT_FALSE(ec);
    EXPECT_TRUE(all.recovered);
    ASSERT_EQ(all.entries.size(), 2u * per_sender);
    std::int64_t last_seeker = 0, last_peer = 0;
    for (const auto& e : all.entries) {
        auto& last = e.from == role::seeker ? last_seeker : last_peer;
        EXPECT_EQ(e.seq, last + 1);
        last = e.seq;
    }
    EXPECT_EQ(last_seeker, per_sender);
    EXPECT_EQ(last_peer, per_sender);
}

TEST(ConversationLogRedis, CanaryPlaintextNeverReachesRedis) {
    ASSERT_GE(sodium_init(), 0);
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    const std::string canary = "CANARY-7f3e9a-the-seeker-said-this";
    const std::string ad = "kindred/v1|c1|seeker|peer|1";
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    kp::message_copy c;
    c.to = role::peer;
    randombytes_buf(c.nonce.data(), c.nonce.size());
    c.ciphertext.resize(canary.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    unsigned long long n = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        c.ciphertext.data(), &n, reinterpret_cast<const unsigned char*>(canary.data()),
        canary.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
        c.nonce.data(), key);
    ASSERT_FALSE(f.append("c1", seeker, 1, {c}).first);
    ASSERT_FALSE(f.end("c1", kp::ended_by::seeker, "s1").first);

    // Every value of every key, read by type.
    std::string everything;
    for (const auto& k : f.redis.keys("*")) {
        const auto type = f.redis.command({"TYPE", k});
        if (type == "hash")
            everything += f.redis.command({"HGETALL", k});
        else if (type == "stream")
            everything += f.redis.command({"XRANGE", k, "-", "+"});
        else if (type == "zset")
            everything += f.redis.command({"ZRANGE", k, "0", "-1"});
        else
            ADD_FAILURE() << "unexpected key type " << type;
        everything += '\n';
    }
    EXPECT_EQ(everything.find(canary), std::string::npos);
    // What is stored is exactly the ciphertext passed in.
    const std::string ct(c.ciphertext.begin(), c.ciphertext.end());
    EXPECT_NE(everything.find(ct), std::string::npos);
    auto [ec, r] = f.read_all(rq("c1", peer));
    ASSERT_FALSE(ec);
    ASSERT_EQ(r.entries.size(), 1u);
    EXPECT_EQ(r.entries[0].copies, std::vector<kp::message_copy>{c});
}

TEST(ConversationLogRedis, RedisDownAnswersUnavailable) {
    fixture f;
    ASSERT_FALSE(f.create("c1").first);
    f.redis.stop();
    ASSERT_TRUE(eventually([&] { return !f.client.connected(); }));
    auto [ec, r] = f.send("c1", seeker, 1);
    EXPECT_TRUE(is_unavailable(ec)) << ec.message();
    EXPECT_EQ(to_contract(ec).code, kp::error_code::unavailable);
    // Refusals decided before Redis still answer, and still not from inside the call.
    EXPECT_EQ(f.send("bad}", seeker, 1).first, error::not_found);
    f.redis.start();
    ASSERT_TRUE(eventually([&] { return f.client.connected(); }, 10s));
}
