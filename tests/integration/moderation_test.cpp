// moderation_test.cpp — issue #5 against real kindred-server processes (two instances sharing
// one real Redis): escalations reach every moderator on duty on either instance, are re-paged
// until acknowledged also after their instance is killed, acknowledge/resolve races have one
// winner, a moderator joins a three-party conversation, the private peer → moderator channel
// never reaches the seeker, a report's excerpt opens only for its moderator, blocks and bans
// hold, floods never hold up an escalation, triage escalations follow the seeker into its
// conversation, a peer cools down after a high escalation, and the audit chain covers it all.
#include "integration_support.hpp"
#include <kindred/client/e2e.hpp>
#include <kindred/protocol/base64.hpp>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <set>
#include <thread>

namespace kindred::itest {
namespace {

namespace json = boost::json;
namespace e2e = kindred::client::e2e;
namespace kp = kindred::protocol;

// Short deadlines so re-paging shows within the test; cooldown short enough to wait out.
const std::vector<std::string> moderation_args{"--imminent-ack-s",  "1", "--high-ack-s", "2",
                                               "--peer-cooldown-s", "4"};

struct on_duty {
    std::string name;
    ws_client ws;
    e2e::kx_key_pair keys;
};

std::string device_b64(std::uint8_t fill) {
    std::array<std::uint8_t, 32> d{};
    d.fill(fill);
    d[0] = 0x4b;
    return b64(d);
}

std::string seeker_hello(std::string_view device, std::string_view id = "1") {
    json::object o{{"type", "hello"}, {"id", id}, {"v", 1}, {"role", "seeker"}};
    if (!device.empty()) o["device"] = device;
    return json::serialize(o);
}

// Sealed with crypto_box_seal to `to`: {"text": text}.
std::string seal_text(const kp::x25519_public_key& to, std::string_view text) {
    const std::string plain = e2e::text_json(text);
    std::vector<std::uint8_t> out(plain.size() + crypto_box_SEALBYTES);
    crypto_box_seal(out.data(), reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                    to.data());
    return b64(out);
}

std::optional<std::string> open_text(const e2e::kx_key_pair& keys, std::string_view sealed_b64) {
    auto sealed = kp::base64_decode(sealed_b64);
    if (!sealed || sealed->size() < crypto_box_SEALBYTES) return std::nullopt;
    std::string plain(sealed->size() - crypto_box_SEALBYTES, '\0');
    if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(plain.data()), sealed->data(),
                             sealed->size(), keys.public_key.data(), keys.secret_key.data()) != 0)
        return std::nullopt;
    auto t = e2e::parse_text_json(plain);
    if (!t) return std::nullopt;
    return *t;
}

// The next `escalation` event whose escalation satisfies pred (others are skipped).
json::object next_escalation(ws_client& ws, const std::function<bool(const json::object&)>& pred) {
    for (int i = 0; i < 60; ++i) {
        auto ev = wait_for(ws, "escalation");
        if (ev.empty()) return {};
        const auto& e = ev.at("escalation").as_object();
        if (pred(e)) return e;
    }
    ADD_FAILURE() << "no matching escalation";
    return {};
}

json::object escalation_with_id(ws_client& ws, const std::string& id) {
    return next_escalation(ws, [&](const json::object& e) { return str(e, "id") == id; });
}

