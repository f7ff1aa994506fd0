// sweep.cpp — see sweep.hpp. No I/O, no clock.
#include <kindred/matching/sweep.hpp>

#include <algorithm>
#include <map>
#include <utility>

namespace kindred::matching {

const char* to_string(claim_failure f) noexcept {
    switch (f) {
    case claim_failure::not_waiting:
        return "not_waiting";
    case claim_failure::stale_shift:
        return "stale_shift";
    case claim_failure::shift_not_on:
        return "shift_not_on";
    case claim_failure::not_present:
        return "not_present";
    case claim_failure::cooling_down:
        return "cooling_down";
    case claim_failure::no_capacity:
        return "no_capacity";
    case claim_failure::no_prekey:
        return "no_prekey";
    case claim_failure::blocked:
        return "blocked";
    case claim_failure::shift_ending_soon:
        return "shift_ending_soon";
    case claim_failure::conversation_exists:
        return "conversation_exists";
    }
    return "unknown";
}

namespace {

std::string set_key(std::vector<std::string> items) {
    std::sort(items.begin(), items.end());
    std::string k;
    for (const auto& i : items)
        k += i + ",";
    return k;
}

bool intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    return std::any_of(a.begin(), a.end(),
                       [&](const auto& x) { return std::find(b.begin(), b.end(), x) != b.end(); });
}

} // namespace

match_rate counted_rate(std::size_t matches, std::int64_t now_ms,
                        std::optional<std::int64_t> observed_since_ms,
                        const estimate_config& config) {
    // The same span as comparable_rate(): the window, or less when statistics started later.
    match_rate out;
    out.matches = matches;
    std::int64_t span = config.window.count();
    if (observed_since_ms) span = std::min(span, now_ms - *observed_since_ms);
    out.span_ms = std::max<std::int64_t>(span, 1000);
    return out;
}

std::vector<queue_entry> queue_view(const snapshot& s, std::int64_t now_ms,
                                    const policy_config& policy, const estimate_config& estimate,
                                    const std::vector<std::string>& gone) {
    std::vector<seeker_request> left;
    left.reserve(s.waiting.size());
    for (const auto& r : s.waiting) {
        if (std::find(gone.begin(), gone.end(), r.session) == gone.end()) left.push_back(r);
    }
    // Same answers as queue_position() and estimate_for() for each request, without their
    // quadratic cost on a long queue: requests ahead are counted per distinct language set
    // (there are few), and the recent-match rates are computed once per (languages, tags).
    struct group {
        std::vector<std::string> languages;
        std::size_t count = 0;
    };
    std::vector<group> seen;
    std::map<std::string, std::pair<match_rate, match_rate>> rates;
    std::vector<queue_entry> out;
    out.reserve(left.size());
    for (const seeker_request* r : seeker_order(left)) {
        queue_entry e;
        e.session = r->session;
        std::size_t ahead = 0;
        for (const auto& g : seen) {
            if (intersects(g.languages, r->languages)) ahead += g.count;
        }
        e.position = ahead + 1;
        const auto lkey = set_key(r->languages);
        auto g = std::find_if(seen.begin(), seen.end(),
                              [&](const group& x) { return set_key(x.languages) == lkey; });
        if (g == seen.end())
            seen.push_back({r->languages, 1});
        else
            ++g->count;

        if (auto c = s.counts.find(r->session); c != s.counts.end()) {
            e.estimated_wait_s = estimate_from_rates(
                *r, e.position, counted_rate(c->second.by_tag, now_ms, s.stats_since_ms, estimate),
                counted_rate(c->second.by_language, now_ms, s.stats_since_ms, estimate), now_ms,
                policy);
            out.push_back(std::move(e));
            continue;
        }
        const auto rkey = lkey + "|" + set_key(r->tags);
        auto it = rates.find(rkey);
        if (it == rates.end()) {
            it = rates
                     .emplace(rkey, std::pair{comparable_rate(*r, s.recent, now_ms,
                                                              s.stats_since_ms, true, estimate),
                                              comparable_rate(*r, s.recent, now_ms,
                                                              s.stats_since_ms, false, estimate)})
                     .first;
        }
        e.estimated_wait_s = estimate_from_rates(*r, e.position, it->second.first,
                                                 it->second.second, now_ms, policy);
        out.push_back(std::move(e));
    }
    return out;
}

sweep::sweep(config c)
    : config_(std::move(c)) {}

sweep::step sweep::start() {
    return step::snapshot;
}

sweep::step sweep::on_snapshot(snapshot s, std::int64_t now_ms) {
    ++report_.rounds;
    last_ = std::move(s);
    now_ms_ = now_ms;
    claims_.clear();
    auto plan = plan_matches(last_.waiting, last_.peers, now_ms, config_.policy);
    if (plan.empty()) return finish({});
    for (auto& c : plan) {
        claim_order o;
        for (const auto& r : last_.waiting) {
            if (r.session == c.session) o.request_id = r.request_id;
        }
        for (const auto& p : last_.peers) {
            if (p.peer_id == c.peer_id) o.shift_id = p.shift_id;
        }
        o.pick = std::move(c);
        claims_.push_back(std::move(o));
    }
    return step::claim;
}

sweep::step sweep::on_snapshot_error(boost::system::error_code ec) {
    report_.ec = ec;
    claims_.clear();
    return step::done;
}

sweep::step sweep::on_claims(std::vector<claim_result> results) {
    std::vector<std::string> gone;
    bool refused = false;
    for (auto& r : results) {
        if (r.ec) {
            if (!report_.ec) report_.ec = r.ec;
            report_.uncertain.push_back(r.conversation_id);
        } else if (r.match) {
            gone.push_back(r.match->session);
            report_.matches.push_back(std::move(*r.match));
        } else {
            // A refusal (or a result without either, which we treat the same way: nothing
            // was claimed, so a fresh look is the safe answer).
            ++report_.conflicts;
            refused = true;
        }
    }
    claims_.clear();
    if (report_.ec) {
        report_.queue.clear();
        report_.next_relax_at_ms.reset();
        return step::done;
    }
    if (refused) {
        if (report_.rounds < config_.max_rounds) return step::snapshot;
        report_.gave_up = true;
    }
    return finish(gone);
}

sweep::step sweep::finish(const std::vector<std::string>& gone) {
    report_.queue = queue_view(last_, now_ms_, config_.policy, config_.estimate, gone);
    report_.next_relax_at_ms.reset();
    for (const auto& r : last_.waiting) {
        if (std::find(gone.begin(), gone.end(), r.session) != gone.end()) continue;
        const auto at = relax_at_ms(r, config_.policy);
        if (at > now_ms_ && (!report_.next_relax_at_ms || at < *report_.next_relax_at_ms))
            report_.next_relax_at_ms = at;
    }
    return step::done;
}

} // namespace kindred::matching
