// replies.cpp — see replies.hpp.
#include "replies.hpp"

#include <charconv>

namespace kindred::matching::detail {

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) {
        if (!out.empty()) out += ',';
        out += i;
    }
    return out;
}

std::vector<std::string> split(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        auto part = text.substr(0, comma);
        if (!part.empty()) out.emplace_back(part);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

std::optional<long long> integer_of(const store::reply& r) {
    return r.to_integer();
}

namespace {

std::optional<seeker_request> parse_request(const store::reply& e) {
    if (!e.is_array() || (e.size() != 8 && e.size() != 10)) return std::nullopt;
    for (std::size_t i = 0; i < 7; ++i) {
        if (!e.at(i).is_string()) return std::nullopt;
    }
    seeker_request r;
    r.session = e.at(0).str();
    r.request_id = e.at(1).str();
    r.tags = split(e.at(2).str());
    r.languages = split(e.at(3).str());
    auto level = protocol::from_string<risk>(e.at(4).str());
    auto at = store::parse_int64(e.at(5).str());
    if (r.session.empty() || !level || !at) return std::nullopt;
    r.risk_level = *level;
    r.enqueued_at_ms = *at;
    r.requeued_first = e.at(6).str() == "1";
    for (const auto& b : e.at(7).elements()) {
        if (b.is_string()) r.blocked_by.push_back(b.str());
    }
    return r;
}

} // namespace

std::optional<peer_state> parse_peer(const store::reply& e) {
    if (!e.is_array() || e.size() != 13) return std::nullopt;
    for (std::size_t i = 0; i < 10; ++i) {
        if (!e.at(i).is_string()) return std::nullopt;
    }
    peer_state p;
    p.peer_id = e.at(0).str();
    p.shift_id = e.at(1).str();
    auto state = protocol::from_string<shift_status>(e.at(2).str());
    auto cap = store::parse_int64(e.at(3).str());
    auto active = store::parse_int64(e.at(4).str());
    auto idle = store::parse_int64(e.at(8).str());
    auto alive = integer_of(e.at(10));
    auto prekeys = integer_of(e.at(11));
    auto cooling = integer_of(e.at(12));
    if (p.peer_id.empty() || !state || !cap || !active || !idle || !alive || !prekeys || !cooling)
        return std::nullopt;
    if (*cap < 0 || *cap > 1000 || *active < 0 || *active > 1000) return std::nullopt;
    p.shift = *state;
    p.capacity = static_cast<int>(*cap);
    p.active = static_cast<int>(*active);
    p.tags = split(e.at(5).str());
    p.languages = split(e.at(6).str());
    p.wont_take = split(e.at(7).str());
    p.idle_since_ms = *idle;
    if (!e.at(9).str().empty()) {
        auto end = store::parse_int64(e.at(9).str());
        if (!end) return std::nullopt;
        p.planned_end_ms = *end;
    }
    p.present = *alive != 0;
    p.cooling_down = *cooling != 0;
    p.prekeys = *prekeys;
    return p;
}

std::optional<recent_match> parse_recent(std::string_view member) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto bar = member.find('|');
        parts.push_back(member.substr(0, bar));
        if (bar == std::string_view::npos) break;
        member.remove_prefix(bar + 1);
    }
    if (parts.size() != 6) return std::nullopt;
    auto at = store::parse_int64(parts[1]);
    auto waited = store::parse_int64(parts[2]);
    if (!at || !waited) return std::nullopt;
    recent_match m;
    m.matched_at_ms = *at;
    m.waited_ms = *waited;
    m.languages = split(parts[3]);
    m.tags = split(parts[4]);
    m.relaxed = parts[5] == "1";
    return m;
}

std::optional<snapshot> parse_snapshot(const store::reply& r) {
    if (!r.is_array() || r.size() != 4 || !r.at(0).is_array() || !r.at(1).is_array() ||
        !r.at(2).is_array())
        return std::nullopt;
    snapshot s;
    // A malformed entry is skipped rather than failing the pass: the others still match.
    for (const auto& e : r.at(0).elements()) {
        auto req = parse_request(e);
        if (!req) continue;
        // Entries of a snapshot read with statistics carry the two wait-estimate counts.
        if (e.size() == 10) {
            auto by_tag = integer_of(e.at(8));
            auto by_language = integer_of(e.at(9));
            if (by_tag && by_language && *by_tag >= 0 && *by_language >= 0)
                s.counts[req->session] = {static_cast<std::size_t>(*by_tag),
                                          static_cast<std::size_t>(*by_language)};
        }
        s.waiting.push_back(std::move(*req));
    }
    for (const auto& e : r.at(1).elements()) {
        if (auto p = parse_peer(e)) s.peers.push_back(std::move(*p));
    }
    for (const auto& e : r.at(2).elements()) {
        if (!e.is_string()) continue;
        if (auto m = parse_recent(e.str())) s.recent.push_back(std::move(*m));
    }
    if (r.at(3).is_string() && !r.at(3).str().empty())
        s.stats_since_ms = store::parse_int64(r.at(3).str());
    return s;
}