class Moderation : public relay_fixture {
protected:
    on_duty moderator(const std::string& name, unsigned short on_port) {
        on_duty m;
        m.name = name;
        const auto pw = add_staff(name, "moderator");
        m.ws = staff_socket("moderator", login(name, pw), on_port);
        m.keys = e2e::generate_kx_key_pair();
        auto frames = m.ws.request(R"({"type":"watch","id":"w","pubkey":")" +
                                   b64(m.keys.public_key) + R"("})");
        EXPECT_FALSE(frames.empty());
        if (!frames.empty()) expect_ok(frames.front(), "w");
        return m;
    }

    // An escalate from `ws`; returns the escalation id ("" after recording a failure).
    static std::string escalate(ws_client& ws, const std::string& conversation,
                                std::string_view level, json::array excerpts = {},
                                std::string_view id = "e") {
        json::object o{{"type", "escalate"},
                       {"id", id},
                       {"level", level},
                       {"category", "suicide_risk"},
                       {"excerpts", std::move(excerpts)}};
        o["conversation_id"] =
            conversation.empty() ? json::value(nullptr) : json::value(conversation);
        for (int i = 0; i < 20; ++i) {
            auto f = ws.receive(std::chrono::milliseconds(1)); // drop stale frames
            if (!f.is_text()) break;
        }
        auto frames = ws.request(json::serialize(o));
        auto ok = expect_ok(last(frames), id);
        return str(ok, "escalation_id");
    }

    static std::vector<kp::moderator_key> keys_of(ws_client& ws) {
        auto ok = expect_ok(last(ws.request(R"({"type":"moderator_keys","id":"mk"})")), "mk");
        std::vector<kp::moderator_key> out;
        if (!ok.contains("keys")) return out;
        for (const auto& k : ok.at("keys").as_array()) {
            kp::moderator_key mk;
            mk.moderator_id = str(k.as_object(), "moderator_id");
            auto raw = kp::base64_decode(str(k.as_object(), "pubkey"));
            if (raw && raw->size() == mk.pubkey.size())
                std::copy(raw->begin(), raw->end(), mk.pubkey.begin());
            out.push_back(mk);
        }
        return out;
    }

    static json::array excerpts_json(const std::vector<kp::excerpt>& ex) {
        json::array a;
        for (const auto& x : ex)
            a.push_back(json::object{{"moderator_id", x.moderator_id}, {"sealed", b64(x.sealed)}});
        return a;
    }
};

TEST_F(Moderation, PanicWhileQueuedReachesModeratorsOnBothInstances) {
    start_server(moderation_args);
    auto second = another_server(moderation_args);
    auto a = moderator("mara", port());
    auto b = moderator("milo", second->port());

    auto s = seeker();
    auto pub = e2e::generate_kx_key_pair().public_key;
    expect_ok(last(s.request(R"({"type":"request_match","id":"m","tags":["grief"],)"
                             R"("languages":["en"],"pubkey":")" +
                             b64(pub) + R"("})")),
              "m");
    const auto id = escalate(s, "", "imminent");
    ASSERT_EQ(id.size(), 32u);
    for (auto* m : {&a, &b}) {
        auto e = escalation_with_id(m->ws, id);
        EXPECT_EQ(str(e, "level"), "imminent");
        EXPECT_EQ(str(e, "category"), "suicide_risk");
        EXPECT_EQ(str(e, "source"), "seeker");
        EXPECT_EQ(str(e, "state"), "open");
        EXPECT_TRUE(e.at("conversation_id").is_null());
        EXPECT_TRUE(e.at("acknowledged_by").is_null());
    }
    // moderator_keys lists both consoles' keys.
    auto keys = keys_of(s);
    std::set<std::string> names;
    for (const auto& k : keys)
        names.insert(k.moderator_id);
    EXPECT_EQ(names, (std::set<std::string>{"mara", "milo"}));
    // A watch later replays it.
    auto late = moderator("mona", second->port());
    auto e = escalation_with_id(late.ws, id);
    EXPECT_EQ(str(e, "state"), "open");
}

