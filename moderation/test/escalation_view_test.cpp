// escalation_view_test.cpp — view_for(): a moderator sees only the excerpts sealed to it, and
// every stored field lands in the contract's escalation object (label: unit).
#include <kindred/moderation/moderation_store.hpp>

#include <gtest/gtest.h>

using namespace kindred::moderation;
namespace kp = kindred::protocol;

namespace {

kp::excerpt sealed_for(std::string moderator, std::uint8_t fill) {
    return {std::move(moderator), kp::bytes(48, fill)};
}

escalation_record sample() {
    escalation_record r;
    r.id = "0123456789abcdef0123456789abcdef";
    r.conversation_id = "c-1";
    r.level = kp::level::imminent;
    r.category = kp::category::suicide_risk;
    r.source = kp::escalation_source::peer;
    r.state = kp::escalation_status::acknowledged;
    r.created_at = 1773576000000;
    r.acknowledged_by = "mod.a";
    r.acknowledged_at = 1773576001000;
    r.repaged = 3;
    r.next_page_at = 1773576030000;
    r.note = "a note";
    r.reason = "harassment";
    r.resolved_by = "mod.b";
    r.outcome = "referred";
    r.session = "sess-secret";
    r.peer = "river";
    r.excerpts = {sealed_for("mod.a", 1), sealed_for("mod.b", 2), sealed_for("mod.a", 3)};
    return r;
}

// The extension fields exist once protocol/ has them; checked wherever they do.
template <class Info>
void expect_extensions(const Info& v) {
    if constexpr (requires { v.note; }) {
        EXPECT_TRUE(v.note.has_value());
    }
    if constexpr (requires { v.peer; }) {
        EXPECT_TRUE(v.peer.has_value());
    }
    if constexpr (requires { v.resolved_by; }) {
        EXPECT_TRUE(v.resolved_by.has_value());
    }
    if constexpr (requires { v.outcome; }) {
        EXPECT_TRUE(v.outcome.has_value());
    }
    if constexpr (requires { v.reason; }) {
        EXPECT_TRUE(v.reason.has_value());
    }
    if constexpr (requires { v.next_page_at; }) {
        EXPECT_EQ(v.next_page_at, 1773576030000);
    }
}

template <class Info>
void expect_no_extensions(const Info& v) {
    if constexpr (requires { v.note; }) {
        EXPECT_FALSE(v.note.has_value());
    }
    if constexpr (requires { v.peer; }) {
        EXPECT_FALSE(v.peer.has_value());
    }
    if constexpr (requires { v.resolved_by; }) {
        EXPECT_FALSE(v.resolved_by.has_value());
    }
    if constexpr (requires { v.outcome; }) {
        EXPECT_FALSE(v.outcome.has_value());
    }
    if constexpr (requires { v.reason; }) {
        EXPECT_FALSE(v.reason.has_value());
    }
    if constexpr (requires { v.next_page_at; }) {
        EXPECT_FALSE(v.next_page_at.has_value());
    }
}

} // namespace

TEST(EscalationView, KeepsOnlyThatModeratorsExcerpts) {
    const auto r = sample();
    const auto a = view_for(r, "mod.a");
    ASSERT_EQ(a.excerpts.size(), 2u);
    EXPECT_EQ(a.excerpts[0], r.excerpts[0]);
    EXPECT_EQ(a.excerpts[1], r.excerpts[2]);
    const auto b = view_for(r, "mod.b");
    ASSERT_EQ(b.excerpts.size(), 1u);
    EXPECT_EQ(b.excerpts[0].sealed, kp::bytes(48, 2));
    EXPECT_TRUE(view_for(r, "mod.c").excerpts.empty());
    // A prefix of an id is another moderator.
    EXPECT_TRUE(view_for(r, "mod.").excerpts.empty());
}

TEST(EscalationView, MapsEveryField) {
    const auto v = view_for(sample(), "mod.b");
    EXPECT_EQ(v.id, "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(v.conversation_id, std::optional<std::string>("c-1"));
    EXPECT_EQ(v.level, kp::level::imminent);
    EXPECT_EQ(v.category, kp::category::suicide_risk);
    EXPECT_EQ(v.source, kp::escalation_source::peer);
    EXPECT_EQ(v.state, kp::escalation_status::acknowledged);
    EXPECT_EQ(v.created_at, 1773576000000);
    EXPECT_EQ(v.acknowledged_by, std::optional<std::string>("mod.a"));
    EXPECT_EQ(v.repaged, 3);
    expect_extensions(v);
}

TEST(EscalationView, EmptyFieldsBecomeNull) {
    escalation_record r;
    r.id = "0123456789abcdef0123456789abcdef";
    r.session = "s";
    const auto v = view_for(r, "mod.a");
    EXPECT_FALSE(v.conversation_id.has_value());
    EXPECT_FALSE(v.acknowledged_by.has_value());
    EXPECT_EQ(v.repaged, 0);
    EXPECT_TRUE(v.excerpts.empty());
    expect_no_extensions(v);
}
