// error.cpp — the "kindred.moderation" error category and its table to the contract's codes.
#include <kindred/moderation/error.hpp>
#include <kindred/store/error.hpp>

#include <string>

namespace kindred::moderation {

namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer); -Wnon-virtual-dtor cannot know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "kindred.moderation"; }
    std::string message(int value) const override {
        switch (static_cast<error>(value)) {
        case error::not_found:
            return "not found";
        case error::corrupt:
            return "Redis holds an unreadable moderation record";
        }
        return "unknown moderation error";
    }
};
#pragma GCC diagnostic pop

} // namespace

const boost::system::error_category& moderation_category() noexcept {
    static const category instance;
    return instance;
}

bool is_unavailable(const boost::system::error_code& ec) noexcept {
    return store::is_unavailable(ec);
}

contract_error to_contract(const boost::system::error_code& ec) noexcept {
    using protocol::error_code;
    if (is_unavailable(ec)) return {error_code::unavailable, "storage unavailable, retry"};
    if (ec == error::not_found) return {error_code::not_found, "not found"};
    return {error_code::internal, "internal error"};
}

} // namespace kindred::moderation