TEST_F(Moderation, RepagedUntilAcknowledgedEvenAfterItsInstanceIsKilled) {
    start_server(moderation_args);
    auto second = another_server(moderation_args);
    auto watcher = moderator("mara", second->port());
    auto s = seeker(); // on the first instance, which creates the escalation
    const auto id = escalate(s, "", "imminent");
    ASSERT_FALSE(id.empty());
    auto first = escalation_with_id(watcher.ws, id);
    EXPECT_EQ(first.at("repaged").as_int64(), 0);
    auto once = next_escalation(watcher.ws, [&](const json::object& e) {
        return str(e, "id") == id && e.at("repaged").as_int64() >= 1;
    });
    ASSERT_FALSE(once.empty());

    server_->kill9(); // the instance that created it is gone
    auto later = next_escalation(watcher.ws, [&](const json::object& e) {
        return str(e, "id") == id && e.at("repaged").as_int64() >= 3;
    });
    ASSERT_FALSE(later.empty());
    EXPECT_EQ(str(later, "state"), "open");

    expect_ok(last(watcher.ws.request(R"({"type":"acknowledge","id":"a","escalation_id":")" + id +
                                      R"("})")),
              "a");
    auto acked = next_escalation(watcher.ws, [&](const json::object& e) {
        return str(e, "id") == id && str(e, "state") == "acknowledged";
    });
    EXPECT_EQ(str(acked, "acknowledged_by"), "mara");
    // No re-page after the acknowledgement (three deadlines pass in silence).
    const auto repaged = acked.at("repaged").as_int64();
    for (;;) {
        auto f = watcher.ws.receive(3500ms);
        if (!f.is_text()) break;
        auto o = object_of(f);
        if (str(o, "type") != "escalation") continue;
        EXPECT_LE(o.at("escalation").as_object().at("repaged").as_int64(), repaged);
    }
    const auto audit = dump_redis(redis_);
    EXPECT_NE(audit.find("escalation.repage"), std::string::npos);
    EXPECT_NE(audit.find("escalation.acknowledge"), std::string::npos);
}

TEST_F(Moderation, AcknowledgeAndResolveRacesHaveExactlyOneWinner) {
    start_server(moderation_args);
    auto second = another_server(moderation_args);
    auto a = moderator("mara", port());
    auto b = moderator("milo", second->port());
    auto s = seeker();
    for (int round = 0; round < 4; ++round) {
        const auto id = escalate(s, "", "high", {}, "e" + std::to_string(round));
        ASSERT_FALSE(id.empty());
        for (const auto* verb : {"acknowledge", "resolve"}) {
            json::object msg{{"type", verb}, {"id", "x"}, {"escalation_id", id}};
            if (std::string_view(verb) == "resolve") msg["outcome"] = "de_escalated";
            const auto text = json::serialize(msg);
            ASSERT_FALSE(a.ws.send_text(text));
            ASSERT_FALSE(b.ws.send_text(text));
            int oks = 0, conflicts = 0;
            for (auto* m : {&a, &b}) {
                for (int i = 0; i < 50; ++i) {
                    auto f = m->ws.receive(10s);
                    ASSERT_TRUE(f.is_text()) << kindred::client::describe(f);
                    auto o = object_of(f);
                    if (str(o, "re") != "x") continue;
                    if (str(o, "type") == "ok") ++oks;
                    if (str(o, "type") == "error" && str(o, "code") == "conflict") ++conflicts;
                    break;
                }
            }
            EXPECT_EQ(oks, 1) << verb << " round " << round;
            EXPECT_EQ(conflicts, 1) << verb << " round " << round;
        }
    }
    auto unknown = last(a.ws.request(
        R"({"type":"acknowledge","id":"u","escalation_id":"0123456789abcdef0123456789abcdef"})"));
    expect_error(unknown, "not_found", "u");
}

