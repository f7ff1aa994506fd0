// ops_status.cpp — see ops_status.hpp. Asio-free: only kindred::store::client's interface.
#include <kindred/server/instance_registry.hpp>
#include <kindred/server/lua_scripts.hpp>
#include <kindred/server/ops_status.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/script.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <tuple>

namespace kindred::server {

namespace json = boost::json;

namespace {

const store::script& queue_script() {
    static const store::script s{std::string(lua::ops_queue)};
    return s;
}
const store::script& escalations_script() {
    static const store::script s{std::string(lua::ops_escalations)};
    return s;
}
const store::script& instances_script() {
    static const store::script s{std::string(lua::ops_instances)};
    return s;
}

// cjson writes an empty array as {}: both mean "none".
const json::array* array_or_empty(const json::value& v, bool& ok) {
    static const json::array empty;
    if (v.is_array()) return &v.as_array();
    if (v.is_object() && v.as_object().empty()) return &empty;
    ok = false;
    return &empty;
}

std::int64_t int_of(const json::value& v) {
    if (v.is_int64()) return v.as_int64();
    if (v.is_uint64()) return static_cast<std::int64_t>(v.as_uint64());
    if (v.is_double()) return static_cast<std::int64_t>(v.as_double());
    return 0;
}

std::string str_of(const json::value& v) {
    return v.is_string() ? std::string(v.as_string()) : std::string();
}

std::int64_t deadline_s(const ops_status_options& o, std::string_view level) {
    if (level == "imminent") return o.imminent_ack_s;
    if (level == "high") return o.high_ack_s;
    return 0;
}

std::string age_text(std::int64_t ms) {
    if (ms < 0) ms = 0;
    const auto s = ms / 1000;
    char buf[32];
    if (s < 120)
        std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
    else if (s < 7200)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                      static_cast<long long>(s % 60));
    else
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                      static_cast<long long>((s / 60) % 60));
    return buf;
}

} // namespace

bool parse_queue_answer(std::string_view text, cluster_status& out) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return false;
    const auto& o = v.as_object();
    bool ok = true;
    if (auto* w = o.if_contains("waiting")) out.waiting = int_of(*w);
    if (auto* q = o.if_contains("queues")) {
        for (const auto& e : *array_or_empty(*q, ok)) {
            if (!e.is_array() || e.as_array().size() < 4) return false;
            const auto& a = e.as_array();
            out.queues.push_back({str_of(a[0]), str_of(a[1]), int_of(a[2]), int_of(a[3])});
        }
    }
    if (auto* s = o.if_contains("shifts")) {
        for (const auto& e : *array_or_empty(*s, ok)) {
            if (!e.is_array() || e.as_array().size() < 4) return false;
            const auto& a = e.as_array();
            out.shifts.push_back({str_of(a[0]), int_of(a[1]), int_of(a[2]), int_of(a[3])});
        }
    }
    std::sort(out.queues.begin(), out.queues.end(), [](const auto& x, const auto& y) {
        return std::tie(x.tag, x.language) < std::tie(y.tag, y.language);
    });
    std::sort(out.shifts.begin(), out.shifts.end(),
              [](const auto& x, const auto& y) { return x.tag < y.tag; });
    return ok;
}

bool parse_escalations_answer(std::string_view text, cluster_status& out) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return false;
    bool ok = true;
    for (const auto& e : *array_or_empty(v, ok)) {
        if (!e.is_array() || e.as_array().size() < 6) return false;
        const auto& a = e.as_array();
        out.escalations.push_back(
            {str_of(a[0]), str_of(a[1]), str_of(a[2]), int_of(a[3]), int_of(a[4]), int_of(a[5])});
    }
    return ok;
}

bool parse_instances_answer(std::string_view text, cluster_status& out) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return false;
    bool ok = true;
    for (const auto& e : *array_or_empty(v, ok)) {
        if (!e.is_array() || e.as_array().size() < 9) return false;
        const auto& a = e.as_array();
        instance_status i;
        i.id = str_of(a[0]);
        i.started_at_ms = int_of(a[1]);
        i.heartbeat_at_ms = int_of(a[2]);
        i.connections = int_of(a[3]);
        i.seekers = int_of(a[4]);
        i.peers = int_of(a[5]);
        i.moderators = int_of(a[6]);
        i.draining = a[7].is_bool() && a[7].as_bool();
        i.ttl_s = int_of(a[8]);
        out.instances.push_back(std::move(i));
    }
    std::sort(out.instances.begin(), out.instances.end(),
              [](const auto& x, const auto& y) { return x.id < y.id; });
    return ok;
}

