// report.hpp — the coordinator's report from hourly and daily cells, pure: small-cell
// suppression, percentiles from histogram bins, coverage gaps (demand vs supply by tag and hour
// of the week, waits over N minutes, hours with no peer), and the JSON and CSV renderings of one
// report (the same figures, the same suppression). No I/O, no clock.
// Threading: free functions; safe from any thread.
#pragma once

#include <kindred/insights/model.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kindred::insights {

// One published count: the value, or suppressed (0 < count < min_cell). Zero is never
// suppressed: "nobody" identifies no one.
struct figure {
    std::int64_t value = 0;
    bool suppressed = false;
    bool operator==(const figure&) const = default;
};
figure suppress(std::int64_t count, std::int64_t min_cell) noexcept;

// The bin holding the p-th quantile (0 < p <= 1) of a histogram: nullopt bin when the
// histogram is empty. Suppressed when the total is suppressed or any non-empty bin up to and
// including the answer is (a figure derived from a small cell would reveal it).
struct quantile {
    std::optional<std::size_t> bin;
    bool suppressed = false;
    bool operator==(const quantile&) const = default;
};
quantile quantile_bin(const std::vector<std::int64_t>& bins, double p, std::int64_t min_cell);

// How many in the bins whose lower bound is at least `over_s` (waits of more than over_s):
// bins[i] covers (bounds[i-1], bounds[i]]; over_s should be one of the bounds (else it is
// in effect rounded up to the next one).
std::int64_t count_over(const std::vector<std::int64_t>& bins,
                        const std::vector<std::int64_t>& bounds, std::int64_t over_s);

struct report_query {
    std::int64_t from_day = 0; // days since epoch, inclusive
    std::int64_t to_day = 0;   // inclusive
    std::optional<std::string> tag;
    std::optional<std::string> language;
    std::int64_t min_cell = 5;
    std::int64_t wait_over_s = 300; // "people who waited more than N minutes"
};
inline constexpr std::int64_t max_report_days = 400;

// The query's problem as "<param>: <what>", or empty: from <= to, at most max_report_days
// days; min_cell >= 1; wait_over_s one of the wait bounds of a minute or more.
std::string check_query(const report_query& q);

// The selected cell: (tag or *, language or *).
scope selected_scope(const report_query& q);

// Everything a report reads, already fetched.
struct report_input {
    report_query query;
    std::map<std::int64_t, counters> hours;    // hour since epoch → the selected cell
    std::map<std::int64_t, counters> feedback; // day → the selected feedback cell
    // Coverage: tag → hour → the (tag, language or *) cell; one entry per tag reported.
    std::map<std::string, std::map<std::int64_t, counters>> tag_hours;
};

// The report as JSON. Every object that holds a suppressed figure has it as null and names it
// in its "suppressed" array.
boost::json::object report_json(const report_input& in);
// The same report as CSV: section,item,measure,value (value "suppressed" where JSON has null
// for a suppressed figure). RFC 4180 quoting; ends with a newline.
std::string report_csv(const boost::json::object& report);

// A short plain-text rendering for terminals (kindredctl report).
std::string report_text(const boost::json::object& report);

} // namespace kindred::insights
