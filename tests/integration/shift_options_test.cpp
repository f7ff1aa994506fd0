// shift_options_test.cpp — issue #4's shift_start extensions against one real kindred-server:
// a peer whose `wont_take` lists the seeker's tag is passed over (a second peer without it gets
// the match); a peer whose `planned_end_at` falls inside `no_new_match_before_end_s` is passed
// over while one ending later is matched; bad values → bad_message naming the field.
#include "integration_support.hpp"
#include <kindred/protocol/base64.hpp>

#include <sodium.h>

#include <array>
#include <chrono>

namespace kindred::itest {
namespace {

namespace json = boost::json;

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string shift_json(std::string_view id, std::string_view extra) {
    return R"({"type":"shift_start","id":")" + std::string(id) +
           R"(","capacity":1,"tags":["grief"],"languages":["en"])" + std::string(extra) + "}";
}

class ShiftOptions : public integration_test {
protected:
    struct peer {
        ws_client ws;
        ed25519_pair identity;
    };

    // A peer certified for grief, logged in, with an identity and prekeys, whose shift_start
    // carries `extra` (a JSON fragment starting with a comma, or empty).
    std::unique_ptr<peer> ready_peer(const std::string& name, std::string_view extra) {
        const auto pw = add_staff(name, "peer");
        auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                            {"user", "certify", name, "--tags", "grief", "--until", "2099-01-01"});
        EXPECT_EQ(r.code, 0) << r.output;
        auto p = std::make_unique<peer>(peer{staff_socket("peer", login(name, pw)), {}});
        expect_ok(last(p->ws.request(R"({"type":"register_identity","id":"r","identity_key":")" +
                                     b64(p->identity.pk) + R"("})")),
                  "r");
        expect_ok(
            last(p->ws.request(R"({"type":"prekeys","id":"k","keys":[)" + prekey_json(p->identity) +
                               "," + prekey_json(p->identity) + "]}")),
            "k");
        expect_ok(last(p->ws.request(shift_json("s", extra))), "s");
        EXPECT_EQ(str(wait_for(p->ws, "shift"), "state"), "on");
        return p;
    }

    // A seeker asking for grief; returns once its request is queued (no peer fits yet).
    ws_client queued_seeker() {
        auto ws = seeker();
        std::array<std::uint8_t, 32> pk{}, sk{};
        crypto_kx_keypair(pk.data(), sk.data());
        expect_ok(last(ws.request(R"({"type":"request_match","id":"m","tags":["grief"],)"
                                  R"("languages":["en"],"pubkey":")" +
                                  b64(pk) + "\"}")),
                  "m");
        EXPECT_EQ(wait_for(ws, "queued").at("position").as_int64(), 1);
        return ws;
    }

    // `excluded` started first and the seeker still queued; now `chosen` is matched with it,
    // and `excluded` saw no `matched` (the seeker can only be matched once).
    static void expect_matched_with(ws_client& seeker_ws, peer& chosen, peer& excluded) {
        auto sm = wait_for(seeker_ws, "matched");
        auto pm = wait_for(chosen.ws, "matched");
        EXPECT_FALSE(str(sm, "conversation_id").empty());
        EXPECT_EQ(str(sm, "conversation_id"), str(pm, "conversation_id"));
        auto frames = excluded.ws.request(R"({"type":"shift_pause","id":"p"})");
        expect_ok(last(frames), "p");
        for (const auto& f : frames) {
            if (f.is_text()) {
                EXPECT_NE(str(object_of(f), "type"), "matched") << f.text;
            }
        }
    }
};

TEST_F(ShiftOptions, WontTakePeerIsPassedOverForThatTag) {
    start_server();
    auto wary = ready_peer("wary", R"(,"wont_take":["grief"])");
    auto seeker_ws = queued_seeker();
    auto open = ready_peer("open", "");
    expect_matched_with(seeker_ws, *open, *wary);
}

TEST_F(ShiftOptions, PeerEndingWithinTheWindowIsPassedOver) {
    start_server({"--no-new-match-before-end-s", "600"});
    // 5 minutes left: inside the 10-minute window. 2 hours left: outside it.
    auto leaving = ready_peer("leaving", R"(,"planned_end_at":)" +
                                             std::to_string(unix_ms_now() + 5 * 60 * 1000));
    auto seeker_ws = queued_seeker();
    auto staying = ready_peer("staying", R"(,"planned_end_at":)" +
                                             std::to_string(unix_ms_now() + 2 * 3600 * 1000));
    expect_matched_with(seeker_ws, *staying, *leaving);
}

TEST_F(ShiftOptions, BadValuesAreBadMessagesNamingTheField) {
    start_server();
    const auto pw = add_staff("river", "peer");
    auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                        {"user", "certify", "river", "--tags", "grief", "--until", "2099-01-01"});
    EXPECT_EQ(r.code, 0) << r.output;
    auto ws = staff_socket("peer", login("river", pw));
    const auto now = unix_ms_now();
    const std::vector<std::pair<std::string, std::string>> cases{
        {R"(,"wont_take":"grief")", "wont_take"},
        {R"(,"wont_take":["a","b","c","d","e","f"])", "wont_take"},
        {R"(,"wont_take":["Not A Tag"])", "wont_take[0]"},
        {R"(,"wont_take":["grief","astrology"])", "wont_take[1]"},
        {R"(,"planned_end_at":"soon")", "planned_end_at"},
        {R"(,"planned_end_at":)" + std::to_string(now - 60'000), "planned_end_at"},
        {R"(,"planned_end_at":)" + std::to_string(now + 48 * 3600 * 1000LL), "planned_end_at"},
    };
    int i = 0;
    for (const auto& [extra, field] : cases) {
        const std::string id = "b" + std::to_string(i++);
        auto bad = expect_error(last(ws.request(shift_json(id, extra))), "bad_message", id);
        EXPECT_EQ(str(bad, "message").rfind(field + ":", 0), 0u)
            << extra << " → " << str(bad, "message");
    }
    // Nothing was started by the rejected attempts; a valid one still works.
    expect_error(last(ws.request(R"({"type":"shift_pause","id":"p0"})")), "conflict", "p0");
    expect_ok(last(ws.request(shift_json("ok", R"(,"wont_take":["test_tag"],"planned_end_at":)" +
                                                   std::to_string(now + 3600 * 1000)))),
              "ok");
    EXPECT_EQ(str(wait_for(ws, "shift"), "state"), "on");
}

} // namespace
} // namespace kindred::itest