void read_cluster_status(store::client& redis, const ops_status_options& options,
                         std::int64_t now_ms,
                         std::function<void(boost::system::error_code, cluster_status)> done) {
    struct state {
        cluster_status status;
        boost::system::error_code ec;
        std::function<void(boost::system::error_code, cluster_status)> done;
    };
    auto st = std::make_shared<state>();
    st->status.now_ms = now_ms;
    st->done = std::move(done);
    const auto bad = make_error_code(boost::system::errc::bad_message);
    // Replies come back in the order sent (one pipelined connection), so the last one
    // finishes the read.
    auto take = [st, bad](bool (*parse)(std::string_view, cluster_status&), bool last) {
        return [st, bad, parse, last](boost::system::error_code ec, store::reply r) {
            if (!st->ec) {
                if (ec)
                    st->ec = ec;
                else if (!r.is_string() || !parse(r.str(), st->status))
                    st->ec = bad;
            }
            if (last) st->done(st->ec, std::move(st->status));
        };
    };
    redis.eval(queue_script(),
               {options.matching_prefix + "queue", options.matching_prefix + "peers"},
               {options.matching_prefix, std::to_string(now_ms)}, take(&parse_queue_answer, false));
    redis.eval(escalations_script(), {options.moderation_prefix + "esc:open"},
               {options.moderation_prefix},
               take(&parse_escalations_answer, !options.with_instances));
    if (options.with_instances)
        redis.eval(instances_script(), {instance_registry::registry_key()}, {},
                   take(&parse_instances_answer, true));
}

cluster_gauges gauges_of(const cluster_status& s, const ops_status_options& options) {
    cluster_gauges g;
    for (const auto& q : s.queues) {
        const auto key = label_pair("tag", q.tag) + "," + label_pair("language", q.language);
        g.queue_length[key] = static_cast<double>(q.waiting);
        g.queue_oldest_wait_s[key] =
            std::max<double>(0, static_cast<double>(s.now_ms - q.oldest_enqueued_ms) / 1000.0);
    }
    for (const auto& sh : s.shifts) {
        g.peers_on_shift[label_pair("tag", sh.tag)] = static_cast<double>(sh.on);
        g.free_slots[label_pair("tag", sh.tag)] = static_cast<double>(sh.free_slots);
    }
    // Every level appears, so "none open" is 0, not a missing series (alerts compare to 0).
    for (const char* level : {"low", "medium", "high", "imminent"}) {
        for (const char* state : {"open", "acknowledged"})
            g.escalations_open[label_pair("level", level) + "," + label_pair("state", state)] = 0;
        g.escalations_overdue[label_pair("level", level)] = 0;
        g.oldest_unacknowledged_s[label_pair("level", level)] = 0;
    }
    for (const auto& e : s.escalations) {
        g.escalations_open[label_pair("level", e.level) + "," + label_pair("state", e.state)] += 1;
        if (e.state != "open") continue;
        const double age =
            std::max<double>(0, static_cast<double>(s.now_ms - e.created_at_ms) / 1000.0);
        auto& oldest = g.oldest_unacknowledged_s[label_pair("level", e.level)];
        oldest = std::max(oldest, age);
        const auto deadline = deadline_s(options, e.level);
        if (deadline > 0 && age > static_cast<double>(deadline))
            g.escalations_overdue[label_pair("level", e.level)] += 1;
    }
    g.instances = static_cast<double>(s.instances.size());
    return g;
}

