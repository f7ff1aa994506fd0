// model_test.cpp — account field validation and UTC certification dates (label: unit).
#include <kindred/accounts/model.hpp>

#include <gtest/gtest.h>

using namespace kindred::accounts;

namespace {

// 2026-03-15T12:00:00Z
constexpr std::int64_t mid_march_2026 = 1773576000000;

catalog test_catalog() {
    return {{"grief", "addiction", "caregiving"}, {"en", "es"}};
}

} // namespace

TEST(Username, AcceptsTheDocumentedShape) {
    EXPECT_TRUE(valid_username("abc"));
    EXPECT_TRUE(valid_username("demo-peer"));
    EXPECT_TRUE(valid_username("river.2_x"));
    EXPECT_TRUE(valid_username("0ab"));
    EXPECT_TRUE(valid_username(std::string(32, 'a')));
}

TEST(Username, RejectsEverythingElse) {
    EXPECT_FALSE(valid_username(""));
    EXPECT_FALSE(valid_username("ab"));                 // too short
    EXPECT_FALSE(valid_username(std::string(33, 'a'))); // too long
    EXPECT_FALSE(valid_username("Alice"));              // upper case
    EXPECT_FALSE(valid_username("-alice"));             // must start with a letter/digit
    EXPECT_FALSE(valid_username(".alice"));
    EXPECT_FALSE(valid_username("al ice"));
    EXPECT_FALSE(valid_username("al{ice}")); // would break the key hash tag
    EXPECT_FALSE(valid_username("alice:tokens"));
    EXPECT_FALSE(valid_username(std::string("ali\0ce", 6)));
    EXPECT_FALSE(valid_username("ålice"));
}

TEST(Role, RoundTripsAndRejectsUnknown) {
    for (auto r : {role::peer, role::moderator, role::admin})
        EXPECT_EQ(role_from_string(to_string(r)), r);
    EXPECT_FALSE(role_from_string("seeker"));
    EXPECT_FALSE(role_from_string("Peer"));
    EXPECT_FALSE(role_from_string(""));
}

TEST(Alias, AcceptsPrintableUnicodeUpTo32CodePoints) {
    EXPECT_TRUE(valid_alias("River"));
    EXPECT_TRUE(valid_alias("R"));
    EXPECT_TRUE(valid_alias("Río Grande"));
    EXPECT_TRUE(valid_alias("川の流れ"));
    EXPECT_TRUE(valid_alias(std::string(32, 'x')));
    std::string thirty_two_accents;
    for (int i = 0; i < 32; ++i)
        thirty_two_accents += "é"; // 64 bytes, 32 code points
    EXPECT_TRUE(valid_alias(thirty_two_accents));
}

TEST(Alias, RejectsEmptyLongControlPaddedAndMalformed) {
    EXPECT_FALSE(valid_alias(""));
    EXPECT_FALSE(valid_alias(std::string(33, 'x')));
    EXPECT_FALSE(valid_alias("Riv\ner"));
    EXPECT_FALSE(valid_alias("Riv\ter"));
    EXPECT_FALSE(valid_alias("Riv\x7f"
                             "er"));
    EXPECT_FALSE(valid_alias(" River"));
    EXPECT_FALSE(valid_alias("River "));
    EXPECT_FALSE(valid_alias("   "));
    EXPECT_FALSE(valid_alias("Riv\xe2\x80\xae"
                             "er")); // U+202E right-to-left override
    EXPECT_FALSE(valid_alias("Riv\xe2\x80\x8b"
                             "er")); // U+200B zero width space
    EXPECT_FALSE(valid_alias("\xff"
                             "abc"));          // not UTF-8
    EXPECT_FALSE(valid_alias("\xc3"));         // truncated sequence
    EXPECT_FALSE(valid_alias("\xc0\xaf"));     // overlong '/'
    EXPECT_FALSE(valid_alias("\xed\xa0\x80")); // a surrogate
}

TEST(Password, LengthBounds) {
    EXPECT_FALSE(valid_password(""));
    EXPECT_FALSE(valid_password(std::string(min_password_bytes - 1, 'p')));
    EXPECT_TRUE(valid_password(std::string(min_password_bytes, 'p')));
    EXPECT_TRUE(valid_password(std::string(max_password_bytes, 'p')));
    EXPECT_FALSE(valid_password(std::string(max_password_bytes + 1, 'p')));
}

TEST(TagId, Shape) {
    EXPECT_TRUE(valid_tag_id("grief"));
    EXPECT_TRUE(valid_tag_id("chronic_illness"));
    EXPECT_TRUE(valid_tag_id("a-b"));
    EXPECT_FALSE(valid_tag_id(""));
    EXPECT_FALSE(valid_tag_id("Grief"));
    EXPECT_FALSE(valid_tag_id("gr ief"));
    EXPECT_FALSE(valid_tag_id("cert:x"));
    EXPECT_FALSE(valid_tag_id(std::string(33, 'a')));
}

TEST(Actor, Shape) {
    EXPECT_TRUE(valid_actor("kindredctl"));
    EXPECT_TRUE(valid_actor("ops@host-1"));
    EXPECT_FALSE(valid_actor(""));
    EXPECT_FALSE(valid_actor("two words"));
    EXPECT_FALSE(valid_actor(std::string(65, 'a')));
}

TEST(SplitList, TrimsAndDropsEmptyItems) {
    EXPECT_EQ(split_list("en,es"), (std::vector<std::string>{"en", "es"}));
    EXPECT_EQ(split_list(" en , es ,,"), (std::vector<std::string>{"en", "es"}));
    EXPECT_TRUE(split_list("").empty());
    EXPECT_EQ(split_list("grief"), (std::vector<std::string>{"grief"}));
}

