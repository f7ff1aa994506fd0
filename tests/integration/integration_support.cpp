// integration_support.cpp — helpers shared by the integration tests; see the header.
#include "integration_support.hpp"

#include <kindred/protocol/base64.hpp>
#include <kindred/testsupport/process.hpp>

#include <sodium.h>

#include <fstream>
#include <sstream>

namespace kindred::itest {

boost::json::object parse_object(std::string_view text) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec || !v.is_object()) {
        ADD_FAILURE() << "not a JSON object: " << text;
        return {};
    }
    return std::move(v.as_object());
}

boost::json::object object_of(const ws_frame& frame) {
    if (!frame.is_text()) {
        ADD_FAILURE() << "expected a text frame, got " << kindred::client::describe(frame);
        return {};
    }
    return parse_object(frame.text);
}

std::string str(const boost::json::object& o, std::string_view key) {
    if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->get_string());
    return {};
}

boost::json::object expect_error(const ws_frame& frame, std::string_view code,
                                 std::string_view re) {
    auto o = object_of(frame);
    EXPECT_EQ(str(o, "type"), "error") << frame.text;
    EXPECT_EQ(str(o, "code"), code) << frame.text;
    EXPECT_FALSE(str(o, "message").empty()) << "error without message: " << frame.text;
    if (re.empty()) {
        EXPECT_FALSE(o.contains("re")) << "error for a message without id has re: " << frame.text;
    } else {
        EXPECT_EQ(str(o, "re"), re) << frame.text;
    }
    return o;
}

boost::json::object expect_ok(const ws_frame& frame, std::string_view re) {
    auto o = object_of(frame);
    EXPECT_EQ(str(o, "type"), "ok") << frame.text;
    EXPECT_EQ(str(o, "re"), re) << frame.text;
    return o;
}

void expect_close(const ws_frame& frame, std::uint16_t code) {
    EXPECT_TRUE(frame.is_close()) << "expected close " << code << ", got "
                                  << kindred::client::describe(frame);
    if (frame.is_close()) {
        EXPECT_EQ(frame.close_code, code) << "reason: " << frame.close_reason;
    }
}

ws_frame last(const std::vector<ws_frame>& frames) {
    return frames.empty() ? ws_frame{} : frames.back();
}

std::string hello_json(std::string_view role, std::string_view id) {
    boost::json::object o{{"type", "hello"}, {"id", id}, {"v", 1}, {"role", role}};
    return boost::json::serialize(o);
}

std::string resume_json(std::string_view token, std::string_view id) {
    boost::json::object o{{"type", "hello"}, {"id", id}, {"v", 1}, {"resume_token", token}};
    return boost::json::serialize(o);
}

hello_result hello(ws_client& ws, std::string_view resume_token, std::string_view id) {
    hello_result r;
    auto frames =
        ws.request(resume_token.empty() ? hello_json("seeker", id) : resume_json(resume_token, id));
    auto answer = last(frames);
    EXPECT_EQ(frames.size(), 1u) << "hello answered with more than one frame";
    auto o = object_of(answer);
    if (str(o, "type") != "ok" || str(o, "re") != id) {
        ADD_FAILURE() << "hello failed: " << kindred::client::describe(answer);
        return r;
    }
    r.ok = true;
    r.session = str(o, "session");
    r.resume_token = str(o, "resume_token");
    r.role = str(o, "role");
    return r;
}

std::string find_key(redis_process& redis, std::string_view prefix, std::string_view id) {
    for (auto key : {std::string(prefix) + ":" + std::string(id),
                     std::string(prefix) + ":{" + std::string(id) + "}"})
        if (redis.command({"EXISTS", key}) == "1") return key;
    return {};
}

