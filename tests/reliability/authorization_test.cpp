// authorization_test.cpp — issue #8 item 2: every client message type × every role (seeker,
// peer, moderator, and no hello yet) × own / foreign / nonexistent conversation, table-driven
// against a real kindred-server; the only answer is the contract's, and zero bytes about a
// conversation reach a socket that is not its member.
#include "integration_support.hpp"

#include <sodium.h>

#include <cstdio>
#include <set>

namespace kindred::itest {
namespace {

namespace json = boost::json;

enum class target { none, own, foreign, missing };
const char* name_of(target t) {
    switch (t) {
    case target::none:
        return "-";
    case target::own:
        return "own";
    case target::foreign:
        return "foreign";
    case target::missing:
        return "nonexistent";
    }
    return "?";
}

// Every client message type of the contract (protocol/README.md §4).
const std::vector<std::string> all_types{
    "hello",       "ping",        "request_match", "cancel_match", "prekeys",  "register_identity",
    "shift_start", "shift_pause", "shift_resume",  "shift_end",    "send",     "receipt",
    "typing",      "sync",        "end",           "transfer",     "escalate", "moderator_keys",
    "report",      "block",       "watch",         "acknowledge",  "resolve",  "join",
    "ban",         "unwatch",     "consult",       "consult_reply"};

// Types that name a conversation (consult and escalate may also name none).
const std::set<std::string> conversation_types{"send",  "receipt",  "typing",   "sync",
                                               "end",   "transfer", "escalate", "report",
                                               "block", "join",     "ban",      "consult"};
// Types whose success on the own conversation ends it: tested last, each on a fresh one.
const std::set<std::string> ending_types{"end", "transfer", "ban"};

// Who may send what (protocol/README.md §7 "Role checks", server/README.md).
bool may_send(const std::string& role, const std::string& type) {
    static const std::set<std::string> any{"hello", "ping", "send",     "receipt",       "typing",
                                           "sync",  "end",  "escalate", "moderator_keys"};
    static const std::set<std::string> seeker{"request_match", "cancel_match", "report"};
    static const std::set<std::string> peer{
        "prekeys",   "register_identity", "shift_start", "shift_pause", "shift_resume",
        "shift_end", "transfer",          "block",       "report",      "consult"};
    static const std::set<std::string> moderator{"watch", "unwatch", "acknowledge",  "resolve",
                                                 "join",  "ban",     "consult_reply"};
    if (any.count(type)) return !(role == "moderator" && type == "escalate");
    if (role == "seeker") return seeker.count(type) > 0;
    if (role == "peer") return peer.count(type) > 0;
    return moderator.count(type) > 0;
}

// The contract's answer for a role that may send `type` to its own conversation (or with no
// conversation): "ok" or the documented error for the state this test sets up.
std::string own_answer(const std::string& role, const std::string& type) {
    if (type == "hello") return "conflict";                             // second hello
    if (type == "request_match" && role == "seeker") return "conflict"; // in a conversation
    if (type == "cancel_match" && role == "seeker") return "not_found"; // nothing waiting
    return "ok";
}

struct party {
    party(std::string r, std::string n)
        : role(std::move(r))
        , name(std::move(n)) {}
    std::string role;
    std::string name; // staff username ("" for the seeker)
    ws_client ws;
    std::string session;
    int seq = 0;
    std::vector<ws_frame> seen; // every frame this socket received
};

class Authorization : public integration_test {
protected:
    ed25519_pair river_identity_;
    ed25519_pair lake_identity_;
    std::string mod_pubkey_ = rand_b64(32);
    std::string escalation_id_; // an open escalation on A (from the setup)
    std::string consult_id_;    // set by the peer's own `consult`
    std::string conv_a_, conv_b_;
    int next_id_ = 0;

    void SetUp() override {
        start_server({"--messages-per-second", "1000", "--message-burst", "1000", "--send-burst",
                      "1000", "--typing-burst", "1000", "--escalate-burst", "1000",
                      "--report-burst", "1000", "--consult-burst", "1000", "--request-match-burst",
                      "1000", "--escalation-lane-burst", "1000"});
    }

