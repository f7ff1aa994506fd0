// delivery_tracker.cpp — see delivery_tracker.hpp.
#include <kindred/server/delivery_tracker.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>

namespace kindred::server {

namespace json = boost::json;

delivery_tracker::delivery_tracker(delivery_tracker_deps deps)
    : deps_(std::move(deps)) {}

std::optional<std::pair<std::string, std::int64_t>>
delivery_tracker::message_ref(std::string_view event) {
    json::error_code ec;
    auto v = json::parse(event, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.get_object();
    auto type = o.find("type");
    auto conversation = o.find("conversation_id");
    auto offset = o.find("offset");
    if (type == o.end() || !type->value().is_string() || type->value().get_string() != "message")
        return std::nullopt;
    if (conversation == o.end() || !conversation->value().is_string()) return std::nullopt;
    if (offset == o.end() || !offset->value().is_int64() || offset->value().get_int64() < 1)
        return std::nullopt;
    return std::pair{std::string(conversation->value().get_string()), offset->value().get_int64()};
}

namespace {
constexpr std::size_t max_own_ahead = 256;
} // namespace

void delivery_tracker::absorb_own(state& s) {
    std::size_t i = 0;
    for (; i < s.own_ahead.size() && s.own_ahead[i] <= s.last + 1; ++i) {
        if (s.own_ahead[i] == s.last + 1) s.last = s.own_ahead[i];
    }
    s.own_ahead.erase(s.own_ahead.begin(), s.own_ahead.begin() + static_cast<std::ptrdiff_t>(i));
}

void delivery_tracker::on_live(const std::string& session, const std::string& conversation,
                               std::int64_t offset, std::string event) {
    key k{session, conversation};
    std::int64_t after = 0;
    {
        std::lock_guard lock(mutex_);
        auto [it, fresh] = states_.try_emplace(k);
        auto& s = it->second;
        if (fresh) {
            // The first live message here: what came before is the client's sync's job.
            s.last = offset;
            deps_.push(session, std::move(event));
            return;
        }
        if (offset <= s.last) return; // delivered before (or read from the log)
        if (s.reading) {
            s.again = true; // the running read may end before this offset
            return;
        }
        absorb_own(s);
        if (offset == s.last + 1) {
            s.last = offset;
            absorb_own(s);
            deps_.push(session, std::move(event));
            return;
        }
        if (offset <= s.last) return; // one of its own
        s.reading = true;
        after = s.last;
    }
    start_read(k, after);
}

void delivery_tracker::on_own(const std::string& session, const std::string& conversation,
                              std::int64_t offset) {
    std::lock_guard lock(mutex_);
    auto it = states_.find(key{session, conversation});
    // Untracked: a live message below this offset may still be on its way, so the first live
    // message starts tracking, not this. Tracked: only contiguous, so an own offset beyond a
    // gap cannot hide a message still to come.
    if (it == states_.end()) return;
    auto& s = it->second;
    if (offset <= s.last) return;
    if (offset == s.last + 1 && !s.reading) {
        s.last = offset;
        absorb_own(s);
        return;
    }
    // Ahead of a message still to come (or of a running read): skipped once `last` reaches it.
    auto at = std::lower_bound(s.own_ahead.begin(), s.own_ahead.end(), offset);
    if ((at == s.own_ahead.end() || *at != offset) && s.own_ahead.size() < max_own_ahead)
        s.own_ahead.insert(at, offset);
}

void delivery_tracker::on_synced(const std::string& session, const std::string& conversation,
                                 std::int64_t offset) {
    std::lock_guard lock(mutex_);
    auto& s = states_[key{session, conversation}];
    if (!s.reading && offset > s.last) {
        s.last = offset;
        absorb_own(s);
    }
}

void delivery_tracker::on_matched(const std::string& session, const std::string& conversation) {
    std::lock_guard lock(mutex_);
    states_.try_emplace(key{session, conversation}); // last = 0 when new; else unchanged
}

void delivery_tracker::retry_failed() {
    reread(true);
}

void delivery_tracker::recover_all() {
    reread(false);
}

void delivery_tracker::reread(bool failed_only) {
    std::vector<std::pair<key, std::int64_t>> reads;
    {
        std::lock_guard lock(mutex_);
        for (auto& [k, s] : states_) {
            if (failed_only && !s.failed) continue;
            if (s.reading) {
                // A read in flight: after the bus reconnected, read once more when it ends (it
                // may have started before the publishes that were lost); a failed one is
                // retried by that read's own outcome.
                if (!failed_only) s.again = true;
                continue;
            }
            s.failed = false;
            s.reading = true;
            reads.emplace_back(k, s.last);
        }
    }
    for (auto& [k, after] : reads)
        start_read(k, after);
}

void delivery_tracker::forget(const std::string& session) {
    std::lock_guard lock(mutex_);
    for (auto it = states_.lower_bound(key{session, std::string()});
         it != states_.end() && it->first.first == session;)
        it = states_.erase(it);
}

std::optional<std::int64_t> delivery_tracker::last(const std::string& session,
                                                   const std::string& conversation) const {
    std::lock_guard lock(mutex_);
    auto it = states_.find(key{session, conversation});
    if (it == states_.end()) return std::nullopt;
    return it->second.last;
}

void delivery_tracker::start_read(const key& k, std::int64_t after) {
    deps_.read(k.first, k.second, after, [this, k](bool ok, std::vector<tracked_message> messages) {
        on_read(k, ok, std::move(messages));
    });
}

void delivery_tracker::on_read(const key& k, bool ok, std::vector<tracked_message> messages) {
    std::int64_t after = 0;
    {
        std::lock_guard lock(mutex_);
        auto it = states_.find(k);
        if (it == states_.end()) return; // forgotten meanwhile
        auto& s = it->second;
        for (auto& m : messages) {
            if (m.offset <= s.last) continue;
            s.last = m.offset;
            if (!m.event.empty()) deps_.push(k.first, std::move(m.event));
        }
        absorb_own(s);
        // Redis trouble: the next live message, resubscribe or retry_failed() tries again.
        s.failed = !ok;
        if (!ok || !s.again) {
            s.reading = false;
            s.again = false;
            return;
        }
        s.again = false;
        after = s.last;
    }
    start_read(k, after);
}

} // namespace kindred::server
