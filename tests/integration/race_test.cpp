// race_test.cpp — issue #4, contract §6 "never two peers for one request, never past a peer's
// capacity, whatever the number of instances": 300 seekers and 60 peers (capacity 1–3, 120
// slots in all) spread over two instances on one Redis. A peer ends its conversations once it
// is full (capacity 1: at once), which frees its slots for the next seekers, so the capacity
// bound is tested at 1, 2 and 3; when every seeker is matched the rest are ended. Every seeker must
// be matched exactly once; per peer, matched +1 / ended −1 never exceeds its capacity (and no
// `shift` event reports more); at the end Redis holds no active conversation and no seeker twice.
// Threading: two threads poll the peers' sockets, two the seekers'; each owns its group.
#include "integration_accounts.hpp"
#include "integration_support.hpp"
#include <kindred/client/e2e.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/codec.hpp>

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace kindred::itest {
namespace {

namespace json = boost::json;
namespace e2e = kindred::client::e2e;
namespace kp = kindred::protocol;

constexpr int seeker_count = 300;
constexpr int peer_count = 60;

struct race_peer {
    std::string name;
    int capacity = 1;
    ws_client ws;
    std::set<std::string> active;
    std::set<std::string> end_sent;
    std::vector<std::string> conversations; // every matched one, in order
    int most_active = 0;
    std::int64_t most_shift_active = 0;
    std::vector<std::string> problems;
};

struct race_seeker {
    ws_client ws;
    std::vector<std::string> conversations; // from `matched`
    bool ended = false;
    std::vector<std::string> problems;
};

// Parses one frame; a non-text frame becomes {"type":"<describe>"} so it is reported.
json::object parse(const ws_frame& f) {
    if (!f.is_text()) return {{"type", "socket: " + kindred::client::describe(f)}};
    boost::system::error_code ec;
    auto v = json::parse(f.text, ec);
    if (ec || !v.is_object()) return {{"type", "bad json"}};
    return std::move(v.as_object());
}

class Race : public integration_test {};

TEST_F(Race, ThreeHundredSeekersSixtyPeersTwoInstancesNoDoubleMatchNoCapacityExceeded) {
    const auto started = std::chrono::steady_clock::now();
    start_server();
    auto b = another_server();
    const unsigned short ports[2] = {port(), b->port()};

    std::vector<std::string> names;
    for (int i = 0; i < peer_count; ++i)
        names.push_back("racer" + std::to_string(i));
    create_certified_peers(redis_.socket_path(), names, {"grief"});
    ASSERT_FALSE(HasFailure());

    // Peers: log in (through A), then on instance i % 2: identity and 30 prekeys. Shifts start
    // once every seeker waits, so all 120 slots fill at once on both instances.
    std::vector<std::unique_ptr<race_peer>> peers;
    for (int i = 0; i < peer_count; ++i) {
        auto p = std::make_unique<race_peer>();
        p->name = names[i];
        p->capacity = 1 + i % 3;
        auto token = login(p->name, password_of(p->name));
        ASSERT_FALSE(token.empty());
        p->ws = staff_socket("peer", token, ports[i % 2]);
        auto identity = e2e::generate_identity_key_pair();
        expect_ok(last(p->ws.request(R"({"type":"register_identity","id":"r","identity_key":")" +
                                     kp::base64_encode(identity.public_key) + R"("})")),
                  "r");
        kp::prekeys upload;
        for (int k = 0; k < 30; ++k) {
            auto pair = e2e::generate_kx_key_pair();
            upload.keys.push_back({pair.public_key, e2e::sign_prekey(pair.public_key, identity)});
        }
        expect_ok(last(p->ws.request(kp::encode_client_message(upload, "k"))), "k");
        peers.push_back(std::move(p));
    }
    ASSERT_FALSE(HasFailure());

    std::atomic<int> requested{0};
    std::atomic<int> matched_seekers{0};
    std::atomic<int> peer_ends{0};
    std::atomic<bool> stop{false};
    const auto deadline = std::chrono::steady_clock::now() + 45s;

    auto end_all = [](race_peer& p) {
        for (const auto& conv : p.active) {
            if (!p.end_sent.insert(conv).second) continue;
            json::object end{
                {"type", "end"}, {"id", "e"}, {"conversation_id", conv}, {"reason", "done"}};
            if (auto ec = p.ws.send_text(json::serialize(end)))
                p.problems.push_back("send end: " + ec.message());
        }
    };
    auto on_peer_frame = [&](race_peer& p, const ws_frame& f) {
        auto o = parse(f);
        const auto type = str(o, "type");
        const auto conv = str(o, "conversation_id");
        if (type == "matched") {
            if (!p.active.insert(conv).second) p.problems.push_back("matched twice: " + conv);
            p.conversations.push_back(conv);
            p.most_active = std::max<int>(p.most_active, static_cast<int>(p.active.size()));
            // Full: end them all, so the slots come back (capacity 1 ends at once).
            if (static_cast<int>(p.active.size()) >= p.capacity) end_all(p);
        } else if (type == "ended") {
            if (p.active.erase(conv) == 0) p.problems.push_back("ended unknown: " + conv);
            ++peer_ends;
        } else if (type == "shift") {
            if (auto* a = o.if_contains("active"); a && a->is_int64())
                p.most_shift_active = std::max(p.most_shift_active, a->as_int64());
        } else if (type == "error" || type.rfind("socket", 0) == 0 || type == "bad json") {
            p.problems.push_back(type + " " + f.text);
        }
    };
    auto peer_loop = [&](int group) {
        kindred::testsupport::eventually([&] { return requested == seeker_count; }, 30s);
        for (std::size_t i = group; i < peers.size(); i += 2) {
            auto& p = *peers[i];
            json::object shift{{"type", "shift_start"},
                               {"id", "s"},
                               {"capacity", p.capacity},
                               {"tags", {"grief"}},
                               {"languages", {"en"}}};
            if (auto ec = p.ws.send_text(json::serialize(shift)))
                p.problems.push_back("send shift_start: " + ec.message());
        }
        while (!stop && std::chrono::steady_clock::now() < deadline) {
            for (std::size_t i = group; i < peers.size(); i += 2) {
                auto& p = *peers[i];
                for (int n = 0; n < 20; ++n) {
                    auto f = p.ws.receive(1ms);
                    if (f.is_timeout()) break;
                    on_peer_frame(p, f);
                    if (!f.is_text()) break;
                }
                // Everyone has been matched: end what is still open.
                if (matched_seekers == seeker_count) end_all(p);
            }
        }
    };

    std::vector<std::unique_ptr<race_seeker>> seekers(seeker_count);
    auto on_seeker_frame = [&](race_seeker& s, const ws_frame& f) {
        auto o = parse(f);
        const auto type = str(o, "type");
        if (type == "matched") {
            s.conversations.push_back(str(o, "conversation_id"));
            if (s.conversations.size() == 1) ++matched_seekers;
        } else if (type == "ended") {
            s.ended = true;
        } else if (type == "error" || type.rfind("socket", 0) == 0 || type == "bad json") {
            s.problems.push_back(type + " " + f.text);
        }
    };
    auto seeker_loop = [&](int group) {
        // Connect and ask, alternating instances; events may already arrive meanwhile.
        for (int i = group; i < seeker_count; i += 2) {
            auto s = std::make_unique<race_seeker>();
            try {
                s->ws = ws_client::open(ports[(i / 2) % 2]);
            } catch (const std::exception& e) {
                s->problems.push_back(std::string("connect: ") + e.what());
                seekers[i] = std::move(s);
                continue;
            }
            auto hello_frames = s->ws.request(hello_json("seeker", "h"), 10s);
            if (str(parse(last(hello_frames)), "type") != "ok")
                s->problems.push_back("hello: " + kindred::client::describe(last(hello_frames)));
            kp::request_match rm;
            rm.tags = {"grief"};
            rm.languages = {"en"};
            rm.pubkey = e2e::generate_kx_key_pair().public_key;
            auto frames = s->ws.request(kp::encode_client_message(rm, "m"), 10s);
            if (str(parse(last(frames)), "type") != "ok")
                s->problems.push_back("request_match: " + kindred::client::describe(last(frames)));
            ++requested;
            frames.pop_back();
            for (auto& f : frames)
                on_seeker_frame(*s, f);
            seekers[i] = std::move(s);
        }
        while (!stop && std::chrono::steady_clock::now() < deadline) {
            for (int i = group; i < seeker_count; i += 2) {
                auto& s = *seekers[i];
                if (!s.ws.is_open()) continue;
                for (int n = 0; n < 10; ++n) {
                    auto f = s.ws.receive(1ms);
                    if (f.is_timeout()) break;
                    on_seeker_frame(s, f);
                    if (!f.is_text()) break;
                }
            }
        }
    };

    std::vector<std::thread> threads;
    threads.emplace_back(peer_loop, 0);
    threads.emplace_back(peer_loop, 1);
    threads.emplace_back(seeker_loop, 0);
    threads.emplace_back(seeker_loop, 1);
    // Done when every seeker was matched and every conversation ended at its peer (or at the
    // deadline, and the checks below say what is missing).
    EXPECT_TRUE(kindred::testsupport::eventually(
        [&] { return matched_seekers == seeker_count && peer_ends == seeker_count; }, 50s))
        << "matched seekers " << matched_seekers << ", ended at peers " << peer_ends;
    // A little longer, so that a second `matched` for some seeker would still be seen.
    std::this_thread::sleep_for(300ms);
    stop = true;
    for (auto& t : threads)
        t.join();

    std::multiset<std::string> seeker_convs, peer_convs;
    int problems = 0;
    for (int i = 0; i < seeker_count; ++i) {
        auto& s = *seekers[i];
        EXPECT_EQ(s.conversations.size(), 1u) << "seeker " << i;
        EXPECT_TRUE(s.ended) << "seeker " << i;
        for (auto& c : s.conversations)
            seeker_convs.insert(c);
        for (auto& pr : s.problems)
            if (problems++ < 10) ADD_FAILURE() << "seeker " << i << ": " << pr;
    }
    std::map<int, int> matches_by_capacity, most_by_capacity;
    for (auto& pp : peers) {
        auto& p = *pp;
        EXPECT_LE(p.most_active, p.capacity) << p.name;
        EXPECT_LE(p.most_shift_active, p.capacity) << p.name;
        EXPECT_TRUE(p.active.empty()) << p.name;
        for (auto& c : p.conversations)
            peer_convs.insert(c);
        matches_by_capacity[p.capacity] += static_cast<int>(p.conversations.size());
        most_by_capacity[p.capacity] = std::max(most_by_capacity[p.capacity], p.most_active);
        for (auto& pr : p.problems)
            if (problems++ < 20) ADD_FAILURE() << p.name << ": " << pr;
    }
    // One conversation per seeker, each with exactly one peer.
    EXPECT_EQ(seeker_convs.size(), static_cast<std::size_t>(seeker_count));
    EXPECT_EQ(std::set<std::string>(seeker_convs.begin(), seeker_convs.end()).size(),
              seeker_convs.size());
    EXPECT_EQ(seeker_convs, peer_convs);

    // Redis (docs/matching.md, relay/README.md): no active conversation left on any peer,
    // one match record per conversation and never one seeker session in two records; every
    // relay conversation is ended.
    const std::string match_prefix = "m:{match}:";
    int records = 0, peer_hashes = 0, relay_ended = 0;
    std::set<std::string> sessions;
    for (auto& k : redis_.keys()) {
        if (k.rfind(match_prefix + "conv:", 0) == 0) {
            auto session = redis_.command({"HGET", k, "session"});
            ++records;
            EXPECT_TRUE(sessions.insert(session).second) << "seeker in two records: " << k;
            EXPECT_TRUE(seeker_convs.count(k.substr(match_prefix.size() + 5)) ||
                        seeker_convs.count(
                            k.substr(match_prefix.size() + 6, k.size() - match_prefix.size() - 7)))
                << "a match record no seeker was told about: " << k;
        } else if (k.rfind(match_prefix + "peer:", 0) == 0 &&
                   redis_.command({"TYPE", k}) == "hash") {
            ++peer_hashes;
            EXPECT_EQ(redis_.command({"HGET", k, "active"}), "0") << k;
        } else if (k.rfind("conv:{", 0) == 0 && k.back() == '}') {
            EXPECT_EQ(redis_.command({"HGET", k, "state"}), "ended") << k;
            ++relay_ended;
        }
    }
    EXPECT_EQ(relay_ended, seeker_count);
    EXPECT_EQ(records, seeker_count);
    EXPECT_EQ(peer_hashes, peer_count);
    std::cout << "[race] " << seeker_count << " seekers, " << peer_count << " peers, matches by "
              << "capacity 1/2/3: " << matches_by_capacity[1] << "/" << matches_by_capacity[2]
              << "/" << matches_by_capacity[3] << ", most at once " << most_by_capacity[1] << "/"
              << most_by_capacity[2] << "/" << most_by_capacity[3] << "; took "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count()
              << " ms\n";
}

} // namespace
} // namespace kindred::itest