    // A certified peer on shift (capacity 1) with 30 signed prekeys.
    party make_peer(const std::string& name, const ed25519_pair& identity) {
        party p{"peer", name};
        const auto pw = add_staff(name, "peer");
        auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                            {"user", "certify", name, "--tags", "grief", "--until", "2099-01-01"});
        EXPECT_EQ(r.code, 0) << r.output;
        hello_result h;
        p.ws = staff_socket("peer", login(name, pw), 0, &h);
        p.session = h.session;
        expect_ok(last(p.ws.request(R"({"type":"register_identity","id":"r","identity_key":")" +
                                    b64(identity.pk) + R"("})")),
                  "r");
        std::string keys;
        for (int i = 0; i < 30; ++i)
            keys += (i ? "," : "") + prekey_json(identity);
        expect_ok(last(p.ws.request(R"({"type":"prekeys","id":"k","keys":[)" + keys + "]}")), "k");
        expect_ok(
            last(p.ws.request(
                R"({"type":"shift_start","id":"s","capacity":1,"tags":["grief"],"languages":["en"]})")),
            "s");
        return p;
    }

    party make_seeker() {
        party s{"seeker", ""};
        hello_result h;
        s.ws = seeker(&h);
        s.session = h.session;
        return s;
    }

    // request_match from the seeker; the conversation id both sides were given.
    std::string match(party& s, party& p) {
        json::object rm{{"type", "request_match"},
                        {"id", "m"},
                        {"tags", {"grief"}},
                        {"languages", {"en"}},
                        {"pubkey", rand_b64(32)}};
        expect_ok(last(s.ws.request(json::serialize(rm))), "m");
        auto sm = wait_for(s.ws, "matched");
        auto pm = wait_for(p.ws, "matched");
        EXPECT_EQ(str(sm, "conversation_id"), str(pm, "conversation_id"));
        return str(sm, "conversation_id");
    }

    // The parties of a conversation other than `role`, for a send's copies.
    std::vector<std::string> others_;

    json::object build(party& who, const std::string& type, const std::string& conv) {
        json::object o{{"type", type}, {"id", "q" + std::to_string(++next_id_)}};
        auto with_conv = [&] { o["conversation_id"] = conv; };
        if (type == "hello") {
            o["v"] = 1;
            o["role"] = "seeker";
        } else if (type == "request_match") {
            o["tags"] = {"grief"};
            o["languages"] = {"en"};
            o["pubkey"] = rand_b64(32);
        } else if (type == "prekeys") {
            o["keys"] = json::parse("[" + prekey_json(river_identity_) + "]");
        } else if (type == "register_identity") {
            o["identity_key"] = b64(river_identity_.pk);
        } else if (type == "shift_start") {
            o["capacity"] = 1;
            o["tags"] = {"grief"};
            o["languages"] = {"en"};
        } else if (type == "send") {
            with_conv();
            o["seq"] = ++who.seq;
            json::array copies;
            for (const char* to : {"seeker", "peer", "moderator"})
                if (who.role != to)
                    copies.push_back(json::object{
                        {"to", to}, {"nonce", rand_b64(24)}, {"ciphertext", rand_b64(48)}});
            o["copies"] = std::move(copies);
        } else if (type == "receipt") {
            with_conv();
            o["offset"] = 1;
        } else if (type == "typing" || type == "transfer" || type == "block") {
            with_conv();
        } else if (type == "sync") {
            with_conv();
            o["after"] = 0;
        } else if (type == "end") {
            with_conv();
            o["reason"] = "done";
        } else if (type == "escalate") {
            o["conversation_id"] = conv.empty() ? json::value(nullptr) : json::value(conv);
            o["level"] = "medium"; // not high: that would put the peer in a cooldown
            o["category"] = "other";
        } else if (type == "report") {
            with_conv();
            o["reason"] = "spam";
        } else if (type == "watch") {
            o["pubkey"] = mod_pubkey_;
        } else if (type == "acknowledge") {
            o["escalation_id"] = conv.empty() ? escalation_id_ : conv;
        } else if (type == "resolve") {
            o["escalation_id"] = conv.empty() ? escalation_id_ : conv;
            o["outcome"] = "false_alarm";
        } else if (type == "join") {
            with_conv();
            o["pubkey"] = mod_pubkey_;
        } else if (type == "ban") {
            with_conv();
            o["party"] = "seeker";
            o["duration_s"] = 60;
        } else if (type == "consult") {
            o["conversation_id"] = conv.empty() ? json::value(nullptr) : json::value(conv);
            o["pubkey"] = rand_b64(32);
            o["copies"] =
                json::array{json::object{{"moderator_id", "mod1"}, {"sealed", rand_b64(64)}}};
        } else if (type == "consult_reply") {
            o["consult_id"] = conv.empty() ? consult_id_ : conv;
            o["sealed"] = rand_b64(64);
        }
        return o;
    }

