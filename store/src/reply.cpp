// reply.cpp — the reply value type.
#include <kindred/store/reply.hpp>

#include <charconv>

namespace kindred::store {

reply reply::make_integer(long long value) {
    reply r;
    r.kind_ = kind::integer;
    r.integer_ = value;
    return r;
}

reply reply::make_string(std::string value) {
    reply r;
    r.kind_ = kind::string;
    r.text_ = std::move(value);
    return r;
}

reply reply::make_status(std::string value) {
    reply r;
    r.kind_ = kind::status;
    r.text_ = std::move(value);
    return r;
}

reply reply::make_error(std::string message) {
    reply r;
    r.kind_ = kind::error;
    r.text_ = std::move(message);
    return r;
}

reply reply::make_array(std::vector<reply> elements) {
    reply r;
    r.kind_ = kind::array;
    r.elements_ = std::move(elements);
    return r;
}

const reply& reply::at(std::size_t i) const noexcept {
    static const reply nil;
    return i < elements_.size() ? elements_[i] : nil;
}

std::optional<long long> reply::to_integer() const noexcept {
    if (kind_ == kind::integer) return integer_;
    if (kind_ != kind::string) return std::nullopt;
    return parse_int64(text_);
}

std::optional<std::int64_t> parse_int64(std::string_view text) noexcept {
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
    return value;
}

bool reply::is_error_code(std::string_view prefix) const noexcept {
    if (kind_ != kind::error || !text_.starts_with(prefix)) return false;
    return text_.size() == prefix.size() || text_[prefix.size()] == ' ';
}

std::string reply::debug_string() const {
    switch (kind_) {
    case kind::nil:
        return "(nil)";
    case kind::integer:
        return "(integer) " + std::to_string(integer_);
    case kind::string:
        return "\"" + text_ + "\"";
    case kind::status:
        return text_;
    case kind::error:
        return "(error) " + text_;
    case kind::array: {
        std::string out = "[";
        for (std::size_t i = 0; i < elements_.size(); ++i) {
            if (i) out += ", ";
            out += elements_[i].debug_string();
        }
        return out + "]";
    }
    }
    return "?";
}

bool operator==(const reply& a, const reply& b) noexcept {
    return a.kind_ == b.kind_ && a.integer_ == b.integer_ && a.text_ == b.text_ &&
           a.elements_ == b.elements_;
}

const char* to_string(reply::kind k) noexcept {
    switch (k) {
    case reply::kind::nil:
        return "nil";
    case reply::kind::integer:
        return "integer";
    case reply::kind::string:
        return "string";
    case reply::kind::status:
        return "status";
    case reply::kind::error:
        return "error";
    case reply::kind::array:
        return "array";
    }
    return "?";
}

} // namespace kindred::store
