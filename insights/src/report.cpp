// report.cpp — see report.hpp. Suppression happens in one place (put()), so JSON, CSV and the
// terminal text cannot disagree: the CSV and the text are rendered from the JSON.
#include <kindred/insights/report.hpp>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace kindred::insights {

namespace json = boost::json;

figure suppress(std::int64_t count, std::int64_t min_cell) noexcept {
    return {count, count > 0 && count < min_cell};
}

quantile quantile_bin(const std::vector<std::int64_t>& bins, double p, std::int64_t min_cell) {
    quantile out;
    std::int64_t total = 0;
    for (auto b : bins)
        total += b;
    if (total <= 0) return out;
    if (suppress(total, min_cell).suppressed) out.suppressed = true;
    const double target = std::max(1.0, std::ceil(p * static_cast<double>(total)));
    std::int64_t cumulative = 0;
    for (std::size_t i = 0; i < bins.size(); ++i) {
        if (suppress(bins[i], min_cell).suppressed) out.suppressed = true;
        cumulative += bins[i];
        if (static_cast<double>(cumulative) >= target) {
            out.bin = i;
            break;
        }
    }
    return out;
}

std::int64_t count_over(const std::vector<std::int64_t>& bins,
                        const std::vector<std::int64_t>& bounds, std::int64_t over_s) {
    // Bin i's lower bound is bounds[i-1] (0 for the first); it counts when that is >= over_s.
    std::int64_t n = 0;
    for (std::size_t i = 0; i < bins.size(); ++i) {
        const std::int64_t lower = i == 0 ? 0 : bounds[std::min(i - 1, bounds.size() - 1)];
        if (i > 0 && lower >= over_s) n += bins[i];
    }
    return n;
}

std::string check_query(const report_query& q) {
    if (q.to_day < q.from_day) return "to: must not be before from";
    if (q.to_day - q.from_day + 1 > max_report_days)
        return "to: the range may span at most " + std::to_string(max_report_days) + " days";
    if (q.min_cell < 1) return "min_cell: must be at least 1";
    if (std::find(wait_bounds_s.begin(), wait_bounds_s.end(), q.wait_over_s) ==
            wait_bounds_s.end() ||
        q.wait_over_s < 60)
        return "wait_over: must be one of 1, 2, 5, 10, 30 (minutes)";
    return {};
}

scope selected_scope(const report_query& q) {
    return {q.tag.value_or(std::string(any)), q.language.value_or(std::string(any))};
}

namespace {

std::int64_t get(const counters& c, std::string_view f) {
    auto it = c.find(std::string(f));
    return it == c.end() ? 0 : it->second;
}

// Writes a figure into `o` as a number, or null plus its name in o["suppressed"].
void put(json::object& o, std::string_view name, figure f) {
    if (!f.suppressed) {
        o[name] = f.value;
        return;
    }
    o[name] = nullptr;
    auto* list = o.if_contains("suppressed");
    if (!list || !list->is_array()) list = &(o["suppressed"] = json::array());
    list->as_array().emplace_back(name);
}

double hours_of(std::int64_t seconds) {
    return std::round(static_cast<double>(seconds) / 360.0) / 10.0; // one decimal
}

struct sums {
    counters c;
    void add(const counters& other) {
        for (const auto& [k, v] : other)
            c[k] += v;
    }
    std::int64_t operator[](std::string_view f) const { return get(c, f); }
};

std::vector<std::int64_t> bins_of(const sums& s, std::string_view prefix,
                                  const std::vector<std::string>& labels) {
    std::vector<std::int64_t> out;
    for (const auto& l : labels)
        out.push_back(s[std::string(prefix) + l]);
    return out;
}

json::object histogram(const std::vector<std::string>& labels,
                       const std::vector<std::int64_t>& counts, std::int64_t min_cell) {
    json::object o;
    json::array bins;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        json::object b{{"le", labels[i]}};
        put(b, "count", suppress(counts[i], min_cell));
        bins.push_back(std::move(b));
    }
    o["bins"] = std::move(bins);
    for (auto [name, p] : {std::pair{"median_le", 0.5}, std::pair{"p90_le", 0.9}}) {
        const auto q = quantile_bin(counts, p, min_cell);
        if (q.suppressed) {
            put(o, name, figure{0, true});
        } else if (q.bin) {
            o[name] = labels[*q.bin];
        } else {
            o[name] = nullptr;
        }
    }
    return o;
}

// Hour of the week of an hour since the epoch: Monday 00:00 UTC is 0.
int hour_of_week(std::int64_t hour) {
    return weekday_of(hour / 24) * 24 + static_cast<int>(hour % 24);
}

} // namespace