    // Sends one row's message and checks the answer; returns the answer object.
    json::object check(party& who, const std::string& type, target t, const std::string& expected,
                       int& checked) {
        std::string conv;
        if (t == target::own) conv = conv_a_;
        if (t == target::foreign) conv = conv_b_;
        if (t == target::missing)
            conv = (type == "acknowledge" || type == "resolve")
                       ? std::string(32, '0')
                       : (type == "consult_reply" ? "nonexistent-consult"
                                                  : "nonexistent-conversation-0");
        auto msg = build(who, type, conv);
        const std::string id(msg.at("id").as_string());
        auto frames = who.ws.request(json::serialize(msg));
        who.seen.insert(who.seen.end(), frames.begin(), frames.end());
        auto answer = last(frames);
        auto o = answer.is_text() ? parse_object(answer.text) : json::object{};
        const std::string got = str(o, "type") == "ok" ? "ok" : str(o, "code");
        EXPECT_EQ(got, expected) << who.role << " " << type << " " << name_of(t) << ": "
                                 << kindred::client::describe(answer);
        EXPECT_EQ(str(o, "re"), id) << who.role << " " << type;
        ++checked;
        return o;
    }
};

// What is done: two conversations side by side — A (seeker sA, peer river, moderator mod1
// joined after an escalation) and B (seeker sB, peer lake). For every type × role × target
// (own = A, foreign = B, nonexistent) the role's socket sends one valid message of that type.
// What must hold: a role that may not send the type gets `forbidden` whatever it names; a
// foreign or nonexistent conversation (or escalation, consult) gets `not_found`; the own one
// gets `ok` or the documented error (second hello → conflict, request_match while in a
// conversation → conflict, cancel_match with nothing waiting → not_found); before hello every
// type but hello gets not_authenticated and close 1008. The types that end a conversation
// (end, transfer, ban) succeed on their own fresh conversation. And sB and lake never see a
// frame about A, nor sA and river one about B.
// How: the table below, each answer matched by its `re`; every frame each socket received is
// kept and scanned for the other conversation's id after a ping/pong fence.
TEST_F(Authorization, EveryTypeRoleAndConversationGetsOnlyTheContractsAnswer) {
    auto river = make_peer("river", river_identity_);
    auto sa = make_seeker();
    conv_a_ = match(sa, river);
    auto lake = make_peer("lake", lake_identity_);
    auto sb = make_seeker();
    conv_b_ = match(sb, lake);
    ASSERT_FALSE(conv_a_.empty());
    ASSERT_FALSE(conv_b_.empty());
    ASSERT_NE(conv_a_, conv_b_);

    party mod{"moderator", "mod1"};
    {
        const auto pw = add_staff("mod1", "moderator");
        mod.ws = staff_socket("moderator", login("mod1", pw));
        expect_ok(
            last(mod.ws.request(R"({"type":"watch","id":"w","pubkey":")" + mod_pubkey_ + R"("})")),
            "w");
        int unused = 0;
        auto e = check(sa, "escalate", target::own, "ok", unused);
        escalation_id_ = str(e, "escalation_id");
        ASSERT_FALSE(escalation_id_.empty());
        check(mod, "join", target::own, "ok", unused);
        // The moderator is now a party of A: sends need a copy for it.
    }

    // Rows in an order where each own action finds the state it needs: pause before resume,
    // shift_end then shift_start (the peer stays on shift), unwatch then watch, acknowledge
    // before resolve, consult before consult_reply.
    std::vector<std::string> order = all_types;
    auto move_after = [&](const std::string& a, const std::string& b) {
        order.erase(std::find(order.begin(), order.end(), a));
        order.insert(std::find(order.begin(), order.end(), b) + 1, a);
    };
    move_after("shift_start", "shift_end");
    move_after("watch", "unwatch");
    move_after("consult_reply", "consult");

    int checked = 0;
    std::map<std::string, int> by_answer;
    std::vector<party*> roles{&sa, &river, &mod};
    for (const auto& type : order) {
        for (auto* who : roles) {
            const bool conv_type = conversation_types.count(type) > 0;
            const bool id_type =
                type == "acknowledge" || type == "resolve" || type == "consult_reply";
            std::vector<target> targets;
            if (conv_type || id_type)
                targets = {target::own, target::foreign, target::missing};
            else
                targets = {target::none};
            if (id_type) targets.erase(targets.begin() + 1); // escalations are not per party
            for (auto t : targets) {
                std::string expected;
                if (!may_send(who->role, type))
                    expected = "forbidden";
                else if (t == target::foreign || t == target::missing)
                    expected = "not_found";
                else if (ending_types.count(type))
                    continue; // below, on a fresh conversation
                else
                    expected = own_answer(who->role, type);
                auto o = check(*who, type, t == target::own && id_type ? target::none : t, expected,
                               checked);
                ++by_answer[expected];
                if (type == "consult" && expected == "ok" && t == target::own)
                    consult_id_ = str(o, "consult_id");
            }
        }
        // The panic button: a seeker's escalate without a conversation is ok too.
        if (type == "escalate") {
            check(sa, "escalate", target::none, "ok", checked);
            ++by_answer["ok"];
        }
    }

    // Zero bytes to non-members: fence every socket, then scan all it ever received.
    auto fence = [&](party& p) {
        auto frames = p.ws.request(R"({"type":"ping","id":"fence"})");
        p.seen.insert(p.seen.end(), frames.begin(), frames.end());
        expect_ok(last(frames), "fence");
    };
    for (auto* p : {&sa, &river, &mod, &sb, &lake})
        fence(*p);
    auto never_mentions = [](const party& p, const std::string& conv, const char* who) {
        int n = 0;
        for (const auto& f : p.seen)
            if (f.text.find(conv) != std::string::npos) {
                ADD_FAILURE() << who
                              << " got a frame about a conversation it is not in: " << f.text;
                ++n;
            }
        return n;
    };
    never_mentions(sb, conv_a_, "sB");
    never_mentions(lake, conv_a_, "lake");
    never_mentions(sa, conv_b_, "sA");
    never_mentions(river, conv_b_, "river");
    never_mentions(mod, conv_b_, "mod1");
    std::printf("sB and lake received %zu and %zu frames, none about A\n", sb.seen.size(),
                lake.seen.size());

    // The ending types on their own conversation each (river is free again after each).
    auto fresh = [&](bool with_moderator) {
        auto s = std::make_unique<party>(make_seeker());
        conv_a_ = match(*s, river);
        if (with_moderator) {
            int unused = 0;
            check(*s, "escalate", target::own, "ok", unused);
            check(mod, "join", target::own, "ok", unused);
        }
        return s;
    };
    // A itself first: river has capacity 1, so it ends before the next match.
    check(sa, "end", target::own, "ok", checked);
    wait_for(river.ws, "ended");
    {
        auto s = fresh(false);
        check(river, "end", target::own, "ok", checked);
        wait_for(s->ws, "ended");
    }
    {
        auto s = fresh(true);
        check(mod, "end", target::own, "ok", checked);
        wait_for(river.ws, "ended");
    }
    {
        auto s = fresh(true);
        check(mod, "ban", target::own, "ok", checked);
        wait_for(river.ws, "ended");
    }
    {
        auto s = fresh(false);
        check(river, "transfer", target::own, "ok", checked);
        wait_for(s->ws, "ended");
    }
    by_answer["ok"] += 5;
    std::printf("authorisation matrix: %d answers checked:", checked);
    for (const auto& [answer, n] : by_answer)
        std::printf(" %s %d", answer.c_str(), n);
    std::printf("\n");
}

// What is done: for every type but hello, a fresh connection sends one valid message of it
// before any hello. What must hold: `not_authenticated` and close 1008, no session created.
// How: the answer and the close frame; sess:* keys counted before and after.
TEST_F(Authorization, EveryTypeBeforeHelloIsNotAuthenticated) {
    const auto sessions_before = redis_.keys("sess:*").size();
    party nobody{"seeker", ""};
    int checked = 0;
    for (const auto& type : all_types) {
        if (type == "hello") continue;
        nobody.ws = connect();
        auto msg = build(nobody, type, "nonexistent-conversation-0");
        auto frames = nobody.ws.request(json::serialize(msg));
        expect_error(last(frames), "not_authenticated", std::string(msg.at("id").as_string()));
        expect_close(nobody.ws.receive(), 1008);
        ++checked;
    }
    EXPECT_EQ(redis_.keys("sess:*").size(), sessions_before);
    std::printf("%d types before hello: not_authenticated + 1008\n", checked);
}

} // namespace
} // namespace kindred::itest