TEST(CheckLanguages, CatalogMembershipAndDuplicates) {
    auto cat = test_catalog();
    auto ok = check_languages({"es", "en", "es"}, cat);
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, (std::vector<std::string>{"es", "en"}));

    std::string bad;
    auto unknown = check_languages({"en", "xx"}, cat, &bad);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error(), error::unknown_language);
    EXPECT_EQ(bad, "xx");

    auto none = check_languages({}, cat);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error(), error::no_languages);
}

TEST(CheckTags, CatalogMembershipShapeAndOrder) {
    auto cat = test_catalog();
    auto ok = check_tags({"grief", "addiction", "grief"}, cat);
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, (std::vector<std::string>{"addiction", "grief"}));

    std::string bad;
    auto unknown = check_tags({"grief", "astrology"}, cat, &bad);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error(), error::unknown_tag);
    EXPECT_EQ(bad, "astrology");

    auto malformed = check_tags({"Grief!"}, cat, &bad);
    ASSERT_FALSE(malformed);
    EXPECT_EQ(malformed.error(), error::invalid_tag);

    EXPECT_EQ(check_tags({}, cat).error(), error::invalid_tag);
}

TEST(Date, ParsesOnlyRealDays) {
    auto d = parse_date("2027-06-30");
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, (date{2027, 6, 30}));
    EXPECT_EQ(format_date(*d), "2027-06-30");
    EXPECT_TRUE(parse_date("2028-02-29"));  // leap year
    EXPECT_FALSE(parse_date("2027-02-29")); // not a leap year
    EXPECT_FALSE(parse_date("2027-06-31"));
    EXPECT_FALSE(parse_date("2027-13-01"));
    EXPECT_FALSE(parse_date("2027-00-10"));
    EXPECT_FALSE(parse_date("2027-6-30"));
    EXPECT_FALSE(parse_date("27-06-30"));
    EXPECT_FALSE(parse_date("2027/06/30"));
    EXPECT_FALSE(parse_date("2027-06-30T00:00"));
    EXPECT_FALSE(parse_date("1999-12-31")); // before 2000: a typo, not a certification
    EXPECT_FALSE(parse_date("+027-06-30"));
    EXPECT_FALSE(parse_date(""));
}

TEST(Date, DayOfUnixTimeAndEndOfDay) {
    EXPECT_EQ(date_of(0), (date{1970, 1, 1}));
    EXPECT_EQ(date_of(mid_march_2026), (date{2026, 3, 15}));
    EXPECT_EQ(date_of(-1), (date{1969, 12, 31}));
    // 2026-03-15 ends at 2026-03-16T00:00:00Z.
    EXPECT_EQ(end_of_day_ms({2026, 3, 15}), 1773619200000);
    EXPECT_EQ(date_of(end_of_day_ms({2026, 3, 15}) - 1), (date{2026, 3, 15}));
    EXPECT_EQ(date_of(end_of_day_ms({2026, 3, 15})), (date{2026, 3, 16}));
}

TEST(Date, AddYearsClampsLeapDay) {
    EXPECT_EQ(add_years({2026, 3, 15}, 1), (date{2027, 3, 15}));
    EXPECT_EQ(add_years({2028, 2, 29}, 1), (date{2029, 2, 28}));
    EXPECT_EQ(add_years({2028, 2, 29}, 4), (date{2032, 2, 29}));
}

TEST(Certification, ValidThroughTheWholeDayUtc) {
    certification c{"grief", {2026, 3, 15}};
    EXPECT_TRUE(c.active(mid_march_2026));
    EXPECT_TRUE(c.active(end_of_day_ms({2026, 3, 15}) - 1));
    EXPECT_FALSE(c.active(end_of_day_ms({2026, 3, 15})));
}

TEST(CheckUntil, TodayIsFineYesterdayIsPast) {
    EXPECT_TRUE(check_until("2026-03-15", mid_march_2026));
    EXPECT_TRUE(check_until("2027-06-30", mid_march_2026));
    EXPECT_EQ(check_until("2026-03-14", mid_march_2026).error(), error::date_in_past);
    EXPECT_EQ(check_until("2026-02-30", mid_march_2026).error(), error::invalid_date);
    EXPECT_EQ(check_until("soon", mid_march_2026).error(), error::invalid_date);
}

TEST(Account, ActiveTagsDropExpiredCertifications) {
    account a;
    a.certifications = {
        {"grief", {2026, 3, 14}}, {"addiction", {2027, 1, 1}}, {"caregiving", {2026, 3, 15}}};
    EXPECT_EQ(a.active_tags(mid_march_2026), (std::vector<std::string>{"addiction", "caregiving"}));
    EXPECT_TRUE(a.active_tags(end_of_day_ms({2027, 1, 1})).empty());
}

TEST(AccountsError, ClassifiesInputAndNamesItself) {
    EXPECT_TRUE(is_invalid_input(make_error_code(error::invalid_username)));
    EXPECT_TRUE(is_invalid_input(make_error_code(error::invalid_actor)));
    EXPECT_TRUE(is_invalid_input(make_error_code(error::unknown_tag)));
    EXPECT_FALSE(is_invalid_input(make_error_code(error::not_found)));
    EXPECT_FALSE(is_invalid_input(make_error_code(error::bad_credentials)));
    EXPECT_FALSE(is_unavailable(make_error_code(error::not_found)));
    EXPECT_STREQ(accounts_category().name(), "kindred.accounts");
    EXPECT_EQ(make_error_code(error::unknown_tag).message(), "tag is not in the catalog");
}
