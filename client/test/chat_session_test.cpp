// chat_session_test.cpp — a seeker and a peer chat_session against a small in-test fake of the
// server's relay (hello/resume, matching on demand, offsets, idempotent send by seq, sync,
// receipts, end). No network, no clock: times are constants.
#include <kindred/client/chat_session.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/codec.hpp>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <array>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using kindred::client::chat_event;
using kindred::client::chat_session;
namespace ev = kindred::client::chat_events;
namespace e2e = kindred::client::e2e;
namespace protocol = kindred::protocol;
using protocol::role;

constexpr int seeker_ix = 0;
constexpr int peer_ix = 1;

// The relay as the contract describes it, for two parties and one conversation at a time.
class fake_relay {
public:
    struct stored {
        std::int64_t offset;
        int from;
        std::int64_t seq;
        protocol::message_copy copy;
    };

    std::array<bool, 2> connected{false, false};
    std::array<std::deque<std::string>, 2> inbox; // server → client, not yet delivered
    std::array<std::string, 2> tokens;            // live resume token per party
    std::array<std::map<std::int64_t, std::int64_t>, 2> seq_offsets; // per sender: seq → offset
    std::vector<stored> log;
    std::int64_t next_offset = 0;
    std::string conversation_id;
    bool recovered = true;
    std::array<int, 2> drop_deliveries{0, 0}; // lose the next n live messages to that party
    std::array<int, 2> sends_stored{0, 0};    // count of distinct sends stored per sender
    std::vector<protocol::signed_prekey> prekeys;
    protocol::ed25519_public_key identity{};
    protocol::x25519_public_key seeker_pubkey{};
    int token_counter = 0;

    void push(int ix, std::string frame) {
        if (connected[ix]) inbox[ix].push_back(std::move(frame));
    }
    void event(int ix, const protocol::server_event& e) { push(ix, protocol::encode_event(e)); }
    void ok(int ix, const std::optional<std::string>& id, boost::json::object fields = {}) {
        if (id) push(ix, protocol::encode_ok(*id, fields));
    }
    void error(int ix, const std::optional<std::string>& id, protocol::error_code code) {
        push(ix, protocol::encode_error(id, code, "fake"));
    }

    void handle(int ix, const std::string& text) {
        auto d = protocol::decode_client_message(text);
        auto* m = std::get_if<protocol::client_message>(&d.result);
        ASSERT_NE(m, nullptr) << "client sent an invalid frame: " << text;
        std::visit([&](const auto& msg) { on(ix, d.id, msg); }, *m);
    }

    void on(int ix, const std::optional<std::string>& id, const protocol::hello& h) {
        if (h.resume_token) {
            if (*h.resume_token != tokens[ix] || tokens[ix].empty()) {
                error(ix, id, protocol::error_code::not_found);
                return;
            }
        } else {
            tokens[ix] = "resume-" + std::to_string(++token_counter);
        }
        protocol::hello_ok r{
            "s" + std::to_string(ix), ix == 0 ? role::seeker : role::peer, tokens[ix], {}};
        if (!conversation_id.empty()) {
            r.conversations.push_back({conversation_id, "active", next_offset});
        }
        ok(ix, id, protocol::ok_fields(r));
    }
    void on(int ix, const std::optional<std::string>& id, const protocol::register_identity& r) {
        identity = r.identity_key;
        ok(ix, id);
    }
    void on(int ix, const std::optional<std::string>& id, const protocol::prekeys& p) {
        for (const auto& k : p.keys) {
            EXPECT_TRUE(e2e::verify_prekey(k.prekey, k.signature, identity));
            prekeys.push_back(k);
        }
        ok(ix, id);
    }
    void on(int ix, const std::optional<std::string>& id, const protocol::shift_start& s) {
        ok(ix, id);
        event(ix, protocol::shift_state{protocol::shift_status::on, 0, s.capacity});
    }
    void on(int ix, const std::optional<std::string>& id, const protocol::request_match& r) {
        seeker_pubkey = r.pubkey;
        ok(ix, id);
        event(ix, protocol::queued{1, 30});
    }
    void on(int ix, const std::optional<std::string>& id, const protocol::send& s) {
        auto& seen = seq_offsets[ix];
        if (auto it = seen.find(s.seq); it != seen.end()) {
            ok(ix, id, protocol::ok_fields(protocol::send_ok{it->second})); // idempotent retry
            return;
        }
        if (!seen.empty() && s.seq < seen.rbegin()->first) {
            error(ix, id, protocol::error_code::conflict);
            return;
        }
        const int other = 1 - ix;
        const auto offset = ++next_offset;
        seen[s.seq] = offset;
        ++sends_stored[ix];
        log.push_back({offset, ix, s.seq, s.copies.at(0)});
        ok(ix, id, protocol::ok_fields(protocol::send_ok{offset}));
        if (drop_deliveries[other] > 0) {
            --drop_deliveries[other];
        } else {
            event(other, message_for(log.back()));
        }
    }
    void on(int ix, const std::optional<std::string>& id, const protocol::sync& s) {
        for (const auto& m : log) {
            if (m.offset > s.after && m.from != ix) event(ix, message_for(m));
        }
        ok(ix, id, protocol::ok_fields(protocol::sync_ok{next_offset, recovered}));
    }
    void on(int ix, const std::optional<std::string>&, const protocol::receipt& r) {
        event(1 - ix, protocol::receipt_event{r.conversation_id, r.offset, role_of(ix)});
    }
    void on(int ix, const std::optional<std::string>&, const protocol::typing& t) {
        event(1 - ix, protocol::typing_event{t.conversation_id, role_of(ix)});
    }
    void on(int ix, const std::optional<std::string>& id, const protocol::end& e) {
        ok(ix, id);
        const protocol::ended ended{e.conversation_id,
                                    ix == 0 ? protocol::ended_by::seeker : protocol::ended_by::peer,
                                    e.reason.value_or("done")};
        event(0, ended);
        event(1, ended);
        conversation_id.clear();
    }
    template <class T>
    void on(int ix, const std::optional<std::string>& id, const T&) {
        ok(ix, id);
    }

