// decode_test.cpp — decode_client_message: the envelope rules, every message from a valid
// example, and each class of bad input for each field (table-driven).
#include "samples.hpp"
#include <kindred/protocol/codec.hpp>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace kindred::protocol {
// Readable failures in gtest output.
void PrintTo(const decode_failure& f, std::ostream* os) {
    *os << to_string(f.code) << " \"" << f.message << "\"";
}
} // namespace kindred::protocol

namespace {

using namespace kindred::protocol;
using namespace kindred::protocol::test;
namespace json = boost::json;

const client_message* message_of(const decoded& d) {
    return std::get_if<client_message>(&d.result);
}
const decode_failure* failure_of(const decoded& d) {
    return std::get_if<decode_failure>(&d.result);
}

// ---------------------------------------------------------------------------------------------
// Envelope.

TEST(DecodeEnvelope, NotJsonIsBadJson) {
    for (const char* text :
         {"", "hello", "{", "{\"type\":\"ping\"", "{\"type\":\"ping\"} x", "{'type':'ping'}",
          "{\"type\":\"ping\",}", "/*c*/{\"type\":\"ping\"}", "[1,2", "\"unterminated"}) {
        const decoded d = decode_client_message(text);
        ASSERT_NE(failure_of(d), nullptr) << text;
        EXPECT_EQ(failure_of(d)->code, error_code::bad_json) << text;
        EXPECT_FALSE(d.id.has_value());
    }
}

TEST(DecodeEnvelope, JsonThatIsNotAnObjectIsBadJson) {
    for (const char* text : {"[]", "[{\"type\":\"ping\"}]", "1", "\"ping\"", "null", "true"}) {
        const decoded d = decode_client_message(text);
        ASSERT_NE(failure_of(d), nullptr) << text;
        EXPECT_EQ(failure_of(d)->code, error_code::bad_json) << text;
    }
}

TEST(DecodeEnvelope, InvalidUtf8IsBadJson) {
    const decoded d = decode_client_message("{\"type\":\"ping\",\"x\":\"\xff\"}");
    ASSERT_NE(failure_of(d), nullptr);
    EXPECT_EQ(failure_of(d)->code, error_code::bad_json);
}

TEST(DecodeEnvelope, NestingDeeperThan32IsBadJson) {
    std::string deep =
        "{\"type\":\"ping\",\"x\":" + std::string(40, '[') + std::string(40, ']') + "}";
    EXPECT_EQ(failure_of(decode_client_message(deep))->code, error_code::bad_json);
    std::string shallow =
        "{\"type\":\"ping\",\"x\":" + std::string(20, '[') + std::string(20, ']') + "}";
    EXPECT_NE(message_of(decode_client_message(shallow)), nullptr);
}

TEST(DecodeEnvelope, IdIsOptional) {
    const decoded d = decode_client_message(R"({"type":"ping"})");
    ASSERT_NE(message_of(d), nullptr);
    EXPECT_FALSE(d.id.has_value());
    EXPECT_EQ(d.type, "ping");
}

TEST(DecodeEnvelope, IdOf64CodePointsIsAccepted) {
    std::string id;
    for (int i = 0; i < 64; ++i)
        id += "\xc3\xa9"; // é: 64 code points, 128 bytes
    const decoded d = decode_client_message(R"({"type":"ping","id":")" + id + "\"}");
    ASSERT_NE(message_of(d), nullptr);
    EXPECT_EQ(d.id, id);
}

TEST(DecodeEnvelope, EmptyIdIsAccepted) {
    const decoded d = decode_client_message(R"({"type":"ping","id":""})");
    ASSERT_NE(message_of(d), nullptr);
    EXPECT_EQ(d.id, "");
}

TEST(DecodeEnvelope, BadIdIsBadMessageNamingIdAndLeavesIdUnset) {
    for (const std::string& id_json :
         {std::string("5"), std::string("null"), std::string("[\"1\"]"), std::string("{}"),
          "\"" + std::string(65, 'a') + "\""}) {
        const decoded d = decode_client_message(R"({"type":"ping","id":)" + id_json + "}");
        ASSERT_NE(failure_of(d), nullptr) << id_json;
        EXPECT_EQ(failure_of(d)->code, error_code::bad_message) << id_json;
        EXPECT_EQ(failure_of(d)->message.rfind("id: ", 0), 0u) << failure_of(d)->message;
        EXPECT_FALSE(d.id.has_value()) << id_json;
        EXPECT_EQ(d.type, "ping");
    }
}

TEST(DecodeEnvelope, MissingTypeIsBadMessageNamingType) {
    const decoded d = decode_client_message(R"({"id":"7"})");
    ASSERT_NE(failure_of(d), nullptr);
    EXPECT_EQ(failure_of(d)->code, error_code::bad_message);
    EXPECT_EQ(failure_of(d)->message, "type: required");
    EXPECT_EQ(d.id, "7");
    EXPECT_EQ(d.type, "");
}

TEST(DecodeEnvelope, NonStringTypeIsBadMessageNamingType) {
    for (const char* type : {"5", "null", "[\"ping\"]", "{}", "true"}) {
        const decoded d = decode_client_message(std::string(R"({"id":"7","type":)") + type + "}");
        ASSERT_NE(failure_of(d), nullptr) << type;
        EXPECT_EQ(failure_of(d)->code, error_code::bad_message);
        EXPECT_EQ(failure_of(d)->message, "type: must be a string");
        EXPECT_EQ(d.id, "7");
        EXPECT_EQ(d.type, "");
    }
}

TEST(DecodeEnvelope, UnknownTypeIsUnknownTypeWithIdAndType) {
    for (const char* type : {"pong", "Ping", "ok", "matched", "", "hello "}) {
        const decoded d =
            decode_client_message(std::string(R"({"id":"9","type":")") + type + "\"}");
        ASSERT_NE(failure_of(d), nullptr) << type;
        EXPECT_EQ(failure_of(d)->code, error_code::unknown_type) << type;
        EXPECT_EQ(d.id, "9");
        EXPECT_EQ(d.type, type);
    }
}

