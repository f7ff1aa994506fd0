// error.cpp — the "kindred.relay" error category and the one table from errors to the
// contract's codes.
#include <kindred/relay/error.hpp>
#include <kindred/store/error.hpp>

#include <string>

namespace kindred::relay {

namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer); -Wnon-virtual-dtor cannot know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "kindred.relay"; }
    std::string message(int value) const override {
        switch (static_cast<error>(value)) {
        case error::not_found:
            return "conversation not found";
        case error::ended:
            return "conversation ended";
        case error::seq_conflict:
            return "seq is lower than one already stored";
        case error::bad_copies:
            return "copies must hold exactly one copy per other party";
        case error::invalid_seq:
            return "seq out of range";
        case error::invalid_after:
            return "after out of range";
        case error::invalid_reason:
            return "reason must be 1-64 characters of a-z, 0-9, '_', '-'";
        case error::already_exists:
            return "conversation id already taken by other parties";
        case error::corrupt:
            return "Redis holds an unreadable conversation record";
        }
        return "unknown relay error";
    }
};
#pragma GCC diagnostic pop

} // namespace

const boost::system::error_category& relay_category() noexcept {
    static const category instance;
    return instance;
}

bool is_unavailable(const boost::system::error_code& ec) noexcept {
    return store::is_unavailable(ec);
}

contract_error to_contract(const boost::system::error_code& ec) noexcept {
    using protocol::error_code;
    if (is_unavailable(ec)) return {error_code::unavailable, "storage unavailable, retry"};
    if (&ec.category() == &relay_category()) {
        switch (static_cast<error>(ec.value())) {
        case error::not_found:
            return {error_code::not_found, "conversation not found"};
        case error::ended:
            return {error_code::conflict, "conversation ended"};
        case error::seq_conflict:
            return {error_code::conflict, "seq is lower than one already stored"};
        case error::bad_copies:
            return {error_code::bad_message, "copies"};
        case error::invalid_seq:
            return {error_code::bad_message, "seq"};
        case error::invalid_after:
            return {error_code::bad_message, "after"};
        case error::invalid_reason:
            return {error_code::bad_message, "reason"};
        case error::already_exists:
        case error::corrupt:
            break;
        }
    }
    return {error_code::internal, "internal error"};
}

} // namespace kindred::relay
