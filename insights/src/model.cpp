// model.cpp — see model.hpp. Dates use the days-from-civil algorithm (H. Hinnant's, public
// domain), so nothing depends on the process's time zone or the C library's calendar.
#include <kindred/insights/model.hpp>

#include <algorithm>
#include <cstdio>
#include <set>

namespace kindred::insights {

std::vector<std::string> wait_bin_labels() {
    std::vector<std::string> out;
    for (auto b : wait_bounds_s)
        out.push_back(std::to_string(b) + "s");
    out.emplace_back("inf");
    return out;
}

std::vector<std::string> conv_bin_labels() {
    std::vector<std::string> out;
    for (auto b : conv_bounds_s)
        out.push_back(std::to_string(b / 60) + "m");
    out.emplace_back("inf");
    return out;
}

namespace {

template <std::size_t N>
std::size_t bin_index(const std::array<std::int64_t, N>& bounds, std::int64_t seconds) {
    seconds = std::max<std::int64_t>(0, seconds);
    for (std::size_t i = 0; i < N; ++i)
        if (seconds <= bounds[i]) return i;
    return N;
}

} // namespace

std::string wait_field(std::int64_t seconds) {
    return "wait_le_" + wait_bin_labels()[bin_index(wait_bounds_s, seconds)];
}

std::string conv_field(std::int64_t seconds) {
    return "conv_le_" + conv_bin_labels()[bin_index(conv_bounds_s, seconds)];
}

std::int64_t days_from_civil(int y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

civil_date civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<int>(y + (m <= 2)), m, d};
}

std::optional<std::int64_t> parse_date(std::string_view t) noexcept {
    if (t.size() != 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
    auto num = [&](std::size_t at, std::size_t n) -> std::optional<int> {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (t[i] < '0' || t[i] > '9') return std::nullopt;
            v = v * 10 + (t[i] - '0');
        }
        return v;
    };
    auto y = num(0, 4), m = num(5, 2), d = num(8, 2);
    if (!y || !m || !d || *y < 1970 || *m < 1 || *m > 12 || *d < 1) return std::nullopt;
    const auto days = days_from_civil(*y, static_cast<unsigned>(*m), static_cast<unsigned>(*d));
    // A day past the month's end (2026-02-30) comes back as another date.
    const auto back = civil_from_days(days);
    if (back.year != *y || back.month != static_cast<unsigned>(*m) ||
        back.day != static_cast<unsigned>(*d))
        return std::nullopt;
    return days;
}

std::string format_date(std::int64_t days) {
    const auto c = civil_from_days(days);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", c.year, c.month, c.day);
    return buf;
}

std::string day_stamp(std::int64_t days) {
    const auto c = civil_from_days(days);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d%02u%02u", c.year, c.month, c.day);
    return buf;
}

std::string hour_stamp(std::int64_t hour) {
    const std::int64_t days = hour >= 0 ? hour / 24 : 0;
    const auto h = static_cast<unsigned>(hour >= 0 ? hour % 24 : 0);
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02u", h);
    return day_stamp(days) + buf;
}

std::int64_t hour_of(std::int64_t unix_ms) noexcept {
    return unix_ms <= 0 ? 0 : unix_ms / ms_per_hour;
}

std::int64_t day_of(std::int64_t unix_ms) noexcept {
    return unix_ms <= 0 ? 0 : unix_ms / ms_per_day;
}

int weekday_of(std::int64_t days) noexcept {
    // 1970-01-01 was a Thursday (index 3 when Monday is 0).
    const std::int64_t w = (days % 7 + 7 + 3) % 7;
    return static_cast<int>(w);
}

std::vector<hour_share> split_by_hour(std::int64_t from_ms, std::int64_t to_ms) {
    std::vector<hour_share> out;
    if (to_ms <= from_ms || from_ms < 0) return out;
    // Cumulative flooring: part i gets floor(end_i/1000) - floor(start_i/1000) relative to
    // from_ms, so the parts sum to floor((to-from)/1000) exactly.
    std::int64_t cursor = from_ms;
    std::int64_t counted = 0;
    while (cursor < to_ms) {
        const std::int64_t hour = cursor / ms_per_hour;
        const std::int64_t end = std::min(to_ms, (hour + 1) * ms_per_hour);
        const std::int64_t total = (end - from_ms) / 1000;
        if (total > counted) out.push_back({hour, total - counted});
        counted = total;
        cursor = end;
    }
    return out;
}