TEST_F(Moderation, JoinMakesAThreePartyConversationBothPartiesAreTold) {
    start_server(moderation_args);
    auto second = another_server(moderation_args);
    auto mod = moderator("mara", second->port());
    auto peer = ready_peer(port());
    auto s = seeker();
    auto c = match(s, peer);
    ASSERT_FALSE(c.conversation_id.empty());

    // The peer escalates with an excerpt sealed to the moderator on duty.
    auto keys = keys_of(peer);
    ASSERT_EQ(keys.size(), 1u);
    e2e::excerpt_content content{c.conversation_id, {{1, e2e::role::seeker, "excerpt text"}}};
    auto sealed = e2e::seal_excerpts(keys, content);
    ASSERT_TRUE(sealed);
    const auto id = escalate(peer, c.conversation_id, "high", excerpts_json(*sealed));
    auto e = escalation_with_id(mod.ws, id);
    EXPECT_EQ(str(e, "source"), "peer");
    EXPECT_EQ(str(e, "conversation_id"), c.conversation_id);
    ASSERT_EQ(e.at("excerpts").as_array().size(), 1u);
    auto raw = kp::base64_decode(str(e.at("excerpts").as_array()[0].as_object(), "sealed"));
    ASSERT_TRUE(raw);
    auto opened = e2e::open_excerpt(mod.keys, *raw);
    ASSERT_TRUE(opened);
    EXPECT_EQ(*opened, content);

    // Join with a fresh key pair.
    auto join_keys = e2e::generate_kx_key_pair();
    auto ok = expect_ok(
        last(mod.ws.request(R"({"type":"join","id":"j","conversation_id":")" + c.conversation_id +
                            R"(","pubkey":")" + b64(join_keys.public_key) + R"("})")),
        "j");
    auto decode_key = [](const std::string& text) {
        kp::x25519_public_key k{};
        auto r = kp::base64_decode(text);
        if (r && r->size() == k.size()) std::copy(r->begin(), r->end(), k.begin());
        return k;
    };
    const auto seeker_pub = decode_key(str(ok, "seeker_pubkey"));
    const auto peer_prekey = decode_key(str(ok, "peer_prekey"));
    EXPECT_EQ(seeker_pub, c.seeker_keys.public_key);
    auto mc = e2e::conversation_crypto::for_moderator(c.conversation_id, join_keys, seeker_pub,
                                                      peer_prekey);
    ASSERT_TRUE(mc);
    for (auto* party : {&s, &peer}) {
        auto j = wait_for(*party, "joined");
        EXPECT_EQ(str(j, "conversation_id"), c.conversation_id);
        EXPECT_EQ(str(j.at("moderator").as_object(), "pubkey"), b64(join_keys.public_key));
    }
    ASSERT_TRUE(c.seeker_crypto->add_moderator(join_keys.public_key));
    ASSERT_TRUE(c.peer_crypto->add_moderator(join_keys.public_key));

    // A copy for the peer only is no longer enough.
    auto send1 = c.seeker_crypto->make_send(1, "hello both");
    ASSERT_TRUE(send1);
    EXPECT_EQ(send1->copies.size(), 2u);
    expect_ok(last(s.request(kp::encode_client_message(*send1, "s1"))), "s1");
    for (auto* rx : {&peer, &mod.ws}) {
        auto ev = event_of<kp::message_event>(next_of(*rx, "message"));
        auto& crypto = rx == &peer ? *c.peer_crypto : *mc;
        auto text = crypto.decrypt(ev);
        ASSERT_TRUE(text) << "recipient could not decrypt";
        EXPECT_EQ(*text, "hello both");
    }
    auto send2 = mc->make_send(1, "moderator here");
    ASSERT_TRUE(send2);
    EXPECT_EQ(send2->copies.size(), 2u);
    expect_ok(last(mod.ws.request(kp::encode_client_message(*send2, "s2"))), "s2");
    auto to_seeker = event_of<kp::message_event>(next_of(s, "message"));
    auto st = c.seeker_crypto->decrypt(to_seeker);
    ASSERT_TRUE(st);
    EXPECT_EQ(*st, "moderator here");
    auto to_peer = event_of<kp::message_event>(next_of(peer, "message"));
    auto pt = c.peer_crypto->decrypt(to_peer);
    ASSERT_TRUE(pt);
    EXPECT_EQ(*pt, "moderator here");

    // The old two-party send is refused.
    auto stale = kp::send{c.conversation_id, 2, {send1->copies.front()}};
    expect_error(last(s.request(kp::encode_client_message(stale, "s3"))), "bad_message", "s3");

    // A reloaded console joins again with a fresh key: both parties are told the new key.
    auto again_keys = e2e::generate_kx_key_pair();
    expect_ok(last(mod.ws.request(R"({"type":"join","id":"j3","conversation_id":")" +
                                  c.conversation_id + R"(","pubkey":")" +
                                  b64(again_keys.public_key) + R"("})")),
              "j3");
    for (auto* party : {&s, &peer}) {
        auto j = wait_for(*party, "joined");
        EXPECT_EQ(str(j.at("moderator").as_object(), "pubkey"), b64(again_keys.public_key));
    }

    // A conversation without an escalation cannot be joined.
    auto other = last(mod.ws.request(
        R"({"type":"join","id":"j2","conversation_id":"AAAAAAAAAAAAAAAAAAAAAA","pubkey":")" +
        b64(join_keys.public_key) + R"("})"));
    expect_error(other, "not_found", "j2");
}

