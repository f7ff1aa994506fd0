// tls_test.cpp — kindred-server's own TLS (--tls-cert/--tls-key, issue #9): a certificate made
// here with libcrypto, the server started with it, and clients over TLS on loopback: /healthz
// over HTTPS, a staff login over HTTPS, seeker and peer over WSS (hello → ok, match, an
// end-to-end encrypted message each way); plain text on the TLS port is refused cleanly; bad
// certificate or key paths exit 2 naming the option.
// The TLS client is OpenSSL's blocking API with hand-written HTTP and WebSocket framing (its own
// executable, kindred_tls_tests, since it links OpenSSL).
// Threading: everything on the test's thread.
#include "integration_support.hpp"
#include <kindred/client/e2e.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/testsupport/process.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <span>
#include <sstream>

namespace kindred::itest {
namespace {

namespace fs = std::filesystem;
namespace kp = kindred::protocol;
namespace e2e = kindred::client::e2e;
using testsupport::eventually;

// A self-signed P-256 certificate for "localhost" and 127.0.0.1, valid for an hour.
bool make_certificate(const fs::path& cert_file, const fs::path& key_file) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    bool ok = key && x;
    if (ok) {
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), -60);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, key);
        X509_NAME* name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
        X509_set_issuer_name(x, name);
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
        X509_EXTENSION* san =
            X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
        ok = san && X509_add_ext(x, san, -1) == 1;
        X509_EXTENSION_free(san);
        ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
    }
    if (ok) {
        FILE* c = std::fopen(cert_file.c_str(), "w");
        FILE* k = std::fopen(key_file.c_str(), "w");
        ok = c && k && PEM_write_X509(c, x) == 1 &&
             PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
        if (c) std::fclose(c);
        if (k) std::fclose(k);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

// One TLS connection to 127.0.0.1:port verifying the server against `ca` for "localhost", on
// OpenSSL's blocking API with hand-written HTTP/1.1 and WebSocket framing: a test of the
// server's TLS needs no TLS client library of its own, and Beast's SSL stream would cost this
// file ~25 s of compiling. Every read and write waits at most 10 s (socket timeouts).
class tls_client {
public:
    tls_client(unsigned short port, const fs::path& ca)
        : port_(port) {
        ctx_ = SSL_CTX_new(TLS_client_method());
        if (!ctx_ || SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) != 1)
            ADD_FAILURE() << "TLS client context: cannot load " << ca;
        if (ctx_) SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    ~tls_client() {
        close();
        if (ctx_) SSL_CTX_free(ctx_);
    }
    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;

    // HTTPS request on a fresh connection; status 0 on any failure.
    http_response request(const std::string& method, const std::string& target,
                          const header_list& headers = {}, const std::string& body = {}) {
        http_response out;
        if (!connect()) return out;
        std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
        for (const auto& [k, v] : headers)
            req += k + ": " + v + "\r\n";
        req += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
        req += body;
        std::map<std::string, std::string> fields;
        if (!write(req) || !read_head(out.status, fields)) return {};
        auto length = fields.find("content-length");
        if (length != fields.end()) {
            if (!read_exact(std::stoul(length->second), out.body)) return {};
        } else {
            out.body = std::exchange(buffer_, {}); // until the server closes
            for (char chunk[4096];;) {
                const int n = SSL_read(ssl_, chunk, sizeof chunk);
                if (n <= 0) break;
                out.body.append(chunk, static_cast<std::size_t>(n));
            }
        }
        close();
        return out;
    }

    // Opens a WSS connection to /v1/ws; false on failure.
    bool open_ws() {
        if (!connect()) return false;
        unsigned char nonce[16];
        randombytes_buf(nonce, sizeof nonce);
        const auto key = kp::base64_encode(std::span<const unsigned char>(nonce, sizeof nonce));
        const std::string req = "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Key: " +
                                key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
        int status = 0;
        std::map<std::string, std::string> fields;
        if (!write(req) || !read_head(status, fields)) return false;
        EXPECT_EQ(status, 101);
        return status == 101;
    }

    // One masked text frame (RFC 6455 §5.2).
    bool send(const std::string& text) {
        std::string f{static_cast<char>(0x81)};
        const auto n = text.size();
        if (n < 126) {
            f += static_cast<char>(0x80 | n);
        } else if (n <= 0xffff) {
            f += static_cast<char>(0x80 | 126);
            f += static_cast<char>(n >> 8);
            f += static_cast<char>(n & 0xff);
        } else {
            f += static_cast<char>(0x80 | 127);
            for (int shift = 56; shift >= 0; shift -= 8)
                f += static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xff);
        }
        unsigned char mask[4];
        randombytes_buf(mask, sizeof mask);
        f.append(reinterpret_cast<const char*>(mask), 4);
        for (std::size_t i = 0; i < n; ++i)
            f += static_cast<char>(text[i] ^ static_cast<char>(mask[i % 4]));
        return write(f);
    }

    // The next text message (fragments joined; pings answered), or "" on close, error or
    // timeout.
    std::string receive() {
        std::string message;
        for (;;) {
            std::string head;
            if (!read_exact(2, head)) return {};
            const auto b0 = static_cast<unsigned char>(head[0]);
            const auto b1 = static_cast<unsigned char>(head[1]);
            std::uint64_t n = b1 & 0x7f;
            std::string ext;
            if (n == 126 || n == 127) {
                if (!read_exact(n == 126 ? 2 : 8, ext)) return {};
                n = 0;
                for (unsigned char c : ext)
                    n = (n << 8) | c;
            }
            std::string payload;
            if ((b1 & 0x80) != 0 || !read_exact(n, payload)) return {}; // servers never mask
            const int opcode = b0 & 0x0f;
            if (opcode == 0x8) return {}; // close
            if (opcode == 0x9) {          // ping → pong
                std::string pong{static_cast<char>(0x8a), static_cast<char>(0x80)};
                pong.append(4, '\0'); // a zero mask
                if (!write(pong)) return {};
                continue;
            }
            if (opcode == 0xa) continue; // pong
            message += payload;
            if ((b0 & 0x80) != 0) return message;
        }
    }

    // Sends `text` (whose id is `id`) and returns the answer with "re" == id (others skipped).
    boost::json::object request_ws(const std::string& text, const std::string& id) {
        if (!send(text)) return {};
        for (int i = 0; i < 50; ++i) {
            auto o = parse_object(receive());
            if (str(o, "re") == id) return o;
        }
        return {};
    }

    // The next frame of `type`, skipping others.
    std::optional<kp::server_frame> next_of(std::string_view type) {
        for (int i = 0; i < 50; ++i) {
            auto text = receive();
            if (text.empty()) return std::nullopt;
            auto f = kp::decode_server_frame(text);
            if (f && f->type == type) return *f;
        }
        return std::nullopt;
    }

private:
    bool connect() {
        close();
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port_);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            return false;
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        SSL_set_tlsext_host_name(ssl_, "localhost");
        SSL_set1_host(ssl_, "localhost"); // the certificate must name it
        const int r = SSL_connect(ssl_);
        EXPECT_EQ(r, 1) << "TLS handshake: " << ERR_error_string(ERR_get_error(), nullptr);
        return r == 1;
    }

    void close() {
        if (ssl_) {
            SSL_shutdown(ssl_);
            SSL_free(ssl_);
            ssl_ = nullptr;
        }
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        buffer_.clear();
    }

    bool write(const std::string& bytes) {
        return ssl_ && SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
                           static_cast<int>(bytes.size());
    }

    bool fill() {
        char chunk[4096];
        const int n = ssl_ ? SSL_read(ssl_, chunk, sizeof chunk) : 0;
        if (n <= 0) return false;
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    bool read_exact(std::uint64_t n, std::string& out) {
        while (buffer_.size() < n)
            if (!fill()) return false;
        out.assign(buffer_, 0, n);
        buffer_.erase(0, n);
        return true;
    }

    // The status line and the header fields (names lower-cased) of a response.
    bool read_head(int& status, std::map<std::string, std::string>& fields) {
        std::size_t end;
        while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
            if (!fill()) return false;
        std::istringstream head(buffer_.substr(0, end));
        buffer_.erase(0, end + 4);
        std::string line, version;
        std::getline(head, line);
        std::istringstream(line) >> version >> status;
        while (std::getline(head, line)) {
            auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            auto name = line.substr(0, colon);
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            auto value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            if (!value.empty() && value.back() == '\r') value.pop_back();
            fields[name] = value;
        }
        return status != 0;
    }

    unsigned short port_;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    int fd_ = -1;
    std::string buffer_; // read, not yet consumed
};