std::vector<scope> scopes_of(const std::vector<std::string>& tags,
                             const std::vector<std::string>& languages) {
    std::set<std::string> ts(tags.begin(), tags.end()), ls(languages.begin(), languages.end());
    std::vector<scope> out;
    for (const auto& t : ts)
        for (const auto& l : ls)
            out.push_back({t, l});
    for (const auto& t : ts)
        out.push_back({t, std::string(any)});
    for (const auto& l : ls)
        out.push_back({std::string(any), l});
    out.push_back({std::string(any), std::string(any)});
    return out;
}

std::string key_layout::hour_key(std::int64_t hour, const scope& s) const {
    return prefix + "h:" + hour_stamp(hour) + ":" + s.tag + ":" + s.language;
}

std::string key_layout::feedback_key(std::int64_t day, const scope& s) const {
    return prefix + "fb:" + day_stamp(day) + ":" + s.tag + ":" + s.language;
}

namespace {

void add_hour(std::vector<increment>& out, const key_layout& k, std::int64_t hour,
              const attributes& a, std::string_view field, std::int64_t by = 1) {
    for (const auto& s : scopes_of(a.tags, a.languages))
        out.push_back({k.hour_key(hour, s), std::string(field), by});
}

} // namespace

std::vector<increment> request_increments(const key_layout& k, std::int64_t at_ms,
                                          const attributes& a) {
    std::vector<increment> out;
    add_hour(out, k, hour_of(at_ms), a, field::requests);
    return out;
}

std::vector<increment> cancel_increments(const key_layout& k, std::int64_t at_ms,
                                         const attributes& a) {
    std::vector<increment> out;
    add_hour(out, k, hour_of(at_ms), a, field::cancels);
    return out;
}

std::vector<increment> match_increments(const key_layout& k, std::int64_t at_ms,
                                        const attributes& a, bool relaxed, std::int64_t waited_s) {
    std::vector<increment> out;
    const auto h = hour_of(at_ms);
    add_hour(out, k, h, a, field::matches);
    if (relaxed) add_hour(out, k, h, a, field::relaxed_matches);
    add_hour(out, k, h, a, wait_field(waited_s));
    return out;
}

std::vector<increment> end_increments(const key_layout& k, std::int64_t at_ms, const attributes& a,
                                      std::int64_t length_s, bool transfer) {
    std::vector<increment> out;
    const auto h = hour_of(at_ms);
    add_hour(out, k, h, a, field::conversations);
    add_hour(out, k, h, a, conv_field(length_s));
    if (transfer) add_hour(out, k, h, a, field::transfers);
    return out;
}

std::vector<increment> escalation_increments(const key_layout& k, std::int64_t at_ms,
                                             const attributes& a, std::string_view level) {
    std::vector<increment> out;
    if (std::find(levels.begin(), levels.end(), level) == levels.end()) return out;
    add_hour(out, k, hour_of(at_ms), a, "esc_" + std::string(level));
    return out;
}

std::vector<increment> outcome_increments(const key_layout& k, std::int64_t at_ms,
                                          const attributes& a, std::string_view outcome) {
    std::vector<increment> out;
    if (std::find(outcomes.begin(), outcomes.end(), outcome) == outcomes.end()) outcome = "other";
    add_hour(out, k, hour_of(at_ms), a, "esc_out_" + std::string(outcome));
    return out;
}

std::vector<increment> shift_increments(const key_layout& k, std::int64_t from_ms,
                                        std::int64_t to_ms, const attributes& a) {
    std::vector<increment> out;
    for (const auto& share : split_by_hour(from_ms, to_ms))
        add_hour(out, k, share.hour, a, field::peer_seconds, share.seconds);
    return out;
}

std::vector<increment> feedback_increments(const key_layout& k, std::int64_t at_ms,
                                           const attributes& a, std::optional<int> helped,
                                           std::optional<std::string_view> feeling) {
    std::vector<increment> out;
    const auto day = day_of(at_ms);
    for (const auto& s : scopes_of(a.tags, a.languages)) {
        if (helped && *helped >= 1 && *helped <= 5)
            out.push_back({k.feedback_key(day, s), std::string(helped_scores[*helped - 1]), 1});
        if (feeling && std::find(feelings.begin(), feelings.end(), *feeling) != feelings.end())
            out.push_back({k.feedback_key(day, s), "feeling_" + std::string(*feeling), 1});
    }
    return out;
}

} // namespace kindred::insights