TEST_F(Moderation, ConsultReachesModeratorsButNeverTheSeeker) {
    start_server(moderation_args);
    auto mod = moderator("mara", port());
    auto peer = ready_peer(port());
    auto s = seeker();
    auto c = match(s, peer);
    ASSERT_FALSE(c.conversation_id.empty());

    auto reply_keys = e2e::generate_kx_key_pair();
    json::object consult{
        {"type", "consult"},
        {"id", "c"},
        {"conversation_id", c.conversation_id},
        {"pubkey", b64(reply_keys.public_key)},
        {"copies", json::array{json::object{
                       {"moderator_id", "mara"},
                       {"sealed", seal_text(mod.keys.public_key, "second opinion please")}}}}};
    auto ok = expect_ok(last(peer.request(json::serialize(consult))), "c");
    const auto consult_id = str(ok, "consult_id");
    ASSERT_FALSE(consult_id.empty());

    auto got = wait_for(mod.ws, "consult");
    EXPECT_EQ(str(got, "consult_id"), consult_id);
    EXPECT_EQ(str(got, "peer"), "river");
    EXPECT_EQ(str(got, "conversation_id"), c.conversation_id);
    EXPECT_EQ(open_text(mod.keys, str(got, "sealed")).value_or(""), "second opinion please");

    json::object reply{{"type", "consult_reply"},
                       {"id", "r"},
                       {"consult_id", consult_id},
                       {"sealed", seal_text(reply_keys.public_key, "escalate it")}};
    expect_ok(last(mod.ws.request(json::serialize(reply))), "r");
    auto back = wait_for(peer, "consult_reply");
    EXPECT_EQ(str(back, "consult_id"), consult_id);
    EXPECT_EQ(str(back, "moderator"), "mara");
    EXPECT_EQ(open_text(reply_keys, str(back, "sealed")).value_or(""), "escalate it");

    // The seeker saw none of it: everything before its pong is checked.
    ASSERT_FALSE(s.send_text(R"({"type":"ping"})"));
    for (int i = 0; i < 50; ++i) {
        auto f = s.receive(5s);
        ASSERT_TRUE(f.is_text());
        auto o = object_of(f);
        EXPECT_NE(str(o, "type"), "consult");
        EXPECT_NE(str(o, "type"), "consult_reply");
        if (str(o, "type") == "pong") break;
    }
    // Seekers may not consult; moderators may not send consult.
    expect_error(last(s.request(json::serialize(consult))), "forbidden", "c");
}

