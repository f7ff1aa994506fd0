// error.cpp — the "kindred.matching" error category.
#include <kindred/matching/error.hpp>

#include <string>

namespace kindred::matching {

namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer); -Wnon-virtual-dtor cannot know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "kindred.matching"; }
    std::string message(int ev) const override {
        switch (static_cast<error>(ev)) {
        case error::already_queued:
            return "the seeker is already queued";
        case error::in_conversation:
            return "the seeker is in a conversation";
        case error::not_waiting:
            return "no waiting request";
        case error::not_found:
            return "not found";
        case error::wrong_state:
            return "the shift state does not allow this";
        case error::already_requeued:
            return "already re-queued";
        case error::bad_input:
            return "invalid argument";
        case error::bad_reply:
            return "unexpected reply from a matching script";
        }
        return "unknown matching error";
    }
};
#pragma GCC diagnostic pop

} // namespace

const boost::system::error_category& matching_category() noexcept {
    static const category c;
    return c;
}

} // namespace kindred::matching
