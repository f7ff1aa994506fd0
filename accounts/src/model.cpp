// model.cpp — validation of account fields, UTC calendar dates (std::chrono's civil calendar).
#include <kindred/accounts/model.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace kindred::accounts {

namespace {

constexpr std::int64_t ms_per_day = 86'400'000;

bool is_lower_alnum(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Decodes one UTF-8 sequence at text[i]; returns the code point and advances i, or -1 for
// anything that is not well-formed UTF-8 (overlong forms, surrogates, > U+10FFFF).
long next_code_point(std::string_view text, std::size_t& i) noexcept {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char b0 = byte(i);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    std::size_t n = 0;
    long cp = 0;
    long min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        n = 1, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        n = 2, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        n = 3, cp = b0 & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    for (std::size_t k = 1; k <= n; ++k) {
        if (i + k >= text.size()) return -1;
        unsigned char b = byte(i + k);
        if ((b & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    i += n + 1;
    return cp;
}

// Characters an alias must not hold: controls, and invisible formatting that could make one
// alias look like another or reorder the text around it (bidi overrides, line separators,
// zero-width characters, BOM).
bool forbidden_in_alias(long cp) noexcept {
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
           (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

bool is_space(long cp) noexcept {
    return cp == ' ' || cp == 0xA0 || cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200A);
}

std::chrono::sys_days to_sys_days(const date& d) noexcept {
    return std::chrono::sys_days{std::chrono::year{d.year} / std::chrono::month{d.month} /
                                 std::chrono::day{d.day}};
}

} // namespace

std::string_view to_string(role r) noexcept {
    switch (r) {
    case role::peer:
        return "peer";
    case role::moderator:
        return "moderator";
    case role::admin:
        return "admin";
    }
    return "peer";
}

std::optional<role> role_from_string(std::string_view text) noexcept {
    if (text == "peer") return role::peer;
    if (text == "moderator") return role::moderator;
    if (text == "admin") return role::admin;
    return std::nullopt;
}

std::optional<date> parse_date(std::string_view text) noexcept {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    auto digits = [&](std::size_t from, std::size_t count, int& out) {
        out = 0;
        for (std::size_t k = from; k < from + count; ++k) {
            if (text[k] < '0' || text[k] > '9') return false;
            out = out * 10 + (text[k] - '0');
        }
        return true;
    };
    int y = 0, m = 0, d = 0;
    if (!digits(0, 4, y) || !digits(5, 2, m) || !digits(8, 2, d) || y < 2000) return std::nullopt;
    std::chrono::year_month_day ymd{std::chrono::year{y},
                                    std::chrono::month{static_cast<unsigned>(m)},
                                    std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    return date{y, static_cast<unsigned>(m), static_cast<unsigned>(d)};
}

std::string format_date(const date& d) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", d.year, d.month, d.day);
    return buf;
}

date date_of(std::int64_t unix_ms) noexcept {
    // Floor division, so that instants before 1970 land on the right day too.
    std::int64_t days = unix_ms / ms_per_day - (unix_ms % ms_per_day < 0 ? 1 : 0);
    std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
    return date{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day())};
}

date add_years(const date& d, int years) noexcept {
    date out{d.year + years, d.month, d.day};
    if (out.month == 2 && out.day == 29 && !std::chrono::year{out.year}.is_leap()) out.day = 28;
    return out;
}

std::int64_t end_of_day_ms(const date& d) noexcept {
    return (static_cast<std::int64_t>(to_sys_days(d).time_since_epoch().count()) + 1) * ms_per_day;
}

std::vector<std::string> account::active_tags(std::int64_t now_ms) const {
    std::vector<std::string> out;
    for (const auto& c : certifications)
        if (c.active(now_ms)) out.push_back(c.tag);
    std::sort(out.begin(), out.end());
    return out;
}

bool catalog::has_tag(std::string_view id) const noexcept {
    return std::find(tags.begin(), tags.end(), id) != tags.end();
}

bool catalog::has_language(std::string_view id) const noexcept {
    return std::find(languages.begin(), languages.end(), id) != languages.end();
}

bool valid_username(std::string_view name) noexcept {
    if (name.size() < min_username_chars || name.size() > max_username_chars) return false;
    if (!is_lower_alnum(name.front())) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return is_lower_alnum(c) || c == '.' || c == '_' || c == '-';
    });
}

bool valid_alias(std::string_view alias) noexcept {
    std::size_t i = 0;
    std::size_t count = 0;
    long first = -1, last = -1;
    while (i < alias.size()) {
        long cp = next_code_point(alias, i);
        if (cp < 0 || forbidden_in_alias(cp)) return false;
        if (first < 0) first = cp;
        last = cp;
        if (++count > max_alias_chars) return false;
    }
    return count >= 1 && !is_space(first) && !is_space(last);
}

bool valid_password(std::string_view password) noexcept {
    return password.size() >= min_password_bytes && password.size() <= max_password_bytes;
}

bool valid_tag_id(std::string_view tag) noexcept {
    return !tag.empty() && tag.size() <= max_tag_chars &&
           std::all_of(tag.begin(), tag.end(),
                       [](char c) { return is_lower_alnum(c) || c == '_' || c == '-'; });
}

bool valid_actor(std::string_view actor) noexcept {
    return !actor.empty() && actor.size() <= 64 &&
           std::all_of(actor.begin(), actor.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '@' || c == '-';
           });
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    while (true) {
        auto comma = text.find(',');
        auto item = text.substr(0, comma);
        auto b = item.find_first_not_of(" \t");
        if (b != std::string_view::npos) {
            auto e = item.find_last_not_of(" \t");
            out.emplace_back(item.substr(b, e - b + 1));
        }
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

boost::system::result<std::vector<std::string>>
check_languages(const std::vector<std::string>& ids, const catalog& cat, std::string* unknown) {
    if (ids.empty()) return make_error_code(error::no_languages);
    std::vector<std::string> out;
    for (const auto& id : ids) {
        if (!cat.has_language(id)) {
            if (unknown) *unknown = id;
            return make_error_code(error::unknown_language);
        }
        if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
    return out;
}

boost::system::result<std::vector<std::string>>
check_tags(const std::vector<std::string>& ids, const catalog& cat, std::string* unknown) {
    if (ids.empty()) return make_error_code(error::invalid_tag);
    std::vector<std::string> out;
    for (const auto& id : ids) {
        if (!valid_tag_id(id)) {
            if (unknown) *unknown = id;
            return make_error_code(error::invalid_tag);
        }
        if (!cat.has_tag(id)) {
            if (unknown) *unknown = id;
            return make_error_code(error::unknown_tag);
        }
        out.push_back(id);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

boost::system::result<date> check_until(std::string_view text, std::int64_t now_ms) {
    auto d = parse_date(text);
    if (!d) return make_error_code(error::invalid_date);
    if (end_of_day_ms(*d) <= now_ms) return make_error_code(error::date_in_past);
    return *d;
}

} // namespace kindred::accounts
