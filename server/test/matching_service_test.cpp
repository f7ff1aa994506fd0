// matching_service_test.cpp — the pure parts of the services: the stored prekey form round
// trips and rejects damaged values; which message types each service serves; the hub routes
// by type and answers unavailable for the rest.
#include <kindred/server/matching_service.hpp>
#include <kindred/server/relay_service.hpp>
#include <kindred/server/service_router.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace ks = kindred::server;
namespace kp = kindred::protocol;

namespace {

class recording_router final : public ks::service_router {
public:
    explicit recording_router(std::string type)
        : type_(std::move(type)) {}
    bool serves(std::string_view type) const override { return type == type_; }
    void handle(ks::service_request r, answer_handler h) override {
        ++handled;
        ks::service_answer a;
        a.frames.push_back(ks::make_ok_frame(r.id));
        h(std::move(a));
    }
    int handled = 0;

private:
    std::string type_;
};

} // namespace

TEST(MatchingServiceStatic, PrekeyRoundTrips) {
    kp::signed_prekey k;
    for (std::size_t i = 0; i < k.prekey.size(); ++i)
        k.prekey[i] = static_cast<std::uint8_t>(i);
    for (std::size_t i = 0; i < k.signature.size(); ++i)
        k.signature[i] = static_cast<std::uint8_t>(255 - i);
    const auto stored = ks::matching_service::encode_prekey(k);
    EXPECT_NE(stored.find('.'), std::string::npos);
    auto back = ks::matching_service::decode_prekey(stored);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, k);
}

TEST(MatchingServiceStatic, DamagedPrekeysAreRejected) {
    EXPECT_FALSE(ks::matching_service::decode_prekey(""));
    EXPECT_FALSE(ks::matching_service::decode_prekey("no-dot"));
    EXPECT_FALSE(ks::matching_service::decode_prekey("AAAA.AAAA")); // wrong sizes
    kp::signed_prekey k;
    auto stored = ks::matching_service::encode_prekey(k);
    EXPECT_FALSE(ks::matching_service::decode_prekey(stored.substr(0, stored.size() - 4)));
}

TEST(MatchingServiceStatic, PeerSessionKeyUsesTheUsernameAsHashTag) {
    EXPECT_EQ(ks::matching_service::peer_session_key("river"), "peer:{river}:session");
}

TEST(ServiceHub, RoutesByTypeAndAnswersUnavailableOtherwise) {
    recording_router a("cancel_match"), b("sync");
    ks::service_hub hub;
    hub.add(a);
    hub.add(b);
    EXPECT_TRUE(hub.serves("cancel_match"));
    EXPECT_TRUE(hub.serves("sync"));
    EXPECT_FALSE(hub.serves("report"));

    ks::service_request r;
    r.id = "1";
    r.message = kp::sync{"c", 0};
    std::optional<ks::service_answer> got;
    hub.handle(r, [&](ks::service_answer x) { got = std::move(x); });
    EXPECT_EQ(b.handled, 1);
    EXPECT_EQ(a.handled, 0);
    ASSERT_TRUE(got);
    ASSERT_EQ(got->frames.size(), 1u);
    EXPECT_EQ(got->frames[0].type, "ok");

    r.message = kp::report{};
    got.reset();
    hub.handle(r, [&](ks::service_answer x) { got = std::move(x); });
    ASSERT_TRUE(got);
    auto o = boost::json::parse(got->frames.at(0).text).as_object();
    EXPECT_EQ(o.at("code"), "unavailable");
}

namespace {
const std::vector<std::string> catalog{"grief", "suicide", "self-harm"};
constexpr std::int64_t now = 1'795'000'000'000;
} // namespace

TEST(MatchingServiceShiftOptions, AbsentOptionsPass) {
    EXPECT_EQ(ks::matching_service::check_shift_options({}, std::nullopt, catalog, now), "");
}

TEST(MatchingServiceShiftOptions, CatalogWontTakeAndNearFutureEndPass) {
    EXPECT_EQ(
        ks::matching_service::check_shift_options({"suicide", "self-harm"}, now + 1, catalog, now),
        "");
    EXPECT_EQ(ks::matching_service::check_shift_options(
                  {}, now + ks::matching_service::max_planned_shift_ms, catalog, now),
              "");
}

TEST(MatchingServiceShiftOptions, UnknownWontTakeTagIsNamedByIndex) {
    EXPECT_EQ(
        ks::matching_service::check_shift_options({"grief", "nope"}, std::nullopt, catalog, now),
        "wont_take[1]: unknown tag 'nope'");
}

TEST(MatchingServiceShiftOptions, PlannedEndMustBeInTheFutureAndWithinADay) {
    EXPECT_EQ(ks::matching_service::check_shift_options({}, now, catalog, now),
              "planned_end_at: must be in the future");
    EXPECT_EQ(ks::matching_service::check_shift_options({}, 0, catalog, now),
              "planned_end_at: must be in the future");
    EXPECT_EQ(ks::matching_service::check_shift_options(
                  {}, now + ks::matching_service::max_planned_shift_ms + 1, catalog, now),
              "planned_end_at: must be within 24 hours");
}
