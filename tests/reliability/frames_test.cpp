// frames_test.cpp — issue #8 item 1: hostile WebSocket frames and handshakes from a raw socket
// (raw_socket.hpp builds the bytes by hand) against a real kindred-server: each gets the right
// HTTP status or close code quickly, creates no session state and fans nothing out.
#include "integration_support.hpp"
#include "raw_socket.hpp"
#include <kindred/protocol/base64.hpp>

#include <sodium.h>

#include <cstdio>
#include <functional>

namespace kindred::itest {
namespace {

namespace json = boost::json;
using kindred::reltest::build_frame;
using kindred::reltest::close_frame;
using kindred::reltest::frame_spec;
using kindred::reltest::ms_since;
using kindred::reltest::raw_socket;
using kindred::reltest::server_frame;
using kindred::reltest::text_frame;
using clock_type = std::chrono::steady_clock;

// The issue asks for the answer "within 100 ms"; we print every measured time and assert only
// 2 s: the machine is shared and slow, and 2 s still fails a server that hangs or waits for a
// timeout (handshake 10 s, idle 2 × 20 s) instead of refusing at once.
constexpr double issue_bound_ms = 100;
constexpr double hang_bound_ms = 2000;
constexpr int frame_limit = 4096; // --max-frame-bytes for these tests
// A case where the server must fail the connection without a close frame (TCP closed) and
// count it as a 1002 (see the close codes from 5000 up below).
constexpr std::uint16_t dropped_as_1002 = 1;

// One hostile frame sequence: its name, the bytes built from a payload that would be valid
// JSON (a hello, or a send in the conversation), and the close code the server must send.
struct frame_case {
    std::string name;
    std::function<std::string(const std::string& payload)> bytes;
    std::uint16_t close_code;
};

std::vector<frame_case> frame_cases() {
    std::vector<frame_case> cases;
    cases.push_back({"unmasked client frame",
                     [](const std::string& p) {
                         return build_frame({0x1, p, true, false});
                     },
                     1002});
    for (std::uint8_t rsv : {4, 2, 1})
        cases.push_back({"RSV bits " + std::to_string(rsv) + " set",
                         [rsv](const std::string& p) {
                             return build_frame({0x1, p, true, true, rsv});
                         },
                         1002});
    cases.push_back({"fragmented control frame (ping without FIN) inside a message",
                     [](const std::string& p) {
                         const auto half = p.size() / 2;
                         return build_frame({0x1, p.substr(0, half), false}) +
                                build_frame({0x9, "x", false}) +
                                build_frame({0x0, p.substr(half), true});
                     },
                     1002});
    cases.push_back({"oversized ping (126 bytes)",
                     [](const std::string& p) {
                         return build_frame({0x9, std::string(126, 'p')}) + text_frame(p);
                     },
                     1002});
    cases.push_back({"oversized close (126 bytes)",
                     [](const std::string&) { return close_frame(1000, std::string(124, 'r')); },
                     1002});
    for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF})
        cases.push_back({"reserved opcode " + std::to_string(op),
                         [op](const std::string& p) {
                             return build_frame({op, p});
                         },
                         1002});
    cases.push_back({"continuation without a started message",
                     [](const std::string& p) {
                         return build_frame({0x0, p});
                     },
                     1002});
    cases.push_back({"new text frame while a fragmented message is open",
                     [](const std::string& p) {
                         return build_frame({0x1, p.substr(0, 5), false}) + text_frame(p);
                     },
                     1002});
    // U+20AC is E2 82 AC; E2 | 82 | 28 breaks in the third fragment, so only a validator that
    // carries its state across fragments catches it.
    cases.push_back({"invalid UTF-8 split across two continuation fragments",
                     [](const std::string& p) {
                         const auto cut = p.rfind('"'); // inside the last string value
                         return build_frame({0x1, p.substr(0, cut) + "\xE2", false}) +
                                build_frame({0x0, "\x82", false}) +
                                build_frame({0x0, "\x28" + p.substr(cut), true});
                     },
                     1007});
    cases.push_back({"UTF-16 surrogate split across fragments",
                     [](const std::string& p) {
                         const auto cut = p.rfind('"');
                         return build_frame({0x1, p.substr(0, cut) + "\xED", false}) +
                                build_frame({0x0, "\xA0\x80" + p.substr(cut), true});
                     },
                     1007});
    cases.push_back({"one frame over max_frame_bytes",
                     [](const std::string& p) {
                         return text_frame(p.substr(0, p.size() - 1) + R"(,"pad":")" +
                                           std::string(frame_limit, 'x') + "\"}");
                     },
                     1009});
    cases.push_back(
        {"fragments each small, together over max_frame_bytes",
         [](const std::string& p) {
             std::string out = build_frame({0x1, p.substr(0, p.size() - 1) + R"(,"pad":")", false});
             for (int i = 0; i < 5; ++i)
                 out += build_frame({0x0, std::string(1000, 'x'), false});
             return out + build_frame({0x0, "\"}", true});
         },
         1009});
    for (std::uint16_t code : {1005, 1006, 1015, 1004, 999, 0, 2999})
        cases.push_back({"close code " + std::to_string(code),
                         [code](const std::string&) { return close_frame(code, "bye"); }, 1002});
    // RFC 6455 §7.4.2 defines no code from 5000 up, but Boost.Beast 1.81 (which answers close
    // frames itself) counts them valid and would echo them. The session's control callback
    // shuts the socket before Beast answers: the connection fails without a close frame.
    for (std::uint16_t code : {5000, 65535})
        cases.push_back({"close code " + std::to_string(code) + " (TCP closed, no echo)",
                         [code](const std::string&) { return close_frame(code, "bye"); },
                         dropped_as_1002});
    cases.push_back({"close with a 1-byte payload",
                     [](const std::string&) {
                         return build_frame({0x8, "\x03"});
                     },
                     1002});
    cases.push_back({"close reason not UTF-8",
                     [](const std::string&) { return close_frame(1000, "\xC0\xAF"); }, 1002});
    cases.push_back({"binary frame",
                     [](const std::string& p) {
                         return build_frame({0x2, p});
                     },
                     1003});
    return cases;
}

