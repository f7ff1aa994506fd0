// replies.hpp — (private) turns the matching scripts' replies into values, and values into
// script arguments. Replies are treated as untrusted: a wrong shape gives nullopt, never a
// throw or an assert. Pure functions; any thread.
#pragma once

#include <kindred/matching/matching_store.hpp>
#include <kindred/matching/sweep.hpp>
#include <kindred/store/reply.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::matching::detail {

// Lists are stored comma-joined: tag ids and language tags cannot hold a comma.
std::string join(const std::vector<std::string>& items);
std::vector<std::string> split(std::string_view text);

// The decimal value of an integer reply or of a string holding one.
std::optional<long long> integer_of(const store::reply& r);

std::optional<snapshot> parse_snapshot(const store::reply& r);
// One peer entry of a snapshot:
// {id, shift, state, cap, active, tags, langs, wont, idle, end, alive (int), prekeys (int),
//  cooling (int: 1 while the peer's cooldown key exists)}.
std::optional<peer_state> parse_peer(const store::reply& e);
// One stats member: "conversation|matched_at|waited_ms|langs|tags|relaxed".
std::optional<recent_match> parse_recent(std::string_view member);

// The claim script's reply for `order` under `conversation_id`.
claim_result parse_claim(const store::reply& r, const claim_order& order,
                         const std::string& conversation_id);

// An HGETALL of conv:{C} (a flat field/value array); nullopt when empty or malformed.
std::optional<match_record> parse_record(const std::string& conversation_id, const store::reply& r);

std::optional<claim_failure> claim_failure_from(std::string_view reason);
std::optional<error> error_from(std::string_view reason);

} // namespace kindred::matching::detail