TEST(DecodeEnvelope, UnknownFieldsAreIgnored) {
    const decoded d = decode_client_message(
        R"({"type":"typing","id":"1","conversation_id":"c1","extra":{"deep":[1,2,{}]},"n":1.5})");
    ASSERT_NE(message_of(d), nullptr);
    EXPECT_EQ(std::get<typing>(*message_of(d)).conversation_id, "c1");
}

TEST(DecodeEnvelope, LastDuplicateKeyWins) {
    const decoded d =
        decode_client_message(R"({"type":"sync","conversation_id":"a","after":1,"after":2})");
    ASSERT_NE(message_of(d), nullptr);
    EXPECT_EQ(std::get<kindred::protocol::sync>(*message_of(d)).after, 2);
}

TEST(DecodeEnvelope, ErrorMessagesNeverEchoTheInput) {
    const decoded d = decode_client_message(
        R"({"type":"request_match","tags":["grief"],"languages":["en"],"pubkey":"SECRETSECRET"})");
    ASSERT_NE(failure_of(d), nullptr);
    EXPECT_EQ(failure_of(d)->message.find("SECRET"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Every client message decodes from a valid example (the contract's, with real base64).

struct valid_case {
    std::string json; // "$K" etc. are filled in by fill()
    client_message expected;
};

std::vector<valid_case> valid_cases() {
    const auto k = sample_array<32>();
    const auto s = sample_array<64>(100);
    const auto n = sample_array<24>(50);
    const auto c = sample_bytes(48, 7);
    const auto e = sample_bytes(64, 9);
    return {
        {R"({"type":"hello","id":"1","v":1,"role":"seeker"})", hello{1, role::seeker, {}, {}}},
        {R"({"type":"hello","id":"1","v":1,"role":"peer","token":"staff-token"})",
         hello{1, role::peer, "staff-token", {}}},
        {R"({"type":"hello","id":"1","v":1,"role":"moderator","token":"t"})",
         hello{1, role::moderator, "t", {}}},
        {R"({"type":"hello","id":"1","v":1,"resume_token":"r"})", hello{1, {}, {}, "r"}},
        {R"({"type":"hello","id":"1","v":1,"resume_token":"r","role":"peer"})",
         hello{1, role::peer, {}, "r"}},
        {R"({"type":"hello","id":"1","v":1,"role":"seeker","device":"$K"})",
         hello{1, role::seeker, {}, {}, k}},
        {R"({"type":"hello","id":"1","v":1,"resume_token":"r","device":"$K"})",
         hello{1, {}, {}, "r", k}},
        {R"({"type":"hello","id":"1","v":1,"role":"seeker","device":null})",
         hello{1, role::seeker, {}, {}}},
        {R"({"type":"ping","id":"1"})", ping{}},
        {R"({"type":"request_match","id":"2","tags":["grief"],"languages":["en"],"pubkey":"$K",
             "intake":"optional, ≤ 500 chars"})",
         request_match{{"grief"}, {"en"}, k, "optional, ≤ 500 chars"}},
        {R"({"type":"request_match","id":"2","tags":["grief","chronic_illness","a","b","c-d"],
             "languages":["en","pt-BR","zh-Hant-TW","es","fr"],"pubkey":"$K","intake":null})",
         request_match{{"grief", "chronic_illness", "a", "b", "c-d"},
                       {"en", "pt-BR", "zh-Hant-TW", "es", "fr"},
                       k,
                       {}}},
        {R"({"type":"cancel_match","id":"3"})", cancel_match{}},
        {R"({"type":"prekeys","id":"4","keys":[{"prekey":"$K","signature":"$S"},
             {"prekey":"$K","signature":"$S"}]})",
         prekeys{{{k, s}, {k, s}}}},
        {R"({"type":"register_identity","id":"4","identity_key":"$K"})", register_identity{k}},
        {R"({"type":"shift_start","id":"5","capacity":2,"tags":["grief"],"languages":["en"]})",
         shift_start{2, {"grief"}, {"en"}}},
        {R"({"type":"shift_start","id":"5","capacity":2,"tags":["grief"],"languages":["en"],
             "wont_take":["suicide","self-harm"],"planned_end_at":1795000000000})",
         shift_start{2, {"grief"}, {"en"}, {"suicide", "self-harm"}, 1795000000000}},
        {R"({"type":"shift_start","id":"5","capacity":2,"tags":["grief"],"languages":["en"],
             "wont_take":[],"planned_end_at":null})",
         shift_start{2, {"grief"}, {"en"}}},
        {R"({"type":"shift_pause"})", shift_pause{}},
        {R"({"type":"shift_resume"})", shift_resume{}},
        {R"({"type":"shift_end"})", shift_end{}},
        {R"({"type":"send","id":"6","conversation_id":"c1","seq":1,
             "copies":[{"to":"peer","nonce":"$N","ciphertext":"$C"}]})",
         kindred::protocol::send{"c1", 1, {{role::peer, n, c}}}},
        {R"({"type":"send","id":"6","conversation_id":"c1","seq":9007199254740991,
             "copies":[{"to":"seeker","nonce":"$N","ciphertext":"$C"},
                       {"to":"moderator","nonce":"$N","ciphertext":"$C"}]})",
         kindred::protocol::send{
             "c1", 9007199254740991, {{role::seeker, n, c}, {role::moderator, n, c}}}},
        {R"({"type":"receipt","conversation_id":"c1","offset":5})", receipt{"c1", 5}},
        {R"({"type":"typing","conversation_id":"c1"})", typing{"c1"}},
        {R"({"type":"sync","id":"7","conversation_id":"c1","after":4})",
         kindred::protocol::sync{"c1", 4}},
        {R"({"type":"sync","id":"7","conversation_id":"c1","after":0})",
         kindred::protocol::sync{"c1", 0}},
        {R"({"type":"end","id":"8","conversation_id":"c1","reason":"done"})", end{"c1", "done"}},
        {R"({"type":"end","id":"8","conversation_id":"c1"})", end{"c1", {}}},
        {R"({"type":"transfer","id":"9","conversation_id":"c1"})", transfer{"c1"}},
        {R"({"type":"escalate","id":"10","conversation_id":"c1","level":"imminent",
             "category":"suicide_risk","note":"optional",
             "excerpts":[{"moderator_id":"m1","sealed":"$E"}]})",
         escalate{"c1", level::imminent, category::suicide_risk, "optional", {{"m1", e}}}},
        {R"({"type":"escalate","id":"10","conversation_id":null,"level":"low","category":"other"})",
         escalate{{}, level::low, category::other, {}, {}}},
        {R"({"type":"escalate","level":"high","category":"harm_to_others","excerpts":[]})",
         escalate{{}, level::high, category::harm_to_others, {}, {}}},
        {R"({"type":"moderator_keys","id":"11"})", moderator_keys{}},
        {R"({"type":"report","id":"12","conversation_id":"c1","reason":"harassment",
             "excerpts":[{"moderator_id":"m1","sealed":"$E"}]})",
         report{"c1", report_reason::harassment, {{"m1", e}}}},
        {R"({"type":"report","id":"12","conversation_id":"c1","reason":"spam"})",
         report{"c1", report_reason::spam, {}}},
        {R"({"type":"block","id":"13","conversation_id":"c1"})", block{"c1"}},
        {R"({"type":"watch","pubkey":"$K"})", watch{k}},
        {R"({"type":"acknowledge","escalation_id":"e1"})", acknowledge{"e1"}},
        {R"({"type":"resolve","escalation_id":"e1","outcome":"de_escalated"})",
         resolve{"e1", resolve_outcome::de_escalated}},
        {R"({"type":"join","id":"14","conversation_id":"c1","pubkey":"$K"})", join{"c1", k}},
        {R"({"type":"ban","conversation_id":"c1","party":"seeker","duration_s":86400})",
         ban{"c1", party::seeker, 86400}},
        {R"({"type":"ban","conversation_id":"c1","party":"peer","duration_s":31536000})",
         ban{"c1", party::peer, 31536000}},
        {R"({"type":"unwatch","id":"15"})", unwatch{}},
        {R"({"type":"consult","id":"16","conversation_id":"c1","pubkey":"$K",
             "copies":[{"moderator_id":"m1","sealed":"$E"},{"moderator_id":"m2","sealed":"$E"}]})",
         consult{"c1", k, {{"m1", e}, {"m2", e}}}},
        {R"({"type":"consult","id":"16","conversation_id":null,"pubkey":"$K",
             "copies":[{"moderator_id":"m1","sealed":"$E"}]})",
         consult{{}, k, {{"m1", e}}}},
        {R"({"type":"consult","pubkey":"$K","copies":[{"moderator_id":"m1","sealed":"$E"}]})",
         consult{{}, k, {{"m1", e}}}},
        {R"({"type":"consult_reply","id":"17","consult_id":"k1","sealed":"$E"})",
         consult_reply{"k1", e}},
        {R"({"type":"feedback","id":"18","conversation_id":"c1","helped":4,"feeling":"better"})",
         feedback{"c1", 4, feeling::better}},
        {R"({"type":"feedback","conversation_id":"c1","helped":1})", feedback{"c1", 1, {}}},
        {R"({"type":"feedback","conversation_id":"c1","helped":null,"feeling":"worse"})",
         feedback{"c1", {}, feeling::worse}},
        {R"({"type":"my_summary","id":"19"})", my_summary{}},
    };
}