    // Pairs the queued seeker with the peer using the peer's first prekey.
    void match(const std::string& id = "conv-1") {
        ASSERT_FALSE(prekeys.empty());
        auto key = prekeys.front();
        prekeys.erase(prekeys.begin());
        conversation_id = id;
        protocol::seeker_matched sm{
            id, false,
            protocol::matched_peer{
                "River", {"grief"}, {"grief"}, key.prekey, identity, key.signature}};
        event(seeker_ix, sm);
        protocol::peer_matched pm{
            id, key.prekey,
            protocol::matched_seeker{seeker_pubkey, {"grief"}, {"grief"}, 3, protocol::risk::none},
            std::nullopt};
        event(peer_ix, pm);
    }

    static role role_of(int ix) { return ix == 0 ? role::seeker : role::peer; }

    protocol::message_event message_for(const stored& m) const {
        return protocol::message_event{conversation_id, m.offset,          role_of(m.from), m.seq,
                                       m.copy.nonce,    m.copy.ciphertext, 1764300000000};
    }
};

kindred::client::peer_setup small_batch_peer() {
    kindred::client::peer_setup setup;
    setup.token = "staff-token";
    setup.identity = e2e::generate_identity_key_pair();
    setup.prekey_batch = 5;
    return setup;
}

class ChatSession : public ::testing::Test {
protected:
    fake_relay relay;
    std::array<chat_session, 2> parties{chat_session::seeker(),
                                        chat_session::peer(small_batch_peer())};
    std::array<std::vector<chat_event>, 2> events;
    std::array<std::vector<std::string>, 2> sent; // every frame that reached the relay

    chat_session& seeker() { return parties[seeker_ix]; }
    chat_session& peer() { return parties[peer_ix]; }

    // Client frames to the relay (lost when disconnected).
    void flush_out(int ix) {
        for (auto& f : parties[ix].take_outgoing()) {
            if (!relay.connected[ix]) continue;
            sent[ix].push_back(f);
            relay.handle(ix, f);
        }
    }
    // Runs until nothing moves.
    void pump() {
        for (int round = 0; round < 1000; ++round) {
            bool moved = false;
            for (int ix = 0; ix < 2; ++ix) {
                auto out = parties[ix].take_outgoing();
                for (auto& f : out) {
                    moved = true;
                    if (!relay.connected[ix]) continue;
                    sent[ix].push_back(f);
                    relay.handle(ix, f);
                }
                while (!relay.inbox[ix].empty()) {
                    moved = true;
                    auto f = std::move(relay.inbox[ix].front());
                    relay.inbox[ix].pop_front();
                    parties[ix].on_frame(f, 0);
                }
                for (auto& e : parties[ix].take_events())
                    events[ix].push_back(std::move(e));
            }
            if (!moved) return;
        }
        FAIL() << "pump did not settle";
    }
    void connect(int ix) {
        relay.connected[ix] = true;
        parties[ix].on_connected(0);
        pump();
    }
    void drop(int ix) {
        relay.connected[ix] = false;
        relay.inbox[ix].clear(); // what was on the way is lost
        parties[ix].on_disconnected();
    }

