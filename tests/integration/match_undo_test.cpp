// match_undo_test.cpp — a match that is claimed but cannot be announced (here: the peer's
// identity key was reset by an admin after its prekeys were stored, so the seeker could not
// verify them) is undone: the seeker is told nothing, is back in the queue (not stuck "in a
// conversation"), and is never matched with that peer again; the peer gets its slot back.
#include "integration_support.hpp"

namespace kindred::itest {
namespace {

class MatchUndo : public relay_fixture {};

TEST_F(MatchUndo, AnUnannounceableMatchIsUndoneAndTheSeekerQueuedAgain) {
    start_server();
    auto peer = ready_peer(port(), 1);
    auto reset = kindredctl(redis_.unix_address(), server_->config_path(),
                            {"user", "reset-identity", "river"});
    ASSERT_EQ(reset.code, 0) << reset.output;

    hello_result hello_ok;
    auto s = seeker(&hello_ok);
    auto pub = kindred::client::e2e::generate_kx_key_pair().public_key;
    expect_ok(last(s.request(R"({"type":"request_match","id":"m","tags":["grief"],)"
                             R"("languages":["en"],"pubkey":")" +
                             b64(pub) + R"("})")),
              "m");
    // The claim happens, the announcement cannot: the server undoes it.
    ASSERT_TRUE(testsupport::eventually(
        [&] { return server_->log().find("event=match_undone") != std::string::npos; }, 10s))
        << server_->log();
    EXPECT_NE(server_->log().find("event=match_unusable"), std::string::npos);

    // The seeker heard of no match, and is waiting again: cancel finds its request.
    for (;;) {
        auto f = s.receive(500ms);
        if (!f.is_text()) break;
        EXPECT_NE(str(object_of(f), "type"), "matched");
    }
    expect_ok(last(s.request(R"({"type":"cancel_match","id":"c"})")), "c");

    // The peer's slot is free again (the claim had counted it) and the blocked set keeps the
    // seeker away from it.
    EXPECT_EQ(redis_.command({"HGET", "m:{match}:peer:river", "active"}), "0");
    EXPECT_EQ(redis_.command({"SISMEMBER", "m:{match}:blocked:" + hello_ok.session, "river"}), "1");
}

} // namespace
} // namespace kindred::itest
