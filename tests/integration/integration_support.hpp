// integration_support.hpp — shared helpers for the integration tests: a fixture with a real
// redis-server and kindred-server, JSON and Prometheus parsing, and contract assertions.
// Threading: everything runs on the test's thread.
#pragma once

#include <kindred/client/e2e.hpp>
#include <kindred/client/http_client.hpp>
#include <kindred/client/ws_client.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/testsupport/redis_process.hpp>
#include <kindred/testsupport/server_process.hpp>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::itest {

using namespace std::chrono_literals;
using kindred::client::header_list;
using kindred::client::http_response;
using kindred::client::ws_client;
using kindred::client::ws_frame;
using kindred::testsupport::redis_process;
using kindred::testsupport::server_options;
using kindred::testsupport::server_process;

// Parses a frame or body as a JSON object; records a test failure and returns {} otherwise.
boost::json::object parse_object(std::string_view text);
boost::json::object object_of(const ws_frame& frame);

// The string at key, or "" when it is absent or not a string.
std::string str(const boost::json::object& o, std::string_view key);

// Asserts frame is {"type":"error","code":code} with "re" == re (or no "re" when re is empty)
// and a non-empty message; returns the object for more checks.
boost::json::object expect_error(const ws_frame& frame, std::string_view code,
                                 std::string_view re = {});
// Asserts frame is {"type":"ok","re":re}.
boost::json::object expect_ok(const ws_frame& frame, std::string_view re);
// Asserts frame is a close with this code.
void expect_close(const ws_frame& frame, std::uint16_t code);

// The last frame of a request() (the answer), or a timeout frame when there is none.
ws_frame last(const std::vector<ws_frame>& frames);

struct hello_result {
    bool ok = false;
    std::string session;
    std::string resume_token;
    std::string role;
};
// Sends a seeker hello (or a resume when resume_token is set) and checks the ok answer.
hello_result hello(ws_client& ws, std::string_view resume_token = {}, std::string_view id = "1");
std::string hello_json(std::string_view role, std::string_view id = "1");
std::string resume_json(std::string_view token, std::string_view id = "1");

// The Redis key for a prefix and id as Kindred writes it: "prefix:id" or "prefix:{id}"
// (hash-tag form); "" when neither exists.
std::string find_key(redis_process& redis, std::string_view prefix, std::string_view id);

// One sample of a Prometheus series: the value of the first line whose metric name is name and
// whose label set contains every label in labels (e.g. {"type=\"ping\""}); nullopt if absent.
std::optional<double> metric_value(const std::string& exposition, std::string_view name,
                                   const std::vector<std::string>& labels = {});

std::string read_text_file(const std::filesystem::path& path);

// ---- staff (issue #3) ----

struct ctl_result {
    int code = -1;
    std::string output; // stdout and stderr together
};
// Runs the built kindredctl against `redis_address` with the server's config file (the
// catalog), feeding stdin_text on its standard input; waits up to 30 s.
ctl_result kindredctl(const std::string& redis_address, const std::filesystem::path& config,
                      const std::vector<std::string>& args, const std::string& stdin_text = {});

// POST /v1/auth/login with {"username","password"} on 127.0.0.1:port.
http_response login_request(unsigned short port, std::string_view username,
                            std::string_view password);
// POST /v1/auth/logout with Authorization: Bearer token.
http_response logout_request(unsigned short port, std::string_view token);
// {"type":"hello","id":id,"v":1,"role":role,"token":token}
std::string staff_hello_json(std::string_view role, std::string_view token,
                             std::string_view id = "1");

// The fixture most tests use: one Redis, one server started by start_server().
class integration_test : public ::testing::Test {
protected:
    redis_process redis_;
    std::unique_ptr<server_process> server_;

    // Starts (or restarts with new arguments) the fixture's server.
    server_process& start_server(std::vector<std::string> args = {},
                                 std::optional<std::string> config_json = std::nullopt);
    // A further server sharing this fixture's Redis.
    std::unique_ptr<server_process> another_server(std::vector<std::string> args = {});
    unsigned short port() const { return server_->port(); }

    ws_client connect(header_list headers = {});
    // A connected client whose seeker hello succeeded (failures are recorded).
    ws_client seeker(hello_result* out = nullptr);

