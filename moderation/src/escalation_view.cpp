// escalation_view.cpp — view_for(): an escalation as one moderator may see it (only the
// excerpts sealed to that moderator). Pure; safe from any thread.
#include <kindred/moderation/moderation_store.hpp>

#include <optional>
#include <string>
#include <type_traits>

namespace kindred::moderation {

namespace {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// Sets an optional wire field from a stored string; "" stays null. Written generically so
// that it fits whichever type protocol/ gives each extension field (string, or a wire enum).
template <class Field>
void set_text(Field& field, const std::string& value) {
    if (value.empty()) return;
    if constexpr (is_optional<Field>::value) {
        using V = typename Field::value_type;
        if constexpr (std::is_constructible_v<V, const std::string&>)
            field = V(value);
        else if constexpr (protocol::wire_enum<V>)
            field = protocol::from_string<V>(value);
    } else if constexpr (std::is_assignable_v<Field&, const std::string&>) {
        field = value;
    }
}

template <class Field>
void set_time(Field& field, std::int64_t value) {
    if (value == 0) return; // 0: not scheduled
    field = value;
}

// The contract's extensions of the escalation object (design: note, reason, resolved_by,
// outcome, next_page_at, peer). protocol/ adds them to escalation_info; until every branch
// has them, each is filled only where the field exists.
template <class Info>
void set_extensions(Info& info, const escalation_record& r) {
    if constexpr (requires { info.note; }) set_text(info.note, r.note);
    if constexpr (requires { info.reason; }) set_text(info.reason, r.reason);
    if constexpr (requires { info.resolved_by; }) set_text(info.resolved_by, r.resolved_by);
    if constexpr (requires { info.outcome; }) set_text(info.outcome, r.outcome);
    if constexpr (requires { info.peer; }) set_text(info.peer, r.peer);
    if constexpr (requires { info.next_page_at; }) set_time(info.next_page_at, r.next_page_at);
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
    set_extensions(info, r);
    return info;
}

} // namespace kindred::moderation
