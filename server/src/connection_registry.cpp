// connection_registry.cpp — see connection_registry.hpp.
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/staff_auth.hpp>

#include <algorithm>

namespace kindred::server {

void connection_registry::add(std::uint64_t id, std::weak_ptr<connection_handle> handle) {
    std::lock_guard lock(mutex_);
    auto& e = handles_[id];
    if (!e.session_id.empty()) unindex(id, e.session_id);
    e = entry{std::move(handle), {}, std::nullopt};
}

void connection_registry::remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    auto it = handles_.find(id);
    if (it == handles_.end()) return;
    if (!it->second.session_id.empty()) unindex(id, it->second.session_id);
    handles_.erase(it);
}

void connection_registry::unindex(std::uint64_t id, const std::string& session_id) {
    auto [first, last] = by_session_.equal_range(session_id);
    for (auto it = first; it != last; ++it)
        if (it->second == id) {
            by_session_.erase(it);
            return;
        }
}

std::shared_ptr<connection_handle> connection_registry::find(std::uint64_t id) const {
    std::lock_guard lock(mutex_);
    auto it = handles_.find(id);
    return it == handles_.end() ? nullptr : it->second.handle.lock();
}

std::size_t connection_registry::size() const {
    std::lock_guard lock(mutex_);
    return handles_.size();
}

void connection_registry::set_session(std::uint64_t id, std::string session_id) {
    std::lock_guard lock(mutex_);
    auto it = handles_.find(id);
    if (it == handles_.end()) return;
    auto& e = it->second;
    if (e.session_id == session_id) return;
    if (!e.session_id.empty()) unindex(id, e.session_id);
    e.session_id = std::move(session_id);
    if (!e.session_id.empty()) by_session_.emplace(e.session_id, id);
}

std::vector<std::pair<std::uint64_t, std::string>>
connection_registry::sessions(std::uint64_t slices, std::uint64_t slice) const {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    if (slices == 0) slices = 1;
    std::lock_guard lock(mutex_);
    for (const auto& [id, e] : handles_)
        if (!e.session_id.empty() && id % slices == slice) out.emplace_back(id, e.session_id);
    return out;
}

std::vector<std::shared_ptr<connection_handle>>
connection_registry::find_session(std::string_view session_id) const {
    std::vector<std::shared_ptr<connection_handle>> out;
    if (session_id.empty()) return out;
    std::lock_guard lock(mutex_);
    auto [first, last] = by_session_.equal_range(session_id);
    for (auto it = first; it != last; ++it)
        if (auto h = handles_.find(it->second); h != handles_.end())
            if (auto live = h->second.handle.lock()) out.push_back(std::move(live));
    return out;
}

std::vector<std::shared_ptr<connection_handle>> connection_registry::snapshot() const {
    std::vector<std::shared_ptr<connection_handle>> out;
    std::lock_guard lock(mutex_);
    out.reserve(handles_.size());
    for (const auto& [id, e] : handles_)
        if (auto h = e.handle.lock()) out.push_back(std::move(h));
    return out;
}

void connection_registry::set_staff(std::uint64_t id, staff_identity who) {
    std::lock_guard lock(mutex_);
    if (auto it = handles_.find(id); it != handles_.end()) it->second.staff = std::move(who);
}

std::vector<std::uint64_t>
connection_registry::revoked_by(const accounts::revocation& notice) const {
    std::vector<std::uint64_t> out;
    std::lock_guard lock(mutex_);
    for (const auto& [id, e] : handles_)
        if (e.staff && revokes(notice, *e.staff)) out.push_back(id);
    return out;
}

std::vector<std::uint64_t> connection_registry::expired(std::int64_t now_ms) const {
    std::vector<std::uint64_t> out;
    std::lock_guard lock(mutex_);
    for (const auto& [id, e] : handles_)
        if (e.staff && e.staff->expires_at <= now_ms) out.push_back(id);
    return out;
}

std::vector<std::string> connection_registry::staff_token_hashes() const {
    std::vector<std::string> out;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, e] : handles_)
            if (e.staff) out.push_back(e.staff->token_hash);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::uint64_t> connection_registry::with_token_hash(std::string_view token_hash) const {
    std::vector<std::uint64_t> out;
    std::lock_guard lock(mutex_);
    for (const auto& [id, e] : handles_)
        if (e.staff && e.staff->token_hash == token_hash) out.push_back(id);
    return out;
}

std::size_t connection_registry::staff_count() const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(
        std::count_if(handles_.begin(), handles_.end(),
                      [](const auto& kv) { return kv.second.staff.has_value(); }));
}

} // namespace kindred::server
