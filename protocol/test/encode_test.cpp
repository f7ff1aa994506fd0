// encode_test.cpp — the server's encoders produce exactly the contract's shapes; client
// encode → server decode round trips every message; server events and ok bodies round trip
// through the client-side decoders.
#include "samples.hpp"
#include <kindred/protocol/codec.hpp>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace {

using namespace kindred::protocol;
using namespace kindred::protocol::test;
namespace json = boost::json;

// Compares as JSON values (key order and spacing do not matter).
void expect_json(const std::string& actual, const std::string& expected) {
    EXPECT_EQ(json::parse(actual), json::parse(fill(expected))) << actual;
}

// ---------------------------------------------------------------------------------------------
// ok / error.

TEST(EncodeOk, BareOkCarriesOnlyTypeAndRe) {
    expect_json(encode_ok("2"), R"({"type":"ok","re":"2"})");
}

TEST(EncodeOk, TypeAndReComeFirst) {
    EXPECT_EQ(encode_ok("6", ok_fields(send_ok{5})), R"({"type":"ok","re":"6","offset":5})");
}

TEST(EncodeOk, FieldsCannotOverrideTypeOrRe) {
    json::object fields{{"type", "x"}, {"re", "y"}, {"offset", 1}};
    expect_json(encode_ok("1", fields), R"({"type":"ok","re":"1","offset":1})");
}

TEST(EncodeOk, HelloResultHasTheContractShape) {
    hello_ok r{"s1", role::seeker, "rt", {{"c1", "active", 17}}};
    expect_json(encode_ok("1", ok_fields(r)),
                R"({"type":"ok","re":"1","session":"s1","role":"seeker","resume_token":"rt",
                    "conversations":[{"conversation_id":"c1","state":"active","last_offset":17}]})");
}

TEST(EncodeOk, OtherResultsHaveTheContractShapes) {
    expect_json(encode_ok("7", ok_fields(sync_ok{9, true})),
                R"({"type":"ok","re":"7","offset":9,"recovered":true})");
    expect_json(encode_ok("7", ok_fields(sync_ok{9, false})),
                R"({"type":"ok","re":"7","offset":9,"recovered":false})");
    expect_json(encode_ok("11", ok_fields(moderator_keys_ok{{{"m1", sample_array<32>()}}})),
                R"({"type":"ok","re":"11","keys":[{"moderator_id":"m1","pubkey":"$K"}]})");
    expect_json(encode_ok("14", ok_fields(join_ok{sample_array<32>(), sample_array<32>()})),
                R"({"type":"ok","re":"14","seeker_pubkey":"$K","peer_prekey":"$K"})");
    expect_json(encode_ok("10", ok_fields(escalate_ok{"e1"})),
                R"({"type":"ok","re":"10","escalation_id":"e1"})");
    expect_json(encode_ok("12", ok_fields(report_ok{"e2"})),
                R"({"type":"ok","re":"12","escalation_id":"e2"})");
    expect_json(encode_ok("16", ok_fields(consult_ok{"k1"})),
                R"({"type":"ok","re":"16","consult_id":"k1"})");
}

TEST(EncodeError, WithRe) {
    expect_json(
        encode_error("3", error_code::bad_message, "tags[2]: unknown format"),
        R"({"type":"error","re":"3","code":"bad_message","message":"tags[2]: unknown format"})");
}

TEST(EncodeError, WithoutReHasNoReKey) {
    const json::value v = json::parse(encode_error(std::nullopt, error_code::bad_json, "m"));
    EXPECT_FALSE(v.as_object().contains("re"));
    EXPECT_FALSE(v.as_object().contains("retry_after_ms"));
    expect_json(encode_error(std::nullopt, error_code::bad_json, "m"),
                R"({"type":"error","code":"bad_json","message":"m"})");
}

TEST(EncodeError, RateLimitedCarriesRetryAfter) {
    expect_json(encode_error("4", error_code::rate_limited, "slow down", 250),
                R"({"type":"error","re":"4","code":"rate_limited","message":"slow down",
                    "retry_after_ms":250})");
}