class Tls : public ::testing::Test {
protected:
    redis_process redis_;
    testsupport::temp_dir dir_{"kindred-tls"};
    fs::path cert_ = dir_.path() / "cert.pem";
    fs::path key_ = dir_.path() / "key.pem";
    fs::path config_ = dir_.path() / "kindred.json";
    fs::path port_file_ = dir_.path() / "port";
    testsupport::child_process server_;
    unsigned short port_ = 0;

    void SetUp() override {
        ASSERT_TRUE(make_certificate(cert_, key_));
        std::ofstream(config_) << testsupport::default_test_config();
    }
    void TearDown() override { server_.kill_now(); }

    std::vector<std::string> argv(std::vector<std::string> extra) {
        std::vector<std::string> a{
            (testsupport::build_bin_dir() / "kindred-server").string(),
            "--config",
            config_.string(),
            "--listen",
            "127.0.0.1:0",
            "--port-file",
            port_file_.string(),
            "--redis",
            redis_.unix_address(),
            "--lexicon",
            (fs::path(KINDRED_SOURCE_DIR) / "moderation" / "lexicon" / "lexicon.json").string(),
            "--web-root",
            dir_.path().string()};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }

    // Starts the TLS server and waits for its port and /readyz 200 over HTTPS.
    void start() {
        server_ = testsupport::child_process::spawn(
            argv({"--tls-cert", cert_.string(), "--tls-key", key_.string()}),
            dir_.path() / "server.log");
        ASSERT_TRUE(eventually(
            [&] {
                if (!server_.running()) return true;
                std::ifstream in(port_file_);
                unsigned p = 0;
                if (!(in >> p) || p == 0) return false;
                port_ = static_cast<unsigned short>(p);
                return tls_client(port_, cert_).request("GET", "/readyz").status == 200;
            },
            15s));
        ASSERT_TRUE(server_.running()) << server_.log();
    }