class Frames : public relay_fixture {
protected:
    std::size_t session_keys() { return redis_.keys("sess:*").size(); }

    // A connection upgraded by hand, or a failure.
    raw_socket upgraded() {
        raw_socket s(port());
        auto r = s.upgrade();
        EXPECT_EQ(r.status, 101) << r.head << r.body;
        return s;
    }

    // Sends a ping with an id and collects every frame until its ok: the fence proves the
    // socket has been given everything queued for it before the ping was answered.
    static std::vector<ws_frame> fence(ws_client& ws, const std::string& id) {
        auto frames = ws.request(R"({"type":"ping","id":")" + id + R"("})");
        EXPECT_FALSE(frames.empty());
        if (!frames.empty()) expect_ok(frames.back(), id);
        std::vector<ws_frame> others;
        for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
            auto o = object_of(frames[i]);
            if (str(o, "type") != "pong") others.push_back(frames[i]);
        }
        return others;
    }

    // What a match sends the peer besides `matched` (shift, prekeys_low) is posted right after
    // it by the thread that announced the match; on a server with two threads it can land
    // after a later answer on the peer's connection (seen once in CI: after the f0 fence's
    // pong). Fences after the match leave those two out.
    static std::vector<ws_frame> without_match_events(std::vector<ws_frame> frames) {
        std::erase_if(frames, [](const ws_frame& f) {
            const auto type = str(object_of(f), "type");
            return type == "shift" || type == "prekeys_low";
        });
        return frames;
    }

    std::string send_json(const std::string& conv, int seq) {
        json::object copy{{"to", "peer"}, {"nonce", rand_b64(24)}, {"ciphertext", rand_b64(48)}};
        json::object o{{"type", "send"},
                       {"id", "s" + std::to_string(seq)},
                       {"conversation_id", conv},
                       {"seq", seq},
                       {"copies", json::array{copy}}};
        return json::serialize(o);
    }

    // Sends `bytes` on `s` and expects a close frame with `code`; returns the time it took.
    static double expect_close_after(raw_socket& s, const std::string& bytes, std::uint16_t code,
                                     const std::string& name) {
        const auto start = clock_type::now();
        s.send(bytes);
        std::vector<server_frame> before;
        auto f = s.read_until_close(std::chrono::milliseconds(int(hang_bound_ms) + 1000), &before);
        const double took = ms_since(start);
        if (code == dropped_as_1002) {
            EXPECT_EQ(f.what, server_frame::kind::eof) << name << ": got " << describe(f);
        } else {
            EXPECT_TRUE(f.is_close()) << name << ": got " << describe(f);
            EXPECT_EQ(f.close_code, code) << name;
        }
        for (const auto& b : before)
            EXPECT_NE(b.opcode, 0x1) << name << ": a text frame before the close: " << b.payload;
        EXPECT_LT(took, hang_bound_ms) << name;
        std::printf("  %-62s %-10s in %7.2f ms%s\n", name.c_str(), describe(f).c_str(), took,
                    took > issue_bound_ms ? "  (over the issue's 100 ms)" : "");
        return took;
    }
};