TEST(EncodeError, FromADecodeFailure) {
    const decoded d = decode_client_message(R"({"type":"shift_start","id":"5","capacity":9,
                                               "tags":["grief"],"languages":["en"]})");
    ASSERT_TRUE(std::holds_alternative<decode_failure>(d.result));
    expect_json(
        encode_error(d.id, std::get<decode_failure>(d.result)),
        R"({"type":"error","re":"5","code":"bad_message","message":"capacity: must be 1..5"})");
}

TEST(EncodeError, MessagesAreEscaped) {
    const std::string text = encode_error("q\"", error_code::internal, "a\"b\\c\n");
    const json::value v = json::parse(text);
    EXPECT_EQ(v.at("re").as_string(), "q\"");
    EXPECT_EQ(v.at("message").as_string(), "a\"b\\c\n");
}

TEST(ErrorCode, EveryCodeRoundTripsThroughItsString) {
    const char* names[] = {"bad_json",          "bad_message", "unknown_type", "too_large",
                           "not_authenticated", "forbidden",   "not_found",    "conflict",
                           "rate_limited",      "unavailable", "internal"};
    for (std::size_t i = 0; i < std::size(names); ++i) {
        const auto code = static_cast<error_code>(i);
        EXPECT_EQ(to_string(code), names[i]);
        EXPECT_EQ(error_code_from_string(names[i]), code);
    }
    EXPECT_FALSE(error_code_from_string("Bad_json").has_value());
    EXPECT_FALSE(error_code_from_string("").has_value());
}

// ---------------------------------------------------------------------------------------------
// Events: exact contract shapes.

matched_peer sample_peer() {
    return {"River",
            {"grief", "addiction"},
            {"grief"},
            sample_array<32>(),
            sample_array<32>(),
            sample_array<64>(100)};
}
matched_seeker sample_seeker() {
    return {sample_array<32>(), {"grief"}, {"grief"}, 12, risk::high};
}
escalation_info sample_escalation() {
    return {"e1",
            "c1",
            level::imminent,
            category::suicide_risk,
            escalation_source::triage,
            escalation_status::open,
            1764300000000,
            std::nullopt,
            0,
            {{"m1", sample_bytes(64, 9)}}};
}

TEST(EncodeEvent, EveryEventHasTheContractShape) {
    struct event_case {
        server_event event;
        std::string expected;
    };
    const std::vector<event_case> cases = {
        {pong{}, R"({"type":"pong"})"},
        {queued{3, 40}, R"({"type":"queued","position":3,"estimated_wait_s":40})"},
        {queued{2, std::nullopt}, R"({"type":"queued","position":2,"estimated_wait_s":null})"},
        {seeker_matched{"c1", false, sample_peer()},
         R"({"type":"matched","conversation_id":"c1","relaxed":false,
             "peer":{"alias":"River","tags":["grief","addiction"],"shared_tags":["grief"],
                     "prekey":"$K","identity_key":"$K","signature":"$S"}})"},
        {peer_matched{"c1", sample_array<32>(), sample_seeker(), "hello"},
         R"({"type":"matched","conversation_id":"c1","prekey":"$K",
             "seeker":{"pubkey":"$K","tags":["grief"],"shared_tags":["grief"],"waited_s":12,
                       "risk":"high"},"intake":"hello"})"},
        {peer_matched{"c1", sample_array<32>(), sample_seeker(), std::nullopt},
         R"({"type":"matched","conversation_id":"c1","prekey":"$K",
             "seeker":{"pubkey":"$K","tags":["grief"],"shared_tags":["grief"],"waited_s":12,
                       "risk":"high"}})"},
        {shift_state{shift_status::on, 1, 2},
         R"({"type":"shift","state":"on","active":1,"capacity":2})"},
        {prekeys_low{3}, R"({"type":"prekeys_low","remaining":3})"},
        {message_event{"c1", 5, role::seeker, 1, sample_array<24>(50), sample_bytes(48, 7),
                       1764300000000},
         R"({"type":"message","conversation_id":"c1","offset":5,"from":"seeker","seq":1,
             "nonce":"$N","ciphertext":"$C","sent_at":1764300000000})"},
        {receipt_event{"c1", 5, role::peer},
         R"({"type":"receipt","conversation_id":"c1","offset":5,"from":"peer"})"},
        {typing_event{"c1", role::seeker},
         R"({"type":"typing","conversation_id":"c1","from":"seeker"})"},
        {ended{"c1", ended_by::system, "peer_unavailable"},
         R"({"type":"ended","conversation_id":"c1","by":"system","reason":"peer_unavailable"})"},
        {joined{"c1", {"Sky", sample_array<32>()}},
         R"({"type":"joined","conversation_id":"c1","moderator":{"alias":"Sky","pubkey":"$K"}})"},
        {escalation_event{sample_escalation()},
         R"({"type":"escalation","escalation":{"id":"e1","conversation_id":"c1",
             "level":"imminent","category":"suicide_risk","source":"triage","state":"open",
             "created_at":1764300000000,"acknowledged_by":null,"repaged":0,
             "excerpts":[{"moderator_id":"m1","sealed":"$E"}],
             "note":null,"reason":null,"resolved_by":null,"outcome":null,"next_page_at":null,
             "peer":null}})"},
        {consult_event{"k1", "c1", "river", sample_array<32>(), sample_bytes(64, 9), 1764300000000},
         R"({"type":"consult","consult_id":"k1","conversation_id":"c1","peer":"river",
             "pubkey":"$K","sealed":"$E","sent_at":1764300000000})"},
        {consult_reply_event{"k1", "sky", sample_bytes(64, 9), 1764300000001},
         R"({"type":"consult_reply","consult_id":"k1","moderator":"sky","sealed":"$E",
             "sent_at":1764300000001})"},
    };
    std::set<std::size_t> seen;
    for (const auto& c : cases) {
        expect_json(encode_event(c.event), c.expected);
        seen.insert(c.event.index());
    }
    EXPECT_EQ(seen.size(), std::variant_size_v<server_event>) << "an event has no case";
}

