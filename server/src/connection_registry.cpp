// connection_registry.cpp — see connection_registry.hpp.
#include <kindred/server/connection_registry.hpp>

namespace kindred::server {

void connection_registry::add(std::uint64_t id, std::weak_ptr<connection_handle> handle) {
    std::lock_guard lock(mutex_);
    handles_[id] = entry{std::move(handle), {}};
}

void connection_registry::remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    handles_.erase(id);
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
    if (auto it = handles_.find(id); it != handles_.end())
        it->second.session_id = std::move(session_id);
}

std::vector<std::pair<std::uint64_t, std::string>> connection_registry::sessions() const {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    std::lock_guard lock(mutex_);
    for (const auto& [id, e] : handles_)
        if (!e.session_id.empty()) out.emplace_back(id, e.session_id);
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

} // namespace kindred::server
