// insights_store.hpp — the programme-insights counters in Redis, on kindred::store::client:
// aggregate cells (hourly per tag × language, feedback daily) under one hash tag
// (options.keys.prefix, "ins:{ins}:"), a peer's own daily counters (its own key per account,
// outside the aggregates), and the small conversation-scoped side hash (conv:{c}:ins) that lets
// an end, an escalation or a feedback find the conversation's tags and languages and allows one
// feedback per conversation. Key layout and privacy rules: insights/README.md.
//
// Writes are fire-and-forget for the server: one Lua script per event (atomic, one round trip,
// retention renewed); the handler reports Redis trouble so the caller can count it, never so it
// can fail the user's action.
//
// Threading: every member may be called from any thread; handlers run on the Redis client's
// strand, never inside the call that started them.
// Lifetime: the client outlives every pending operation; the store may be destroyed earlier.
#pragma once

#include <kindred/insights/model.hpp>
#include <kindred/insights/report.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kindred::store {
class client;
}

namespace kindred::insights {

struct insights_options {
    key_layout keys;
    // Aggregate cells live this long after their last write (config insights_retention_days).
    std::chrono::seconds retention{std::chrono::hours(24 * 400)};
    // A peer's own daily counters: "<peer_prefix>{<account>}:<YYYYMMDD>", kept this long.
    std::string peer_prefix = "insp:";
    std::chrono::seconds peer_ttl{std::chrono::hours(24 * 35)};
    // Reads go out in rounds of this many commands (a year of hours is ~9k hashes: sent all
    // at once the last ones would wait behind the rest past the command timeout).
    std::size_t read_batch = 256;
};

// A peer's own figures for one day.
struct peer_day {
    std::int64_t chats = 0;
    std::int64_t seconds_on_shift = 0;
};

class insights_store {
public:
    using done_handler = std::function<void(boost::system::error_code)>;
    template <class T>
    using handler = std::function<void(boost::system::error_code, T)>;

    insights_store(store::client& redis, insights_options options = {});
    ~insights_store();
    insights_store(const insights_store&) = delete;
    insights_store& operator=(const insights_store&) = delete;

    const insights_options& options() const noexcept;

    // Applies the increments (one script; every hash touched gets the retention TTL).
    void add(std::vector<increment> increments, done_handler h);
    // HGETALL of each key, in order (missing → empty counters), in rounds of read_batch.
    void read(std::vector<std::string> keys, handler<std::vector<counters>> h);
    // Everything report_json needs for q: the selected cell per hour and its feedback per day,
    // and per coverage tag the (tag, language or *) cell per hour. q must pass check_query.
    void read_report(report_query q, std::vector<std::string> coverage_tags,
                     handler<report_input> h);

    // ---- the peer's own counters (never part of the aggregates) -----------------------
    void add_peer_chat(const std::string& account, std::int64_t at_ms, done_handler h);
    // Shift time [from_ms, to_ms), split at UTC midnights.
    void add_peer_seconds(const std::string& account, std::int64_t from_ms, std::int64_t to_ms,
                          done_handler h);
    void read_peer(const std::string& account, std::vector<std::int64_t> days,
                   handler<std::vector<peer_day>> h);
    std::string peer_key(const std::string& account, std::int64_t day) const;

    // ---- conversation-scoped side hash -----------------------------------------------
    static std::string conversation_key(const std::string& conversation_id);
    // Stores the conversation's tags and languages (at the match), expiring after ttl.
    void remember_conversation(const std::string& conversation_id, const attributes& a,
                               std::chrono::seconds ttl, done_handler h);
    // The conversation's attributes; nullopt when unknown (never stored, or expired).
    void conversation(const std::string& conversation_id, handler<std::optional<attributes>> h);
    // Shortens the side hash's life to ttl (after the end, with the conversation's purge).
    void expire_conversation(const std::string& conversation_id, std::chrono::seconds ttl,
                             done_handler h);
    // Sets the conversation's feedback flag: {true, attributes} the first time (attributes
    // empty when unknown), {false, {}} when feedback was already given.
    void claim_feedback(const std::string& conversation_id, std::chrono::seconds ttl,
                        handler<std::pair<bool, attributes>> h);

    class impl;

private:
    std::shared_ptr<impl> impl_;
};

// "a,b" ↔ {"a","b"} (tags and languages never hold commas).
std::string join_list(const std::vector<std::string>& v);
std::vector<std::string> split_list(std::string_view text);

} // namespace kindred::insights
