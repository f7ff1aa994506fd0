// privacy_test.cpp — issue #8 item 9: a chat with a canary plaintext in a thousand messages, an
// intake, an escalation note and a report, over two server instances and a Redis with AOF on,
// then a scan of every Redis key, the AOF and RDB files and every instance's log for the
// canaries, addresses, tokens, session ids, e-mail and phone patterns; and a TTL check of every
// conversation-scoped key.
#include "integration_support.hpp"
#include <kindred/protocol/base64.hpp>

#include <sodium.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>

namespace kindred::itest {
namespace {

namespace json = boost::json;
namespace e2e = kindred::client::e2e;
namespace kp = kindred::protocol;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

constexpr int messages_each_way = 500; // 1,000 messages carry the chat canary

// Canaries carry an e-mail address and a phone number, so the pattern scanners below would
// also catch a leak of them that had been re-encoded or cut.
const std::string chat_canary = "CHAT-CANARY-4f1c9e mail chat.canary@example.org +44 7700 900123";
const std::string intake_canary =
    "INTAKE-CANARY-b83d21 reach me on +1 (555) 010-4477 or intake.canary@example.net";
const std::string note_canary = "NOTE-CANARY-90aa7e call 07700 900456 note.canary@example.com";

const std::regex ipv4_re(R"((^|[^\d.])(\d{1,3}\.){3}\d{1,3}([^\d.]|$))");
// Full or compressed IPv6 forms, not C++ scopes ("std::") or clock times ("12:00:00").
const std::regex ipv6_re(
    R"((^|[^\w:])((?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}|(?:[0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{0,4}|::(?:ffff:)?[0-9a-fA-F]{1,4}(?:[:.][0-9a-fA-F]{1,4})*)($|[^\w:]))");
const std::regex email_re(R"([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})");
const std::regex phone_re(
    R"((\+\d{1,3}[\s.-]?\(?\d{1,4}\)?([\s.-]?\d{2,4}){2,4})|(\(\d{3}\)\s?\d{3}-\d{4})|(\b0\d{4}\s\d{6}\b))");

std::string read_binary(const fs::path& p) {
    return read_text_file(p);
}

// The value of one key, as dump_redis renders it.
std::string key_value(redis_process& redis, const std::string& k) {
    auto type = redis.command({"TYPE", k});
    if (type == "string") return redis.command({"GET", k});
    if (type == "hash") return redis.command({"HGETALL", k});
    if (type == "list") return redis.command({"LRANGE", k, "0", "-1"});
    if (type == "set") return redis.command({"SMEMBERS", k});
    if (type == "zset") return redis.command({"ZRANGE", k, "0", "-1"});
    if (type == "stream") return redis.command({"XRANGE", k, "-", "+"});
    return {};
}

class Privacy : public relay_fixture {
protected:
    // Secrets the test knows and that must appear nowhere (tokens) or in no log (session ids).
    std::vector<std::string> tokens_;
    std::vector<std::string> sessions_;
};

// What is done: Redis runs with AOF (appendfsync always, no RDB/AOF compression so a scan can
// see stored bytes); a seeker (with a device secret) on instance A asks for a match with an
// intake carrying a canary and is matched with river on instance B; they exchange 1,000
// encrypted messages whose plaintext carries the chat canary; the peer escalates with a note
// canary and excerpts, the seeker reports, a moderator watches and acknowledges; then Redis
// SAVEs. What must hold: the chat and intake canaries and the device secret appear in no Redis
// value, no AOF or RDB byte, no log line of either instance; the note canary only in its
// escalation record (by design: docs/moderation.md) and in no log or audit entry; no login or
// resume token anywhere; no full session id in a log or audit entry; no IPv4/IPv6 address in
// a log line except the "listening" line, and none in the audit stream; no e-mail or phone
// pattern in any log line or audit entry; every conversation-scoped key has PTTL > 0.
// How: substring and regex scans over the texts, each finding printed; PTTL per key.
TEST_F(Privacy, CanariesTokensAndAddressesAppearNowhereAndConversationKeysExpire) {
    // AOF from the start, fsynced per write; no compression, so stored bytes are scannable.
    ASSERT_EQ(redis_.command({"CONFIG", "SET", "rdbcompression", "no"}), "OK");
    ASSERT_EQ(redis_.command({"CONFIG", "SET", "appendfsync", "always"}), "OK");
    ASSERT_EQ(redis_.command({"CONFIG", "SET", "appendonly", "yes"}), "OK");
    ASSERT_TRUE(kindred::testsupport::eventually([&] {
        auto info = redis_.command({"INFO", "persistence"});
        return info.find("aof_rewrite_in_progress:0") != std::string::npos &&
               info.find("aof_rewrite_scheduled:0") != std::string::npos;
    }));

    const std::vector<std::string> fast{
        "--log-level",     "debug",  "--messages-per-second", "100000",
        "--message-burst", "100000", "--send-per-minute",     "1000000",
        "--send-burst",    "100000"};
    start_server(fast);
    auto b = another_server(fast);
    hello_result peer_hello;
    auto peer = ready_peer(b->port(), 1, &peer_hello);
    sessions_.push_back(peer_hello.session);
    tokens_.push_back(peer_hello.resume_token);

    // The seeker, with a device secret that only its hash may reach Redis.
    std::array<std::uint8_t, 32> device{};
    randombytes_buf(device.data(), device.size());
    const std::string device_b64 = b64(device);
    auto seeker_ws = connect();
    auto hello_ok =
        expect_ok(last(seeker_ws.request(json::serialize(json::object{{"type", "hello"},
                                                                      {"id", "1"},
                                                                      {"v", 1},
                                                                      {"role", "seeker"},
                                                                      {"device", device_b64}}))),
                  "1");
    sessions_.push_back(str(hello_ok, "session"));
    tokens_.push_back(str(hello_ok, "resume_token"));

    // request_match with the intake canary; the peer's `matched` carries it (so it did pass
    // through the server), then both sides build their crypto.
    auto keys = e2e::generate_kx_key_pair();
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = keys.public_key;
    rm.intake = intake_canary;
    expect_ok(last(seeker_ws.request(kp::encode_client_message(rm, "m"))), "m");
    auto sm = event_of<kp::seeker_matched>(next_of(seeker_ws, "matched"));
    auto pm = event_of<kp::peer_matched>(next_of(peer, "matched"));
    ASSERT_EQ(pm.intake.value_or(""), intake_canary);
    const std::string conv = sm.conversation_id;
    ASSERT_FALSE(conv.empty());
    auto sc = e2e::conversation_crypto::for_seeker(conv, keys, sm.peer);
    ASSERT_TRUE(sc);
    auto prekey = prekeys_.find(kp::base64_encode(pm.prekey));
    ASSERT_NE(prekey, prekeys_.end());
    auto pc = e2e::conversation_crypto::for_peer(conv, prekey->second, identity_.public_key,
                                                 pm.seeker.pubkey);
    ASSERT_TRUE(pc);

    // A moderator on duty, logged in: its login token and session are known secrets too.
    const auto mod_pw = add_staff("mod1", "moderator");
    const auto mod_token = login("mod1", mod_pw);
    tokens_.push_back(mod_token);
    hello_result mod_hello;
    auto mod = staff_socket("moderator", mod_token, 0, &mod_hello);
    sessions_.push_back(mod_hello.session);
    tokens_.push_back(mod_hello.resume_token);
    auto mod_keys = e2e::generate_kx_key_pair();
    expect_ok(last(mod.request(R"({"type":"watch","id":"w","pubkey":")" + b64(mod_keys.public_key) +
                               R"("})")),
              "w");