TEST(DecodeClientMessage, EveryMessageDecodesFromAValidExample) {
    std::set<std::string_view> seen;
    for (const auto& c : valid_cases()) {
        const std::string text = fill(c.json);
        const decoded d = decode_client_message(text);
        const client_message* m = message_of(d);
        ASSERT_NE(m, nullptr) << text << "\n → " << failure_of(d)->message;
        EXPECT_EQ(*m, c.expected) << text;
        EXPECT_EQ(d.type, type_name(c.expected));
        seen.insert(type_name(*m));
    }
    EXPECT_EQ(seen.size(), std::variant_size_v<client_message>) << "a message has no example";
}

TEST(DecodeClientMessage, EveryEnumValueIsAccepted) {
    for (auto v : enum_traits<level>::names) {
        for (auto c : enum_traits<category>::names) {
            const std::string text = std::string(R"({"type":"escalate","level":")") +
                                     std::string(v) + R"(","category":")" + std::string(c) + "\"}";
            const decoded d = decode_client_message(text);
            ASSERT_NE(message_of(d), nullptr) << text;
            EXPECT_EQ(to_string(std::get<escalate>(*message_of(d)).level), v);
            EXPECT_EQ(to_string(std::get<escalate>(*message_of(d)).category), c);
        }
    }
    for (auto r : enum_traits<report_reason>::names) {
        const decoded d = decode_client_message(
            std::string(R"({"type":"report","conversation_id":"c","reason":")") + std::string(r) +
            "\"}");
        ASSERT_NE(message_of(d), nullptr) << r;
    }
    for (auto o : enum_traits<resolve_outcome>::names) {
        const decoded d = decode_client_message(
            std::string(R"({"type":"resolve","escalation_id":"e","outcome":")") + std::string(o) +
            "\"}");
        ASSERT_NE(message_of(d), nullptr) << o;
    }
}

