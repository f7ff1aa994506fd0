// error.cpp — the "kindred.store" error category.
#include <kindred/store/error.hpp>

#include <string>

namespace kindred::store {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer); -Wnon-virtual-dtor cannot know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "kindred.store"; }

    std::string message(int ev) const override {
        switch (static_cast<error>(ev)) {
        case error::timeout:
            return "redis command timed out";
        case error::not_connected:
            return "not connected to redis";
        case error::disconnected:
            return "redis connection lost with the command in flight";
        case error::stopped:
            return "redis client stopped";
        case error::reply_error:
            return "redis replied with an error";
        case error::unexpected_reply:
            return "unexpected redis reply";
        case error::invalid_command:
            return "invalid command for this connection";
        case error::bad_endpoint:
            return "bad redis endpoint";
        }
        return "unknown kindred.store error";
    }
};
#pragma GCC diagnostic pop

} // namespace

const boost::system::error_category& store_category() noexcept {
    static const category instance;
    return instance;
}

} // namespace kindred::store
