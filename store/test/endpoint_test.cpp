// endpoint_test.cpp — parsing Redis endpoints from untrusted configuration text.
#include <kindred/store/endpoint.hpp>

#include <gtest/gtest.h>

#include <string>

using kindred::store::endpoint;
using kindred::store::error;
using kindred::store::parse_endpoint;

TEST(Endpoint, ParsesUnixWithScheme) {
    auto e = parse_endpoint("unix:/run/kindred/redis.sock");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->type, endpoint::kind::unix_socket);
    EXPECT_EQ(e->path, "/run/kindred/redis.sock");
}

TEST(Endpoint, ParsesUnixUrlStyle) {
    auto e = parse_endpoint("unix:///tmp/r.sock");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->path, "/tmp/r.sock");
}

TEST(Endpoint, ParsesBarePathsAsUnix) {
    auto a = parse_endpoint("/var/run/redis.sock");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->type, endpoint::kind::unix_socket);
    EXPECT_EQ(a->path, "/var/run/redis.sock");
    auto b = parse_endpoint("./state/redis.sock");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->path, "./state/redis.sock");
}

TEST(Endpoint, ParsesTcp) {
    auto e = parse_endpoint("tcp://127.0.0.1:6379");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->type, endpoint::kind::tcp);
    EXPECT_EQ(e->host, "127.0.0.1");
    EXPECT_EQ(e->port, 6379);
    auto n = parse_endpoint("tcp://redis-0.redis.svc:7000");
    ASSERT_TRUE(n);
    EXPECT_EQ(n->host, "redis-0.redis.svc");
    EXPECT_EQ(n->port, 7000);
}

TEST(Endpoint, ParsesBracketedIpv6) {
    auto e = parse_endpoint("tcp://[::1]:6380");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->host, "::1");
    EXPECT_EQ(e->port, 6380);
    EXPECT_EQ(e->to_string(), "tcp://[::1]:6380");
}

TEST(Endpoint, RoundTripsThroughToString) {
    for (std::string text : {"unix:/tmp/a.sock", "tcp://localhost:1", "tcp://10.0.0.2:65535"}) {
        auto e = parse_endpoint(text);
        ASSERT_TRUE(e) << text;
        EXPECT_EQ(e->to_string(), text);
        EXPECT_EQ(parse_endpoint(e->to_string()).value(), *e);
    }
}

TEST(Endpoint, RejectsBadTextWithAReason) {
    const char* bad[] = {
        "",                 // empty
        "localhost:6379",   // no scheme
        "redis://h:6379",   // unsupported scheme
        "unix:",            // no path
        "tcp://",           // nothing
        "tcp://host",       // no port
        "tcp://host:",      // empty port
        "tcp://:6379",      // no host
        "tcp://host:0",     // port 0
        "tcp://host:65536", // port too large
        "tcp://host:12ab",  // not a number
        "tcp://host:-1",    // negative
        "tcp://::1:6379",   // IPv6 without brackets
        "tcp://[::1:6379",  // unclosed bracket
        "tcp://[::1]6379",  // no colon after bracket
        "tcp://ho st:6379", // space in host
        "tcp://h/x:6379",   // slash in host
    };
    for (const char* text : bad) {
        std::string why;
        auto e = parse_endpoint(text, &why);
        ASSERT_FALSE(e) << text;
        EXPECT_EQ(e.error(), error::bad_endpoint) << text;
        EXPECT_FALSE(why.empty()) << text;
    }
}

TEST(Endpoint, RejectsUnixPathsLongerThanSunPath) {
    std::string why;
    std::string path = "/" + std::string(107, 'x'); // 108 bytes: no room for the NUL
    EXPECT_FALSE(parse_endpoint("unix:" + path, &why));
    EXPECT_NE(why.find("107"), std::string::npos);
    EXPECT_TRUE(parse_endpoint("unix:/" + std::string(106, 'x')));
}

TEST(Endpoint, RejectsEmbeddedNul) {
    std::string text = std::string("unix:/tmp/a") + '\0' + "b";
    EXPECT_FALSE(parse_endpoint(text));
}

TEST(StoreError, HasItsOwnCategory) {
    boost::system::error_code ec = error::timeout;
    EXPECT_STREQ(ec.category().name(), "kindred.store");
    EXPECT_EQ(ec, error::timeout);
    EXPECT_NE(ec, error::not_connected);
    EXPECT_FALSE(ec.message().empty());
    EXPECT_TRUE(ec); // a failure, not success
}