TEST(DecodeClientMessage, IntakeCountsCodePointsNotBytes) {
    std::string five_hundred;
    for (int i = 0; i < 500; ++i)
        five_hundred += "\xe2\x9d\xa4"; // ❤: 3 bytes each
    const std::string base = fill(R"({"type":"request_match","tags":["grief"],"languages":["en"],
                                     "pubkey":"$K","intake":")");
    const decoded ok = decode_client_message(base + five_hundred + "\"}");
    ASSERT_NE(message_of(ok), nullptr);
    EXPECT_EQ(std::get<request_match>(*message_of(ok)).intake, five_hundred);
    const decoded bad = decode_client_message(base + five_hundred + "x\"}");
    ASSERT_NE(failure_of(bad), nullptr);
    EXPECT_EQ(failure_of(bad)->message, "intake: at most 500 characters");
}

// ---------------------------------------------------------------------------------------------
// Bad input: each field, each class. Every case carries "id":"x", which must be recovered.

// Sets (or with `value` empty, removes) the value at `path` ("copies[0].nonce") in `root`.
void edit(json::value& root, std::string_view path, const std::optional<std::string>& value) {
    json::value* at = &root;
    while (true) {
        const std::size_t dot = path.find('.');
        std::string_view part = path.substr(0, dot);
        std::optional<std::size_t> index;
        if (const std::size_t open = part.find('['); open != std::string_view::npos) {
            index = std::stoul(std::string(part.substr(open + 1)));
            part = part.substr(0, open);
        }
        json::object& o = at->as_object();
        const bool last = dot == std::string_view::npos && !index;
        if (last) {
            if (value) {
                o[part] = json::parse(*value);
            } else {
                o.erase(part);
            }
            return;
        }
        at = &o.at(part);
        if (index) {
            json::array& a = at->as_array();
            if (dot == std::string_view::npos) {
                if (value) {
                    a.at(*index) = json::parse(*value);
                } else {
                    a.erase(a.begin() + static_cast<long>(*index));
                }
                return;
            }
            at = &a.at(*index);
        }
        path = path.substr(dot + 1);
    }
}

const char* const base_hello = R"({"type":"hello","id":"x","v":1,"role":"peer","token":"t"})";
const char* const base_request_match =
    R"({"type":"request_match","id":"x","tags":["grief"],"languages":["en"],"pubkey":"$K",
        "intake":"hi"})";
const char* const base_prekeys =
    R"({"type":"prekeys","id":"x","keys":[{"prekey":"$K","signature":"$S"}]})";
const char* const base_register_identity =
    R"({"type":"register_identity","id":"x","identity_key":"$K"})";
const char* const base_shift_start =
    R"({"type":"shift_start","id":"x","capacity":2,"tags":["grief"],"languages":["en"]})";
const char* const base_send =
    R"({"type":"send","id":"x","conversation_id":"c1","seq":1,
        "copies":[{"to":"peer","nonce":"$N","ciphertext":"$C"}]})";
const char* const base_receipt = R"({"type":"receipt","id":"x","conversation_id":"c1","offset":5})";
const char* const base_typing = R"({"type":"typing","id":"x","conversation_id":"c1"})";
const char* const base_sync = R"({"type":"sync","id":"x","conversation_id":"c1","after":4})";
const char* const base_end = R"({"type":"end","id":"x","conversation_id":"c1","reason":"done"})";
const char* const base_transfer = R"({"type":"transfer","id":"x","conversation_id":"c1"})";
const char* const base_escalate =
    R"({"type":"escalate","id":"x","conversation_id":"c1","level":"imminent",
        "category":"suicide_risk","note":"n","excerpts":[{"moderator_id":"m1","sealed":"$E"}]})";
const char* const base_report =
    R"({"type":"report","id":"x","conversation_id":"c1","reason":"spam",
        "excerpts":[{"moderator_id":"m1","sealed":"$E"}]})";
const char* const base_block = R"({"type":"block","id":"x","conversation_id":"c1"})";
const char* const base_watch = R"({"type":"watch","id":"x","pubkey":"$K"})";
const char* const base_acknowledge = R"({"type":"acknowledge","id":"x","escalation_id":"e1"})";
const char* const base_resolve =
    R"({"type":"resolve","id":"x","escalation_id":"e1","outcome":"referred"})";
const char* const base_join = R"({"type":"join","id":"x","conversation_id":"c1","pubkey":"$K"})";
const char* const base_ban =
    R"({"type":"ban","id":"x","conversation_id":"c1","party":"peer","duration_s":60})";
const char* const base_seeker_hello =
    R"({"type":"hello","id":"x","v":1,"role":"seeker","device":"$K"})";
const char* const base_consult =
    R"({"type":"consult","id":"x","conversation_id":"c1","pubkey":"$K",
        "copies":[{"moderator_id":"m1","sealed":"$E"}]})";
const char* const base_feedback =
    R"({"type":"feedback","id":"x","conversation_id":"c1","helped":3,"feeling":"same"})";
const char* const base_consult_reply =
    R"({"type":"consult_reply","id":"x","consult_id":"k1","sealed":"$E"})";

std::string quoted(const std::string& s) {
    return "\"" + s + "\"";
}
std::string repeat_list(const std::string& item, int n) {
    std::string out = "[";
    for (int i = 0; i < n; ++i)
        out += (i ? "," : "") + item;
    return out + "]";
}
std::string numbered_tags(int n) {
    std::string out = "[";
    for (int i = 0; i < n; ++i)
        out += std::string(i ? "," : "") + "\"t" + std::to_string(i) + "\"";
    return out + "]";
}

const std::string missing = "<missing>";

struct bad_case {
    const char* base;
    std::string path;     // the field to change
    std::string value;    // its new JSON value, or `missing` to remove it
    std::string expected; // the exact error message
};