json::object report_json(const report_input& in) {
    const auto& q = in.query;
    const auto min = q.min_cell;
    json::object r;
    r["from"] = format_date(q.from_day);
    r["to"] = format_date(q.to_day);
    r["tag"] = q.tag ? json::value(*q.tag) : json::value(nullptr);
    r["language"] = q.language ? json::value(*q.language) : json::value(nullptr);
    r["min_cell"] = min;
    r["timezone"] = "UTC";

    sums total;
    std::map<std::int64_t, sums> by_day;
    std::array<sums, 168> by_how{};
    for (const auto& [hour, c] : in.hours) {
        total.add(c);
        by_day[hour / 24].add(c);
        by_how[static_cast<std::size_t>(hour_of_week(hour))].add(c);
    }

    json::object totals;
    for (auto f : {field::requests, field::matches, field::relaxed_matches, field::cancels,
                   field::conversations, field::transfers})
        put(totals, f, suppress(total[f], min));
    totals["peer_hours"] = hours_of(total[field::peer_seconds]);
    r["totals"] = std::move(totals);

    json::array series;
    for (auto d = q.from_day; d <= q.to_day; ++d) {
        const auto it = by_day.find(d);
        const sums s = it == by_day.end() ? sums{} : it->second;
        json::object o{{"day", format_date(d)}};
        for (auto f : {field::requests, field::matches, field::cancels, field::conversations})
            put(o, f, suppress(s[f], min));
        o["peer_hours"] = hours_of(s[field::peer_seconds]);
        series.push_back(std::move(o));
    }
    r["series"] = std::move(series);

    std::vector<std::int64_t> wait_bounds(wait_bounds_s.begin(), wait_bounds_s.end());
    const auto waits = bins_of(total, "wait_le_", wait_bin_labels());
    auto wait_json = histogram(wait_bin_labels(), waits, min);
    json::object over{{"minutes", q.wait_over_s / 60}};
    put(over, "count", suppress(count_over(waits, wait_bounds, q.wait_over_s), min));
    wait_json["waited_over"] = std::move(over);
    r["waits"] = std::move(wait_json);
    r["conversation_lengths"] =
        histogram(conv_bin_labels(), bins_of(total, "conv_le_", conv_bin_labels()), min);

    // Coverage of the selected cell by hour of the week (summed over the weeks in range).
    json::array how;
    for (std::size_t i = 0; i < by_how.size(); ++i) {
        const auto requests = by_how[i][field::requests];
        const auto peer_s = by_how[i][field::peer_seconds];
        json::object o{{"weekday", static_cast<int>(i / 24)}, {"hour", static_cast<int>(i % 24)}};
        const auto f = suppress(requests, min);
        put(o, "requests", f);
        o["peer_hours"] = hours_of(peer_s);
        if (f.suppressed)
            put(o, "unmet", figure{0, true});
        else
            o["unmet"] = requests > 0 && peer_s == 0;
        how.push_back(std::move(o));
    }

    // Coverage by tag: demand, supply, long waits, hours with no peer.
    json::array tags;
    for (const auto& [tag, hours] : in.tag_hours) {
        sums t;
        std::int64_t hours_without_peer = 0, unmet_hours = 0, unmet_requests = 0;
        std::array<sums, 168> heat{};
        std::map<std::int64_t, const counters*> present;
        for (const auto& [hour, c] : hours) {
            t.add(c);
            heat[static_cast<std::size_t>(hour_of_week(hour))].add(c);
        }
        for (auto h = q.from_day * 24; h < (q.to_day + 1) * 24; ++h) {
            const auto it = hours.find(h);
            const auto peer_s = it == hours.end() ? 0 : get(it->second, field::peer_seconds);
            const auto requests = it == hours.end() ? 0 : get(it->second, field::requests);
            if (peer_s == 0) {
                ++hours_without_peer;
                if (requests > 0) {
                    ++unmet_hours;
                    unmet_requests += requests;
                }
            }
        }
        json::object o{{"tag", tag}};
        put(o, "requests", suppress(t[field::requests], min));
        put(o, "matches", suppress(t[field::matches], min));
        o["peer_hours"] = hours_of(t[field::peer_seconds]);
        put(o, "waited_over",
            suppress(
                count_over(bins_of(t, "wait_le_", wait_bin_labels()), wait_bounds, q.wait_over_s),
                min));
        o["hours_without_peer"] = hours_without_peer;
        o["unmet_hours"] = unmet_hours;
        put(o, "unmet_requests", suppress(unmet_requests, min));
        json::array cells;
        for (std::size_t i = 0; i < heat.size(); ++i) {
            const auto requests = heat[i][field::requests];
            const auto peer_s = heat[i][field::peer_seconds];
            if (requests == 0 && peer_s == 0) continue;
            json::object c{{"weekday", static_cast<int>(i / 24)},
                           {"hour", static_cast<int>(i % 24)}};
            put(c, "requests", suppress(requests, min));
            c["peer_hours"] = hours_of(peer_s);
            cells.push_back(std::move(c));
        }
        o["hours_of_week"] = std::move(cells);
        tags.push_back(std::move(o));
    }
    r["coverage"] = json::object{{"hours_of_week", std::move(how)}, {"tags", std::move(tags)}};

    // Feedback (daily cells).
    sums fb;
    for (const auto& [day, c] : in.feedback)
        fb.add(c);
    json::object feedback;
    json::array helped;
    std::int64_t helped_n = 0;
    for (std::size_t i = 0; i < helped_scores.size(); ++i) {
        json::object o{{"score", static_cast<int>(i + 1)}};
        put(o, "count", suppress(fb[helped_scores[i]], min));
        helped_n += fb[helped_scores[i]];
        helped.push_back(std::move(o));
    }
    json::array feeling;
    std::int64_t feeling_n = 0;
    for (auto f : feelings) {
        json::object o{{"feeling", f}};
        put(o, "count", suppress(fb["feeling_" + std::string(f)], min));
        feeling_n += fb["feeling_" + std::string(f)];
        feeling.push_back(std::move(o));
    }
    put(feedback, "helped_answers", suppress(helped_n, min));
    put(feedback, "feeling_answers", suppress(feeling_n, min));
    feedback["helped"] = std::move(helped);
    feedback["feeling"] = std::move(feeling);
    r["feedback"] = std::move(feedback);

    json::array raised, resolved;
    for (auto l : levels) {
        json::object o{{"level", l}};
        put(o, "count", suppress(total["esc_" + std::string(l)], min));
        raised.push_back(std::move(o));
    }
    for (auto oc : outcomes) {
        json::object o{{"outcome", oc}};
        put(o, "count", suppress(total["esc_out_" + std::string(oc)], min));
        resolved.push_back(std::move(o));
    }
    r["escalations"] =
        json::object{{"raised", std::move(raised)}, {"outcomes", std::move(resolved)}};
    r["coverage"].as_object()["selected"] =
        json::object{{"tag", q.tag ? json::value(*q.tag) : json::value(nullptr)},
                     {"language", q.language ? json::value(*q.language) : json::value(nullptr)}};
    return r;
}

