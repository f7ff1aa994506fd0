// error.hpp — the matching store's own outcomes, registered as the boost::system category
// "kindred.matching". Redis trouble arrives as kindred::store errors (not_connected, timeout,
// disconnected, stopped …): the server answers those with `unavailable`.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace kindred::matching {

enum class error {
    // enqueue/requeue: the seeker already has a waiting request (contract: `conflict`).
    already_queued = 1,
    // enqueue/requeue: the seeker is in a conversation (contract: `conflict`).
    in_conversation,
    // cancel/position: the seeker has no waiting request (matched, cancelled or expired).
    not_waiting,
    // A conversation, peer or match record this store does not know.
    not_found,
    // A shift change the peer's state does not allow (e.g. resume while not paused).
    wrong_state,
    // requeue: this conversation's seeker was already re-queued once.
    already_requeued,
    // Arguments that break the store's rules (empty id, a tag or language of the wrong
    // shape, capacity outside 1..5). The server validates first; this is the backstop.
    bad_input,
    // A Redis reply without the shape a script returns (a script/library version mismatch).
    bad_reply,
};

const boost::system::error_category& matching_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), matching_category()};
}

} // namespace kindred::matching

template <>
struct boost::system::is_error_code_enum<kindred::matching::error> : std::true_type {};