std::vector<bad_case> bad_cases() {
    const std::string b64_31 = quoted(b64(31)), b64_33 = quoted(b64(33));
    const std::string not_b64 = quoted(std::string(43, 'A') + "!");
    const std::string long_id = quoted(std::string(65, 'c'));
    const std::string long_token = quoted(std::string(513, 't'));
    const std::string key_msg = ": must be 32 bytes of base64";
    const std::string id_msg = ": at most 64 characters";
    return {
        // hello
        {base_hello, "v", missing, "v: required"},
        {base_hello, "v", "\"1\"", "v: must be an integer"},
        {base_hello, "v", "1.0", "v: must be an integer"},
        {base_hello, "v", "2", "v: unsupported version; this server speaks version 1"},
        {base_hello, "v", "0", "v: unsupported version; this server speaks version 1"},
        {base_hello, "v", "18446744073709551615",
         "v: unsupported version; this server speaks version 1"},
        {base_hello, "role", missing,
         "role: required (seeker, peer or moderator), or resume_token"},
        {base_hello, "role", "\"admin\"", "role: must be one of seeker, peer, moderator"},
        {base_hello, "role", "\"Seeker\"", "role: must be one of seeker, peer, moderator"},
        {base_hello, "role", "1", "role: must be one of seeker, peer, moderator"},
        {base_hello, "token", missing, "token: required for role peer"},
        {base_hello, "token", "5", "token: must be a string"},
        {base_hello, "token", "\"\"", "token: must not be empty"},
        {base_hello, "token", long_token, "token: at most 512 characters"},
        {base_hello, "resume_token", "5", "resume_token: must be a string"},
        {base_hello, "resume_token", "\"\"", "resume_token: must not be empty"},
        {base_hello, "resume_token", long_token, "resume_token: at most 512 characters"},
        // request_match
        {base_request_match, "tags", missing, "tags: required"},
        {base_request_match, "tags", "\"grief\"", "tags: must be an array"},
        {base_request_match, "tags", "[]", "tags: must have 1..5 items"},
        {base_request_match, "tags", numbered_tags(6), "tags: must have 1..5 items"},
        {base_request_match, "tags", R"(["grief","ok",5])", "tags[2]: must be a string"},
        {base_request_match, "tags", R"(["grief","ok","Grief!"])", "tags[2]: unknown format"},
        {base_request_match, "tags", R"(["grief",""])", "tags[1]: unknown format"},
        {base_request_match, "tags", "[" + quoted(std::string(33, 'a')) + "]",
         "tags[0]: unknown format"},
        {base_request_match, "tags", R"(["grief","grief"])", "tags[1]: duplicate"},
        {base_request_match, "languages", missing, "languages: required"},
        {base_request_match, "languages", "{}", "languages: must be an array"},
        {base_request_match, "languages", "[]", "languages: must have 1..5 items"},
        {base_request_match, "languages", R"(["en","es","fr","de","pt","it"])",
         "languages: must have 1..5 items"},
        {base_request_match, "languages", R"(["e"])", "languages[0]: unknown format"},
        {base_request_match, "languages", R"(["en","en_US"])", "languages[1]: unknown format"},
        {base_request_match, "languages", R"(["en","1en"])", "languages[1]: unknown format"},
        {base_request_match, "languages", R"(["en","en-"])", "languages[1]: unknown format"},
        {base_request_match, "languages", R"([null])", "languages[0]: must be a string"},
        {base_request_match, "pubkey", missing, "pubkey: required"},
        {base_request_match, "pubkey", "5", "pubkey" + key_msg},
        {base_request_match, "pubkey", not_b64, "pubkey" + key_msg},
        {base_request_match, "pubkey", b64_31, "pubkey" + key_msg},
        {base_request_match, "pubkey", b64_33, "pubkey" + key_msg},
        {base_request_match, "intake", "5", "intake: must be a string"},
        {base_request_match, "intake", quoted(std::string(501, 'i')),
         "intake: at most 500 characters"},
        // prekeys
        {base_prekeys, "keys", missing, "keys: required"},
        {base_prekeys, "keys", "{}", "keys: must be an array"},
        {base_prekeys, "keys", "[]", "keys: must have 1..100 items"},
        {base_prekeys, "keys", repeat_list(fill(R"({"prekey":"$K","signature":"$S"})"), 101),
         "keys: must have 1..100 items"},
        {base_prekeys, "keys[0]", "\"k\"", "keys[0]: must be an object"},
        {base_prekeys, "keys[0].prekey", missing, "keys[0].prekey: required"},
        {base_prekeys, "keys[0].prekey", b64_31, "keys[0].prekey" + key_msg},
        {base_prekeys, "keys[0].signature", missing, "keys[0].signature: required"},
        {base_prekeys, "keys[0].signature", quoted(b64(63)),
         "keys[0].signature: must be 64 bytes of base64"},
        {base_prekeys, "keys[0].signature", "[]", "keys[0].signature: must be 64 bytes of base64"},
        // register_identity
        {base_register_identity, "identity_key", missing, "identity_key: required"},
        {base_register_identity, "identity_key", b64_33, "identity_key" + key_msg},
        {base_register_identity, "identity_key", not_b64, "identity_key" + key_msg},
        // shift_start
        {base_shift_start, "capacity", missing, "capacity: required"},
        {base_shift_start, "capacity", "0", "capacity: must be 1..5"},
        {base_shift_start, "capacity", "6", "capacity: must be 1..5"},
        {base_shift_start, "capacity", "-1", "capacity: must be 1..5"},
        {base_shift_start, "capacity", "2.0", "capacity: must be an integer"},
        {base_shift_start, "capacity", "\"2\"", "capacity: must be an integer"},
        {base_shift_start, "tags", missing, "tags: required"},
        {base_shift_start, "tags", "[]", "tags: must have 1..32 items"},
        {base_shift_start, "tags", numbered_tags(33), "tags: must have 1..32 items"},
        {base_shift_start, "tags", R"(["a b"])", "tags[0]: unknown format"},
        {base_shift_start, "languages", missing, "languages: required"},
        {base_shift_start, "languages", R"(["en",7])", "languages[1]: must be a string"},
        {base_shift_start, "wont_take", "\"grief\"", "wont_take: must be an array"},
        {base_shift_start, "wont_take", "{}", "wont_take: must be an array"},
        {base_shift_start, "wont_take", numbered_tags(6), "wont_take: must have 0..5 items"},
        {base_shift_start, "wont_take", R"(["a b"])", "wont_take[0]: unknown format"},
        {base_shift_start, "wont_take", R"(["grief",7])", "wont_take[1]: must be a string"},
        {base_shift_start, "wont_take", R"(["grief","grief"])", "wont_take[1]: duplicate"},
        {base_shift_start, "planned_end_at", "\"1795000000000\"",
         "planned_end_at: must be an integer"},
        {base_shift_start, "planned_end_at", "1.5", "planned_end_at: must be an integer"},
        {base_shift_start, "planned_end_at", "-1", "planned_end_at: must be 0..9007199254740991"},
        {base_shift_start, "planned_end_at", "9007199254740992",
         "planned_end_at: must be 0..9007199254740991"},
        // send
        {base_send, "conversation_id", missing, "conversation_id: required"},
        {base_send, "conversation_id", "5", "conversation_id: must be a string"},
        {base_send, "conversation_id", "null", "conversation_id: must be a string"},
        {base_send, "conversation_id", "\"\"", "conversation_id: must not be empty"},
        {base_send, "conversation_id", long_id, "conversation_id" + id_msg},
        {base_send, "seq", missing, "seq: required"},
        {base_send, "seq", "0", "seq: must be 1..9007199254740991"},
        {base_send, "seq", "-5", "seq: must be 1..9007199254740991"},
        {base_send, "seq", "9007199254740992", "seq: must be 1..9007199254740991"},
        {base_send, "seq", "18446744073709551615", "seq: must be 1..9007199254740991"},
        {base_send, "seq", "1e3", "seq: must be an integer"},
        {base_send, "seq", "1.5", "seq: must be an integer"},
        {base_send, "seq", "\"1\"", "seq: must be an integer"},
        {base_send, "copies", missing, "copies: required"},
        {base_send, "copies", "{}", "copies: must be an array"},
        {base_send, "copies", "[]", "copies: must have 1..3 items"},
        {base_send, "copies",
         repeat_list(fill(R"({"to":"peer","nonce":"$N","ciphertext":"$C"})"), 4),
         "copies: must have 1..3 items"},
        {base_send, "copies[0]", "5", "copies[0]: must be an object"},
        {base_send, "copies[0].to", missing, "copies[0].to: required"},
        {base_send, "copies[0].to", "\"system\"",
         "copies[0].to: must be one of seeker, peer, moderator"},
        {base_send, "copies[0].nonce", missing, "copies[0].nonce: required"},
        {base_send, "copies[0].nonce", quoted(b64(23)),
         "copies[0].nonce: must be 24 bytes of base64"},
        {base_send, "copies[0].nonce", quoted(b64(25)),
         "copies[0].nonce: must be 24 bytes of base64"},
        {base_send, "copies[0].nonce", quoted(std::string(31, 'A') + "_"),
         "copies[0].nonce: must be 24 bytes of base64"},
        {base_send, "copies[0].ciphertext", missing, "copies[0].ciphertext: required"},
        {base_send, "copies[0].ciphertext", "5", "copies[0].ciphertext: must be a base64 string"},
        {base_send, "copies[0].ciphertext", "\"Zg=\"", "copies[0].ciphertext: must be base64"},
        {base_send, "copies[0].ciphertext", quoted(b64(15)),
         "copies[0].ciphertext: must be at least 16 bytes"},
        {base_send, "copies[0].ciphertext", quoted(std::string(65540, 'A')),
         "copies[0].ciphertext: at most 65536 characters"},
        {base_send, "copies",
         repeat_list(fill(R"({"to":"peer","nonce":"$N","ciphertext":"$C"})"), 2),
         "copies[1].to: duplicate recipient"},
        // receipt, typing, sync, end, transfer
        {base_receipt, "conversation_id", missing, "conversation_id: required"},
        {base_receipt, "offset", missing, "offset: required"},
        {base_receipt, "offset", "0", "offset: must be 1..9007199254740991"},
        {base_receipt, "offset", "true", "offset: must be an integer"},
        {base_typing, "conversation_id", missing, "conversation_id: required"},
        {base_typing, "conversation_id", long_id, "conversation_id" + id_msg},
        {base_sync, "conversation_id", "[]", "conversation_id: must be a string"},
        {base_sync, "after", missing, "after: required"},
        {base_sync, "after", "-1", "after: must be 0..9007199254740991"},
        {base_sync, "after", "4.5", "after: must be an integer"},
        {base_end, "conversation_id", missing, "conversation_id: required"},
        {base_end, "reason", "5", "reason: must be a string"},
        {base_end, "reason", "\"I am done\"", "reason: unknown format"},
        {base_end, "reason", quoted(std::string(65, 'r')), "reason: unknown format"},
        {base_transfer, "conversation_id", missing, "conversation_id: required"},
        // escalate
        {base_escalate, "conversation_id", "5", "conversation_id: must be a string"},
        {base_escalate, "conversation_id", long_id, "conversation_id" + id_msg},
        {base_escalate, "level", missing, "level: required"},
        {base_escalate, "level", "\"none\"", "level: must be one of low, medium, high, imminent"},
        {base_escalate, "level", "3", "level: must be one of low, medium, high, imminent"},
        {base_escalate, "category", missing, "category: required"},
        {base_escalate, "category", "\"sadness\"",
         "category: must be one of suicide_risk, self_harm, harm_to_others, abuse, medical, "
         "other"},
        {base_escalate, "note", "{}", "note: must be a string"},
        {base_escalate, "note", quoted(std::string(501, 'n')), "note: at most 500 characters"},
        {base_escalate, "excerpts", "\"x\"", "excerpts: must be an array"},
        {base_escalate, "excerpts", repeat_list(fill(R"({"moderator_id":"m","sealed":"$E"})"), 65),
         "excerpts: must have 0..64 items"},
        {base_escalate, "excerpts[0].moderator_id", missing, "excerpts[0].moderator_id: required"},
        {base_escalate, "excerpts[0].moderator_id", long_id, "excerpts[0].moderator_id" + id_msg},
        {base_escalate, "excerpts[0].sealed", missing, "excerpts[0].sealed: required"},
        {base_escalate, "excerpts[0].sealed", quoted(b64(47)),
         "excerpts[0].sealed: must be at least 48 bytes"},
        {base_escalate, "excerpts[0].sealed", not_b64, "excerpts[0].sealed: must be base64"},
        // report
        {base_report, "conversation_id", missing, "conversation_id: required"},
        {base_report, "reason", missing, "reason: required"},
        {base_report, "reason", "\"rude\"",
         "reason: must be one of harassment, inappropriate, spam, other"},
        {base_report, "excerpts[0]", "[]", "excerpts[0]: must be an object"},
        {base_report, "excerpts[0].sealed", "5", "excerpts[0].sealed: must be a base64 string"},
        // block, watch, acknowledge, resolve, join, ban
        {base_block, "conversation_id", missing, "conversation_id: required"},
        {base_block, "conversation_id", "\"\"", "conversation_id: must not be empty"},
        {base_watch, "pubkey", missing, "pubkey: required"},
        {base_watch, "pubkey", b64_31, "pubkey" + key_msg},
        {base_acknowledge, "escalation_id", missing, "escalation_id: required"},
        {base_acknowledge, "escalation_id", long_id, "escalation_id" + id_msg},
        {base_resolve, "escalation_id", "1", "escalation_id: must be a string"},
        {base_resolve, "outcome", missing, "outcome: required"},
        {base_resolve, "outcome", "\"fixed\"",
         "outcome: must be one of de_escalated, emergency_services, referred, false_alarm, "
         "other"},
        {base_join, "conversation_id", missing, "conversation_id: required"},
        {base_join, "pubkey", missing, "pubkey: required"},
        {base_join, "pubkey", quoted(b64(32).substr(0, 43) + "B"), "pubkey" + key_msg},
        {base_ban, "conversation_id", missing, "conversation_id: required"},
        {base_ban, "party", missing, "party: required"},
        {base_ban, "party", "\"moderator\"", "party: must be one of seeker, peer"},
        {base_ban, "duration_s", missing, "duration_s: required"},
        {base_ban, "duration_s", "0", "duration_s: must be 1..31536000"},
        {base_ban, "duration_s", "31536001", "duration_s: must be 1..31536000"},
        {base_ban, "duration_s", "60.0", "duration_s: must be an integer"},
        // hello.device (§8 extension)
        {base_seeker_hello, "device", "5", "device" + key_msg},
        {base_seeker_hello, "device", "\"\"", "device" + key_msg},
        {base_seeker_hello, "device", b64_31, "device" + key_msg},
        {base_seeker_hello, "device", b64_33, "device" + key_msg},
        {base_seeker_hello, "device", not_b64, "device" + key_msg},
        {base_seeker_hello, "device", "[]", "device" + key_msg},
        {base_hello, "device", b64_31, "device" + key_msg},
        // consult, consult_reply (§8 extension)
        {base_consult, "conversation_id", "5", "conversation_id: must be a string"},
        {base_consult, "conversation_id", long_id, "conversation_id" + id_msg},
        {base_consult, "pubkey", missing, "pubkey: required"},
        {base_consult, "pubkey", b64_33, "pubkey" + key_msg},
        {base_consult, "copies", missing, "copies: required"},
        {base_consult, "copies", "null", "copies: must be an array"},
        {base_consult, "copies", "{}", "copies: must be an array"},
        {base_consult, "copies", "[]", "copies: must have 1..64 items"},
        {base_consult, "copies", repeat_list(fill(R"({"moderator_id":"m","sealed":"$E"})"), 65),
         "copies: must have 1..64 items"},
        {base_consult, "copies[0]", "\"m1\"", "copies[0]: must be an object"},
        {base_consult, "copies[0].moderator_id", missing, "copies[0].moderator_id: required"},
        {base_consult, "copies[0].moderator_id", "\"\"",
         "copies[0].moderator_id: must not be empty"},
        {base_consult, "copies[0].sealed", missing, "copies[0].sealed: required"},
        {base_consult, "copies[0].sealed", quoted(b64(47)),
         "copies[0].sealed: must be at least 48 bytes"},
        {base_consult, "copies[0].sealed", quoted(std::string(65540, 'A')),
         "copies[0].sealed: at most 65536 characters"},
        {base_consult_reply, "consult_id", missing, "consult_id: required"},
        {base_consult_reply, "consult_id", "7", "consult_id: must be a string"},
        {base_consult_reply, "consult_id", long_id, "consult_id" + id_msg},
        {base_consult_reply, "sealed", missing, "sealed: required"},
        {base_consult_reply, "sealed", "5", "sealed: must be a base64 string"},
        {base_consult_reply, "sealed", not_b64, "sealed: must be base64"},
        {base_consult_reply, "sealed", quoted(b64(47)), "sealed: must be at least 48 bytes"},
        {base_consult_reply, "sealed", quoted(std::string(65540, 'A')),
         "sealed: at most 65536 characters"},
        // feedback (issue #10 extension)
        {base_feedback, "conversation_id", missing, "conversation_id: required"},
        {base_feedback, "conversation_id", long_id, "conversation_id" + id_msg},
        {base_feedback, "helped", "0", "helped: must be 1..5"},
        {base_feedback, "helped", "6", "helped: must be 1..5"},
        {base_feedback, "helped", "4.0", "helped: must be an integer"},
        {base_feedback, "helped", "\"4\"", "helped: must be an integer"},
        {base_feedback, "feeling", "\"great\"", "feeling: must be one of worse, same, better"},
    };
}

