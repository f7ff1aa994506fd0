// model.hpp — the programme-insights arithmetic, pure: UTC hour/day stamps, the histogram bins
// (waiting time, conversation length), the cell keys and which cells an event counts in, the
// split of shift time across hour boundaries, and the increments each recorded event makes.
// Nothing here takes an id: an event is described by its tags, languages, time and figures
// only, so no key or value built here can name a conversation, session or account.
// Threading: free functions and constants; safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::insights {

// The counters of one cell, by field name (absent = 0).
using counters = std::map<std::string, std::int64_t>;

// "Any tag" / "any language": the marginal cells, so a total never double-counts an event
// that carries several tags or languages. Not a valid tag or language id, so no collision.
inline constexpr std::string_view any = "*";

// Counter names of the hourly cells.
namespace field {
inline constexpr std::string_view requests = "requests";
inline constexpr std::string_view matches = "matches";
inline constexpr std::string_view relaxed_matches = "relaxed_matches";
inline constexpr std::string_view cancels = "cancels";
inline constexpr std::string_view transfers = "transfers";
inline constexpr std::string_view peer_seconds = "peer_seconds";
inline constexpr std::string_view conversations = "conversations"; // ended ones
} // namespace field

// Waiting-time bins (upper bounds in seconds; a last bin "inf" takes the rest).
inline constexpr std::array<std::int64_t, 7> wait_bounds_s{10, 30, 60, 120, 300, 600, 1800};
// Conversation-length bins (5, 15, 30, 60 minutes, then inf).
inline constexpr std::array<std::int64_t, 4> conv_bounds_s{300, 900, 1800, 3600};
inline constexpr std::array<std::string_view, 4> levels{"low", "medium", "high", "imminent"};
inline constexpr std::array<std::string_view, 5> outcomes{"de_escalated", "emergency_services",
                                                          "referred", "false_alarm", "other"};
inline constexpr std::array<std::string_view, 5> helped_scores{"helped_1", "helped_2", "helped_3",
                                                               "helped_4", "helped_5"};
inline constexpr std::array<std::string_view, 3> feelings{"worse", "same", "better"};

// Bin labels: "10s" … "1800s", "inf"; "5m" … "60m", "inf".
std::vector<std::string> wait_bin_labels();
std::vector<std::string> conv_bin_labels();
// The field a figure counts in: "wait_le_30s", "conv_le_15m", "wait_le_inf". Negative → 0.
std::string wait_field(std::int64_t seconds);
std::string conv_field(std::int64_t seconds);

// ---- time ------------------------------------------------------------------------------
inline constexpr std::int64_t ms_per_hour = 3'600'000;
inline constexpr std::int64_t ms_per_day = 24 * ms_per_hour;

// Days since 1970-01-01 of a civil date (proleptic Gregorian), and back.
std::int64_t days_from_civil(int y, unsigned m, unsigned d) noexcept;
struct civil_date {
    int year;
    unsigned month;
    unsigned day;
};
civil_date civil_from_days(std::int64_t days) noexcept;
// "YYYY-MM-DD" (strict: digits, a real date, year 1970..9999) → days since epoch.
std::optional<std::int64_t> parse_date(std::string_view text) noexcept;
std::string format_date(std::int64_t days); // "YYYY-MM-DD"
std::string day_stamp(std::int64_t days);   // "YYYYMMDD"
std::string hour_stamp(std::int64_t hour);  // hours since epoch → "YYYYMMDDHH"
// Unix ms → whole hours / days since the epoch (floor; times before 1970 clamp to 0).
std::int64_t hour_of(std::int64_t unix_ms) noexcept;
std::int64_t day_of(std::int64_t unix_ms) noexcept;
// 0 = Monday … 6 = Sunday, of a day since the epoch (1970-01-01 was a Thursday).
int weekday_of(std::int64_t days) noexcept;

// Shift time [from_ms, to_ms) cut at hour boundaries: (hour since epoch, whole seconds in it).
// Seconds are counted from the ms totals so that the parts add up to the whole interval
// (rounded down once, not once per part). Empty when to_ms <= from_ms.
struct hour_share {
    std::int64_t hour;
    std::int64_t seconds;
    bool operator==(const hour_share&) const = default;
};
std::vector<hour_share> split_by_hour(std::int64_t from_ms, std::int64_t to_ms);

// ---- cells -----------------------------------------------------------------------------
// A cell: (tag or "*", language or "*").
struct scope {
    std::string tag;
    std::string language;
    bool operator==(const scope&) const = default;
    auto operator<=>(const scope&) const = default;
};
// Every cell an event with these tags and languages counts in: each (tag, language), each
// (tag, *), each (*, language) and (*, *) once. Duplicates are ignored.
std::vector<scope> scopes_of(const std::vector<std::string>& tags,
                             const std::vector<std::string>& languages);

struct key_layout {
    std::string prefix = "ins:{ins}:";
    std::string hour_key(std::int64_t hour, const scope& s) const;
    std::string feedback_key(std::int64_t day, const scope& s) const;
};

// One HINCRBY.
struct increment {
    std::string key;
    std::string field;
    std::int64_t by = 1;
    bool operator==(const increment&) const = default;
};

// ---- the increments of each recorded event ---------------------------------------------
// What an event carries: its cells' tags and languages.
struct attributes {
    std::vector<std::string> tags;
    std::vector<std::string> languages;
};

std::vector<increment> request_increments(const key_layout& k, std::int64_t at_ms,
                                          const attributes& a);
std::vector<increment> cancel_increments(const key_layout& k, std::int64_t at_ms,
                                         const attributes& a);
std::vector<increment> match_increments(const key_layout& k, std::int64_t at_ms,
                                        const attributes& a, bool relaxed, std::int64_t waited_s);
// An ended conversation: its length bin, and a transfer when it ended by one.
std::vector<increment> end_increments(const key_layout& k, std::int64_t at_ms, const attributes& a,
                                      std::int64_t length_s, bool transfer);
// level: low|medium|high|imminent (others ignored → no increments).
std::vector<increment> escalation_increments(const key_layout& k, std::int64_t at_ms,
                                             const attributes& a, std::string_view level);
// outcome: one of `outcomes` (others → "other").
std::vector<increment> outcome_increments(const key_layout& k, std::int64_t at_ms,
                                          const attributes& a, std::string_view outcome);
// Peer time on shift [from_ms, to_ms) for the tags and languages it covers, per hour.
std::vector<increment> shift_increments(const key_layout& k, std::int64_t from_ms,
                                        std::int64_t to_ms, const attributes& a);
// Feedback (per DAY): helped 1..5 (others ignored), feeling worse|same|better (others ignored).
std::vector<increment> feedback_increments(const key_layout& k, std::int64_t at_ms,
                                           const attributes& a, std::optional<int> helped,
                                           std::optional<std::string_view> feeling);

} // namespace kindred::insights