TEST(EncodeEvent, EscalationExtensionsAreWrittenWhenSet) {
    escalation_info e = sample_escalation();
    e.source = escalation_source::report;
    e.state = escalation_status::resolved;
    e.note = "calm now";
    e.reason = report_reason::harassment;
    e.resolved_by = "m2";
    e.outcome = resolve_outcome::referred;
    e.next_page_at = 1764300030000;
    e.peer = "river";
    const json::value v = json::parse(encode_event(escalation_event{e}));
    const json::object& o = v.at("escalation").as_object();
    EXPECT_EQ(o.at("note").as_string(), "calm now");
    EXPECT_EQ(o.at("reason").as_string(), "harassment");
    EXPECT_EQ(o.at("resolved_by").as_string(), "m2");
    EXPECT_EQ(o.at("outcome").as_string(), "referred");
    EXPECT_EQ(o.at("next_page_at").as_int64(), 1764300030000);
    EXPECT_EQ(o.at("peer").as_string(), "river");
}

TEST(DecodeServerEvent, EscalationWithoutTheExtensionsReadsThemAsNull) {
    // What a server without the extensions sends still decodes.
    const auto frame = decode_server_frame(fill(
        R"({"type":"escalation","escalation":{"id":"e1","conversation_id":null,"level":"high",
            "category":"other","source":"seeker","state":"open","created_at":1,
            "acknowledged_by":null,"repaged":2,"excerpts":[]}})"));
    ASSERT_TRUE(frame.has_value());
    const auto back = decode_server_event(*frame);
    ASSERT_TRUE(std::holds_alternative<server_event>(back))
        << std::get<decode_failure>(back).message;
    const auto& e = std::get<escalation_event>(std::get<server_event>(back)).escalation;
    EXPECT_EQ(e.repaged, 2);
    EXPECT_FALSE(e.note || e.reason || e.resolved_by || e.outcome || e.next_page_at || e.peer);
}