TEST(DecodeClientMessage, EveryBaseOfTheBadTableIsValid) {
    for (const char* base :
         {base_hello,       base_request_match, base_prekeys,  base_register_identity,
          base_shift_start, base_send,          base_receipt,  base_typing,
          base_sync,        base_end,           base_transfer, base_escalate,
          base_report,      base_block,         base_watch,    base_acknowledge,
          base_resolve,     base_join,          base_ban,      base_seeker_hello,
          base_consult,     base_consult_reply, base_feedback}) {
        const decoded d = decode_client_message(fill(base));
        EXPECT_NE(message_of(d), nullptr) << base << "\n → " << failure_of(d)->message;
    }
}

TEST(DecodeClientMessage, EachBadFieldIsBadMessageNamingTheFieldAndKeepsTheId) {
    for (const auto& c : bad_cases()) {
        json::value root = json::parse(fill(c.base));
        edit(root, c.path, c.value == missing ? std::nullopt : std::optional<std::string>(c.value));
        const std::string text = json::serialize(root);
        const decoded d = decode_client_message(text);
        const decode_failure* f = failure_of(d);
        ASSERT_NE(f, nullptr) << c.path << " = " << c.value.substr(0, 80);
        EXPECT_EQ(f->code, error_code::bad_message) << c.path;
        EXPECT_EQ(f->message, c.expected) << c.path << " = " << c.value.substr(0, 80);
        EXPECT_EQ(d.id, "x") << c.path;
        EXPECT_EQ(d.type, std::string_view(root.as_object().at("type").as_string())) << c.path;
    }
}