// What is done: a matched seeker and peer are the watchers; for each malformed handshake
// (missing key, bad key, wrong version, disallowed Origin, 9 KiB of headers, a token in the
// URL, no Upgrade header) a raw socket sends it. What must hold: the right status (400, 426,
// 403, 431, 400, 426) with no 101, no new sess:* key, and the watchers get nothing.
// How: the raw socket reads the status line; time from the request to it is printed and
// asserted < 2 s; sess:* keys are counted before and after; a ping/pong fence on each watcher.
TEST_F(Frames, HandshakeNegativesAreRefusedWithTheRightStatus) {
    start_server({"--max-frame-bytes", std::to_string(frame_limit)});
    auto peer = ready_peer(port());
    auto seeker_ws = seeker();
    auto conv = match(seeker_ws, peer);
    ASSERT_FALSE(conv.conversation_id.empty());
    fence(peer, "f0"); // what the match sent (shift, prekeys_low) is not part of the test
    fence(seeker_ws, "f0");
    const auto sessions_before = session_keys();

    struct handshake_case {
        std::string name;
        std::string target;
        std::vector<std::pair<std::string, std::string>> extra;
        std::vector<std::string> drop;
        int status;
    };
    const std::string pad(9000, 'a');
    const std::vector<handshake_case> cases{
        {"missing Sec-WebSocket-Key", "/v1/ws", {}, {"Sec-WebSocket-Key"}, 400},
        {"Sec-WebSocket-Key not 16 bytes",
         "/v1/ws",
         {{"Sec-WebSocket-Key", "c2hvcnQ="}},
         {"Sec-WebSocket-Key"},
         400},
        {"Sec-WebSocket-Version 8",
         "/v1/ws",
         {{"Sec-WebSocket-Version", "8"}},
         {"Sec-WebSocket-Version"},
         426},
        {"missing Sec-WebSocket-Version", "/v1/ws", {}, {"Sec-WebSocket-Version"}, 400},
        {"disallowed Origin", "/v1/ws", {{"Origin", "https://evil.example"}}, {}, 403},
        {"Origin null", "/v1/ws", {{"Origin", "null"}}, {}, 403},
        {"9 KiB of headers", "/v1/ws", {{"X-Pad", pad}}, {}, 431},
        {"login token in the URL", "/v1/ws?token=abc", {}, {}, 400},
        {"resume token in the URL", "/v1/ws?resume_token=abc.def", {}, {}, 400},
        {"access_token in the URL, any case", "/v1/ws?x=1&Access_Token=abc", {}, {}, 400},
        {"no Upgrade header", "/v1/ws", {}, {"Upgrade"}, 426},
    };
    std::printf("handshake negatives (issue bound %.0f ms):\n", issue_bound_ms);
    for (const auto& c : cases) {
        raw_socket s(port());
        const auto start = clock_type::now();
        auto r = s.upgrade(c.target, c.extra, c.drop,
                           std::chrono::milliseconds(int(hang_bound_ms) + 1000));
        const double took = ms_since(start);
        EXPECT_EQ(r.status, c.status) << c.name << ": " << r.head << r.body;
        // Every refusal carries the contract's JSON error body (protocol/README.md §7).
        boost::system::error_code ec;
        auto body = json::parse(r.body, ec);
        EXPECT_TRUE(!ec && body.is_object() && body.as_object().contains("error"))
            << c.name << ": not a JSON error body: " << r.body;
        if (c.name == "Sec-WebSocket-Version 8") {
            EXPECT_NE(r.head.find("Sec-WebSocket-Version: 13"), std::string::npos) << r.head;
        }
        EXPECT_LT(took, hang_bound_ms) << c.name;
        std::printf("  %-40s %d in %7.2f ms%s\n", c.name.c_str(), r.status, took,
                    took > issue_bound_ms ? "  (over the issue's 100 ms)" : "");
        // The refused socket is not a WebSocket: a frame on it gets no answer but the end.
        s.send(text_frame(hello_json("seeker")));
        auto after = s.read_frame(500ms);
        EXPECT_NE(after.what == server_frame::kind::frame && after.opcode == 0x1, true)
            << c.name << ": answered a frame after refusing the upgrade: " << after.payload;
    }
    EXPECT_EQ(session_keys(), sessions_before) << "a refused handshake left a session";
    for (auto& f : without_match_events(fence(peer, "fp")))
        ADD_FAILURE() << "the peer got " << f.text;
    for (auto& f : fence(seeker_ws, "fs"))
        ADD_FAILURE() << "the seeker got " << f.text;
}