TEST(DecodeServerEvent, BadEscalationExtensionsAreNamed) {
    const std::string head =
        R"({"type":"escalation","escalation":{"id":"e1","conversation_id":null,"level":"high",
            "category":"other","source":"seeker","state":"open","created_at":1,
            "acknowledged_by":null,"repaged":0,"excerpts":[],)";
    const std::pair<std::string, std::string> cases[] = {
        {R"("reason":"rude")", "escalation.reason: must be one of harassment, inappropriate, "
                               "spam, other"},
        {R"("outcome":"fixed")", "escalation.outcome: must be one of de_escalated, "
                                 "emergency_services, referred, false_alarm, other"},
        {R"("next_page_at":-1)", "escalation.next_page_at: must be 0..9007199254740991"},
        {R"("peer":"")", "escalation.peer: must not be empty"},
        {R"("note":5)", "escalation.note: must be a string"},
    };
    for (const auto& [field, message] : cases) {
        const auto frame = decode_server_frame(head + field + "}}");
        ASSERT_TRUE(frame.has_value()) << field;
        const auto back = decode_server_event(*frame);
        ASSERT_TRUE(std::holds_alternative<decode_failure>(back)) << field;
        EXPECT_EQ(std::get<decode_failure>(back).message, message);
    }
}

TEST(DecodeServerEvent, ConsultEventsDecodeAsEventsNotClientMessages) {
    // "consult" and "consult_reply" are both client messages and server events; the server
    // event decoder reads the event shape.
    const auto frame = decode_server_frame(fill(
        R"({"type":"consult","consult_id":"k1","conversation_id":null,"peer":"river",
            "pubkey":"$K","sealed":"$E","sent_at":5})"));
    ASSERT_TRUE(frame.has_value());
    const auto back = decode_server_event(*frame);
    ASSERT_TRUE(std::holds_alternative<server_event>(back))
        << std::get<decode_failure>(back).message;
    const auto& c = std::get<consult_event>(std::get<server_event>(back));
    EXPECT_FALSE(c.conversation_id.has_value());
    EXPECT_EQ(c.peer, "river");
    const auto missing = decode_server_event(*decode_server_frame(
        R"({"type":"consult_reply","consult_id":"k1","moderator":"sky","sent_at":5})"));
    ASSERT_TRUE(std::holds_alternative<decode_failure>(missing));
    EXPECT_EQ(std::get<decode_failure>(missing).message, "sealed: required");
}

TEST(EncodeEvent, EscalationWithoutConversationWritesNull) {
    escalation_info e = sample_escalation();
    e.conversation_id.reset();
    e.acknowledged_by = "m2";
    e.state = escalation_status::acknowledged;
    const json::value v = json::parse(encode_event(escalation_event{e}));
    EXPECT_TRUE(v.at("escalation").at("conversation_id").is_null());
    EXPECT_EQ(v.at("escalation").at("acknowledged_by").as_string(), "m2");
    EXPECT_EQ(v.at("escalation").at("state").as_string(), "acknowledged");
}

// ---------------------------------------------------------------------------------------------
// Round trips.

std::vector<client_message> every_client_message() {
    const auto k = sample_array<32>();
    const auto s = sample_array<64>(100);
    const auto n = sample_array<24>(50);
    return {
        hello{1, role::seeker, {}, {}},
        hello{1, role::peer, "tok", {}},
        hello{1, {}, {}, "resume"},
        ping{},
        request_match{{"grief", "addiction"}, {"en", "es"}, k, "I lost my dad \"last\" week\n"},
        request_match{{"grief"}, {"en"}, k, {}},
        cancel_match{},
        prekeys{{{k, s}, {sample_array<32>(7), sample_array<64>(8)}}},
        register_identity{k},
        shift_start{5, {"grief", "veterans"}, {"en"}},
        shift_start{5, {"grief"}, {"en"}, {"suicide", "self-harm"}, 1795000000000},
        shift_pause{},
        shift_resume{},
        shift_end{},
        kindred::protocol::send{
            "c1",
            42,
            {{role::peer, n, sample_bytes(300, 3)}, {role::moderator, n, sample_bytes(16)}}},
        receipt{"c1", 5},
        typing{"c1"},
        kindred::protocol::sync{"c1", 0},
        end{"c1", "done"},
        end{"c1", {}},
        transfer{"c1"},
        escalate{"c1", level::high, category::self_harm, "note", {{"m1", sample_bytes(48)}}},
        escalate{{}, level::imminent, category::suicide_risk, {}, {}},
        moderator_keys{},
        report{"c1",
               report_reason::inappropriate,
               {{"m1", sample_bytes(80)}, {"m2", sample_bytes(49)}}},
        block{"c1"},
        watch{k},
        acknowledge{"e1"},
        resolve{"e1", resolve_outcome::false_alarm},
        join{"c1", k},
        ban{"c1", party::peer, 3600},
        hello{1, role::seeker, {}, {}, k},
        hello{1, {}, {}, "resume", sample_array<32>(200)},
        unwatch{},
        consult{"c1", k, {{"m1", sample_bytes(48)}, {"m2", sample_bytes(100)}}},
        consult{{}, k, {{"m1", sample_bytes(60)}}},
        consult_reply{"k1", sample_bytes(80)},
        feedback{"c1", 5, feeling::same},
        feedback{"c1", {}, feeling::worse},
        feedback{"c1", 2, {}},
        my_summary{},
    };
}