    template <class T>
    std::vector<T> all(int ix) const {
        std::vector<T> found;
        for (const auto& e : events[ix]) {
            if (auto* t = std::get_if<T>(&e)) found.push_back(*t);
        }
        return found;
    }
    std::vector<std::string> texts(int ix) const {
        std::vector<std::string> t;
        for (const auto& m : all<ev::message>(ix))
            t.push_back(m.text);
        return t;
    }
    std::string conversation() const { return relay.conversation_id; }

    // Both connected, peer set up and on shift, seeker queued, then matched.
    void start_conversation() {
        connect(seeker_ix);
        connect(peer_ix);
        peer().start_shift({1, {"grief"}, {"en"}});
        ASSERT_FALSE(seeker().request_match({{"grief"}, {"en"}, std::nullopt, false}));
        pump();
        relay.match();
        pump();
        ASSERT_EQ(all<ev::matched>(seeker_ix).size(), 1u);
        ASSERT_EQ(all<ev::matched>(peer_ix).size(), 1u);
    }

    std::int64_t send(int ix, std::string_view text) {
        auto r = parties[ix].send_text(conversation(), text);
        EXPECT_TRUE(std::holds_alternative<std::int64_t>(r));
        return std::holds_alternative<std::int64_t>(r) ? std::get<std::int64_t>(r) : 0;
    }

    std::vector<ev::error> errors(int ix) const { return all<ev::error>(ix); }
};

TEST_F(ChatSession, PeerRegistersIdentityUploadsPrekeysThenStartsShift) {
    connect(peer_ix);
    peer().start_shift({2, {"grief"}, {"en"}});
    pump();
    ASSERT_GE(sent[peer_ix].size(), 4u);
    EXPECT_NE(sent[peer_ix][1].find("register_identity"), std::string::npos);
    EXPECT_NE(sent[peer_ix][2].find("\"prekeys\""), std::string::npos);
    EXPECT_NE(sent[peer_ix][3].find("shift_start"), std::string::npos);
    EXPECT_EQ(relay.prekeys.size(), 5u);
    EXPECT_EQ(peer().prekeys_in_store(), 5u);
    ASSERT_EQ(all<ev::shift>(peer_ix).size(), 1u);
    EXPECT_EQ(all<ev::shift>(peer_ix)[0].capacity, 2);
}

TEST_F(ChatSession, MessagesBothWaysDecryptAndSafetyCodesAgree) {
    start_conversation();
    const auto s = all<ev::matched>(seeker_ix)[0];
    const auto p = all<ev::matched>(peer_ix)[0];
    EXPECT_EQ(s.other, "River");
    EXPECT_EQ(p.other, "seeker");
    EXPECT_EQ(s.safety_code.size(), 12u);
    EXPECT_EQ(s.safety_code, p.safety_code);
    EXPECT_EQ(peer().prekeys_in_store(), 4u); // the used prekey was taken

    EXPECT_EQ(send(seeker_ix, "hello, is anyone there?"), 1);
    pump();
    EXPECT_EQ(send(peer_ix, "I'm here. Take your time."), 1);
    pump();
    EXPECT_EQ(texts(peer_ix), std::vector<std::string>{"hello, is anyone there?"});
    EXPECT_EQ(texts(seeker_ix), std::vector<std::string>{"I'm here. Take your time."});
    EXPECT_EQ(all<ev::message>(seeker_ix)[0].sender, "River");
    EXPECT_EQ(all<ev::message>(seeker_ix)[0].offset, 2);
    ASSERT_EQ(all<ev::delivered>(seeker_ix).size(), 1u);
    EXPECT_EQ(all<ev::delivered>(seeker_ix)[0].offset, 1);
    EXPECT_EQ(seeker().last_offset(conversation()), 2);
    EXPECT_EQ(peer().last_offset(conversation()), 2);
    EXPECT_TRUE(errors(seeker_ix).empty()) << kindred::client::describe(errors(seeker_ix)[0]);
    EXPECT_TRUE(errors(peer_ix).empty()) << kindred::client::describe(errors(peer_ix)[0]);
}

TEST_F(ChatSession, ReceiptsTypingAndEnd) {
    start_conversation();
    send(seeker_ix, "one");
    pump();
    peer().displayed(conversation(), 1);
    peer().typing(conversation());
    pump();
    ASSERT_EQ(all<ev::receipt>(seeker_ix).size(), 1u);
    EXPECT_EQ(all<ev::receipt>(seeker_ix)[0].offset, 1);
    EXPECT_EQ(all<ev::receipt>(seeker_ix)[0].from, role::peer);
    EXPECT_EQ(all<ev::typing>(seeker_ix).size(), 1u);
    const auto id = conversation();
    seeker().end(id);
    pump();
    ASSERT_EQ(all<ev::ended>(seeker_ix).size(), 1u);
    ASSERT_EQ(all<ev::ended>(peer_ix).size(), 1u);
    EXPECT_EQ(all<ev::ended>(peer_ix)[0].by, "seeker");
    EXPECT_TRUE(seeker().active_conversations().empty());
    EXPECT_TRUE(peer().active_conversations().empty());
}

