// escalation_view.cpp — view_for(): an escalation as one moderator may see it (only the
// excerpts sealed to that moderator). Pure; safe from any thread.
#include <kindred/moderation/moderation_store.hpp>

#include <optional>
#include <string>

namespace kindred::moderation {

namespace {

std::optional<std::string> text_or_null(const std::string& v) {
    if (v.empty()) return std::nullopt;
    return v;
}

} // namespace

protocol::escalation_info view_for(const escalation_record& r, std::string_view moderator_id) {
    protocol::escalation_info info;
    info.id = r.id;
    if (!r.conversation_id.empty()) info.conversation_id = r.conversation_id;
    info.level = r.level;
    info.category = r.category;
    info.source = r.source;
    info.state = r.state;
    info.created_at = r.created_at;
    if (!r.acknowledged_by.empty()) info.acknowledged_by = r.acknowledged_by;
    info.repaged = r.repaged;
    for (const auto& x : r.excerpts) {
        if (x.moderator_id == moderator_id) info.excerpts.push_back(x);
    }
    // Our extensions of the contract's object (protocol/README.md §8).
    info.note = text_or_null(r.note);
    if (!r.reason.empty()) info.reason = protocol::from_string<protocol::report_reason>(r.reason);
    info.resolved_by = text_or_null(r.resolved_by);
    if (!r.outcome.empty())
        info.outcome = protocol::from_string<protocol::resolve_outcome>(r.outcome);
    info.peer = text_or_null(r.peer);
    if (r.next_page_at != 0) info.next_page_at = r.next_page_at;
    return info;
}

} // namespace kindred::moderation