std::optional<claim_failure> claim_failure_from(std::string_view reason) {
    for (auto f :
         {claim_failure::not_waiting, claim_failure::stale_shift, claim_failure::shift_not_on,
          claim_failure::not_present, claim_failure::cooling_down, claim_failure::no_capacity,
          claim_failure::no_prekey, claim_failure::blocked, claim_failure::shift_ending_soon,
          claim_failure::conversation_exists}) {
        if (reason == to_string(f)) return f;
    }
    return std::nullopt;
}

std::optional<error> error_from(std::string_view reason) {
    if (reason == "already_queued") return error::already_queued;
    if (reason == "in_conversation") return error::in_conversation;
    if (reason == "not_found") return error::not_found;
    if (reason == "wrong_state") return error::wrong_state;
    if (reason == "already_requeued") return error::already_requeued;
    if (reason == "not_waiting") return error::not_waiting;
    return std::nullopt;
}

claim_result parse_claim(const store::reply& r, const claim_order& order,
                         const std::string& conversation_id) {
    claim_result out;
    out.conversation_id = conversation_id;
    const std::string& status = r.at(0).str();
    if (r.is_array() && status == "fail") {
        // An unknown reason still means "refused, nothing changed": the script only says
        // "fail" before its first write.
        out.failure = claim_failure_from(r.at(1).str()).value_or(claim_failure::not_waiting);
        return out;
    }
    if (!r.is_array() || r.size() != 11 || status != "ok") {
        out.ec = make_error_code(error::bad_reply);
        return out;
    }
    match_record m;
    m.conversation_id = conversation_id;
    m.session = order.pick.session;
    m.peer_id = order.pick.peer_id;
    m.prekey = r.at(1).str();
    m.peer_active = static_cast<int>(integer_of(r.at(2)).value_or(0));
    m.peer_capacity = static_cast<int>(integer_of(r.at(3)).value_or(0));
    m.prekeys_left = integer_of(r.at(4)).value_or(0);
    m.seeker_tags = split(r.at(5).str());
    m.languages = split(r.at(6).str());
    m.risk_level = protocol::from_string<risk>(r.at(7).str()).value_or(risk::none);
    m.enqueued_at_ms = store::parse_int64(r.at(8).str()).value_or(0);
    m.requeued_first = r.at(9).str() == "1";
    m.payload = r.at(10).str();
    m.relaxed = order.pick.relaxed;
    m.shared_tags = order.pick.shared_tags;
    out.match = std::move(m);
    return out;
}

std::optional<match_record> parse_record(const std::string& conversation_id,
                                         const store::reply& r) {
    if (!r.is_array() || r.size() == 0 || r.size() % 2 != 0) return std::nullopt;
    match_record m;
    m.conversation_id = conversation_id;
    for (std::size_t i = 0; i + 1 < r.size(); i += 2) {
        const std::string& k = r.at(i).str();
        const std::string& v = r.at(i + 1).str();
        if (k == "session")
            m.session = v;
        else if (k == "peer")
            m.peer_id = v;
        else if (k == "prekey")
            m.prekey = v;
        else if (k == "relaxed")
            m.relaxed = v == "1";
        else if (k == "shared")
            m.shared_tags = split(v);
        else if (k == "tags")
            m.seeker_tags = split(v);
        else if (k == "langs")
            m.languages = split(v);
        else if (k == "risk")
            m.risk_level = protocol::from_string<risk>(v).value_or(risk::none);
        else if (k == "at")
            m.enqueued_at_ms = store::parse_int64(v).value_or(0);
        else if (k == "matched_at")
            m.matched_at_ms = store::parse_int64(v).value_or(0);
        else if (k == "first")
            m.requeued_first = v == "1";
        else if (k == "payload")
            m.payload = v;
        else if (k == "released")
            m.released = v == "1";
    }
    if (m.session.empty() || m.peer_id.empty()) return std::nullopt;
    return m;
}

} // namespace kindred::matching::detail
