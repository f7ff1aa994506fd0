// client_loopback_test.cpp — kindred::client against a tiny scripted Beast server on
// 127.0.0.1:0 in this process, so the client is checked on its own, independent of
// kindred-server. Threading: the scripted server runs one thread per connection.
#include <kindred/client/http_client.hpp>
#include <kindred/client/ws_client.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using kindred::client::describe;
using kindred::client::ws_client;
using kindred::client::ws_frame;
using kindred::client::ws_options;

// The script: HTTP GET /hello → 200 "hi"; a non-upgrade /v1/ws → 426; Origin "https://bad" →
// 403 JSON; unparseable request → 400. WebSocket messages: "close N" → close with code N;
// "twice X" → X twice; JSON with "id" → an event, then {"type":"ok","re":id}; anything else
// is echoed. Binary → close 1003; limit 1000 bytes → 1009; invalid UTF-8 → 1007 (Beast).
class scripted_server {
public:
    scripted_server() {
        acceptor_.open(tcp::v4());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread([this] { accept_loop(); });
    }
    ~scripted_server() {
        stopping_ = true;
        // Wake the blocking accept with a connection of our own.
        net::io_context ioc;
        tcp::socket wake(ioc);
        boost::system::error_code ec;
        wake.connect({net::ip::make_address("127.0.0.1"), port_}, ec);
        thread_.join();
        std::lock_guard lock(mutex_);
        for (auto& t : sessions_)
            t.join();
    }
    unsigned short port() const { return port_; }

private:
    net::io_context ioc_;
    tcp::acceptor acceptor_{ioc_};
    unsigned short port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::thread> sessions_;

    void accept_loop() {
        for (;;) {
            tcp::socket socket(ioc_);
            boost::system::error_code ec;
            acceptor_.accept(socket, ec);
            if (ec || stopping_) return;
            std::lock_guard lock(mutex_);
            sessions_.emplace_back([s = std::move(socket)]() mutable { serve(std::move(s)); });
        }
    }

    static void respond(tcp::socket& s, http::status status, std::string body,
                        const http::request<http::string_body>& req) {
        http::response<http::string_body> res{status, 11};
        res.set(http::field::content_type, "application/json");
        res.set("X-Reply", "yes");
        res.body() = std::move(body);
        res.prepare_payload();
        http::response_serializer<http::string_body> sr{res};
        if (req.method() == http::verb::head) sr.split(true);
        boost::system::error_code ec;
        if (req.method() == http::verb::head)
            http::write_header(s, sr, ec);
        else
            http::write(s, sr, ec);
        s.shutdown(tcp::socket::shutdown_send, ec);
    }

    static void serve(tcp::socket s) {
        boost::system::error_code ec;
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        http::read(s, buffer, req, ec);
        if (ec) {
            if (ec != http::error::end_of_stream)
                respond(s, http::status::bad_request, R"({"error":"bad_request"})", req);
            return;
        }
        if (!websocket::is_upgrade(req)) {
            if (req.target() == "/hello")
                respond(s, http::status::ok, "hi", req);
            else
                respond(s, http::status::upgrade_required, R"({"error":"upgrade"})", req);
            return;
        }
        if (req[http::field::origin] == "https://bad") {
            respond(s, http::status::forbidden, R"({"error":"forbidden","message":"origin"})", req);
            return;
        }
        websocket::stream<tcp::socket> ws(std::move(s));
        ws.read_message_max(1000);
        ws.accept(req, ec);
        if (ec) return;
        for (;;) {
            beast::flat_buffer b;
            ws.read(b, ec);
            if (ec) return; // includes Beast's own 1007 / 1009 closes and the client's close
            if (!ws.got_text()) {
                ws.close(websocket::close_code::unknown_data, ec);
                continue; // read on until the client's close reply
            }
            std::string text = beast::buffers_to_string(b.data());
            if (text.rfind("close ", 0) == 0) {
                ws.close(
                    websocket::close_reason(static_cast<std::uint16_t>(std::stoi(text.substr(6)))),
                    ec);
                continue;
            }
            if (text.rfind("twice ", 0) == 0) {
                ws.write(net::buffer(text.substr(6)), ec);
                ws.write(net::buffer(text.substr(6)), ec);
                continue;
            }
            if (auto pos = text.find(R"("id":")"); pos != std::string::npos) {
                auto id = text.substr(pos + 6, text.find('"', pos + 6) - pos - 6);
                ws.write(net::buffer(std::string(R"({"type":"event"})")), ec);
                ws.write(net::buffer(R"({"type":"ok","re":")" + id + "\"}"), ec);
                continue;
            }
            ws.write(b.data(), ec);
        }
    }
};