TEST(RoundTrip, EveryClientMessageSurvivesEncodeThenDecode) {
    std::set<std::size_t> seen;
    for (const auto& m : every_client_message()) {
        for (const auto& id :
             {std::optional<std::string_view>{}, std::optional<std::string_view>{"r-1"}}) {
            const std::string text = encode_client_message(m, id);
            const decoded d = decode_client_message(text);
            ASSERT_TRUE(std::holds_alternative<client_message>(d.result))
                << text << "\n → " << std::get<decode_failure>(d.result).message;
            EXPECT_EQ(std::get<client_message>(d.result), m) << text;
            EXPECT_EQ(d.type, type_name(m));
            EXPECT_EQ(d.id, id ? std::optional<std::string>(*id) : std::nullopt);
            // Encoding is canonical: decode → encode gives back the same text.
            EXPECT_EQ(encode_client_message(std::get<client_message>(d.result), id), text);
        }
        seen.insert(m.index());
    }
    EXPECT_EQ(seen.size(), std::variant_size_v<client_message>) << "a message is not covered";
}

TEST(RoundTrip, ClientEncodingPutsTypeThenIdFirst) {
    EXPECT_EQ(encode_client_message(typing{"c"}, "9"),
              R"({"type":"typing","id":"9","conversation_id":"c"})");
    EXPECT_EQ(encode_client_message(ping{}), R"({"type":"ping"})");
}

TEST(RoundTrip, ShiftStartOmitsUnsetOptionalFields) {
    // Existing clients and servers never see the extension fields unless they are set.
    EXPECT_EQ(
        encode_client_message(shift_start{1, {"grief"}, {"en"}}, "1"),
        R"({"type":"shift_start","id":"1","capacity":1,"tags":["grief"],"languages":["en"]})");
    const json::value v = json::parse(
        encode_client_message(shift_start{1, {"grief"}, {"en"}, {"suicide"}, 1795000000000}, "1"));
    EXPECT_EQ(v.at("wont_take"), json::parse(R"(["suicide"])"));
    EXPECT_EQ(v.at("planned_end_at").as_int64(), 1795000000000);
}

TEST(RoundTrip, HelloOmitsAnUnsetDevice) {
    EXPECT_EQ(encode_client_message(hello{1, role::seeker, {}, {}}, "1"),
              R"({"type":"hello","id":"1","v":1,"role":"seeker"})");
}

TEST(RoundTrip, ConsultWithoutConversationSendsNull) {
    const json::value v = json::parse(
        encode_client_message(consult{{}, sample_array<32>(), {{"m1", sample_bytes(48)}}}));
    ASSERT_TRUE(v.as_object().contains("conversation_id"));
    EXPECT_TRUE(v.at("conversation_id").is_null());
}

TEST(RoundTrip, EscalateWithoutConversationSendsNull) {
    const json::value v =
        json::parse(encode_client_message(escalate{{}, level::low, category::other, {}, {}}));
    ASSERT_TRUE(v.as_object().contains("conversation_id"));
    EXPECT_TRUE(v.at("conversation_id").is_null());
}