TEST_F(Moderation, ReportExcerptOpensOnlyForTheAddressedModerator) {
    start_server(moderation_args);
    auto a = moderator("mara", port());
    auto b = moderator("milo", port());
    auto peer = ready_peer(port());
    auto s = seeker();
    auto c = match(s, peer);
    ASSERT_FALSE(c.conversation_id.empty());

    auto keys = keys_of(s);
    std::vector<kp::moderator_key> only_mara;
    for (const auto& k : keys)
        if (k.moderator_id == "mara") only_mara.push_back(k);
    ASSERT_EQ(only_mara.size(), 1u);
    e2e::excerpt_content content{c.conversation_id, {{1, e2e::role::peer, "what was said"}}};
    auto sealed = e2e::seal_excerpts(only_mara, content);
    ASSERT_TRUE(sealed);
    json::object report{{"type", "report"},
                        {"id", "rp"},
                        {"conversation_id", c.conversation_id},
                        {"reason", "harassment"},
                        {"excerpts", excerpts_json(*sealed)}};
    auto ok = expect_ok(last(s.request(json::serialize(report))), "rp");
    const auto id = str(ok, "escalation_id");
    ASSERT_FALSE(id.empty());

    auto ea = escalation_with_id(a.ws, id);
    EXPECT_EQ(str(ea, "source"), "report");
    EXPECT_EQ(str(ea, "reason"), "harassment");
    ASSERT_EQ(ea.at("excerpts").as_array().size(), 1u);
    auto raw = kp::base64_decode(str(ea.at("excerpts").as_array()[0].as_object(), "sealed"));
    ASSERT_TRUE(raw);
    EXPECT_TRUE(e2e::open_excerpt(a.keys, *raw));
    EXPECT_FALSE(e2e::open_excerpt(b.keys, *raw)); // milo's key cannot open mara's copy
    auto eb = escalation_with_id(b.ws, id);
    EXPECT_TRUE(eb.at("excerpts").as_array().empty());

    // Someone else's conversation: not_found.
    auto outsider = seeker();
    report["id"] = "rx";
    expect_error(last(outsider.request(json::serialize(report))), "not_found", "rx");
}

TEST_F(Moderation, BlockedDeviceIsNeverMatchedWithThatPeerAgain) {
    start_server(moderation_args);
    auto peer = ready_peer(port(), 2);
    const auto device = device_b64(7);
    auto first = connect();
    expect_ok(last(first.request(seeker_hello(device))), "1");
    auto c = match(first, peer);
    ASSERT_FALSE(c.conversation_id.empty());
    expect_ok(last(peer.request(R"({"type":"block","id":"b","conversation_id":")" +
                                c.conversation_id + R"("})")),
              "b");
    expect_ok(last(peer.request(R"({"type":"end","id":"x","conversation_id":")" +
                                c.conversation_id + R"("})")),
              "x");
    first.close();

    // The same device in a new session waits although the peer has room...
    auto again = connect();
    expect_ok(last(again.request(seeker_hello(device))), "1");
    auto pub = e2e::generate_kx_key_pair().public_key;
    const auto request = R"({"type":"request_match","id":"m","tags":["grief"],)"
                         R"("languages":["en"],"pubkey":")" +
                         b64(pub) + R"("})";
    expect_ok(last(again.request(request)), "m");
    // ...while another device right after it is matched with that peer.
    auto other = connect();
    expect_ok(last(other.request(seeker_hello(device_b64(9)))), "1");
    auto c2 = match(other, peer);
    EXPECT_FALSE(c2.conversation_id.empty());
    for (;;) {
        auto f = again.receive(1500ms);
        if (!f.is_text()) break;
        EXPECT_NE(str(object_of(f), "type"), "matched");
    }
}