TEST_F(ChatSession, DropBeforeOkResendsSameSeqWithoutDuplicate) {
    start_conversation();
    send(seeker_ix, "first");
    pump();
    // The second send is stored and delivered, but the connection drops before its `ok`.
    send(seeker_ix, "second");
    flush_out(seeker_ix);
    const auto stored_before = relay.sends_stored[seeker_ix];
    drop(seeker_ix);
    EXPECT_EQ(seeker().unacknowledged(conversation()), 1u);
    // A third is written while offline; it waits for the resume.
    send(seeker_ix, "third");
    pump();
    connect(seeker_ix);
    EXPECT_EQ(all<ev::ready>(seeker_ix).back().resumed, true);
    EXPECT_EQ(relay.sends_stored[seeker_ix], stored_before + 1); // only "third" is new
    EXPECT_EQ(texts(peer_ix), (std::vector<std::string>{"first", "second", "third"}));
    EXPECT_EQ(seeker().unacknowledged(conversation()), 0u);
    // The resend carried seq 2 again and got the original offset.
    const auto delivered = all<ev::delivered>(seeker_ix);
    ASSERT_EQ(delivered.size(), 3u);
    EXPECT_EQ(delivered[1].seq, 2);
    EXPECT_EQ(delivered[1].offset, 2);
    EXPECT_EQ(delivered[2].seq, 3);
    EXPECT_EQ(delivered[2].offset, 3);
    int seq2_sends = 0;
    for (const auto& f : sent[seeker_ix]) {
        if (f.find("\"seq\":2") != std::string::npos) ++seq2_sends;
    }
    EXPECT_EQ(seq2_sends, 2);
    EXPECT_TRUE(errors(peer_ix).empty());
}

TEST_F(ChatSession, ResumeSyncsMissedMessagesInOrder) {
    start_conversation();
    send(peer_ix, "a");
    pump();
    drop(seeker_ix);
    send(peer_ix, "b");
    send(peer_ix, "c");
    pump();
    connect(seeker_ix);
    EXPECT_EQ(texts(seeker_ix), (std::vector<std::string>{"a", "b", "c"}));
    bool synced = false;
    for (const auto& f : sent[seeker_ix]) {
        if (f.find("\"type\":\"sync\"") != std::string::npos &&
            f.find("\"after\":1") != std::string::npos) {
            synced = true;
        }
    }
    EXPECT_TRUE(synced);
    EXPECT_TRUE(errors(seeker_ix).empty()) << kindred::client::describe(errors(seeker_ix)[0]);
}

TEST_F(ChatSession, PeerSideDropBothDirectionsExactlyOnce) {
    start_conversation();
    send(seeker_ix, "s1");
    pump();
    drop(peer_ix);
    send(seeker_ix, "s2");
    send(seeker_ix, "s3");
    send(peer_ix, "p-offline"); // written while the peer is offline
    pump();
    EXPECT_EQ(peer().unacknowledged(conversation()), 1u);
    connect(peer_ix);
    send(seeker_ix, "s4");
    pump();
    EXPECT_EQ(texts(peer_ix), (std::vector<std::string>{"s1", "s2", "s3", "s4"}));
    EXPECT_EQ(texts(seeker_ix), std::vector<std::string>{"p-offline"});
    EXPECT_EQ(relay.sends_stored[peer_ix], 1);
    EXPECT_EQ(peer().last_offset(conversation()), 5);
    EXPECT_EQ(seeker().last_offset(conversation()), 5);
    EXPECT_TRUE(errors(peer_ix).empty()) << kindred::client::describe(errors(peer_ix)[0]);
    EXPECT_TRUE(errors(seeker_ix).empty()) << kindred::client::describe(errors(seeker_ix)[0]);
}

TEST_F(ChatSession, DuplicateOffsetIsSkippedBeforeDecrypting) {
    start_conversation();
    send(seeker_ix, "once");
    pump();
    ASSERT_EQ(texts(peer_ix).size(), 1u);
    // The same message again (a live delivery followed by sync, say).
    peer().on_frame(protocol::encode_event(relay.message_for(relay.log[0])), 0);
    pump();
    EXPECT_EQ(texts(peer_ix).size(), 1u);
    EXPECT_TRUE(errors(peer_ix).empty()) << kindred::client::describe(errors(peer_ix)[0]);
}