TEST(RoundTrip, EveryServerEventSurvivesEncodeThenClientDecode) {
    const std::vector<server_event> events = {
        pong{},
        queued{1, 0},
        seeker_matched{"c1", true, sample_peer()},
        peer_matched{"c1", sample_array<32>(), sample_seeker(), "intake ❤"},
        peer_matched{"c1", sample_array<32>(), sample_seeker(), std::nullopt},
        shift_state{shift_status::ending, 2, 2},
        prekeys_low{0},
        message_event{"c1", 7, role::moderator, 3, sample_array<24>(), sample_bytes(272), 1},
        receipt_event{"c1", 7, role::seeker},
        typing_event{"c1", role::peer},
        ended{"c1", ended_by::moderator, "transfer"},
        joined{"c1", {"Sky", sample_array<32>(3)}},
        escalation_event{sample_escalation()},
        escalation_event{[] {
            escalation_info e = sample_escalation();
            e.note = "n";
            e.reason = report_reason::spam;
            e.resolved_by = "m1";
            e.outcome = resolve_outcome::other;
            e.next_page_at = 0;
            e.peer = "river";
            return e;
        }()},
        consult_event{"k1", std::nullopt, "river", sample_array<32>(4), sample_bytes(200), 9},
        consult_reply_event{"k1", "sky", sample_bytes(48), 10},
    };
    std::set<std::size_t> seen;
    for (const auto& e : events) {
        const std::string text = encode_event(e);
        const auto frame = decode_server_frame(text);
        ASSERT_TRUE(frame.has_value()) << text;
        EXPECT_EQ(frame->type, type_name(e));
        EXPECT_FALSE(frame->re.has_value());
        const auto back = decode_server_event(*frame);
        ASSERT_TRUE(std::holds_alternative<server_event>(back))
            << text << "\n → " << std::get<decode_failure>(back).message;
        EXPECT_EQ(std::get<server_event>(back), e) << text;
        seen.insert(e.index());
    }
    EXPECT_EQ(seen.size(), std::variant_size_v<server_event>);
}

TEST(RoundTrip, OkResultsSurviveEncodeThenDecodeOk) {
    const hello_ok h{"s", role::moderator, "rt", {{"c1", "active", 3}, {"c2", "ended", 0}}};
    const auto frame = decode_server_frame(encode_ok("1", ok_fields(h)));
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(frame->type, "ok");
    EXPECT_EQ(frame->re, "1");
    const auto back = decode_ok<hello_ok>(frame->body);
    ASSERT_TRUE(std::holds_alternative<hello_ok>(back));
    EXPECT_EQ(std::get<hello_ok>(back), h);

    const auto sync_frame = decode_server_frame(encode_ok("2", ok_fields(sync_ok{4, false})));
    EXPECT_EQ(std::get<sync_ok>(decode_ok<sync_ok>(sync_frame->body)), (sync_ok{4, false}));
    const moderator_keys_ok keys{{{"m1", sample_array<32>()}, {"m2", sample_array<32>(2)}}};
    const auto keys_frame = decode_server_frame(encode_ok("3", ok_fields(keys)));
    EXPECT_EQ(std::get<moderator_keys_ok>(decode_ok<moderator_keys_ok>(keys_frame->body)), keys);
    const join_ok j{sample_array<32>(5), sample_array<32>(6)};
    const auto join_frame = decode_server_frame(encode_ok("4", ok_fields(j)));
    EXPECT_EQ(std::get<join_ok>(decode_ok<join_ok>(join_frame->body)), j);
    const auto send_frame = decode_server_frame(encode_ok("5", ok_fields(send_ok{8})));
    EXPECT_EQ(std::get<send_ok>(decode_ok<send_ok>(send_frame->body)), send_ok{8});
    const auto esc_frame = decode_server_frame(encode_ok("6", ok_fields(escalate_ok{"e9"})));
    EXPECT_EQ(std::get<escalate_ok>(decode_ok<escalate_ok>(esc_frame->body)), escalate_ok{"e9"});
    const auto consult_frame = decode_server_frame(encode_ok("7", ok_fields(consult_ok{"k9"})));
    EXPECT_EQ(std::get<consult_ok>(decode_ok<consult_ok>(consult_frame->body)), consult_ok{"k9"});
    const my_summary_ok sum{{2, 5400}, {7, 36000}};
    const auto sum_frame = decode_server_frame(encode_ok("8", ok_fields(sum)));
    EXPECT_EQ(std::get<my_summary_ok>(decode_ok<my_summary_ok>(sum_frame->body)), sum);
    expect_json(encode_ok("8", ok_fields(sum)),
                R"({"type":"ok","re":"8","today":{"chats":2,"seconds_on_shift":5400},)"
                R"("week":{"chats":7,"seconds_on_shift":36000}})");
}

