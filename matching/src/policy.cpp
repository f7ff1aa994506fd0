// policy.cpp — see policy.hpp. Pure: no clock, no I/O, deterministic.
#include <kindred/matching/policy.hpp>

#include <algorithm>
#include <tuple>

namespace kindred::matching {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

bool intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    return std::any_of(a.begin(), a.end(), [&](const std::string& x) { return contains(b, x); });
}

std::int64_t ms(std::chrono::milliseconds d) {
    return d.count();
}

} // namespace

const char* to_string(rule r) noexcept {
    switch (r) {
    case rule::not_present:
        return "not_present";
    case rule::shift_not_on:
        return "shift_not_on";
    case rule::cooling_down:
        return "cooling_down";
    case rule::no_capacity:
        return "no_capacity";
    case rule::no_prekey:
        return "no_prekey";
    case rule::no_language:
        return "no_language";
    case rule::blocked:
        return "blocked";
    case rule::wont_take:
        return "wont_take";
    case rule::shift_ending_soon:
        return "shift_ending_soon";
    case rule::no_shared_tag:
        return "no_shared_tag";
    }
    return "unknown";
}

std::vector<std::string> shared_tags(const peer_state& peer, const seeker_request& request) {
    std::vector<std::string> out;
    for (const auto& t : request.tags) {
        if (contains(peer.tags, t) && !contains(out, t)) out.push_back(t);
    }
    return out;
}

std::int64_t relax_at_ms(const seeker_request& request, const policy_config& config) {
    return request.enqueued_at_ms + ms(config.relax_after);
}

bool relaxed_due(const seeker_request& request, std::int64_t now_ms, const policy_config& config) {
    return now_ms >= relax_at_ms(request, config);
}

std::optional<rule> ineligible_because(const peer_state& peer, const seeker_request& request,
                                       std::int64_t now_ms, bool relaxed,
                                       const policy_config& config) {
    if (!peer.present) return rule::not_present;
    if (peer.shift != shift_status::on) return rule::shift_not_on;
    // Peer wellbeing: a hard rule (relaxation never drops it), checked before any per-request
    // rule because it concerns the peer alone.
    if (peer.cooling_down) return rule::cooling_down;
    if (peer.active >= peer.capacity) return rule::no_capacity;
    if (peer.prekeys < 1) return rule::no_prekey;
    if (!intersects(peer.languages, request.languages)) return rule::no_language;
    if (contains(request.blocked_by, peer.peer_id)) return rule::blocked;
    if (intersects(request.tags, peer.wont_take)) return rule::wont_take;
    // "No new match in its last minutes": the window is closed once now + window reaches the
    // planned end (and stays closed after it).
    if (peer.planned_end_ms && now_ms >= *peer.planned_end_ms - ms(config.end_window))
        return rule::shift_ending_soon;
    if (!relaxed && !intersects(request.tags, peer.tags)) return rule::no_shared_tag;
    return std::nullopt;
}

bool eligible(const peer_state& peer, const seeker_request& request, std::int64_t now_ms,
              bool relaxed, const policy_config& config) {
    return !ineligible_because(peer, request, now_ms, relaxed, config);
}

bool peer_before(const peer_state& a, const peer_state& b, const seeker_request& request) {
    const auto sa = shared_tags(a, request).size();
    const auto sb = shared_tags(b, request).size();
    if (sa != sb) return sa > sb;
    // Load as a fraction without floating point: a.active/a.capacity < b.active/b.capacity.
    // Capacities are >= 1 for every peer the store reads; guard anyway (untrusted data).
    const std::int64_t ca = std::max(a.capacity, 1);
    const std::int64_t cb = std::max(b.capacity, 1);
    const std::int64_t la = std::int64_t{a.active} * cb;
    const std::int64_t lb = std::int64_t{b.active} * ca;
    if (la != lb) return la < lb;
    if (a.active != b.active) return a.active < b.active;
    if (a.idle_since_ms != b.idle_since_ms) return a.idle_since_ms < b.idle_since_ms;
    return a.peer_id < b.peer_id;
}

std::vector<const peer_state*> rank_peers(const seeker_request& request,
                                          const std::vector<peer_state>& peers, std::int64_t now_ms,
                                          bool relaxed, const policy_config& config) {
    std::vector<const peer_state*> out;
    for (const auto& p : peers) {
        if (eligible(p, request, now_ms, relaxed, config)) out.push_back(&p);
    }
    std::sort(out.begin(), out.end(), [&](const peer_state* a, const peer_state* b) {
        return peer_before(*a, *b, request);
    });
    return out;
}

bool seeker_before(const seeker_request& a, const seeker_request& b) {
    if (a.risk_level != b.risk_level) return a.risk_level > b.risk_level;
    if (a.requeued_first != b.requeued_first) return a.requeued_first;
    if (a.enqueued_at_ms != b.enqueued_at_ms) return a.enqueued_at_ms < b.enqueued_at_ms;
    return a.session < b.session;
}