    // The chat: alternating sides, every message decrypted by the other to prove delivery.
    const auto chat_start = clock_type::now();
    for (int i = 1; i <= messages_each_way; ++i) {
        auto s = sc->make_send(i, chat_canary + " #" + std::to_string(i));
        ASSERT_TRUE(s);
        expect_ok(last(seeker_ws.request(kp::encode_client_message(*s, "s"))), "s");
        auto m = event_of<kp::message_event>(next_of(peer, "message"));
        auto t = pc->decrypt(m);
        ASSERT_TRUE(t && t->find(chat_canary) == 0);
        auto r = pc->make_send(i, chat_canary + " reply #" + std::to_string(i));
        ASSERT_TRUE(r);
        expect_ok(last(peer.request(kp::encode_client_message(*r, "p"))), "p");
        auto m2 = event_of<kp::message_event>(next_of(seeker_ws, "message"));
        ASSERT_TRUE(sc->decrypt(m2));
    }
    std::printf("%d canary messages relayed in %.0f ms\n", 2 * messages_each_way,
                std::chrono::duration<double, std::milli>(clock_type::now() - chat_start).count());

    // An escalation with the note canary and a sealed excerpt, a report, an acknowledge.
    json::object esc{{"type", "escalate"}, {"id", "e"},           {"conversation_id", conv},
                     {"level", "medium"},  {"category", "other"}, {"note", note_canary}};
    {
        const std::string plain = "{\"text\":\"" + chat_canary + "\"}";
        std::vector<std::uint8_t> sealed(plain.size() + crypto_box_SEALBYTES);
        crypto_box_seal(sealed.data(), reinterpret_cast<const unsigned char*>(plain.data()),
                        plain.size(), mod_keys.public_key.data());
        esc["excerpts"] =
            json::array{json::object{{"moderator_id", "mod1"}, {"sealed", b64(sealed)}}};
    }
    auto esc_ok = expect_ok(last(peer.request(json::serialize(esc))), "e");
    const std::string escalation_id = str(esc_ok, "escalation_id");
    ASSERT_FALSE(escalation_id.empty());
    expect_ok(last(seeker_ws.request(R"({"type":"report","id":"r","conversation_id":")" + conv +
                                     R"(","reason":"spam"})")),
              "r");
    expect_ok(last(mod.request(R"({"type":"acknowledge","id":"a","escalation_id":")" +
                               escalation_id + R"("})")),
              "a");

    // ---- TTLs: every conversation-scoped key, while the conversation is active ----
    std::vector<std::string> conv_keys;
    for (const auto& k : redis_.keys())
        if (k.find(conv) != std::string::npos || k.rfind("party:", 0) == 0 ||
            k.find(":seeker:") != std::string::npos || k.find("esc:conv:") != std::string::npos)
            conv_keys.push_back(k);
    // conv:{C}, :log, :seq; the match record; the seeker's conv pointer; both party indexes;
    // the esc:conv set.
    EXPECT_GE(conv_keys.size(), 8u);
    for (const auto& k : conv_keys) {
        auto pttl = std::stoll(redis_.command({"PTTL", k}));
        EXPECT_GT(pttl, 0) << k << " has no TTL (" << pttl << ")";
        std::printf("  TTL %-60s %lld s\n", k.c_str(), pttl / 1000);
    }

    // ---- Persist and collect every place data rests ----
    ASSERT_EQ(redis_.command({"SAVE"}), "OK");
    auto config_get = [&](const std::string& name) {
        auto r = redis_.command({"CONFIG", "GET", name});
        return r.substr(r.find('\n') + 1);
    };
    const fs::path dir = config_get("dir");
    std::map<std::string, std::string> files; // name → bytes
    files["rdb " + config_get("dbfilename")] = read_binary(dir / config_get("dbfilename"));
    const fs::path aof_dir = dir / config_get("appenddirname");
    for (const auto& e : fs::directory_iterator(aof_dir))
        files["aof " + e.path().filename().string()] = read_binary(e.path());
    std::size_t aof_bytes = 0;
    for (const auto& [name, bytes] : files)
        if (name.rfind("aof ", 0) == 0) aof_bytes += bytes.size();
    ASSERT_GT(aof_bytes, 100000u) << "the AOF does not hold the conversation";

    std::map<std::string, std::string> key_values;
    std::string esc_key; // the escalation's record ("mod:{mod}:esc:<E>")
    for (const auto& k : redis_.keys()) {
        key_values[k] = key_value(redis_, k);
        if (k.size() > escalation_id.size() + 4 &&
            k.compare(k.size() - escalation_id.size() - 4, std::string::npos,
                      "esc:" + escalation_id) == 0)
            esc_key = k;
    }
    ASSERT_FALSE(esc_key.empty()) << "no record of the escalation";
    const std::string audit = key_value(redis_, "audit");
    EXPECT_FALSE(audit.empty()) << "no audit entries to scan";
    const std::map<std::string, std::string> logs{{"instance A", server_->log()},
                                                  {"instance B", b->log()}};

    // ---- Scans ----
    int findings = 0;
    auto must_not_contain = [&](const std::string& where, const std::string& text,
                                const std::string& secret, const std::string& what) {
        if (!secret.empty() && text.find(secret) != std::string::npos) {
            ADD_FAILURE() << what << " found in " << where;
            ++findings;
        }
    };
    for (const auto& [k, v] : key_values) {
        const std::string where = "Redis key " + k;
        must_not_contain(where, k + v, chat_canary.substr(0, 18), "the chat canary");
        must_not_contain(where, k + v, intake_canary.substr(0, 20), "the intake canary");
        must_not_contain(where, k + v, device_b64, "the device secret");
        if (k != esc_key)
            must_not_contain(where, k + v, note_canary.substr(0, 18), "the note canary");
        for (const auto& t : tokens_)
            must_not_contain(where, k + v, t, "a token");
    }
    for (const auto& [name, bytes] : files) {
        must_not_contain(name, bytes, chat_canary.substr(0, 18), "the chat canary");
        must_not_contain(name, bytes, intake_canary.substr(0, 20), "the intake canary");
        must_not_contain(name, bytes, device_b64, "the device secret");
        for (const auto& t : tokens_)
            must_not_contain(name, bytes, t, "a token");
    }
    // Log lines and audit entries: secrets, then patterns.
    auto scan_lines = [&](const std::string& where, const std::string& text, bool is_log) {
        std::istringstream in(text);
        std::string line;
        int lines = 0;
        while (std::getline(in, line)) {
            ++lines;
            for (const auto& c : {chat_canary, intake_canary, note_canary})
                must_not_contain(where + ": " + line, line, c.substr(0, 18), "a canary");
            must_not_contain(where + ": " + line, line, device_b64, "the device secret");
            for (const auto& t : tokens_)
                must_not_contain(where + ": " + line, line, t, "a token");
            for (const auto& s : sessions_)
                must_not_contain(where + ": " + line, line, s, "a full session id");
            // The log's own timestamp ("2026-01-01T12:00:00.000Z") is not data.
            std::string body = line;
            if (is_log && body.size() > 24 && body[10] == 'T') body = body.substr(24);
            const bool listening = body.find("event=listening") != std::string::npos;
            for (const auto& [name, re] : std::vector<std::pair<std::string, const std::regex*>>{
                     {"an IPv4 address", &ipv4_re},
                     {"an IPv6 address", &ipv6_re},
                     {"an e-mail address", &email_re},
                     {"a phone number", &phone_re}}) {
                std::smatch m;
                if (std::regex_search(body, m, *re) &&
                    !(listening && (name == "an IPv4 address" || name == "an IPv6 address"))) {
                    ADD_FAILURE() << name << " (" << m.str() << ") in " << where << ": " << line;
                    ++findings;
                }
            }
        }
        return lines;
    };
    int log_lines = 0;
    for (const auto& [name, text] : logs) {
        log_lines += scan_lines(name + " log", text, true);
        // The listening line is the only one allowed an address; it must exist and be ours.
        EXPECT_NE(text.find("event=listening"), std::string::npos) << name;
    }
    const int audit_lines = scan_lines("audit stream", audit, false);

    std::size_t redis_bytes = 0, file_bytes = 0;
    for (const auto& [k, v] : key_values)
        redis_bytes += k.size() + v.size();
    for (const auto& [n, f] : files)
        file_bytes += f.size();
    std::printf("scanned %zu Redis keys (%zu bytes), %zu AOF/RDB files (%zu bytes), %d log lines "
                "of 2 instances, %d audit lines: %d findings\n",
                key_values.size(), redis_bytes, files.size(), file_bytes, log_lines, audit_lines,
                findings);
    // The note is stored with its escalation, by design (docs/moderation.md).
    EXPECT_NE(key_values[esc_key].find(note_canary.substr(0, 18)), std::string::npos)
        << "the scan would not see a stored note: key names changed?";
}

} // namespace
} // namespace kindred::itest