TEST(DecodeOk, MissingFieldIsNamed) {
    const auto frame = decode_server_frame(R"({"type":"ok","re":"1","offset":3})");
    ASSERT_TRUE(frame.has_value());
    const auto r = decode_ok<sync_ok>(frame->body);
    ASSERT_TRUE(std::holds_alternative<decode_failure>(r));
    EXPECT_EQ(std::get<decode_failure>(r).message, "recovered: required");
}

TEST(DecodeErrorFrame, ReadsCodeMessageReAndRetry) {
    const auto frame =
        decode_server_frame(encode_error("4", error_code::rate_limited, "slow down", 250));
    ASSERT_TRUE(frame.has_value());
    const auto e = decode_error_frame(*frame);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(*e, (error_frame{"4", error_code::rate_limited, "slow down", 250}));
}

TEST(DecodeErrorFrame, RejectsUnknownCodesAndOtherTypes) {
    EXPECT_FALSE(
        decode_error_frame(*decode_server_frame(R"({"type":"error","code":"nope","message":"m"})"))
            .has_value());
    EXPECT_FALSE(decode_error_frame(*decode_server_frame(R"({"type":"ok","re":"1"})")).has_value());
    EXPECT_FALSE(decode_error_frame(*decode_server_frame(R"({"type":"error","code":"internal"})"))
                     .has_value());
}

TEST(DecodeServerFrame, IsLooseButNeedsAnObjectWithAStringType) {
    EXPECT_FALSE(decode_server_frame("nope").has_value());
    EXPECT_FALSE(decode_server_frame("[]").has_value());
    EXPECT_FALSE(decode_server_frame(R"({"re":"1"})").has_value());
    EXPECT_FALSE(decode_server_frame(R"({"type":1})").has_value());
    const auto f = decode_server_frame(R"({"type":"whatever","re":5,"x":[1]})");
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->type, "whatever");
    EXPECT_FALSE(f->re.has_value());
    EXPECT_TRUE(f->body.contains("x"));
}

TEST(DecodeServerEvent, UnknownTypeAndBadFieldsFail) {
    const auto unknown = decode_server_event(*decode_server_frame(R"({"type":"zzz"})"));
    ASSERT_TRUE(std::holds_alternative<decode_failure>(unknown));
    EXPECT_EQ(std::get<decode_failure>(unknown).code, error_code::unknown_type);
    const auto bad = decode_server_event(
        *decode_server_frame(R"({"type":"shift","state":"asleep","active":0,"capacity":1})"));
    ASSERT_TRUE(std::holds_alternative<decode_failure>(bad));
    EXPECT_EQ(std::get<decode_failure>(bad).message,
              "state: must be one of on, paused, ending, off");
    const auto nested = decode_server_event(*decode_server_frame(
        R"({"type":"joined","conversation_id":"c","moderator":{"alias":"A","pubkey":"x"}})"));
    ASSERT_TRUE(std::holds_alternative<decode_failure>(nested));
    EXPECT_EQ(std::get<decode_failure>(nested).message,
              "moderator.pubkey: must be 32 bytes of base64");
}

TEST(TypeName, MatchesTheWireTypes) {
    EXPECT_EQ(type_name(client_message{request_match{}}), "request_match");
    EXPECT_EQ(type_name(client_message{end{}}), "end");
    EXPECT_EQ(type_name(server_event{shift_state{}}), "shift");
    EXPECT_EQ(type_name(server_event{seeker_matched{}}), "matched");
    EXPECT_EQ(type_name(server_event{peer_matched{}}), "matched");
    EXPECT_EQ(type_name(server_event{message_event{}}), "message");
}