    // Exit code and log of a server that must refuse to start.
    std::pair<int, std::string> refused(std::vector<std::string> extra) {
        auto p =
            testsupport::child_process::spawn(argv(std::move(extra)), dir_.path() / "refused.log");
        const int code = p.wait_for(10s);
        auto log = p.log();
        p.kill_now();
        fs::remove(dir_.path() / "refused.log");
        return {code, log};
    }

    std::string ctl(const std::vector<std::string>& args, const std::string& stdin_text = {}) {
        auto r = kindredctl(redis_.unix_address(), config_, args, stdin_text);
        EXPECT_EQ(r.code, 0) << r.output;
        return r.output;
    }
};

TEST_F(Tls, HttpsWssHelloAndAnEncryptedChatRoundTrip) {
    start();
    tls_client https(port_, cert_);
    auto health = https.request("GET", "/healthz");
    EXPECT_EQ(health.status, 200) << health.body;
    EXPECT_NE(server_.log().find("tls=true"), std::string::npos);

    // A certified peer, logged in over HTTPS.
    const std::string pw = "river-password-for-tests";
    ctl({"user", "add", "river", "--role", "peer", "--alias", "River", "--languages", "en",
         "--password-stdin"},
        pw + "\n");
    ctl({"user", "certify", "river", "--tags", "grief", "--until", "2099-01-01"});
    auto login = https.request("POST", "/v1/auth/login", {{"Content-Type", "application/json"}},
                               R"({"username":"river","password":")" + pw + "\"}");
    ASSERT_EQ(login.status, 200) << login.body;
    const auto token = str(parse_object(login.body), "token");

    tls_client peer(port_, cert_);
    ASSERT_TRUE(peer.open_ws());
    auto ok = peer.request_ws(staff_hello_json("peer", token), "1");
    ASSERT_EQ(str(ok, "type"), "ok") << boost::json::serialize(ok);
    const auto identity = e2e::generate_identity_key_pair();
    ASSERT_EQ(str(peer.request_ws(R"({"type":"register_identity","id":"r","identity_key":")" +
                                      kp::base64_encode(identity.public_key) + R"("})",
                                  "r"),
                  "type"),
              "ok");
    std::map<std::string, e2e::kx_key_pair> prekeys;
    kp::prekeys upload;
    for (int i = 0; i < 2; ++i) {
        auto pair = e2e::generate_kx_key_pair();
        upload.keys.push_back({pair.public_key, e2e::sign_prekey(pair.public_key, identity)});
        prekeys.emplace(kp::base64_encode(pair.public_key), pair);
    }
    ASSERT_EQ(str(peer.request_ws(kp::encode_client_message(upload, "k"), "k"), "type"), "ok");
    ASSERT_EQ(str(peer.request_ws(R"({"type":"shift_start","id":"s","capacity":1,)"
                                  R"("tags":["grief"],"languages":["en"]})",
                                  "s"),
                  "type"),
              "ok");

    // A seeker over WSS: hello → ok, then a match.
    tls_client seeker(port_, cert_);
    ASSERT_TRUE(seeker.open_ws());
    auto hello_ok = seeker.request_ws(hello_json("seeker"), "1");
    ASSERT_EQ(str(hello_ok, "type"), "ok") << boost::json::serialize(hello_ok);
    EXPECT_FALSE(str(hello_ok, "resume_token").empty());
    const auto seeker_keys = e2e::generate_kx_key_pair();
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = seeker_keys.public_key;
    ASSERT_EQ(str(seeker.request_ws(kp::encode_client_message(rm, "m"), "m"), "type"), "ok");
    auto sm_frame = seeker.next_of("matched");
    auto pm_frame = peer.next_of("matched");
    ASSERT_TRUE(sm_frame && pm_frame);
    auto sm = event_of<kp::seeker_matched>(*sm_frame);
    auto pm = event_of<kp::peer_matched>(*pm_frame);
    ASSERT_EQ(sm.conversation_id, pm.conversation_id);
    auto sc = e2e::conversation_crypto::for_seeker(sm.conversation_id, seeker_keys, sm.peer);
    ASSERT_TRUE(sc) << sc.error().message();
    auto prekey = prekeys.find(kp::base64_encode(pm.prekey));
    ASSERT_NE(prekey, prekeys.end());
    auto pc = e2e::conversation_crypto::for_peer(pm.conversation_id, prekey->second,
                                                 identity.public_key, pm.seeker.pubkey);
    ASSERT_TRUE(pc) << pc.error().message();

    // One message each way, end-to-end encrypted, over TLS.
    auto out = sc->make_send(1, "hello over tls");
    ASSERT_TRUE(out);
    ASSERT_EQ(str(seeker.request_ws(kp::encode_client_message(*out, "x"), "x"), "type"), "ok");
    auto got = peer.next_of("message");
    ASSERT_TRUE(got);
    auto text = pc->decrypt(event_of<kp::message_event>(*got));
    ASSERT_TRUE(text) << text.error().message();
    EXPECT_EQ(*text, "hello over tls");
    auto back = pc->make_send(1, "and back");
    ASSERT_TRUE(back);
    ASSERT_EQ(str(peer.request_ws(kp::encode_client_message(*back, "y"), "y"), "type"), "ok");
    auto got_back = seeker.next_of("message");
    ASSERT_TRUE(got_back);
    auto back_text = sc->decrypt(event_of<kp::message_event>(*got_back));
    ASSERT_TRUE(back_text) << back_text.error().message();
    EXPECT_EQ(*back_text, "and back");
}

