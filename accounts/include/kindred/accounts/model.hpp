// model.hpp — the staff account as a plain value, the tag/language catalog it is checked
// against, UTC calendar dates of certifications, and pure validation of every field.
// No I/O, no clock (callers pass "now"); safe from any thread.
#pragma once

#include <kindred/accounts/error.hpp>

#include <boost/system/result.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::accounts {

enum class role : std::uint8_t { peer, moderator, admin };

std::string_view to_string(role r) noexcept;
std::optional<role> role_from_string(std::string_view text) noexcept;

// A calendar date (proleptic Gregorian), read as a day in UTC.
struct date {
    int year = 1970;
    unsigned month = 1; // 1..12
    unsigned day = 1;   // 1..31
    friend bool operator==(const date&, const date&) = default;
};

// Exactly "YYYY-MM-DD" (four-digit year 2000..9999) naming a real day; nullopt otherwise.
std::optional<date> parse_date(std::string_view text) noexcept;
std::string format_date(const date& d);
// The UTC day that contains Unix time `unix_ms`.
date date_of(std::int64_t unix_ms) noexcept;
// The same month and day `years` later (29 February → 28 February in a common year).
date add_years(const date& d, int years) noexcept;
// Unix ms of the first instant AFTER that day (UTC): a certification "until" this date is
// valid while now < end_of_day_ms(until) — i.e. through that whole day.
std::int64_t end_of_day_ms(const date& d) noexcept;

struct certification {
    std::string tag;
    date until;
    bool active(std::int64_t now_ms) const noexcept { return now_ms < end_of_day_ms(until); }
    friend bool operator==(const certification&, const certification&) = default;
};

using identity_key = std::array<std::uint8_t, 32>; // Ed25519 public key

// What the store returns about an account. The password hash never leaves the store.
struct account {
    std::string username;
    accounts::role role = role::peer;
    std::string alias;                         // shown to seekers
    std::vector<std::string> languages;        // catalog ids, in the order given
    std::vector<certification> certifications; // sorted by tag
    bool disabled = false;
    std::optional<accounts::identity_key> identity_key; // registered by the peer's client
    std::int64_t created_at = 0;                        // Unix ms
    std::int64_t updated_at = 0;                        // Unix ms

    // Tags whose certification has not expired at now_ms (sorted).
    std::vector<std::string> active_tags(std::int64_t now_ms) const;
    friend bool operator==(const account&, const account&) = default;
};

// The tag and language ids of the server configuration (`tags[].id`, `languages[].id`).
struct catalog {
    std::vector<std::string> tags;
    std::vector<std::string> languages;
    bool has_tag(std::string_view id) const noexcept;
    bool has_language(std::string_view id) const noexcept;
};

// Bounds.
inline constexpr std::size_t min_username_chars = 3;
inline constexpr std::size_t max_username_chars = 32;
inline constexpr std::size_t max_alias_chars = 32; // Unicode code points
inline constexpr std::size_t min_password_bytes = 12;
inline constexpr std::size_t max_password_bytes = 1024;
inline constexpr std::size_t max_tag_chars = 32;

// [a-z0-9][a-z0-9._-]{2,31}
bool valid_username(std::string_view name) noexcept;
// 1–32 code points of valid UTF-8, none a control character (C0, DEL, C1), no leading or
// trailing whitespace.
bool valid_alias(std::string_view alias) noexcept;
// min_password_bytes..max_password_bytes bytes (any bytes: passphrases welcome).
bool valid_password(std::string_view password) noexcept;
// A tag id as the catalog spells them: [a-z0-9_-]{1,32}.
bool valid_tag_id(std::string_view tag) noexcept;
// An audit actor: 1–64 of [A-Za-z0-9._@-] ("kindredctl", a username, "admin@host").
bool valid_actor(std::string_view actor) noexcept;

// Splits "en,es" (spaces around items ignored, empty items dropped).
std::vector<std::string> split_list(std::string_view text);

// Checks 1+ catalog languages; returns them without duplicates (first kept).
// Errors: no_languages, unknown_language. `unknown` receives the first offending id.
boost::system::result<std::vector<std::string>> check_languages(const std::vector<std::string>& ids,
                                                                const catalog& cat,
                                                                std::string* unknown = nullptr);
// Checks 1+ catalog tags; returns them sorted without duplicates. Errors: invalid_tag
// (also for an empty list), unknown_tag. `unknown` receives the first offending id.
boost::system::result<std::vector<std::string>>
check_tags(const std::vector<std::string>& ids, const catalog& cat, std::string* unknown = nullptr);
// "YYYY-MM-DD" naming today or a later day (UTC). Errors: invalid_date, date_in_past.
boost::system::result<date> check_until(std::string_view text, std::int64_t now_ms);

} // namespace kindred::accounts
