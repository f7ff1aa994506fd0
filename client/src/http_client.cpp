// http_client.cpp — one-shot HTTP/1.1 requests over Beast; see http_client.hpp.
// Each call owns an io_context and a tcp_stream whose timer bounds every step, so running the
// io_context to completion always ends by the deadline.
#include <kindred/client/http_client.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cctype>

namespace kindred::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// Starts one async operation and runs the io_context until it completes. The stream's timer
// (expires_after) guarantees completion by the deadline.
template <class Start>
error_code run_op(net::io_context& ioc, Start start) {
    error_code result;
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
}

error_code connect(net::io_context& ioc, beast::tcp_stream& stream, std::string_view host,
                   unsigned short port) {
    tcp::resolver resolver(ioc);
    error_code ec;
    auto endpoints = resolver.resolve(std::string(host), std::to_string(port), ec);
    if (ec) return ec;
    return run_op(ioc, [&](auto handler) { stream.async_connect(endpoints, handler); });
}

// Reads one response into out; a HEAD response has no body however it is framed.
void read_response(net::io_context& ioc, beast::tcp_stream& stream, bool head, http_response& out) {
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (head) parser.skip(true);
    out.ec = run_op(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
    if (parser.is_header_done()) {
        auto& res = parser.get();
        out.status = static_cast<int>(res.result_int());
        for (auto& field : res)
            out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        out.body = res.body();
    }
}

} // namespace

std::optional<std::string> http_response::header(std::string_view name) const {
    for (auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return std::nullopt;
}

http_response http_request(std::string_view method, std::string_view host, unsigned short port,
                           std::string_view target, const header_list& headers,
                           std::string_view body, std::chrono::milliseconds timeout) {
    http_response out;
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    if ((out.ec = connect(ioc, stream, host, port))) return out;

    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, std::string(host) + ":" + std::to_string(port));
    req.set(http::field::user_agent, "kindred-client");
    req.set(http::field::connection, "close");
    for (auto& [name, value] : headers)
        req.set(name, value);
    if (!body.empty()) {
        req.body() = std::string(body);
        req.prepare_payload();
    }
    if ((out.ec = run_op(ioc, [&](auto handler) { http::async_write(stream, req, handler); })))
        return out;
    read_response(ioc, stream, iequals(method, "HEAD"), out);
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return out;
}

http_response http_raw(std::string_view host, unsigned short port, std::string_view bytes,
                       std::chrono::milliseconds timeout) {
    http_response out;
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    if ((out.ec = connect(ioc, stream, host, port))) return out;
    // A write error is expected when the server answers early (e.g. 431) and closes while
    // bytes are still in flight; the answer may still be readable, so read regardless.
    run_op(ioc, [&](auto handler) {
        net::async_write(stream, net::buffer(bytes.data(), bytes.size()), handler);
    });
    read_response(ioc, stream, false, out);
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return out;
}

} // namespace kindred::client