class ClientLoopback : public ::testing::Test {
protected:
    scripted_server server_;
    ws_client open() { return ws_client::open(server_.port()); }
};

TEST_F(ClientLoopback, EchoesTextFrames) {
    auto ws = open();
    ASSERT_FALSE(ws.send_text("hello"));
    auto f = ws.receive();
    ASSERT_TRUE(f.is_text()) << describe(f);
    EXPECT_EQ(f.text, "hello");
}

TEST_F(ClientLoopback, TimeoutKeepsTheReadPendingAndLosesNothing) {
    auto ws = open();
    EXPECT_TRUE(ws.receive(50ms).is_timeout());
    ASSERT_FALSE(ws.send_text("twice x"));
    auto a = ws.receive();
    auto b = ws.receive();
    EXPECT_EQ(a.text, "x") << describe(a);
    EXPECT_EQ(b.text, "x") << describe(b);
    EXPECT_TRUE(ws.receive(50ms).is_timeout());
}

TEST_F(ClientLoopback, ReportsTheServersCloseCode) {
    auto ws = open();
    ASSERT_FALSE(ws.send_text("close 4001"));
    auto f = ws.receive();
    ASSERT_TRUE(f.is_close()) << describe(f);
    EXPECT_EQ(f.close_code, 4001);
    EXPECT_FALSE(ws.is_open());
    // Sticky: a later receive reports the same close.
    EXPECT_EQ(ws.receive().close_code, 4001);
    EXPECT_TRUE(ws.send_text("after close"));
}

TEST_F(ClientLoopback, BinaryInvalidUtf8AndOversizeReachTheServerAsSent) {
    {
        auto ws = open();
        ASSERT_FALSE(ws.send_binary("\x01\x02"));
        auto f = ws.receive();
        EXPECT_TRUE(f.is_close() && f.close_code == 1003) << describe(f);
    }
    {
        auto ws = open();
        ASSERT_FALSE(ws.send_text("\x80\xc0\xaf"));
        auto f = ws.receive();
        EXPECT_TRUE(f.is_close() && f.close_code == 1007) << describe(f);
    }
    {
        auto ws = open();
        ASSERT_FALSE(ws.send_text(std::string(2000, 'x')));
        auto f = ws.receive();
        EXPECT_TRUE(f.is_close() && f.close_code == 1009) << describe(f);
    }
}

TEST_F(ClientLoopback, RequestReturnsFramesUpToTheMatchingRe) {
    auto ws = open();
    auto frames = ws.request(R"({"type":"ping","id":"7"})");
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].text, R"({"type":"event"})");
    EXPECT_EQ(frames[1].text, R"({"type":"ok","re":"7"})");
}

TEST_F(ClientLoopback, CloseCompletesTheHandshake) {
    auto ws = open();
    EXPECT_FALSE(ws.close(1000));
    EXPECT_FALSE(ws.is_open());
}

TEST_F(ClientLoopback, RefusedUpgradeReportsStatusAndBody) {
    ws_client ws;
    ws_options o;
    o.port = server_.port();
    o.headers = {{"Origin", "https://bad"}};
    auto r = ws.connect(o);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.http_status, 403);
    EXPECT_EQ(r.body, R"({"error":"forbidden","message":"origin"})");
}

TEST_F(ClientLoopback, ConnectToAClosedPortFails) {
    unsigned short port = 0;
    {
        net::io_context ioc;
        tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    }
    ws_client ws;
    ws_options o;
    o.port = port;
    EXPECT_FALSE(ws.connect(o).ok());
}

TEST_F(ClientLoopback, HttpGetHeadAndRaw) {
    auto r = kindred::client::http_get("127.0.0.1", server_.port(), "/hello");
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hi");
    EXPECT_EQ(r.header("x-reply"), "yes");
    auto h = kindred::client::http_request("HEAD", "127.0.0.1", server_.port(), "/hello");
    EXPECT_EQ(h.status, 200);
    EXPECT_TRUE(h.body.empty());
    auto u = kindred::client::http_get("127.0.0.1", server_.port(), "/v1/ws");
    EXPECT_EQ(u.status, 426);
    auto bad = kindred::client::http_raw("127.0.0.1", server_.port(), "NOT HTTP\r\n\r\n");
    EXPECT_EQ(bad.status, 400) << bad.ec.message();
}

} // namespace
