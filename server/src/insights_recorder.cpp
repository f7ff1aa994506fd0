// insights_recorder.cpp — see insights_recorder.hpp. Logs name event kinds and error texts
// only: never a conversation, session or account id (the point of the aggregates).
#include <kindred/accounts/account_store.hpp>
#include <kindred/insights/insights_store.hpp>
#include <kindred/matching/sweep.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/relay/conversation_log.hpp>
#include <kindred/relay/error.hpp>
#include <kindred/server/insights_recorder.hpp>
#include <kindred/server/metrics.hpp>

#include <boost/json/serialize.hpp>

#include <spdlog/spdlog.h>

#include <chrono>

namespace kindred::server {

namespace ki = kindred::insights;
namespace ka = kindred::accounts;
using protocol::error_code;

insights_recorder::insights_recorder(ki::insights_store& store, relay::conversation_log& log,
                                     ka::account_store& accounts, insights_recorder_options options)
    : store_(store)
    , log_(log)
    , accounts_(accounts)
    , options_(std::move(options)) {}

std::int64_t insights_recorder::now_ms() const {
    if (options_.clock) return options_.clock();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::function<void(boost::system::error_code)> insights_recorder::on_write(std::string_view kind) {
    return [stats = options_.stats, kind = std::string(kind)](boost::system::error_code ec) {
        if (!ec) return;
        if (stats) stats->insights_write_failed(kind);
        spdlog::warn("event=insights_write_failed kind={} error=\"{}\"", kind, ec.message());
    };
}

bool insights_recorder::serves(std::string_view type) const {
    return type == protocol::feedback::wire_type || type == protocol::my_summary::wire_type;
}

void insights_recorder::handle(service_request r, answer_handler h) {
    if (protocol::type_name(r.message) == protocol::feedback::wire_type)
        return feedback(std::move(r), std::move(h));
    my_summary(std::move(r), std::move(h));
}

// ---- seekers ------------------------------------------------------------------------------

void insights_recorder::requested(const std::string& session, const std::vector<std::string>& tags,
                                  const std::vector<std::string>& languages) {
    {
        std::lock_guard lock(mutex_);
        if (waiting_.size() < options_.max_waiting || waiting_.contains(session))
            waiting_[session] = {tags, languages};
    }
    store_.add(ki::request_increments(store_.options().keys, now_ms(), {tags, languages}),
               on_write("request"));
}

void insights_recorder::cancelled(const std::string& session) {
    ki::attributes a;
    {
        std::lock_guard lock(mutex_);
        if (auto it = waiting_.find(session); it != waiting_.end()) {
            a = {std::move(it->second.tags), std::move(it->second.languages)};
            waiting_.erase(it);
        }
    }
    store_.add(ki::cancel_increments(store_.options().keys, now_ms(), a), on_write("cancel"));
}

void insights_recorder::matched(const matching::match_record& record) {
    {
        std::lock_guard lock(mutex_);
        waiting_.erase(record.session);
    }
    const ki::attributes a{record.seeker_tags, record.languages};
    const auto at = record.matched_at_ms > 0 ? record.matched_at_ms : now_ms();
    store_.add(
        ki::match_increments(store_.options().keys, at, a, record.relaxed, record.waited_s()),
        on_write("match"));
    store_.remember_conversation(record.conversation_id, a, options_.conversation_ttl,
                                 on_write("match"));
    store_.add_peer_chat(record.peer_id, at, on_write("peer"));
}

void insights_recorder::conversation_ended(const std::string& conversation_id) {
    log_.meta(conversation_id, [this, conversation_id](boost::system::error_code ec,
                                                       relay::conversation_meta meta) {
        if (ec) return on_write("end")(ec);
        store_.conversation(conversation_id, [this, conversation_id,
                                              meta](boost::system::error_code ec2,
                                                    std::optional<ki::attributes> a) {
            if (ec2) return on_write("end")(ec2);
            const auto ended = meta.ended_at > 0 ? meta.ended_at : now_ms();
            const auto length_s = std::max<std::int64_t>(0, (ended - meta.created_at) / 1000);
            store_.add(ki::end_increments(store_.options().keys, ended,
                                          a.value_or(ki::attributes{}), length_s,
                                          meta.reason == "transfer"),
                       on_write("end"));
            // The side hash goes with the conversation's messages; feedback until then.
            store_.expire_conversation(conversation_id, options_.purge_after_end, on_write("end"));
        });
    });
}

void insights_recorder::escalated(const std::string& conversation_id, protocol::level level) {
    const auto at = now_ms();
    const std::string name(protocol::to_string(level));
    auto write = [this, at, name](const ki::attributes& a) {
        store_.add(ki::escalation_increments(store_.options().keys, at, a, name),
                   on_write("escalation"));
    };
    if (conversation_id.empty()) return write({});
    store_.conversation(conversation_id,
                        [write](boost::system::error_code, std::optional<ki::attributes> a) {
                            write(a.value_or(ki::attributes{}));
                        });
}

void insights_recorder::resolved(const std::string& conversation_id, const std::string& outcome) {
    const auto at = now_ms();
    const std::string name = outcome;
    auto write = [this, at, name](const ki::attributes& a) {
        store_.add(ki::outcome_increments(store_.options().keys, at, a, name), on_write("outcome"));
    };
    if (conversation_id.empty()) return write({});
    store_.conversation(conversation_id,
                        [write](boost::system::error_code, std::optional<ki::attributes> a) {
                            write(a.value_or(ki::attributes{}));
                        });
}

void insights_recorder::feedback(service_request r, answer_handler h) {
    auto m = std::get<protocol::feedback>(r.message);
    const auto id = r.id;
    log_.membership(
        m.conversation_id, relay::member{protocol::role::seeker, r.session_id},
        [this, id, m, h = std::move(h)](boost::system::error_code ec,
                                        relay::conversation_meta meta) mutable {
            if (ec == relay::error::not_found)
                return h(error_answer(id, error_code::not_found, "no such conversation"));
            if (ec) return h(error_answer(id, error_code::unavailable, "try again"));
            if (meta.state != relay::conversation_state::ended)
                return h(error_answer(id, error_code::conflict, "the conversation has not ended"));
            store_.claim_feedback(
                m.conversation_id, options_.purge_after_end,
                [this, id, m, h = std::move(h)](boost::system::error_code ec2,
                                                std::pair<bool, ki::attributes> claim) {
                    if (ec2) return h(error_answer(id, error_code::unavailable, "try again"));
                    if (!claim.first)
                        return h(error_answer(id, error_code::conflict, "feedback already given"));
                    std::optional<int> helped;
                    if (m.helped) helped = static_cast<int>(*m.helped);
                    std::optional<std::string_view> feeling;
                    if (m.feeling) feeling = protocol::to_string(*m.feeling);
                    store_.add(ki::feedback_increments(store_.options().keys, now_ms(),
                                                       claim.second, helped, feeling),
                               on_write("feedback"));
                    service_answer a;
                    a.frames.push_back(make_ok_frame(id));
                    h(std::move(a));
                });
        });
}

// ---- peers --------------------------------------------------------------------------------

void insights_recorder::flush_locked(const std::string& peer, shift& s, std::int64_t now) {
    if (!s.counting_since) return;
    const auto from = *s.counting_since;
    s.counting_since = now;
    if (now <= from) return;
    store_.add(ki::shift_increments(store_.options().keys, from, now, {s.tags, s.languages}),
               on_write("shift"));
    store_.add_peer_seconds(peer, from, now, on_write("peer"));
}

void insights_recorder::shift_started(const std::string& peer, const std::string& session,
                                      const std::vector<std::string>& tags,
                                      const std::vector<std::string>& languages) {
    const auto now = now_ms();
    std::lock_guard lock(mutex_);
    auto& s = shifts_[peer];
    flush_locked(peer, s, now); // a restart counts the old settings up to now
    s.tags = tags;
    s.languages = languages;
    s.paused = false;
    s.counting_since = now;
    if (!s.session.empty() && s.session != session) peer_of_session_.erase(s.session);
    s.session = session;
    peer_of_session_[session] = peer;
}

void insights_recorder::shift_changed(const std::string& peer, protocol::shift_status state) {
    const auto now = now_ms();
    std::lock_guard lock(mutex_);
    auto it = shifts_.find(peer);
    if (it == shifts_.end()) return; // started elsewhere (another instance) or before a restart
    auto& s = it->second;
    flush_locked(peer, s, now);
    if (state == protocol::shift_status::on) {
        s.paused = false;
        if (!s.counting_since) s.counting_since = now;
        return;
    }
    // Paused or ending: no new seekers can reach the peer, so it is not supply any more.
    s.counting_since.reset();
    s.paused = state == protocol::shift_status::paused;
    if (state == protocol::shift_status::off) {
        peer_of_session_.erase(s.session);
        shifts_.erase(it);
    }
}

void insights_recorder::connection_closed(const std::string& session_id) {
    const auto now = now_ms();
    std::lock_guard lock(mutex_);
    auto p = peer_of_session_.find(session_id);
    if (p == peer_of_session_.end()) return;
    auto it = shifts_.find(p->second);
    if (it == shifts_.end()) return;
    flush_locked(p->second, it->second, now);
    it->second.counting_since.reset();
}

void insights_recorder::session_opened(const std::string& session_id, protocol::role role,
                                       const std::optional<staff_identity>& staff) {
    if (role != protocol::role::peer || !staff) return;
    std::lock_guard lock(mutex_);
    auto it = shifts_.find(staff->username);
    if (it == shifts_.end()) return;
    auto& s = it->second;
    if (s.session != session_id) {
        peer_of_session_.erase(s.session);
        s.session = session_id;
        peer_of_session_[session_id] = staff->username;
    }
    if (!s.paused && !s.counting_since) s.counting_since = now_ms();
}

void insights_recorder::tick() {
    const auto now = now_ms();
    std::lock_guard lock(mutex_);
    for (auto& [peer, s] : shifts_)
        flush_locked(peer, s, now);
}

void insights_recorder::my_summary(service_request r, answer_handler h) {
    if (!r.staff) return h(error_answer(r.id, error_code::not_authenticated, "say hello again"));
    const auto now = now_ms();
    const auto today = ki::day_of(now);
    const auto monday = today - ki::weekday_of(today);
    std::vector<std::int64_t> days;
    for (auto d = monday; d <= today; ++d)
        days.push_back(d);
    // Time accrued since the last tick is not written yet: add it (today's part).
    std::int64_t pending = 0;
    {
        std::lock_guard lock(mutex_);
        if (auto it = shifts_.find(r.staff->username);
            it != shifts_.end() && it->second.counting_since)
            pending = (now - std::max(*it->second.counting_since, today * ki::ms_per_day)) / 1000;
    }
    store_.read_peer(r.staff->username, days,
                     [id = r.id, pending, h = std::move(h)](boost::system::error_code ec,
                                                            std::vector<ki::peer_day> v) {
                         if (ec || v.empty())
                             return h(error_answer(id, error_code::unavailable, "try again"));
                         protocol::my_summary_ok ok;
                         for (const auto& d : v) {
                             ok.week.chats += d.chats;
                             ok.week.seconds_on_shift += d.seconds_on_shift;
                         }
                         ok.today = {v.back().chats, v.back().seconds_on_shift + pending};
                         ok.week.seconds_on_shift += pending;
                         service_answer a;
                         a.frames.push_back(make_ok_frame(id, protocol::ok_fields(ok)));
                         h(std::move(a));
                     });
}

// ---- admin report -------------------------------------------------------------------------

void insights_recorder::admin_report(std::string token, ki::report_query query, bool csv,
                                     std::function<void(http_response_spec)> done) {
    accounts_.lookup(std::move(token), [this, query, csv, done = std::move(done)](
                                           boost::system::error_code ec, ka::token_info info) {
        if (ec == ka::error::not_found) {
            auto r = error_response(401, "not_authenticated", "unknown or expired token");
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            return done(no_store(std::move(r)));
        }
        if (ec)
            return done(no_store(error_response(503, "unavailable", "accounts are unavailable")));
        if (info.account.role != ka::role::admin)
            return done(no_store(error_response(403, "forbidden", "insights are for admins")));
        store_.read_report(
            query, options_.catalog_tags,
            [csv, done](boost::system::error_code ec2, ki::report_input in) {
                if (ec2)
                    return done(
                        no_store(error_response(503, "unavailable", "insights are unavailable")));
                const auto report = ki::report_json(in);
                http_response_spec r;
                if (csv) {
                    r.content_type = "text/csv; charset=utf-8";
                    r.body = ki::report_csv(report);
                    r.headers.emplace_back("Content-Disposition",
                                           "attachment; filename=\"kindred-insights-" +
                                               ki::format_date(in.query.from_day) + "-" +
                                               ki::format_date(in.query.to_day) + ".csv\"");
                } else {
                    r.content_type = "application/json";
                    r.body = boost::json::serialize(report);
                }
                done(no_store(std::move(r)));
            });
    });
}

std::variant<ki::report_query, http_response_spec> parse_insights_query(std::string_view target,
                                                                        std::int64_t min_cell) {
    ki::report_query q;
    q.min_cell = min_cell;
    auto bad = [](std::string message) { return error_response(400, "bad_message", message); };
    const auto qpos = target.find('?');
    std::string_view query =
        qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
    query = query.substr(0, query.find('#'));
    std::optional<std::int64_t> from, to;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto param = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (param.empty()) continue;
        const auto eq = param.find('=');
        const auto name = param.substr(0, eq);
        const auto value = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
        if (name == "from" || name == "to") {
            auto d = ki::parse_date(value);
            if (!d) return bad(std::string(name) + ": must be a date YYYY-MM-DD");
            (name == "from" ? from : to) = d;
        } else if (name == "tag") {
            if (!value.empty()) {
                if (!protocol::is_tag_id(value)) return bad("tag: unknown format");
                q.tag = std::string(value);
            }
        } else if (name == "language") {
            if (!value.empty()) {
                if (!protocol::is_language_tag(value)) return bad("language: unknown format");
                q.language = std::string(value);
            }
        } else if (name == "wait_over") {
            std::int64_t minutes = 0;
            if (value.empty() || value.size() > 3)
                return bad("wait_over: minutes 1, 2, 5, 10 or 30");
            for (char c : value) {
                if (c < '0' || c > '9') return bad("wait_over: minutes 1, 2, 5, 10 or 30");
                minutes = minutes * 10 + (c - '0');
            }
            q.wait_over_s = minutes * 60;
        }
        // Other parameters are ignored (like unknown JSON fields).
    }
    if (!from) return bad("from: required, a date YYYY-MM-DD");
    if (!to) return bad("to: required, a date YYYY-MM-DD");
    q.from_day = *from;
    q.to_day = *to;
    if (auto problem = ki::check_query(q); !problem.empty()) {
        if (problem.rfind("wait_over", 0) == 0) return bad("wait_over: minutes 1, 2, 5, 10 or 30");
        return bad(problem);
    }
    return q;
}

} // namespace kindred::server