TEST(Enums, EveryNameRoundTrips) {
    for (auto name : enum_traits<risk>::names) {
        ASSERT_TRUE(from_string<risk>(name).has_value());
        EXPECT_EQ(to_string(*from_string<risk>(name)), name);
    }
    EXPECT_FALSE(from_string<role>("system").has_value());
    EXPECT_EQ(to_string(static_cast<role>(9)), "");
}

} // namespace

// ---------------------------------------------------------------------------------------------
// The hand-written encoders of the relay's hot frames give exactly the generic encoders' text.
namespace {

std::vector<message_event> message_event_variants() {
    std::vector<message_event> out;
    const std::vector<std::string> ids{"c1", "a-Z_0.9~ !#$%&'()*+,/:;<=>?@[]^`{|}",
                                       std::string(64, 'x')};
    const std::vector<std::int64_t> numbers{1, 9, 10, 12345, limits::max_safe_integer};
    std::size_t k = 0;
    for (const auto& id : ids)
        for (const auto from : {role::seeker, role::peer, role::moderator})
            for (const auto n : numbers)
                for (const std::size_t size : {16, 17, 18, 48, 272, 301}) {
                    ++k;
                    out.push_back(message_event{
                        id, n, from, numbers[k % numbers.size()],
                        sample_array<24>(static_cast<std::uint8_t>(k)),
                        sample_bytes(size, static_cast<std::uint8_t>(k)),
                        k % 3 == 0 ? 0 : 1764300000000 + static_cast<std::int64_t>(k)});
                }
    return out;
}

} // namespace

TEST(EncodeFast, MessageEventEqualsTheGenericEncoderByteForByte) {
    for (const auto& e : message_event_variants()) {
        const std::string fast = encode_event(server_event{e});
        EXPECT_EQ(fast, detail::encode_event_generic(server_event{e}));
        // And it decodes back to the same event with the client's strict decoder.
        const auto frame = decode_server_frame(fast);
        ASSERT_TRUE(frame.has_value()) << fast;
        const auto back = decode_server_event(*frame);
        ASSERT_TRUE(std::holds_alternative<server_event>(back)) << fast;
        EXPECT_EQ(std::get<server_event>(back), server_event{e});
    }
}

TEST(EncodeFast, MessageEventWithTextNeedingEscapesTakesTheGenericPath) {
    // Not valid conversation ids, but the encoder must stay correct JSON whatever it is given.
    const std::vector<std::string> ids{"a\"b",      "a\\b",     std::string("a\x01z", 3),
                                       "tab\there", "\xc3\xa9", "\x7f"};
    for (const auto& id : ids) {
        message_event e{id, 3, role::peer, 2, sample_array<24>(), sample_bytes(20), 5};
        const std::string text = encode_event(server_event{e});
        EXPECT_EQ(text, detail::encode_event_generic(server_event{e}));
        const auto parsed = json::parse(text).as_object();
        EXPECT_EQ(parsed.at("conversation_id").as_string(), id);
    }
}

TEST(EncodeFast, SendOkEqualsTheGenericEncoderByteForByte) {
    const std::vector<std::string> ids{"1",
                                       "abc-DEF_123",
                                       std::string(64, 'z'),
                                       "a\"quote",
                                       "back\\slash",
                                       std::string("nul\0x", 5),
                                       "\xc3\xa9t\xc3\xa9",
                                       "new\nline",
                                       ""};
    for (const auto& re : ids)
        for (const std::int64_t offset :
             {std::int64_t{1}, std::int64_t{42}, limits::max_safe_integer}) {
            const std::string fast = encode_ok(re, send_ok{offset});
            EXPECT_EQ(fast, encode_ok(re, ok_fields(send_ok{offset})));
            const auto parsed = json::parse(fast).as_object();
            EXPECT_EQ(parsed.at("re").as_string(), re);
            EXPECT_EQ(parsed.at("offset").as_int64(), offset);
        }
    EXPECT_EQ(encode_ok("6", send_ok{5}), R"({"type":"ok","re":"6","offset":5})");
}