json::object status_json(const cluster_status& s, const ops_status_options& options) {
    json::array instances;
    for (const auto& i : s.instances)
        instances.push_back(json::object{
            {"id", i.id},
            {"started_at", i.started_at_ms},
            {"age_s", (s.now_ms - i.started_at_ms) / 1000},
            {"last_heartbeat_s_ago", i.heartbeat_at_ms
                                         ? json::value((s.now_ms - i.heartbeat_at_ms) / 1000)
                                         : json::value(nullptr)},
            {"connections", i.connections},
            {"sessions",
             json::object{{"seeker", i.seekers}, {"peer", i.peers}, {"moderator", i.moderators}}},
            {"draining", i.draining}});
    json::array shifts;
    for (const auto& sh : s.shifts)
        shifts.push_back(json::object{
            {"tag", sh.tag}, {"on", sh.on}, {"paused", sh.paused}, {"free_slots", sh.free_slots}});
    json::array queues;
    for (const auto& q : s.queues)
        queues.push_back(json::object{{"tag", q.tag},
                                      {"language", q.language},
                                      {"waiting", q.waiting},
                                      {"oldest_wait_s", (s.now_ms - q.oldest_enqueued_ms) / 1000}});
    json::array escalations;
    for (const auto& e : s.escalations) {
        const auto deadline = deadline_s(options, e.level);
        const auto age_s = (s.now_ms - e.created_at_ms) / 1000;
        escalations.push_back(
            json::object{{"id", e.id},
                         {"level", e.level},
                         {"state", e.state},
                         {"age_s", age_s},
                         {"overdue", e.state == "open" && deadline > 0 && age_s > deadline},
                         {"repaged", e.repaged}});
    }
    return json::object{{"ok", true},
                        {"now", s.now_ms},
                        {"instances", std::move(instances)},
                        {"shifts", std::move(shifts)},
                        {"waiting", s.waiting},
                        {"queues", std::move(queues)},
                        {"escalations", std::move(escalations)}};
}

std::string status_table(const cluster_status& s, const ops_status_options& options) {
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "INSTANCES (%zu)\n", s.instances.size());
    out += line;
    if (!s.instances.empty()) {
        std::snprintf(line, sizeof line, "  %-24s %-9s %-10s %6s %7s %5s %5s %s\n", "ID", "AGE",
                      "HEARTBEAT", "CONNS", "SEEKERS", "PEERS", "MODS", "STATE");
        out += line;
    }
    for (const auto& i : s.instances) {
        std::snprintf(line, sizeof line, "  %-24s %-9s %-10s %6lld %7lld %5lld %5lld %s\n",
                      i.id.c_str(), age_text(s.now_ms - i.started_at_ms).c_str(),
                      i.heartbeat_at_ms ? (age_text(s.now_ms - i.heartbeat_at_ms) + " ago").c_str()
                                        : "-",
                      static_cast<long long>(i.connections), static_cast<long long>(i.seekers),
                      static_cast<long long>(i.peers), static_cast<long long>(i.moderators),
                      i.draining ? "draining" : "serving");
        out += line;
    }
    out += "\nPEERS ON SHIFT BY TAG\n";
    if (s.shifts.empty())
        out += "  none\n";
    else {
        std::snprintf(line, sizeof line, "  %-24s %4s %7s %11s\n", "TAG", "ON", "PAUSED",
                      "FREE SLOTS");
        out += line;
    }
    for (const auto& sh : s.shifts) {
        std::snprintf(line, sizeof line, "  %-24s %4lld %7lld %11lld\n", sh.tag.c_str(),
                      static_cast<long long>(sh.on), static_cast<long long>(sh.paused),
                      static_cast<long long>(sh.free_slots));
        out += line;
    }
    std::snprintf(line, sizeof line, "\nQUEUE (%lld waiting)\n", static_cast<long long>(s.waiting));
    out += line;
    if (!s.queues.empty()) {
        std::snprintf(line, sizeof line, "  %-24s %-8s %7s %s\n", "TAG", "LANGUAGE", "WAITING",
                      "OLDEST");
        out += line;
    }
    for (const auto& q : s.queues) {
        std::snprintf(line, sizeof line, "  %-24s %-8s %7lld %s\n", q.tag.c_str(),
                      q.language.c_str(), static_cast<long long>(q.waiting),
                      age_text(s.now_ms - q.oldest_enqueued_ms).c_str());
        out += line;
    }
    std::snprintf(line, sizeof line, "\nOPEN ESCALATIONS (%zu)\n", s.escalations.size());
    out += line;
    if (!s.escalations.empty()) {
        std::snprintf(line, sizeof line, "  %-24s %-9s %-13s %-9s %s\n", "ID", "LEVEL", "STATE",
                      "AGE", "");
        out += line;
    }
    for (const auto& e : s.escalations) {
        const auto deadline = deadline_s(options, e.level);
        const bool overdue =
            e.state == "open" && deadline > 0 && (s.now_ms - e.created_at_ms) / 1000 > deadline;
        std::snprintf(line, sizeof line, "  %-24s %-9s %-13s %-9s %s\n", e.id.c_str(),
                      e.level.c_str(), e.state.c_str(),
                      age_text(s.now_ms - e.created_at_ms).c_str(), overdue ? "OVERDUE" : "");
        out += line;
    }
    return out;
}

} // namespace kindred::server
