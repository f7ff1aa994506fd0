// insights_recorder.hpp — programme insights (issue #10) on the server: turns what matching,
// relay and moderation do into anonymous counters (kindred::insights), serves the seeker's
// `feedback` and the peer's `my_summary`, and answers the admin report for the HTTP routes.
// The hooks are one call each from the services; every write is fire-and-forget: a failure is
// logged without ids and counted (metrics), never returned to the user's action.
//
// What stays in memory (this instance only, like the intake): a waiting seeker's tags and
// languages until its match or cancel (so a cancel can be counted per tag), and the shifts of
// the peers connected here (their tags and languages, and since when their time is counted).
// Shift time is counted while the shift is `on` and the peer's socket is held here; a tick
// (about every minute) writes what accrued, split at hour boundaries.
//
// Threading: every member is thread-safe (one mutex over the maps); handlers of the stores
// run on their strands. Asio-free.
// Lifetime: the stores, the account store and the metrics outlive it and every operation.
#pragma once

#include <kindred/insights/report.hpp>
#include <kindred/server/http_routes.hpp>
#include <kindred/server/service_router.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace kindred::accounts {
class account_store;
}
namespace kindred::insights {
class insights_store;
}
namespace kindred::matching {
struct match_record;
}
namespace kindred::relay {
class conversation_log;
}

namespace kindred::server {

class metrics;

struct insights_recorder_options {
    // Unix ms. Default: the system clock.
    std::function<std::int64_t()> clock;
    // The conversation side hash lives as long as the conversation (conversation_max_s) and
    // after the end as long as its messages (purge_after_end_s): feedback is possible until then.
    std::chrono::seconds conversation_ttl{86400};
    std::chrono::seconds purge_after_end{300};
    // Published figures: 0 < n < min_cell are suppressed.
    std::int64_t min_cell = 5;
    // Coverage rows of the admin report (the catalog's tags).
    std::vector<std::string> catalog_tags;
    // Waiting seekers remembered at most (memory bound); beyond it a cancel counts untagged.
    std::size_t max_waiting = 100'000;
    metrics* stats = nullptr; // optional
};

class insights_recorder final : public service_router {
public:
    insights_recorder(insights::insights_store& store, relay::conversation_log& log,
                      accounts::account_store& accounts, insights_recorder_options options);

    // ---- service_router: `feedback` (seekers) and `my_summary` (peers) ------------------
    bool serves(std::string_view type) const override;
    void handle(service_request request, answer_handler h) override;
    void connection_closed(const std::string& session_id) override;
    void session_opened(const std::string& session_id, protocol::role role,
                        const std::optional<staff_identity>& staff) override;

    // ---- hooks (one call each from the services) ----------------------------------------
    void requested(const std::string& session, const std::vector<std::string>& tags,
                   const std::vector<std::string>& languages);
    void cancelled(const std::string& session);
    void matched(const matching::match_record& record);
    // After a conversation ended (any way): its length, and a transfer when it was one.
    void conversation_ended(const std::string& conversation_id);
    // conversation_id empty: raised while queued (counted untagged).
    void escalated(const std::string& conversation_id, protocol::level level);
    // outcome: the resolve outcome id (de_escalated, …).
    void resolved(const std::string& conversation_id, const std::string& outcome);
    void shift_started(const std::string& peer, const std::string& session,
                       const std::vector<std::string>& tags,
                       const std::vector<std::string>& languages);
    void shift_changed(const std::string& peer, protocol::shift_status state);
    // Periodic (about every minute): writes the shift time accrued so far.
    void tick();

    // ---- the admin report (HTTP) ---------------------------------------------------------
    // GET /v1/insights[.csv]: token → admin check (401/403/503) → the report (200, no-store).
    void admin_report(std::string token, insights::report_query query, bool csv,
                      std::function<void(http_response_spec)> done);

private:
    struct shift {
        std::vector<std::string> tags;
        std::vector<std::string> languages;
        std::string session;
        bool paused = false;
        std::optional<std::int64_t> counting_since; // set while on and held here
    };
    struct waiting {
        std::vector<std::string> tags;
        std::vector<std::string> languages;
    };
    void feedback(service_request r, answer_handler h);
    void my_summary(service_request r, answer_handler h);
    // Writes [since, now) for `s` and restarts counting at now; call with mutex_ held.
    void flush_locked(const std::string& peer, shift& s, std::int64_t now);
    std::function<void(boost::system::error_code)> on_write(std::string_view kind);
    std::int64_t now_ms() const;

    insights::insights_store& store_;
    relay::conversation_log& log_;
    accounts::account_store& accounts_;
    insights_recorder_options options_;

    std::mutex mutex_;
    std::unordered_map<std::string, waiting> waiting_; // seeker session → its request's cells
    std::unordered_map<std::string, shift> shifts_;    // peer → its shift, held here
    std::unordered_map<std::string, std::string> peer_of_session_;
};

// GET /v1/insights's query: from, to (YYYY-MM-DD, required), tag?, language?, wait_over?
// (minutes: 1, 2, 5, 10 or 30; default 5) → the report query (min_cell from the caller), or the
// 400 answer naming the parameter. Pure.
std::variant<insights::report_query, http_response_spec>
parse_insights_query(std::string_view target, std::int64_t min_cell);

} // namespace kindred::server
