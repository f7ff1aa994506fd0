// model.cpp — the relay's pure rules: parties, id shapes, key names, the copies check, the
// gap check, and turning a stored entry into the reader's `message` event.
#include <kindred/relay/model.hpp>

#include <algorithm>
#include <array>

namespace kindred::relay {

namespace {

constexpr std::array<role, 3> role_order{role::seeker, role::peer, role::moderator};

bool id_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == '@' || c == '-';
}

bool valid_id(std::string_view id, std::size_t max) noexcept {
    return !id.empty() && id.size() <= max && std::all_of(id.begin(), id.end(), id_char);
}

} // namespace

const std::string& parties::id_of(role r) const noexcept {
    switch (r) {
    case role::seeker:
        return seeker;
    case role::peer:
        return peer;
    case role::moderator:
        return moderator;
    }
    return moderator; // unreachable for a valid enum; moderator may be empty
}

bool parties::has(const member& m) const noexcept {
    const std::string& held = id_of(m.role);
    return !held.empty() && held == m.id;
}

std::vector<member> parties::others(role from) const {
    std::vector<member> out;
    for (role r : role_order) {
        if (r != from && !id_of(r).empty()) out.push_back({r, id_of(r)});
    }
    return out;
}

std::vector<member> parties::all() const {
    std::vector<member> out;
    for (role r : role_order) {
        if (!id_of(r).empty()) out.push_back({r, id_of(r)});
    }
    return out;
}

std::string_view to_string(conversation_state s) noexcept {
    return s == conversation_state::active ? "active" : "ended";
}

const protocol::message_copy* entry::copy_for(role reader) const noexcept {
    for (const auto& c : copies) {
        if (c.to == reader) return &c;
    }
    return nullptr;
}

entry entry_of(const append_request& r, std::int64_t offset) {
    entry e;
    e.offset = offset;
    e.from = r.from.role;
    e.seq = r.seq;
    e.sent_at = r.sent_at;
    // In role order, as entries read back from the log are.
    for (role to : role_order) {
        for (const auto& c : r.copies) {
            if (c.to == to) {
                e.copies.push_back(c);
                break;
            }
        }
    }
    return e;
}

std::optional<protocol::message_event> to_event(std::string_view conversation_id, const entry& e,
                                                role reader) {
    const protocol::message_copy* c = e.copy_for(reader);
    if (!c) return std::nullopt;
    protocol::message_event ev;
    ev.conversation_id = std::string(conversation_id);
    ev.offset = e.offset;
    ev.from = e.from;
    ev.seq = e.seq;
    ev.nonce = c->nonce;
    ev.ciphertext = c->ciphertext;
    ev.sent_at = e.sent_at;
    return ev;
}

bool valid_conversation_id(std::string_view id) noexcept {
    return valid_id(id, protocol::limits::max_id_chars);
}

bool valid_party_id(std::string_view id) noexcept {
    return valid_id(id, 128);
}

conversation_keys keys_for(std::string_view prefix, std::string_view conversation_id) {
    conversation_keys k;
    k.meta.reserve(prefix.size() + conversation_id.size() + 7);
    k.meta.append(prefix).append("conv:{").append(conversation_id).append("}");
    k.log = k.meta + ":log";
    k.seq = k.meta + ":seq";
    return k;
}

std::string index_key(std::string_view prefix, const member& m) {
    std::string k(prefix);
    k.append("party:{")
        .append(protocol::to_string(m.role))
        .append(":")
        .append(m.id)
        .append("}:convs");
    return k;
}

batch_check check_batch(std::int64_t after, std::int64_t last_offset, std::size_t max_count,
                        std::span<const std::int64_t> offsets) noexcept {
    batch_check out;
    if (max_count == 0) max_count = 1;
    // The caller has seen offsets the store no longer has (e.g. a failover to a replica
    // that lagged): those offsets will be handed out again, so history is not vouched for.
    if (after > last_offset) {
        out.complete = false;
        return out;
    }
    for (std::size_t i = 0; i < offsets.size(); ++i) {
        if (offsets[i] != after + 1 + static_cast<std::int64_t>(i) || offsets[i] > last_offset) {
            out.complete = false;
            break;
        }
    }
    const std::int64_t reached = offsets.empty() ? after : offsets.back();
    // A short batch must end exactly at last_offset; otherwise the tail is missing.
    if (offsets.size() < max_count && reached != last_offset) out.complete = false;
    out.more = offsets.size() >= max_count && reached < last_offset;
    return out;
}

} // namespace kindred::relay