std::optional<double> metric_value(const std::string& exposition, std::string_view name,
                                   const std::vector<std::string>& labels) {
    std::istringstream in(exposition);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        auto space = line.rfind(' ');
        if (space == std::string::npos) continue;
        std::string series = line.substr(0, space);
        auto brace = series.find('{');
        std::string metric = series.substr(0, brace);
        if (metric != name) continue;
        std::string label_text = brace == std::string::npos ? "" : series.substr(brace);
        bool all = true;
        for (auto& l : labels)
            if (label_text.find(l) == std::string::npos) all = false;
        if (!all) continue;
        try {
            return std::stod(line.substr(space + 1));
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::string read_text_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

server_process& integration_test::start_server(std::vector<std::string> args,
                                               std::optional<std::string> config_json) {
    server_.reset();
    server_options o;
    o.redis = redis_.unix_address();
    o.args = std::move(args);
    o.config_json = std::move(config_json);
    server_ = std::make_unique<server_process>(std::move(o));
    return *server_;
}

std::unique_ptr<server_process> integration_test::another_server(std::vector<std::string> args) {
    server_options o;
    o.redis = redis_.unix_address();
    o.args = std::move(args);
    return std::make_unique<server_process>(std::move(o));
}

ws_client integration_test::connect(header_list headers) {
    return ws_client::open(port(), std::move(headers));
}

ws_client integration_test::seeker(hello_result* out) {
    auto ws = connect();
    auto r = hello(ws);
    if (out) *out = r;
    return ws;
}

http_response integration_test::get(std::string_view target, const header_list& headers) {
    return kindred::client::http_get("127.0.0.1", port(), target, headers);
}

ctl_result kindredctl(const std::string& redis_address, const std::filesystem::path& config,
                      const std::vector<std::string>& args, const std::string& stdin_text) {
    static int runs = 0;
    kindred::testsupport::temp_dir dir("kindred-ctl");
    const auto in = dir.path() / "stdin";
    const auto log = dir.path() / ("ctl" + std::to_string(runs++) + ".log");
    std::ofstream(in) << stdin_text;
    // sh feeds stdin from the file; inherited KINDRED_* settings must not leak in.
    std::vector<std::string> argv{"/bin/sh",
                                  "-c",
                                  "unset KINDRED_REDIS KINDRED_CONFIG KINDRED_DEV_MODE; "
                                  "exec \"$@\" < \"$KCTL_STDIN\"",
                                  "sh",
                                  (kindred::testsupport::build_bin_dir() / "kindredctl").string(),
                                  "--redis",
                                  redis_address,
                                  "--config",
                                  config.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto child =
        kindred::testsupport::child_process::spawn(argv, log, {"KCTL_STDIN=" + in.string()});
    ctl_result r;
    r.code = child.wait_for(std::chrono::seconds(30));
    r.output = child.log();
    return r;
}

http_response login_request(unsigned short port, std::string_view username,
                            std::string_view password) {
    boost::json::object body{{"username", username}, {"password", password}};
    return kindred::client::http_request("POST", "127.0.0.1", port, "/v1/auth/login",
                                         {{"Content-Type", "application/json"}},
                                         boost::json::serialize(body));
}

http_response logout_request(unsigned short port, std::string_view token) {
    return kindred::client::http_request("POST", "127.0.0.1", port, "/v1/auth/logout",
                                         {{"Authorization", "Bearer " + std::string(token)}});
}

std::string staff_hello_json(std::string_view role, std::string_view token, std::string_view id) {
    boost::json::object o{
        {"type", "hello"}, {"id", id}, {"v", 1}, {"role", role}, {"token", token}};
    return boost::json::serialize(o);
}

std::string integration_test::add_staff(const std::string& username, const std::string& role) {
    const std::string password = username + "-password-for-tests";
    auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                        {"user", "add", username, "--role", role, "--alias", "Alias " + username,
                         "--languages", "en", "--password-stdin"},
                        password + "\n");
    EXPECT_EQ(r.code, 0) << r.output;
    return password;
}

std::string integration_test::login(const std::string& username, const std::string& password) {
    auto r = login_request(port(), username, password);
    EXPECT_EQ(r.status, 200) << r.body;
    auto o = parse_object(r.body);
    return str(o, "token");
}

ws_client integration_test::staff_socket(std::string_view role, std::string_view token,
                                         unsigned short on_port, hello_result* out) {
    auto ws = ws_client::open(on_port ? on_port : port());
    auto answer = last(ws.request(staff_hello_json(role, token)));
    auto o = object_of(answer);
    EXPECT_EQ(str(o, "type"), "ok") << kindred::client::describe(answer);
    EXPECT_EQ(str(o, "role"), role) << answer.text;
    if (out) {
        out->ok = str(o, "type") == "ok";
        out->session = str(o, "session");
        out->resume_token = str(o, "resume_token");
        out->role = str(o, "role");
    }
    return ws;
}

// ---- matching and relay ----

namespace kp = kindred::protocol;
namespace e2e = kindred::client::e2e;

std::string dump_redis(redis_process& redis) {
    std::string all;
    for (auto& k : redis.keys()) {
        auto type = redis.command({"TYPE", k});
        all += k + "\n";
        if (type == "string") all += redis.command({"GET", k});
        if (type == "hash") all += redis.command({"HGETALL", k});
        if (type == "list") all += redis.command({"LRANGE", k, "0", "-1"});
        if (type == "set") all += redis.command({"SMEMBERS", k});
        if (type == "zset") all += redis.command({"ZRANGE", k, "0", "-1"});
        if (type == "stream") all += redis.command({"XRANGE", k, "-", "+"});
        all += "\n";
    }
    return all;
}

kp::server_frame next_of(ws_client& ws, std::string_view type, std::chrono::milliseconds each) {
    for (int i = 0; i < 50; ++i) {
        auto f = ws.receive(each);
        if (!f.is_text()) {
            ADD_FAILURE() << "waiting for " << type << ": " << kindred::client::describe(f);
            return {};
        }
        auto frame = kp::decode_server_frame(f.text);
        if (frame && frame->type == type) return *frame;
    }
    ADD_FAILURE() << "no " << type;
    return {};
}

ws_client relay_fixture::ready_peer(unsigned short on_port, int capacity, hello_result* out) {
    const std::string pw = "river-password-for-tests";
    if (!river_created_) {
        river_created_ = true;
        add_staff("river", "peer");
        auto r =
            kindredctl(redis_.unix_address(), server_->config_path(),
                       {"user", "certify", "river", "--tags", "grief", "--until", "2099-01-01"});
        EXPECT_EQ(r.code, 0) << r.output;
    }
    auto ws = staff_socket("peer", login("river", pw), on_port, out);
    expect_ok(last(ws.request(R"({"type":"register_identity","id":"r","identity_key":")" +
                              kp::base64_encode(identity_.public_key) + R"("})")),
              "r");
    kp::prekeys upload;
    for (int i = 0; i < 4; ++i) {
        auto pair = e2e::generate_kx_key_pair();
        upload.keys.push_back({pair.public_key, e2e::sign_prekey(pair.public_key, identity_)});
        prekeys_.emplace(kp::base64_encode(pair.public_key), pair);
    }
    expect_ok(last(ws.request(kp::encode_client_message(upload, "k"))), "k");
    boost::json::object shift{{"type", "shift_start"},
                              {"id", "s"},
                              {"capacity", capacity},
                              {"tags", {"grief"}},
                              {"languages", {"en"}}};
    expect_ok(last(ws.request(boost::json::serialize(shift))), "s");
    return ws;
}

conversation_pair relay_fixture::match(ws_client& seeker, ws_client& peer) {
    conversation_pair c;
    c.seeker_keys = e2e::generate_kx_key_pair();
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = c.seeker_keys.public_key;
    expect_ok(last(seeker.request(kp::encode_client_message(rm, "m"))), "m");
    c.seeker_matched = event_of<kp::seeker_matched>(next_of(seeker, "matched"));
    auto pm = event_of<kp::peer_matched>(next_of(peer, "matched"));
    EXPECT_EQ(pm.conversation_id, c.seeker_matched.conversation_id);
    if (c.seeker_matched.conversation_id.empty() ||
        pm.conversation_id != c.seeker_matched.conversation_id)
        return c;
    auto sc = e2e::conversation_crypto::for_seeker(c.seeker_matched.conversation_id, c.seeker_keys,
                                                   c.seeker_matched.peer);
    EXPECT_TRUE(sc) << (sc ? "" : sc.error().message());
    auto prekey = prekeys_.find(kp::base64_encode(pm.prekey));
    EXPECT_NE(prekey, prekeys_.end()) << "matched with a prekey this test did not upload";
    if (!sc || prekey == prekeys_.end()) return c;
    auto pc = e2e::conversation_crypto::for_peer(pm.conversation_id, prekey->second,
                                                 identity_.public_key, pm.seeker.pubkey);
    EXPECT_TRUE(pc) << (pc ? "" : pc.error().message());
    if (!pc) return c;
    c.seeker_crypto = std::move(*sc);
    c.peer_crypto = std::move(*pc);
    c.conversation_id = pm.conversation_id;
    return c;
}

ed25519_pair::ed25519_pair() {
    static_assert(crypto_sign_PUBLICKEYBYTES == 32 && crypto_sign_SECRETKEYBYTES == 64);
    crypto_sign_keypair(pk.data(), sk.data());
}

std::string b64(std::span<const std::uint8_t> bytes) {
    return kindred::protocol::base64_encode(bytes);
}

std::string rand_b64(std::size_t n) {
    std::vector<std::uint8_t> b(n);
    randombytes_buf(b.data(), b.size());
    return b64(b);
}

std::string prekey_json(const ed25519_pair& signer) {
    std::array<std::uint8_t, crypto_box_PUBLICKEYBYTES> pk{};
    std::array<std::uint8_t, crypto_box_SECRETKEYBYTES> sk{};
    crypto_box_keypair(pk.data(), sk.data());
    std::array<std::uint8_t, crypto_sign_BYTES> sig{};
    crypto_sign_detached(sig.data(), nullptr, pk.data(), pk.size(), signer.sk.data());
    return R"({"prekey":")" + b64(pk) + R"(","signature":")" + b64(sig) + R"("})";
}

boost::json::object wait_for(ws_client& ws, std::string_view type) {
    for (int i = 0; i < 50; ++i) {
        auto f = ws.receive(10s);
        if (!f.is_text()) {
            ADD_FAILURE() << "waiting for " << type << ": " << kindred::client::describe(f);
            return {};
        }
        auto o = object_of(f);
        if (str(o, "type") == type) return o;
    }
    ADD_FAILURE() << "no " << type << " in 50 frames";
    return {};
}

synced_messages sync_and_decrypt(ws_client& ws, const std::string& conversation_id,
                                 kindred::client::e2e::conversation_crypto& crypto,
                                 std::string_view id) {
    namespace kp = kindred::protocol;
    synced_messages out;
    out.frames = ws.request(kp::encode_client_message(kp::sync{conversation_id, 0}, id));
    for (auto& f : out.frames) {
        auto frame = kp::decode_server_frame(f.text);
        if (!frame || frame->type != "message") continue;
        auto ev = event_of<kp::message_event>(*frame);
        out.offsets.push_back(ev.offset);
        auto t = crypto.decrypt(ev);
        EXPECT_TRUE(t) << t.error().message();
        out.texts.push_back(t ? *t : std::string{});
    }
    return out;
}

} // namespace kindred::itest