TEST_F(ChatSession, GapTriggersSyncAndRestoresOrder) {
    start_conversation();
    relay.drop_deliveries[peer_ix] = 1; // "one" is stored but its live delivery is lost
    send(seeker_ix, "one");
    pump();
    EXPECT_TRUE(texts(peer_ix).empty());
    send(seeker_ix, "two");
    pump();
    EXPECT_EQ(texts(peer_ix), (std::vector<std::string>{"one", "two"}));
    bool synced = false;
    for (const auto& f : sent[peer_ix]) {
        if (f.find("\"type\":\"sync\"") != std::string::npos &&
            f.find("\"after\":0") != std::string::npos) {
            synced = true;
        }
    }
    EXPECT_TRUE(synced);
    EXPECT_TRUE(errors(peer_ix).empty()) << kindred::client::describe(errors(peer_ix)[0]);
}

TEST_F(ChatSession, OwnOffsetsAreNotGaps) {
    start_conversation();
    send(seeker_ix, "s1"); // offset 1
    pump();
    send(peer_ix, "p2"); // offset 2: the seeker knows offset 1 from its own ok
    pump();
    EXPECT_EQ(texts(seeker_ix), std::vector<std::string>{"p2"});
    for (const auto& f : sent[seeker_ix]) {
        EXPECT_EQ(f.find("\"type\":\"sync\""), std::string::npos) << f;
    }
}

TEST_F(ChatSession, SyncNotRecoveredIsReported) {
    start_conversation();
    relay.recovered = false;
    drop(seeker_ix);
    send(peer_ix, "x");
    pump();
    connect(seeker_ix);
    ASSERT_EQ(all<ev::history_incomplete>(seeker_ix).size(), 1u);
    EXPECT_EQ(all<ev::history_incomplete>(seeker_ix)[0].conversation_id, conversation());
    EXPECT_EQ(texts(seeker_ix), std::vector<std::string>{"x"});
}

TEST_F(ChatSession, ResumeNotFoundStartsOver) {
    start_conversation();
    const auto id = conversation();
    drop(seeker_ix);
    send(seeker_ix, "lost");
    relay.tokens[seeker_ix].clear(); // the server forgot the session
    connect(seeker_ix);
    ASSERT_EQ(all<ev::session_restarted>(seeker_ix).size(), 1u);
    EXPECT_EQ(all<ev::session_restarted>(seeker_ix)[0].lost_conversations,
              std::vector<std::string>{id});
    EXPECT_TRUE(seeker().active_conversations().empty());
    EXPECT_TRUE(seeker().is_ready());
    // Two hellos on this connection: the refused resume, then a fresh one with a role.
    const auto n = sent[seeker_ix].size();
    ASSERT_GE(n, 2u);
    EXPECT_NE(sent[seeker_ix][n - 2].find("resume_token"), std::string::npos);
    EXPECT_NE(sent[seeker_ix][n - 1].find("\"role\":\"seeker\""), std::string::npos);
    EXPECT_EQ(relay.sends_stored[seeker_ix], 0);
}

TEST_F(ChatSession, RequestIdsAreUniqueAndAnswersMatchByRe) {
    start_conversation();
    send(seeker_ix, "1");
    send(seeker_ix, "2");
    pump();
    // Ids are unique per session (each connection has its own id space on the server).
    std::set<std::string> ids;
    {
        const int ix = seeker_ix;
        for (const auto& f : sent[ix]) {
            auto v = boost::json::parse(f).as_object();
            if (auto* id = v.if_contains("id")) {
                EXPECT_TRUE(ids.insert(std::string(id->as_string())).second) << f;
            }
        }
    }
    EXPECT_GE(ids.size(), 4u); // hello, request_match, two sends
    // An answer to an id we never sent changes nothing; an error answering our request is
    // reported with that request's type.
    seeker().on_frame(R"({"type":"ok","re":"nope","offset":99})", 0);
    EXPECT_TRUE(seeker().take_events().empty());
    seeker().cancel_match();
    auto out = seeker().take_outgoing();
    ASSERT_EQ(out.size(), 1u);
    const auto re = std::string(boost::json::parse(out[0]).as_object().at("id").as_string());
    seeker().on_frame(R"({"type":"error","re":")" + re +
                          R"(","code":"conflict","message":"in a conversation"})",
                      0);
    auto evs = seeker().take_events();
    ASSERT_EQ(evs.size(), 1u);
    auto* e = std::get_if<ev::error>(&evs[0]);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->context, "cancel_match");
    EXPECT_EQ(e->code, "conflict");
}

