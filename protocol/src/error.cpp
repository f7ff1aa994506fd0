// error.cpp — error code ⇄ wire string.
#include <kindred/protocol/error.hpp>

#include <array>
#include <cstddef>

namespace kindred::protocol {
namespace {
// In enum order.
constexpr std::array<std::string_view, 11> names{
    "bad_json",  "bad_message", "unknown_type", "too_large",   "not_authenticated", "forbidden",
    "not_found", "conflict",    "rate_limited", "unavailable", "internal"};
static_assert(static_cast<std::size_t>(error_code::internal) + 1 == names.size());
} // namespace

std::string_view to_string(error_code code) {
    const auto i = static_cast<std::size_t>(code);
    return i < names.size() ? names[i] : std::string_view{"internal"};
}

std::optional<error_code> error_code_from_string(std::string_view text) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == text) return static_cast<error_code>(i);
    }
    return std::nullopt;
}

} // namespace kindred::protocol