// What is done: on freshly upgraded raw sockets, each hostile frame sequence of frame_cases()
// (unmasked, RSV bits, fragmented/oversized control frames, reserved opcodes, continuation
// errors, invalid UTF-8 split across fragments, over-limit single and fragmented messages,
// invalid close codes, binary) is the first thing sent, built around a valid seeker hello.
// What must hold: a close frame with the right code (1002, 1007, 1009, 1003) and no text frame
// before it; no sess:* key created; the server's close metrics count the code it sent.
// How: time from the bytes to the close frame printed, asserted < 2 s; sess:* keys counted;
// kindred_ws_closes_total{code} read from /metrics before and after.
TEST_F(Frames, HostileFirstFramesCloseWithTheRightCodeAndCreateNoSession) {
    start_server({"--max-frame-bytes", std::to_string(frame_limit)});
    const auto sessions_before = session_keys();
    const auto cases = frame_cases();
    std::map<std::uint16_t, int> expected_closes;
    std::printf("hostile first frames (payload: a seeker hello):\n");
    double worst = 0;
    for (const auto& c : cases) {
        auto s = upgraded();
        worst = std::max(
            worst, expect_close_after(s, c.bytes(hello_json("seeker")), c.close_code, c.name));
        ++expected_closes[c.close_code == dropped_as_1002 ? 1002 : c.close_code];
    }
    std::printf("  worst: %.2f ms over %zu cases\n", worst, cases.size());
    EXPECT_EQ(session_keys(), sessions_before) << "a hostile frame created a session";

    // The server's own account of the closes must agree with what the clients saw (a close it
    // sent with 1002 must not be counted, or logged, as 1006). The server counts a close when
    // its own close completes, which may be just after the client saw the close frame: wait
    // (bounded) until the counts have caught up, then compare.
    std::string metrics;
    kindred::testsupport::eventually(
        [&] {
            metrics = get("/metrics").body;
            for (const auto& [code, n] : expected_closes)
                if (metric_value(metrics, "kindred_ws_closes_total",
                                 {"code=\"" + std::to_string(code) + "\""})
                        .value_or(0) < n)
                    return false;
            return true;
        },
        std::chrono::seconds(5));
    for (const auto& [code, n] : expected_closes) {
        auto v = metric_value(metrics, "kindred_ws_closes_total",
                              {"code=\"" + std::to_string(code) + "\""});
        EXPECT_EQ(v.value_or(0), n) << "kindred_ws_closes_total{code=" << code << "}";
    }
    EXPECT_FALSE(metric_value(metrics, "kindred_ws_closes_total", {"code=\"1006\""}))
        << "closes the server initiated are counted as abnormal (1006)";
}