TEST_F(ChatSession, BadPrekeySignatureRefusesTheMatch) {
    connect(seeker_ix);
    ASSERT_FALSE(seeker().request_match({{"grief"}, {"en"}, std::nullopt, false}));
    pump();
    auto id = e2e::generate_identity_key_pair();
    auto other = e2e::generate_identity_key_pair();
    auto pre = e2e::generate_kx_key_pair();
    protocol::seeker_matched sm{"conv-x", false,
                                protocol::matched_peer{"River",
                                                       {"grief"},
                                                       {"grief"},
                                                       pre.public_key,
                                                       id.public_key,
                                                       e2e::sign_prekey(pre.public_key, other)}};
    seeker().on_frame(protocol::encode_event(sm), 0);
    auto evs = seeker().take_events();
    ASSERT_EQ(evs.size(), 1u);
    auto* e = std::get_if<ev::error>(&evs[0]);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, "bad_signature");
    EXPECT_TRUE(seeker().active_conversations().empty());
    auto out = seeker().take_outgoing();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_NE(out[0].find("\"type\":\"end\""), std::string::npos);
}

TEST_F(ChatSession, IntakeNeedsTheNoticeConfirmed) {
    auto e = seeker().request_match({{"grief"}, {"en"}, std::string("hard week"), false});
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->code, "bad_message");
    EXPECT_TRUE(seeker().take_outgoing().empty());
    EXPECT_FALSE(seeker().request_match({{"grief"}, {"en"}, std::string("hard week"), true}));
}

TEST_F(ChatSession, PrekeysLowTopsUp) {
    connect(peer_ix);
    pump();
    const auto before = relay.prekeys.size();
    peer().on_frame(protocol::encode_event(protocol::prekeys_low{2}), 0);
    pump();
    EXPECT_EQ(relay.prekeys.size(), before + 3); // topped up to the batch of 5
}

TEST_F(ChatSession, EndWrittenOfflineIsSentAfterResume) {
    start_conversation();
    drop(seeker_ix);
    seeker().end(conversation());
    pump();
    EXPECT_EQ(seeker().active_conversations().size(), 1u); // not ended until the server says so
    connect(seeker_ix);
    ASSERT_EQ(all<ev::ended>(seeker_ix).size(), 1u);
    ASSERT_EQ(all<ev::ended>(peer_ix).size(), 1u);
    EXPECT_TRUE(seeker().active_conversations().empty());
    EXPECT_TRUE(errors(seeker_ix).empty()) << kindred::client::describe(errors(seeker_ix)[0]);
}

TEST_F(ChatSession, PeerRestartRedoesSetupAndShift) {
    connect(peer_ix);
    peer().start_shift({1, {"grief"}, {"en"}});
    pump();
    drop(peer_ix);
    relay.tokens[peer_ix].clear();
    const auto before = sent[peer_ix].size();
    connect(peer_ix);
    ASSERT_EQ(all<ev::session_restarted>(peer_ix).size(), 1u);
    std::vector<std::string> types;
    for (auto i = before; i < sent[peer_ix].size(); ++i) {
        types.push_back(
            std::string(boost::json::parse(sent[peer_ix][i]).as_object().at("type").as_string()));
    }
    EXPECT_EQ(types, (std::vector<std::string>{"hello", "hello", "register_identity", "prekeys",
                                               "shift_start"}));
    EXPECT_EQ(all<ev::shift>(peer_ix).size(), 2u);
}

TEST_F(ChatSession, RetriedRequestMatchConflictIsSwallowed) {
    connect(seeker_ix);
    ASSERT_FALSE(seeker().request_match({{"grief"}, {"en"}, std::nullopt, false}));
    flush_out(seeker_ix); // it arrives, but its ok is lost with the connection
    drop(seeker_ix);
    relay.connected[seeker_ix] = true;
    seeker().on_connected(0);
    auto out = seeker().take_outgoing();
    ASSERT_EQ(out.size(), 1u); // the resume hello
    relay.handle(seeker_ix, out[0]);
    seeker().on_frame(relay.inbox[seeker_ix].front(), 0);
    relay.inbox[seeker_ix].clear();
    out = seeker().take_outgoing();
    ASSERT_EQ(out.size(), 1u); // request_match again
    EXPECT_NE(out[0].find("request_match"), std::string::npos);
    const auto re = std::string(boost::json::parse(out[0]).as_object().at("id").as_string());
    seeker().on_frame(
        R"({"type":"error","re":")" + re + R"(","code":"conflict","message":"already queued"})", 0);
    for (const auto& e : seeker().take_events()) {
        EXPECT_FALSE(std::holds_alternative<ev::error>(e)) << kindred::client::describe(e);
    }
}