namespace {

std::string csv_field(std::string_view v) {
    if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
    std::string out = "\"";
    for (char c : v) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string scalar(const json::value& v) {
    if (v.is_int64()) return std::to_string(v.get_int64());
    if (v.is_uint64()) return std::to_string(v.get_uint64());
    if (v.is_double()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", v.get_double());
        return buf;
    }
    if (v.is_bool()) return v.get_bool() ? "true" : "false";
    if (v.is_string()) return std::string(v.get_string());
    return "";
}

// An array element's label: its identifying fields joined ("2026-11-28", "10s", "grief").
std::string label_of(const json::object& o, std::size_t index) {
    std::string out;
    for (const char* k :
         {"tag", "day", "le", "score", "feeling", "level", "outcome", "weekday", "hour"}) {
        if (auto* v = o.if_contains(k)) {
            if (!out.empty()) out += " ";
            if (std::string_view(k) == "weekday") out += "weekday ";
            if (std::string_view(k) == "hour") out += "hour ";
            out += scalar(*v);
        }
    }
    return out.empty() ? std::to_string(index) : out;
}

bool is_label(std::string_view k) {
    for (const char* l :
         {"tag", "day", "le", "score", "feeling", "level", "outcome", "weekday", "hour"})
        if (k == l) return true;
    return false;
}

void flatten(std::ostringstream& out, const std::string& section, const std::string& item,
             const json::object& o) {
    std::vector<std::string> hidden;
    if (auto* s = o.if_contains("suppressed"); s && s->is_array())
        for (const auto& n : s->as_array())
            if (n.is_string()) hidden.emplace_back(n.get_string());
    for (const auto& kv : o) {
        const std::string key(kv.key());
        if (key == "suppressed" || is_label(key)) continue;
        const auto& v = kv.value();
        if (v.is_object()) {
            flatten(out, section, item.empty() ? key : item + "/" + key, v.as_object());
        } else if (v.is_array()) {
            std::size_t i = 0;
            for (const auto& e : v.as_array()) {
                if (e.is_object()) {
                    const auto sub =
                        (item.empty() ? key : item + "/" + key) + "/" + label_of(e.as_object(), i);
                    flatten(out, section, sub, e.as_object());
                }
                ++i;
            }
        } else {
            const bool sup = std::find(hidden.begin(), hidden.end(), key) != hidden.end();
            const std::string value = sup ? "suppressed" : v.is_null() ? "" : scalar(v);
            out << csv_field(section) << ',' << csv_field(item) << ',' << csv_field(key) << ','
                << csv_field(value) << "\r\n";
        }
    }
}

} // namespace

std::string report_csv(const json::object& report) {
    std::ostringstream out;
    out << "section,item,measure,value\r\n";
    for (const auto& kv : report) {
        const std::string section(kv.key());
        const auto& v = kv.value();
        if (v.is_object()) {
            flatten(out, section, "", v.as_object());
        } else if (v.is_array()) {
            std::size_t i = 0;
            for (const auto& e : v.as_array()) {
                if (e.is_object()) flatten(out, section, label_of(e.as_object(), i), e.as_object());
                ++i;
            }
        } else {
            out << csv_field("query") << ",," << csv_field(section) << ','
                << csv_field(v.is_null() ? "" : scalar(v)) << "\r\n";
        }
    }
    return out.str();
}

std::string report_text(const json::object& report) {
    auto fig = [](const json::object& o, std::string_view k) -> std::string {
        if (auto* s = o.if_contains("suppressed"); s && s->is_array())
            for (const auto& n : s->as_array())
                if (n.is_string() && n.get_string() == k) return "suppressed";
        const auto* v = o.if_contains(k);
        return v && !v->is_null() ? scalar(*v) : "-";
    };
    std::ostringstream out;
    out << "Kindred insights " << scalar(report.at("from")) << " .. " << scalar(report.at("to"))
        << " (UTC)";
    if (!report.at("tag").is_null()) out << " tag " << scalar(report.at("tag"));
    if (!report.at("language").is_null()) out << " language " << scalar(report.at("language"));
    out << "\ncells below " << scalar(report.at("min_cell")) << " are suppressed\n\nTotals\n";
    const auto& t = report.at("totals").as_object();
    for (const char* k : {"requests", "matches", "relaxed_matches", "cancels", "conversations",
                          "transfers", "peer_hours"})
        out << "  " << k << ": " << fig(t, k) << "\n";
    out << "\nWaiting time (bins)\n";
    const auto& w = report.at("waits").as_object();
    for (const auto& b : w.at("bins").as_array())
        out << "  <= " << scalar(b.at("le")) << ": " << fig(b.as_object(), "count") << "\n";
    out << "  median <= " << fig(w, "median_le") << ", 90% <= " << fig(w, "p90_le") << "\n";
    const auto& over = w.at("waited_over").as_object();
    out << "  waited more than " << scalar(over.at("minutes")) << " min: " << fig(over, "count")
        << "\n";
    out << "\nCoverage by tag\n";
    for (const auto& e : report.at("coverage").at("tags").as_array()) {
        const auto& o = e.as_object();
        out << "  " << scalar(o.at("tag")) << ": requests " << fig(o, "requests") << ", peer hours "
            << fig(o, "peer_hours") << ", waited over " << scalar(over.at("minutes")) << " min "
            << fig(o, "waited_over") << ", hours with no peer " << fig(o, "hours_without_peer")
            << " (with demand " << fig(o, "unmet_hours") << ")\n";
    }
    out << "\nFeedback\n";
    const auto& fb = report.at("feedback").as_object();
    for (const auto& e : fb.at("helped").as_array())
        out << "  helped " << scalar(e.at("score")) << ": " << fig(e.as_object(), "count") << "\n";
    for (const auto& e : fb.at("feeling").as_array())
        out << "  feeling " << scalar(e.at("feeling")) << ": " << fig(e.as_object(), "count")
            << "\n";
    out << "\nEscalations\n";
    for (const auto& e : report.at("escalations").at("raised").as_array())
        out << "  raised " << scalar(e.at("level")) << ": " << fig(e.as_object(), "count") << "\n";
    for (const auto& e : report.at("escalations").at("outcomes").as_array())
        out << "  resolved " << scalar(e.at("outcome")) << ": " << fig(e.as_object(), "count")
            << "\n";
    return out.str();
}

} // namespace kindred::insights