TEST_F(Moderation, BanClosesTheSeekerEverywhereAndRefusesItsDevice) {
    start_server(moderation_args);
    auto second = another_server(moderation_args);
    auto mod = moderator("mara", second->port());
    auto peer = ready_peer(port());
    const auto device = device_b64(3);
    auto s = connect();
    auto h = s.request(seeker_hello(device));
    auto hello_ok = expect_ok(last(h), "1");
    const auto resume = str(hello_ok, "resume_token");
    auto c = match(s, peer);
    ASSERT_FALSE(c.conversation_id.empty());

    // No escalation yet: a ban is not_found.
    const auto ban = R"({"type":"ban","id":"b","conversation_id":")" + c.conversation_id +
                     R"(","party":"seeker","duration_s":600})";
    expect_error(last(mod.ws.request(ban)), "not_found", "b");

    const auto id = escalate(peer, c.conversation_id, "medium");
    escalation_with_id(mod.ws, id);
    expect_ok(last(mod.ws.request(ban)), "b");
    // The seeker's socket (on the other instance) closes 4005; the peer hears the end.
    for (int i = 0; i < 50; ++i) {
        auto f = s.receive(10s);
        if (f.is_close()) {
            EXPECT_EQ(f.close_code, 4005);
            break;
        }
        ASSERT_TRUE(f.is_text()) << kindred::client::describe(f);
    }
    auto ended = wait_for(peer, "ended");
    EXPECT_EQ(str(ended, "reason"), "banned");

    // The same device is refused; so is the old session's resume.
    auto back = connect();
    auto refused = back.request(seeker_hello(device));
    expect_error(refused.front(), "forbidden", "1");
    auto resumed = connect();
    expect_error(resumed.request(resume_json(resume)).front(), "forbidden", "1");
    // Another device is welcome.
    auto fresh = connect();
    expect_ok(last(fresh.request(seeker_hello(device_b64(4)))), "1");
    EXPECT_NE(dump_redis(redis_).find("ban.seeker"), std::string::npos);
}

TEST_F(Moderation, FloodingNeverHoldsUpAnEscalation) {
    start_server(moderation_args);
    auto mod = moderator("mara", port());
    auto flooder = seeker();
    // Exhaust the general bucket: pings beyond the burst are refused...
    bool limited = false;
    for (int i = 0; i < 60; ++i)
        ASSERT_FALSE(flooder.send_text(R"({"type":"ping","id":"p"})"));
    for (int i = 0; i < 200; ++i) {
        auto f = flooder.receive(2s);
        if (!f.is_text()) break;
        auto o = object_of(f);
        if (str(o, "code") == "rate_limited") limited = true;
        if (str(o, "type") == "ok" && str(o, "re") == "p") continue;
    }
    EXPECT_TRUE(limited);
    // ...but the escalation lane is its own.
    const auto id = escalate(flooder, "", "imminent");
    ASSERT_FALSE(id.empty());
    escalation_with_id(mod.ws, id);

    // A client that keeps flooding is closed with 1008; the others are unaffected.
    auto bystander = seeker();
    auto persistent = seeker();
    for (int i = 0; i < 400; ++i)
        if (persistent.send_text(R"({"type":"ping"})")) break;
    bool closed = false;
    for (int i = 0; i < 1000; ++i) {
        auto f = persistent.receive(5s);
        if (f.is_close()) {
            EXPECT_EQ(f.close_code, 1008);
            closed = true;
            break;
        }
        if (!f.is_text()) break;
    }
    EXPECT_TRUE(closed);
    const auto other = escalate(bystander, "", "high", {}, "e2");
    escalation_with_id(mod.ws, other);
}