// A request_match answered `unavailable` may still have been queued when Redis came back (its
// answer had timed out first): the retry's `conflict` ("already queued") means it is in, and is
// not an error. After `rate_limited` nothing was done, so a `conflict` then is reported.
TEST_F(ChatSession, RequestMatchRetriedAfterUnavailableTakesConflictAsQueued) {
    const auto id_of = [](const std::string& frame) {
        return std::string(boost::json::parse(frame).as_object().at("id").as_string());
    };
    const auto errors_after = [&](const char* first_code) {
        seeker().take_events();
        EXPECT_FALSE(seeker().request_match({{"grief"}, {"en"}, std::nullopt, false}));
        auto out = seeker().take_outgoing();
        EXPECT_EQ(out.size(), 1u);
        if (out.size() != 1) return std::size_t{0};
        seeker().on_frame(R"({"type":"error","re":")" + id_of(out[0]) + R"(","code":")" +
                              first_code + R"(","message":"x","retry_after_ms":100})",
                          1000);
        seeker().take_events(); // the first refusal is reported (the app may say "retrying")
        seeker().tick(1100);
        auto again = seeker().take_outgoing();
        EXPECT_EQ(again.size(), 1u);
        if (again.size() != 1) return std::size_t{0};
        EXPECT_NE(again[0].find("request_match"), std::string::npos);
        EXPECT_EQ(again[0].substr(again[0].find("pubkey")), out[0].substr(out[0].find("pubkey")))
            << "the retry must carry the same key: the queued request holds it";
        seeker().on_frame(R"({"type":"error","re":")" + id_of(again[0]) +
                              R"(","code":"conflict","message":"already queued"})",
                          1100);
        std::size_t errors = 0;
        for (const auto& e : seeker().take_events())
            errors += std::holds_alternative<ev::error>(e) ? 1 : 0;
        return errors;
    };
    connect(seeker_ix);
    EXPECT_EQ(errors_after("unavailable"), 0u);
    EXPECT_EQ(errors_after("rate_limited"), 1u);
}

TEST_F(ChatSession, RateLimitedSendIsRetriedAfterTheDelay) {
    start_conversation();
    send(seeker_ix, "slow");
    auto out = seeker().take_outgoing();
    ASSERT_EQ(out.size(), 1u);
    const auto re = std::string(boost::json::parse(out[0]).as_object().at("id").as_string());
    seeker().on_frame(R"({"type":"error","re":")" + re +
                          R"(","code":"rate_limited","message":"slow down","retry_after_ms":500})",
                      1000);
    seeker().tick(1400);
    EXPECT_TRUE(seeker().take_outgoing().empty());
    seeker().tick(1500);
    auto again = seeker().take_outgoing();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_NE(again[0].find("\"seq\":1"), std::string::npos);
}

// Refused again and again with `unavailable`, a send backs off: each wait is at least half
// of first × 2^(n-1) and under 1.5 times it (deterministic jitter), so thousands of refused
// clients do not all come back in the same second.
// Refused messages wait their own delays, but a later seq never goes before an earlier one
// that still waits: seq 2 (unavailable, ~1 s) is due long before seq 1 (rate_limited, 5 s),
// and still follows it.
TEST_F(ChatSession, RetriesKeepSeqOrderWhateverTheirDelays) {
    start_conversation();
    send(seeker_ix, "first");
    send(seeker_ix, "second");
    auto out = seeker().take_outgoing();
    ASSERT_EQ(out.size(), 2u);
    const auto id_of = [](const std::string& frame) {
        return std::string(boost::json::parse(frame).as_object().at("id").as_string());
    };
    seeker().on_frame(R"({"type":"error","re":")" + id_of(out[0]) +
                          R"(","code":"rate_limited","message":"slow","retry_after_ms":5000})",
                      0);
    seeker().on_frame(R"({"type":"error","re":")" + id_of(out[1]) +
                          R"(","code":"unavailable","message":"busy"})",
                      0);
    std::vector<std::string> resent;
    for (std::int64_t t = 0; t <= 6000; t += 100) {
        seeker().tick(t);
        for (auto& f : seeker().take_outgoing())
            resent.push_back(f);
        if (!resent.empty()) break;
    }
    ASSERT_FALSE(resent.empty());
    EXPECT_NE(resent[0].find("\"seq\":1"), std::string::npos) << resent[0];
    if (resent.size() > 1) {
        EXPECT_NE(resent[1].find("\"seq\":2"), std::string::npos);
    }
}