TEST(DecodeFeedback, NeedsHelpedOrFeeling) {
    for (const char* text : {R"({"type":"feedback","id":"x","conversation_id":"c1"})",
                             R"({"type":"feedback","id":"x","conversation_id":"c1",
                                 "helped":null,"feeling":null})"}) {
        const decoded d = decode_client_message(text);
        const decode_failure* f = failure_of(d);
        ASSERT_NE(f, nullptr) << text;
        EXPECT_EQ(f->code, error_code::bad_message);
        EXPECT_EQ(f->message, "helped: helped or feeling required");
        EXPECT_EQ(d.id, "x");
    }
}

TEST(DecodeHello, DeviceIsAcceptedForStaffRolesToo) {
    // The server ignores it for staff; the codec does not judge roles.
    const decoded d = decode_client_message(
        fill(R"({"type":"hello","v":1,"role":"moderator","token":"t","device":"$K"})"));
    ASSERT_NE(message_of(d), nullptr);
    EXPECT_EQ(std::get<hello>(*message_of(d)).device, sample_array<32>());
}

TEST(DecodeHello, ResumeTokenAloneNeedsNoRoleOrToken) {
    const decoded d = decode_client_message(R"({"type":"hello","v":1,"resume_token":"abc"})");
    ASSERT_NE(message_of(d), nullptr);
    const auto& h = std::get<hello>(*message_of(d));
    EXPECT_EQ(h.resume_token, "abc");
    EXPECT_FALSE(h.role.has_value());
}