    http_response get(std::string_view target, const header_list& headers = {});

    // Creates a staff account with kindredctl (fails the test when it cannot) and returns its
    // password. role: peer, moderator or admin.
    std::string add_staff(const std::string& username, const std::string& role);
    // Logs in through the fixture's server; the token, or "" after recording a failure.
    std::string login(const std::string& username, const std::string& password);
    // A socket on `on_port` (default: the fixture's server) whose staff hello succeeded.
    ws_client staff_socket(std::string_view role, std::string_view token,
                           unsigned short on_port = 0, hello_result* out = nullptr);
};

// ---- matching and relay (issue #4) ----

// Every key with its contents (strings, hashes, lists, sets, zsets, streams), for scanning
// Redis for plaintext.
std::string dump_redis(redis_process& redis);

// The next text frame of `type`, skipping others (up to 50 frames, each within `each`);
// records a failure and returns an empty frame on a timeout, close or error.
kindred::protocol::server_frame next_of(ws_client& ws, std::string_view type,
                                        std::chrono::milliseconds each = std::chrono::seconds(10));

// The frame decoded strictly as event T; records a failure and returns {} otherwise.
template <class T>
T event_of(const kindred::protocol::server_frame& f) {
    auto ev = kindred::protocol::decode_server_event(f);
    if (const auto* e = std::get_if<kindred::protocol::server_event>(&ev))
        if (const auto* t = std::get_if<T>(e)) return *t;
    ADD_FAILURE() << "not the expected event: " << boost::json::serialize(f.body);
    return {};
}

// A matched seeker/peer pair, with both sides' end-to-end crypto.
struct conversation_pair {
    std::string conversation_id;
    kindred::client::e2e::kx_key_pair seeker_keys;
    kindred::protocol::seeker_matched seeker_matched;
    std::optional<kindred::client::e2e::conversation_crypto> seeker_crypto;
    std::optional<kindred::client::e2e::conversation_crypto> peer_crypto;
};

// integration_test plus one certified peer ("river", tag grief, language en) with an
// identity and signed prekeys, and matching helpers.
class relay_fixture : public integration_test {
protected:
    kindred::client::e2e::identity_key_pair identity_ =
        kindred::client::e2e::generate_identity_key_pair();
    std::map<std::string, kindred::client::e2e::kx_key_pair> prekeys_; // base64 public → pair
    bool river_created_ = false;

    // Creates river (once) with kindredctl, logs in and starts a shift on `on_port`.
    ws_client ready_peer(unsigned short on_port, int capacity = 1, hello_result* out = nullptr);
    // request_match from `seeker` (tag grief), waits for `matched` on both sides and builds
    // both sides' crypto; failures are recorded (conversation_id empty then).
    conversation_pair match(ws_client& seeker, ws_client& peer);
};

// A peer's Ed25519 identity key pair, fresh from libsodium.
struct ed25519_pair {
    std::array<std::uint8_t, 32> pk{};
    std::array<std::uint8_t, 64> sk{};
    ed25519_pair();
};
// Standard base64 with padding, as on the wire.
std::string b64(std::span<const std::uint8_t> bytes);
// n random bytes in base64 (stand-ins for nonces, ciphertexts, sealed keys).
std::string rand_b64(std::size_t n);
// One {"prekey","signature"} JSON object: a fresh X25519 key signed by `signer`.
std::string prekey_json(const ed25519_pair& signer);
// Receives until a text frame of `type` (other frames are skipped); a timeout, close or error
// frame records a failure and returns {}.
boost::json::object wait_for(ws_client& ws, std::string_view type);

// The messages one `sync` (request id `id`) returned, decrypted with `crypto`: their offsets
// and texts in the order received, and every frame of the answer (the last is the ok).
struct synced_messages {
    std::vector<std::int64_t> offsets;
    std::vector<std::string> texts;
    std::vector<ws_frame> frames;
};
synced_messages sync_and_decrypt(ws_client& ws, const std::string& conversation_id,
                                 kindred::client::e2e::conversation_crypto& crypto,
                                 std::string_view id = "y");

} // namespace kindred::itest
