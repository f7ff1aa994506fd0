// error.cpp — the "kindred.accounts" error category and the classification helpers.
#include <kindred/accounts/error.hpp>
#include <kindred/store/error.hpp>

#include <string>

namespace kindred::accounts {

namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer); -Wnon-virtual-dtor cannot know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "kindred.accounts"; }
    std::string message(int value) const override {
        switch (static_cast<error>(value)) {
        case error::invalid_username:
            return "username must be 3-32 characters of a-z, 0-9, '.', '_', '-', starting with "
                   "a letter or digit";
        case error::invalid_role:
            return "role must be peer, moderator or admin";
        case error::invalid_alias:
            return "alias must be 1-32 printable characters without leading or trailing spaces";
        case error::invalid_password:
            return "password must be 12 to 1024 bytes";
        case error::invalid_date:
            return "date must be a real day written YYYY-MM-DD";
        case error::date_in_past:
            return "date has already passed";
        case error::invalid_tag:
            return "tags must be 1-32 characters of a-z, 0-9, '_', '-'";
        case error::unknown_tag:
            return "tag is not in the catalog";
        case error::no_languages:
            return "at least one language is required";
        case error::unknown_language:
            return "language is not in the catalog";
        case error::invalid_identity_key:
            return "identity key must be a 32-byte Ed25519 public key in base64";
        case error::invalid_actor:
            return "actor must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '@', '-'";
        case error::not_found:
            return "not found";
        case error::already_exists:
            return "already exists";
        case error::conflict:
            return "a different identity key is registered";
        case error::bad_credentials:
            return "bad credentials";
        case error::rate_limited:
            return "too many failed logins; try again later";
        case error::corrupt_record:
            return "Redis holds an unreadable account record";
        case error::internal:
            return "internal error";
        }
        return "unknown accounts error";
    }
};
#pragma GCC diagnostic pop

} // namespace

const boost::system::error_category& accounts_category() noexcept {
    static const category instance;
    return instance;
}

bool is_unavailable(const boost::system::error_code& ec) noexcept {
    return store::is_unavailable(ec);
}

bool is_invalid_input(const boost::system::error_code& ec) noexcept {
    return &ec.category() == &accounts_category() &&
           ec.value() >= static_cast<int>(error::invalid_username) &&
           ec.value() <= static_cast<int>(error::invalid_actor);
}

} // namespace kindred::accounts