TEST(DecodeHello, SeekerNeedsNoToken) {
    const decoded d = decode_client_message(R"({"type":"hello","v":1,"role":"seeker"})");
    ASSERT_NE(message_of(d), nullptr);
    EXPECT_FALSE(std::get<hello>(*message_of(d)).token.has_value());
}

TEST(DecodeHello, ModeratorWithoutTokenNamesToken) {
    const decoded d = decode_client_message(R"({"type":"hello","v":1,"role":"moderator"})");
    ASSERT_NE(failure_of(d), nullptr);
    EXPECT_EQ(failure_of(d)->message, "token: required for role moderator");
}

TEST(DecodeHello, NullRoleCountsAsAbsent) {
    const decoded d = decode_client_message(R"({"type":"hello","v":1,"role":null})");
    ASSERT_NE(failure_of(d), nullptr);
    EXPECT_EQ(failure_of(d)->message.rfind("role: required", 0), 0u);
}

TEST(ShapeChecks, TagIds) {
    for (const char* ok : {"grief", "chronic_illness", "a", "lgbtq", "x-1", "0"}) {
        EXPECT_TRUE(is_tag_id(ok)) << ok;
    }
    for (const char* bad : {"", "Grief", "grief ", "grief!", "é", "a.b"}) {
        EXPECT_FALSE(is_tag_id(bad)) << bad;
    }
    EXPECT_TRUE(is_tag_id(std::string(32, 'a')));
    EXPECT_FALSE(is_tag_id(std::string(33, 'a')));
}

TEST(ShapeChecks, LanguageTags) {
    for (const char* ok : {"en", "pt-BR", "zh-Hant-TW", "es-419", "gsw", "sr-Latn-RS"}) {
        EXPECT_TRUE(is_language_tag(ok)) << ok;
    }
    for (const char* bad :
         {"", "e", "en-", "-en", "en--US", "en_US", "1en", "toolonglang", "en-toolongsub", "e n"}) {
        EXPECT_FALSE(is_language_tag(bad)) << bad;
    }
    EXPECT_FALSE(is_language_tag("en-" + std::string(8, 'a') + "-" + std::string(8, 'b') + "-" +
                                 std::string(8, 'c') + "-" + std::string(8, 'd'))); // 38 characters
}

TEST(ShapeChecks, CountCodePoints) {
    EXPECT_EQ(count_code_points(""), 0u);
    EXPECT_EQ(count_code_points("abc"), 3u);
    EXPECT_EQ(count_code_points("\xc3\xa9\xe2\x9d\xa4\xf0\x9f\x98\x80"), 3u); // é ❤ 😀
}

} // namespace
