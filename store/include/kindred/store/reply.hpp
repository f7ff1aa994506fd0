// reply.hpp — one Redis reply as a plain value, copied out of hiredis's reply tree so that
// no hiredis type crosses this library's interface. Cheap to move; copies are deep.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::store {

class reply {
public:
    // RESP2's types (hiredis 0.14 speaks RESP2 only).
    enum class kind : std::uint8_t { nil, integer, string, status, error, array };

    reply() = default; // nil

    static reply make_nil() { return {}; }
    static reply make_integer(long long value);
    static reply make_string(std::string value);
    static reply make_status(std::string value);
    static reply make_error(std::string message);
    static reply make_array(std::vector<reply> elements);

    kind type() const noexcept { return kind_; }
    bool is_nil() const noexcept { return kind_ == kind::nil; }
    bool is_integer() const noexcept { return kind_ == kind::integer; }
    bool is_string() const noexcept { return kind_ == kind::string; }
    bool is_status() const noexcept { return kind_ == kind::status; }
    bool is_error() const noexcept { return kind_ == kind::error; }
    bool is_array() const noexcept { return kind_ == kind::array; }

    // The value of an integer reply; 0 for any other kind.
    long long integer() const noexcept { return integer_; }
    // The bytes of a string, the text of a status or an error; empty for other kinds.
    // Strings are binary-safe (they may hold '\0').
    const std::string& str() const noexcept { return text_; }
    // The elements of an array; empty for other kinds (a nil array is kind::nil).
    const std::vector<reply>& elements() const noexcept { return elements_; }
    std::size_t size() const noexcept { return elements_.size(); }
    // Element i of an array, or a nil reply when out of range (replies are untrusted input).
    const reply& at(std::size_t i) const noexcept;

    // An integer reply, or a string reply that holds a decimal integer (e.g. GET of a
    // counter); nullopt otherwise.
    std::optional<long long> to_integer() const noexcept;
    // True for a status reply with exactly this text ("OK", "PONG", "QUEUED").
    bool is_status(std::string_view text) const noexcept {
        return kind_ == kind::status && text_ == text;
    }
    // An error reply whose first word is `prefix` (e.g. "NOSCRIPT", "WRONGTYPE").
    bool is_error_code(std::string_view prefix) const noexcept;

    // A short human-readable form for tests and debugging. It prints values: never log it
    // for replies that may hold user data.
    std::string debug_string() const;

    friend bool operator==(const reply& a, const reply& b) noexcept;

private:
    kind kind_ = kind::nil;
    long long integer_ = 0;
    std::string text_;
    std::vector<reply> elements_;
};

const char* to_string(reply::kind k) noexcept;

// A decimal integer that is the whole of `text`, or nullopt. Redis hands numbers back as
// strings inside hashes and script arrays; every reader parses them the same way.
std::optional<std::int64_t> parse_int64(std::string_view text) noexcept;

} // namespace kindred::store