TEST_F(Tls, PlainTextOnTheTlsPortIsRefusedCleanly) {
    start();
    // Plain HTTP: a plain 400 saying why, then the connection closes.
    auto plain = kindred::client::http_get("127.0.0.1", port_, "/healthz");
    EXPECT_EQ(plain.status, 400) << plain.body;
    EXPECT_NE(plain.body.find("TLS only"), std::string::npos) << plain.body;
    // A plain WebSocket upgrade: refused the same way, no socket is opened.
    ws_client ws;
    kindred::client::ws_options o;
    o.port = port_;
    o.timeout = 5s;
    auto r = ws.connect(o);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.http_status, 400);
    // Garbage bytes that are neither: closed without an answer, the server is unharmed.
    auto raw =
        kindred::client::http_raw("127.0.0.1", port_, std::string("\x16\x03\x01\x00\x05hello", 10));
    EXPECT_NE(raw.status, 200);
    EXPECT_EQ(tls_client(port_, cert_).request("GET", "/healthz").status, 200);
    EXPECT_TRUE(server_.running());
}

TEST_F(Tls, BadCertificateOrKeyExits2NamingTheOption) {
    const auto missing = (dir_.path() / "missing.pem").string();
    auto [c1, l1] = refused({"--tls-cert", missing, "--tls-key", key_.string()});
    EXPECT_EQ(c1, 2) << l1;
    EXPECT_NE(l1.find("--tls-cert " + missing), std::string::npos) << l1;
    auto [c2, l2] = refused({"--tls-cert", cert_.string(), "--tls-key", missing});
    EXPECT_EQ(c2, 2) << l2;
    EXPECT_NE(l2.find("--tls-key " + missing), std::string::npos) << l2;
    // A key that is not the certificate's.
    const auto other_cert = dir_.path() / "other-cert.pem";
    const auto other_key = dir_.path() / "other-key.pem";
    ASSERT_TRUE(make_certificate(other_cert, other_key));
    auto [c3, l3] = refused({"--tls-cert", cert_.string(), "--tls-key", other_key.string()});
    EXPECT_EQ(c3, 2) << l3;
    // OpenSSL may refuse it while loading ("key values mismatch") or at the check after.
    EXPECT_NE(l3.find("--tls-key " + other_key.string()), std::string::npos) << l3;
    // One without the other.
    auto [c4, l4] = refused({"--tls-cert", cert_.string()});
    EXPECT_EQ(c4, 2) << l4;
    EXPECT_NE(l4.find("--tls-cert: needs --tls-key"), std::string::npos) << l4;
}

} // namespace
} // namespace kindred::itest