// Positive controls for the cases above, so they cannot pass by refusing everything: valid
// UTF-8 split across three fragments, a ping between fragments, a ping of 125 bytes, valid
// close codes 1000 and 4000, and a message of exactly max_frame_bytes in four fragments.
TEST_F(Frames, ValidFragmentsControlFramesAndClosesAreAccepted) {
    start_server({"--max-frame-bytes", std::to_string(frame_limit)});
    {
        auto s = upgraded();
        // {"type":"hello","id":"€",...} with the euro sign split E2 | 82 | AC.
        std::string hello = hello_json("seeker", "\xE2\x82\xAC");
        const auto at = hello.find("\xE2");
        ASSERT_TRUE(s.send(build_frame({0x1, hello.substr(0, at + 1), false}) +
                           build_frame({0x9, std::string(125, 'p')}) +
                           build_frame({0x0, hello.substr(at + 1, 1), false}) +
                           build_frame({0x0, hello.substr(at + 2), true})));
        std::vector<server_frame> got;
        for (int i = 0; i < 3 && got.size() < 2; ++i) {
            auto f = s.read_frame(3s);
            if (f.what != server_frame::kind::frame) break;
            got.push_back(f);
        }
        ASSERT_EQ(got.size(), 2u);
        EXPECT_EQ(got[0].opcode, 0xA) << "the ping gets its pong first";
        EXPECT_EQ(got[0].payload, std::string(125, 'p'));
        auto o = parse_object(got[1].payload);
        EXPECT_EQ(str(o, "type"), "ok") << got[1].payload;
        EXPECT_EQ(str(o, "re"), "\xE2\x82\xAC");
        // A message of exactly the limit, in four fragments.
        const std::string head = R"({"type":"ping","id":"p","pad":")";
        std::string exact = head + std::string(frame_limit - head.size() - 2, 'x') + "\"}";
        ASSERT_EQ(exact.size(), std::size_t(frame_limit));
        std::string bytes;
        for (int i = 0; i < 4; ++i)
            bytes += build_frame({std::uint8_t(i == 0 ? 0x1 : 0x0),
                                  exact.substr(i * frame_limit / 4, frame_limit / 4), i == 3});
        ASSERT_TRUE(s.send(bytes));
        auto pong = parse_object(s.next_text());
        EXPECT_EQ(str(pong, "type"), "pong");
        auto ok = parse_object(s.next_text());
        EXPECT_EQ(str(ok, "re"), "p");
    }
    for (std::uint16_t code : {1000, 4000}) {
        auto s = upgraded();
        const auto start = clock_type::now();
        ASSERT_TRUE(s.send(close_frame(code, "bye")));
        auto f = s.read_until_close(3s);
        EXPECT_TRUE(f.is_close()) << describe(f);
        std::printf("  client close %u answered with close %u in %.2f ms\n", code, f.close_code,
                    ms_since(start));
    }
}

// What is done: a seeker and a peer are matched; for each case of frame_cases() a raw socket
// resumes the seeker's session (valid hello), then sends the hostile sequence built around a
// valid `send` to the conversation. What must hold: the right close code quickly, and the peer
// (the watching connection) receives nothing — no message, typing or ended — and nothing is
// stored; a final valid send does reach the peer (so the watcher would have seen a leak).
// How: close time printed, asserted < 2 s; a ping/pong fence on the peer; the peer's sync.
TEST_F(Frames, HostileFramesInAConversationFanNothingOut) {
    start_server({"--max-frame-bytes", std::to_string(frame_limit)});
    auto peer = ready_peer(port());
    hello_result h;
    auto seeker_ws = seeker(&h);
    auto conv = match(seeker_ws, peer);
    ASSERT_FALSE(conv.conversation_id.empty());
    seeker_ws.close();
    fence(peer, "f0"); // what the match sent (shift, prekeys_low) is not part of the test
    const auto cases = frame_cases();
    std::printf("hostile frames carrying a send, after a resume:\n");
    int seq = 0;
    for (const auto& c : cases) {
        auto s = upgraded();
        auto answer = parse_object(s.request(resume_json(h.resume_token, "r")));
        ASSERT_EQ(str(answer, "type"), "ok") << c.name;
        expect_close_after(s, c.bytes(send_json(conv.conversation_id, ++seq)), c.close_code,
                           c.name);
    }
    for (auto& f : without_match_events(fence(peer, "f1")))
        ADD_FAILURE() << "the peer got " << f.text;
    // Nothing was stored: the peer's sync is empty.
    auto synced = peer.request(R"({"type":"sync","id":"y","conversation_id":")" +
                               conv.conversation_id + R"(","after":0})");
    ASSERT_FALSE(synced.empty());
    EXPECT_EQ(synced.size(), 1u) << "messages were stored";
    auto ok = expect_ok(synced.back(), "y");
    EXPECT_EQ(ok.at("offset").as_int64(), 0);

    // Control: the same send in a well-formed frame is delivered.
    auto s = upgraded();
    ASSERT_EQ(str(parse_object(s.request(resume_json(h.resume_token, "r"))), "type"), "ok");
    auto sent = parse_object(s.request(send_json(conv.conversation_id, ++seq)));
    EXPECT_EQ(str(sent, "type"), "ok");
    auto m = wait_for(peer, "message");
    EXPECT_EQ(str(m, "conversation_id"), conv.conversation_id);
}

} // namespace
} // namespace kindred::itest