TEST_F(ChatSession, UnavailableSendBacksOffExponentiallyWithJitter) {
    start_conversation();
    send(seeker_ix, "later");
    auto out = seeker().take_outgoing();
    ASSERT_EQ(out.size(), 1u);
    std::int64_t now = 1000;
    for (int n = 1; n <= 4; ++n) {
        const auto re = std::string(boost::json::parse(out[0]).as_object().at("id").as_string());
        seeker().on_frame(R"({"type":"error","re":")" + re +
                              R"(","code":"unavailable","message":"try again"})",
                          now);
        const std::int64_t nominal = 1000LL << (n - 1); // the default first delay, doubled
        seeker().tick(now + nominal / 2 - 1);
        EXPECT_TRUE(seeker().take_outgoing().empty()) << "retry " << n << " came too early";
        std::int64_t sent_at = 0;
        for (std::int64_t t = now + nominal / 2; t < now + nominal * 3 / 2 + 1 && !sent_at;
             t += 10) {
            seeker().tick(t);
            out = seeker().take_outgoing();
            if (!out.empty()) sent_at = t;
        }
        ASSERT_NE(sent_at, 0) << "retry " << n << " never came";
        ASSERT_EQ(out.size(), 1u);
        EXPECT_NE(out[0].find("\"seq\":1"), std::string::npos);
        now = sent_at;
    }
}

} // namespace

namespace {

TEST(ChatSessionQueued, EstimateMayBeNull) {
    auto s = kindred::client::chat_session::seeker();
    s.on_frame(R"({"type":"queued","position":2,"estimated_wait_s":null})", 0);
    s.on_frame(R"({"type":"queued","position":1,"estimated_wait_s":40})", 0);
    auto evs = s.take_events();
    ASSERT_EQ(evs.size(), 2u);
    auto* a = std::get_if<ev::queued>(&evs[0]);
    auto* b = std::get_if<ev::queued>(&evs[1]);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->position, 2);
    EXPECT_FALSE(a->estimated_wait_s.has_value());
    EXPECT_EQ(b->estimated_wait_s, 40);
}

TEST(ChatSessionFrames, MalformedFramesBecomeErrorEventsNotExceptions) {
    auto s = kindred::client::chat_session::seeker();
    s.on_frame("not json", 0);
    s.on_frame(R"({"type":"message","conversation_id":5})", 0);
    s.on_frame(R"({"type":"some_future_event"})", 0);
    auto evs = s.take_events();
    ASSERT_EQ(evs.size(), 2u); // unknown event types are ignored
    EXPECT_TRUE(std::holds_alternative<ev::error>(evs[0]));
    EXPECT_TRUE(std::holds_alternative<ev::error>(evs[1]));
}

} // namespace

namespace {

TEST(ChatSessionPrekeys, DerivedPrekeysSurviveARestart) {
    e2e::seed identity_seed;
    identity_seed.data()[0] = 7;
    const auto prekey_seed = kindred::client::derive_prekey_seed(identity_seed);
    auto make = [&](std::uint64_t index) {
        kindred::client::peer_setup setup;
        setup.token = "t";
        setup.identity = e2e::identity_key_pair_from_seed(identity_seed.view());
        setup.prekey_batch = 3;
        setup.prekey_seed = prekey_seed;
        setup.prekey_index = index;
        return chat_session::peer(std::move(setup));
    };
    // First run: hello, register_identity, then 3 derived prekeys (indices 0..2) are reserved.
    auto first = make(0);
    first.on_connected(0);
    auto hello = first.take_outgoing();
    ASSERT_EQ(hello.size(), 1u);
    auto re = [](const std::string& frame) {
        return std::string(boost::json::parse(frame).as_object().at("id").as_string());
    };
    first.on_frame(R"({"type":"ok","re":")" + re(hello[0]) +
                       R"(","session":"s","role":"peer","resume_token":"r","conversations":[]})",
                   0);
    auto reg = first.take_outgoing();
    ASSERT_EQ(reg.size(), 1u);
    first.on_frame(R"({"type":"ok","re":")" + re(reg[0]) + R"("})", 0);
    bool reserved = false;
    for (const auto& e : first.take_events()) {
        if (auto* r = std::get_if<ev::prekeys_reserved>(&e)) {
            EXPECT_EQ(r->next_index, 3u);
            reserved = true;
        }
    }
    EXPECT_TRUE(reserved);
    auto upload = first.take_outgoing();
    ASSERT_EQ(upload.size(), 1u);
    const auto k1 = kindred::client::derive_prekey(prekey_seed, 1).public_key;
    EXPECT_NE(upload[0].find(protocol::base64_encode(k1)), std::string::npos);

    // A second run that knows the next index still holds prekey 1 when the server names it.
    auto second = make(3);
    EXPECT_EQ(second.prekeys_in_store(), 3u);
    const auto seeker_keys = e2e::generate_kx_key_pair();
    protocol::peer_matched pm{
        "conv-9", k1,
        protocol::matched_seeker{
            seeker_keys.public_key, {"grief"}, {"grief"}, 1, protocol::risk::none},
        std::nullopt};
    second.on_frame(protocol::encode_event(pm), 0);
    auto evs = second.take_events();
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<ev::matched>(evs[0])) << kindred::client::describe(evs[0]);
    EXPECT_EQ(second.prekeys_in_store(), 2u);
}

} // namespace
