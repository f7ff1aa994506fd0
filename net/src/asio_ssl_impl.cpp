// asio_ssl_impl.cpp — the one translation unit that compiles Asio's OpenSSL implementation
// (kindred::net_ssl: only the targets that speak TLS link it, and OpenSSL with it).
#include <boost/asio/ssl/impl/src.hpp>