TEST_F(Moderation, TriageEscalationFollowsTheSeekerIntoItsConversation) {
    start_server(moderation_args);
    auto mod = moderator("mara", port());
    auto s = seeker();
    auto keys = e2e::generate_kx_key_pair();
    expect_ok(last(s.request(R"({"type":"request_match","id":"m","tags":["grief"],)"
                             R"("languages":["en"],"pubkey":")" +
                             b64(keys.public_key) +
                             R"(","intake":"I wrote my suicide note and put it on the desk"})")),
              "m");
    auto e =
        next_escalation(mod.ws, [](const json::object& x) { return str(x, "source") == "triage"; });
    ASSERT_FALSE(e.empty());
    EXPECT_EQ(str(e, "level"), "imminent");
    EXPECT_EQ(str(e, "category"), "suicide_risk");
    EXPECT_TRUE(e.at("conversation_id").is_null());
    const auto id = str(e, "id");

    auto peer = ready_peer(port());
    auto pm = wait_for(peer, "matched");
    const auto conversation = str(pm, "conversation_id");
    auto linked = next_escalation(mod.ws, [&](const json::object& x) {
        return str(x, "id") == id && x.at("conversation_id").is_string();
    });
    EXPECT_EQ(str(linked, "conversation_id"), conversation);
    // The intake text went nowhere but to the peer.
    EXPECT_EQ(dump_redis(redis_).find("suicide note"), std::string::npos);
    EXPECT_EQ(server_->log().find("suicide note"), std::string::npos);
}

TEST_F(Moderation, PeerCoolsDownAfterAHighEscalation) {
    start_server(moderation_args);
    auto peer = ready_peer(port(), 2);
    auto s1 = seeker();
    auto c = match(s1, peer);
    ASSERT_FALSE(c.conversation_id.empty());
    escalate(peer, c.conversation_id, "high");
    expect_ok(last(s1.request(R"({"type":"end","id":"x","conversation_id":")" + c.conversation_id +
                              R"("})")),
              "x");
    const std::string cooldown_key = "m:{match}:cooldown:river";
    ASSERT_TRUE(testsupport::eventually(
        [&] {
            return redis_.command({"EXISTS", cooldown_key}) == "1";
        },
        10s));

    auto s2 = seeker();
    auto pub = e2e::generate_kx_key_pair().public_key;
    expect_ok(last(s2.request(R"({"type":"request_match","id":"m","tags":["grief"],)"
                              R"("languages":["en"],"pubkey":")" +
                              b64(pub) + R"("})")),
              "m");
    auto matched = wait_for(s2, "matched"); // after the cooldown
    ASSERT_FALSE(matched.empty());
    EXPECT_EQ(redis_.command({"EXISTS", cooldown_key}), "0");
}

TEST_F(Moderation, AuditChainCoversModerationActionsAndVerifies) {
    start_server(moderation_args);
    auto mod = moderator("mara", port());
    auto s = seeker();
    const auto id = escalate(s, "", "imminent");
    escalation_with_id(mod.ws, id);
    expect_ok(
        last(mod.ws.request(R"({"type":"acknowledge","id":"a","escalation_id":")" + id + R"("})")),
        "a");
    expect_ok(last(mod.ws.request(R"({"type":"resolve","id":"r","escalation_id":")" + id +
                                  R"(","outcome":"referred"})")),
              "r");
    auto tail =
        kindredctl(redis_.unix_address(), server_->config_path(), {"audit", "tail", "-n", "20"});
    EXPECT_EQ(tail.code, 0) << tail.output;
    for (const auto* action : {"escalation.create", "escalation.acknowledge", "escalation.resolve"})
        EXPECT_NE(tail.output.find(action), std::string::npos) << action << "\n" << tail.output;
    auto verify = kindredctl(redis_.unix_address(), server_->config_path(), {"audit", "verify"});
    EXPECT_EQ(verify.code, 0) << verify.output;
    // Delete the newest entry (the resolve): the chain no longer reaches its head.
    const auto newest = redis_.command({"XREVRANGE", "audit", "+", "-", "COUNT", "1"});
    const auto entry_id = newest.substr(0, newest.find('\n'));
    ASSERT_EQ(redis_.command({"XDEL", "audit", entry_id}), "1");
    auto tampered = kindredctl(redis_.unix_address(), server_->config_path(), {"audit", "verify"});
    EXPECT_EQ(tampered.code, 6) << tampered.output;
}

} // namespace
} // namespace kindred::itest
