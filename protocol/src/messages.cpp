// messages.cpp — type names and the shape checks shared with configuration.
#include <kindred/protocol/messages.hpp>

namespace kindred::protocol {
namespace {

bool is_lower_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
    return is_alpha(c) || (c >= '0' && c <= '9');
}

bool is_lower_id(std::string_view text, std::size_t max_chars) {
    if (text.empty() || text.size() > max_chars) return false;
    for (char c : text) {
        if (!is_lower_id_char(c)) return false;
    }
    return true;
}

} // namespace

bool is_tag_id(std::string_view text) {
    return is_lower_id(text, limits::max_tag_chars);
}

bool is_reason_id(std::string_view text) {
    return is_lower_id(text, limits::max_reason_chars);
}

bool is_language_tag(std::string_view text) {
    if (text.size() < 2 || text.size() > limits::max_language_chars) return false;
    std::size_t start = 0;
    bool first = true;
    while (start <= text.size()) {
        std::size_t stop = text.find('-', start);
        if (stop == std::string_view::npos) stop = text.size();
        const std::string_view sub = text.substr(start, stop - start);
        if (sub.empty() || sub.size() > 8) return false;
        if (first && sub.size() < 2) return false;
        for (char c : sub) {
            if (first ? !is_alpha(c) : !is_alnum(c)) return false;
        }
        first = false;
        start = stop + 1;
    }
    return true;
}

std::size_t count_code_points(std::string_view utf8) {
    std::size_t n = 0;
    for (char c : utf8) {
        // Every code point has exactly one byte that is not a continuation byte (10xxxxxx).
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    }
    return n;
}

std::string_view type_name(const client_message& message) {
    return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::wire_type; }, message);
}

std::string_view type_name(const server_event& event) {
    return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::wire_type; }, event);
}

} // namespace kindred::protocol