std::vector<const seeker_request*> seeker_order(const std::vector<seeker_request>& waiting) {
    std::vector<const seeker_request*> out;
    out.reserve(waiting.size());
    for (const auto& r : waiting)
        out.push_back(&r);
    std::sort(out.begin(), out.end(), [](const seeker_request* a, const seeker_request* b) {
        return seeker_before(*a, *b);
    });
    return out;
}

namespace {

choice make_choice(const seeker_request& request, const peer_state& peer) {
    choice c;
    c.session = request.session;
    c.peer_id = peer.peer_id;
    c.shared_tags = shared_tags(peer, request);
    c.relaxed = c.shared_tags.empty();
    return c;
}

} // namespace

std::optional<choice> pick_for_seeker(const seeker_request& request,
                                      const std::vector<peer_state>& peers, std::int64_t now_ms,
                                      const policy_config& config) {
    auto ranked = rank_peers(request, peers, now_ms, relaxed_due(request, now_ms, config), config);
    if (ranked.empty()) return std::nullopt;
    return make_choice(request, *ranked.front());
}

std::optional<choice> pick_for_peer(const peer_state& peer,
                                    const std::vector<seeker_request>& waiting, std::int64_t now_ms,
                                    const policy_config& config) {
    for (const seeker_request* r : seeker_order(waiting)) {
        if (eligible(peer, *r, now_ms, relaxed_due(*r, now_ms, config), config))
            return make_choice(*r, peer);
    }
    return std::nullopt;
}

std::vector<choice> plan_matches(const std::vector<seeker_request>& waiting,
                                 const std::vector<peer_state>& peers, std::int64_t now_ms,
                                 const policy_config& config) {
    // A working copy: each planned match takes a slot and a prekey from its peer, so later
    // (lower-priority) requests see what is left, and the load ranking spreads them.
    std::vector<peer_state> left = peers;
    std::vector<choice> plan;
    for (const seeker_request* r : seeker_order(waiting)) {
        auto ranked = rank_peers(*r, left, now_ms, relaxed_due(*r, now_ms, config), config);
        if (ranked.empty()) continue;
        peer_state& best = left[static_cast<std::size_t>(ranked.front() - left.data())];
        plan.push_back(make_choice(*r, best));
        best.active += 1;
        best.prekeys -= 1;
    }
    return plan;
}

std::size_t queue_position(const seeker_request& request,
                           const std::vector<seeker_request>& waiting) {
    std::size_t ahead = 0;
    for (const auto& other : waiting) {
        if (other.session == request.session) continue;
        if (seeker_before(other, request) && intersects(other.languages, request.languages))
            ++ahead;
    }
    return ahead + 1;
}

match_rate comparable_rate(const seeker_request& request, const std::vector<recent_match>& recent,
                           std::int64_t now_ms, std::optional<std::int64_t> observed_since_ms,
                           bool by_tag, const estimate_config& config) {
    const std::int64_t window = ms(config.window);
    match_rate out;
    for (const auto& m : recent) {
        if (m.matched_at_ms > now_ms || now_ms - m.matched_at_ms > window) continue;
        if (!intersects(m.languages, request.languages)) continue;
        if (by_tag && !intersects(m.tags, request.tags)) continue;
        ++out.matches;
    }
    std::int64_t span = window;
    if (observed_since_ms) span = std::min(span, now_ms - *observed_since_ms);
    out.span_ms = std::max<std::int64_t>(span, 1000);
    return out;
}

std::optional<std::int64_t> estimate_wait_s(std::size_t position, const match_rate& rate) {
    if (rate.matches == 0 || rate.span_ms <= 0) return std::nullopt;
    // position / (matches / span) seconds, rounded up, in integers.
    const auto p = static_cast<std::int64_t>(std::max<std::size_t>(position, 1));
    const auto n = static_cast<std::int64_t>(rate.matches);
    const std::int64_t num = p * rate.span_ms;
    const std::int64_t den = n * 1000;
    return (num + den - 1) / den;
}

std::optional<std::int64_t> estimate_from_rates(const seeker_request& request, std::size_t position,
                                                const match_rate& by_tag,
                                                const match_rate& by_language, std::int64_t now_ms,
                                                const policy_config& policy) {
    if (auto tag_estimate = estimate_wait_s(position, by_tag)) return tag_estimate;
    auto language_estimate = estimate_wait_s(position, by_language);
    if (!language_estimate) return std::nullopt;
    const std::int64_t to_relax_ms =
        std::max<std::int64_t>(0, relax_at_ms(request, policy) - now_ms);
    return std::max(*language_estimate, (to_relax_ms + 999) / 1000);
}

std::optional<std::int64_t> estimate_for(const seeker_request& request, std::size_t position,
                                         const std::vector<recent_match>& recent,
                                         std::int64_t now_ms,
                                         std::optional<std::int64_t> observed_since_ms,
                                         const policy_config& policy,
                                         const estimate_config& config) {
    return estimate_from_rates(
        request, position,
        comparable_rate(request, recent, now_ms, observed_since_ms, true, config),
        comparable_rate(request, recent, now_ms, observed_since_ms, false, config), now_ms, policy);
}

} // namespace kindred::matching
