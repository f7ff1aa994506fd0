// listener.cpp — the accept loop. Each accepted socket gets its own strand, so the HTTP and
// WebSocket sessions built on it need no locks. With TLS enabled it owns the OpenSSL context
// (TLS 1.2+, forward-secret AEAD ciphers) shared by every connection.
// Threading: handlers run on the acceptor's strand; stop() posts to it.
#include "net_sessions.hpp"
#include <kindred/server/listener.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

namespace kindred::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct listener::impl : std::enable_shared_from_this<listener::impl> {
    impl(net::io_context& io, server_context& ctx)
        : io_(io)
        , ctx_(ctx)
        , strand_(net::make_strand(io))
        , acceptor_(strand_)
        , retry_timer_(strand_) {}

    void do_accept() {
        acceptor_.async_accept(
            net::make_strand(io_),
            [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
                self->on_accept(ec, std::move(socket));
            });
    }

    void on_accept(boost::system::error_code ec, tcp::socket socket) {
        if (stopped_ || ec == net::error::operation_aborted) return;
        if (ec) {
            // Usually out of file descriptors: wait a little instead of spinning.
            spdlog::warn("event=accept_failed error=\"{}\"", ec.message());
            retry_timer_.expires_after(std::chrono::milliseconds(100));
            retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
                if (!e && !self->stopped_) self->do_accept();
            });
            return;
        }
        // Small frames go out at once: without this, a reply written while an earlier one is
        // unacknowledged waits for the client's delayed ACK (~40 ms, measured by kindred-bench).
        boost::system::error_code nodelay_ec;
        socket.set_option(tcp::no_delay(true), nodelay_ec);
        try {
            if (tls_)
                detail::run_https_session(std::move(socket), *tls_, ctx_);
            else
                detail::run_http_session(std::move(socket), ctx_);
        } catch (const std::exception& e) {
            spdlog::error("event=session_start_failed what=\"{}\"", e.what());
        }
        do_accept();
    }

    net::io_context& io_;
    server_context& ctx_;
    net::strand<net::io_context::executor_type> strand_;
    tcp::acceptor acceptor_;
    net::steady_timer retry_timer_;
    bool stopped_ = false;
    std::uint16_t port_ = 0;
    std::unique_ptr<net::ssl::context> tls_; // null: plain HTTP and WebSocket
};

std::string listener::enable_tls(const std::string& cert_file, const std::string& key_file) {
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                     net::ssl::context::no_tlsv1_1 | net::ssl::context::no_compression |
                     net::ssl::context::single_dh_use);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    // TLS 1.2: the "intermediate" profile (ECDHE key exchange, AEAD ciphers only); TLS 1.3
    // keeps OpenSSL's defaults, which are all AEAD.
    SSL_CTX_set_cipher_list(native, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert_file, ec);
    if (ec)
        return "--tls-cert " + cert_file + ": cannot load a PEM certificate chain (" +
               ec.message() + ")";
    ctx->use_private_key_file(key_file, net::ssl::context::pem, ec);
    if (ec)
        return "--tls-key " + key_file + ": cannot load a PEM private key (" + ec.message() + ")";
    if (SSL_CTX_check_private_key(native) != 1)
        return "--tls-key " + key_file + ": does not match the certificate of --tls-cert";
    impl_->tls_ = std::move(ctx);
    return {};
}

listener::listener(net::io_context& io, server_context& ctx)
    : impl_(std::make_shared<impl>(io, ctx)) {}

listener::~listener() = default;

boost::system::error_code listener::open(const std::string& host, std::uint16_t port) {
    boost::system::error_code ec;
    tcp::resolver resolver(impl_->io_);
    auto results = resolver.resolve(host, std::to_string(port),
                                    tcp::resolver::numeric_service | tcp::resolver::passive, ec);
    if (ec) return ec;
    for (const auto& entry : results) {
        auto& a = impl_->acceptor_;
        a.open(entry.endpoint().protocol(), ec);
        if (ec) continue;
        a.set_option(net::socket_base::reuse_address(true), ec);
        a.bind(entry.endpoint(), ec);
        if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
        if (!ec) {
            impl_->port_ = a.local_endpoint(ec).port();
            return ec;
        }
        boost::system::error_code ignored;
        a.close(ignored);
    }
    return ec ? ec : make_error_code(boost::system::errc::address_not_available);
}

std::uint16_t listener::port() const {
    return impl_->port_;
}

void listener::start() {
    net::post(impl_->strand_, [self = impl_] { self->do_accept(); });
}

void listener::stop() {
    net::post(impl_->strand_, [self = impl_] {
        self->stopped_ = true;
        boost::system::error_code ignored;
        self->acceptor_.close(ignored);
        self->retry_timer_.cancel();
    });
}

} // namespace kindred::server
