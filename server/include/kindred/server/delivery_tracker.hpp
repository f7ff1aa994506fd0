// delivery_tracker.hpp — bus recovery for live `message` events (architecture.md "Pub/sub is
// at-most-once; the stored log is the truth"). Per local session and conversation it keeps
// the last offset delivered. A live message with offset <= last is a duplicate (dropped); one
// with offset last+1 is pushed; anything further means a lost publish (or the receiver's own
// messages in between): the gap is read from the stored log first and pushed in order, each
// message once. After the bus subscriber reconnects, recover_all() re-reads the tail of every
// tracked conversation the same way.
// Threading: every member is thread-safe (one mutex); `push` is called under it, so pushes to
// one session keep their order (it must only post, e.g. connection_handle::deliver); `read`
// is called outside it and its handler may run on any thread.
// Lifetime: the owner keeps it alive while reads are pending (main: until the io_context
// stops). Asio-free.
#pragma once

#include <kindred/protocol/messages.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kindred::server {

// One stored message as a reader sees it.
struct tracked_message {
    std::int64_t offset = 0;
    std::string event; // the encoded `message` event; empty: the reader's own (not pushed)
};

struct delivery_tracker_deps {
    // What `session` should see of the conversation after `after`, ascending (every stored
    // entry, its own ones with an empty event). ok=false: Redis trouble, try again later.
    using read_done = std::function<void(bool ok, std::vector<tracked_message> messages)>;
    std::function<void(const std::string& session, const std::string& conversation,
                       std::int64_t after, read_done done)>
        read;
    // Pushes an encoded event to the local connection(s) holding `session`.
    std::function<void(const std::string& session, std::string event)> push;
};

class delivery_tracker {
public:
    explicit delivery_tracker(delivery_tracker_deps deps);

    // A live `message` event for `session`, held here. Pushes it, drops it, or reads the gap.
    void on_live(const std::string& session, const std::string& conversation, std::int64_t offset,
                 std::string event);
    // `session` stored `offset` itself (its own message is never pushed to it).
    void on_own(const std::string& session, const std::string& conversation, std::int64_t offset);
    // `session`'s `sync` here answered everything up to `offset`: live copies at or below it
    // are duplicates of what the sync returned and are dropped from now on (a resumed client
    // would otherwise get them twice). Starts tracking when untracked; never moves back, and
    // waits for a gap read in flight.
    void on_synced(const std::string& session, const std::string& conversation,
                   std::int64_t offset);
    // `session` was told here that it was matched into `conversation` (a new, empty log):
    // everything from offset 1 on is this instance's to deliver, so tracking starts at 0 —
    // a first live message that overtook an earlier one (a delivery that waited for a
    // session lookup, a retried send's push) is then a gap to read, not the start. Untracked
    // only; never moves back.
    void on_matched(const std::string& session, const std::string& conversation);
    // The bus subscriber reconnected: re-read every tracked conversation after its last.
    void recover_all();
    // Re-reads the conversations whose last gap read failed (Redis trouble). The owner calls
    // it periodically; otherwise only the next live message would try again, and a gap after
    // a conversation's last message would stay until the client's next sync.
    void retry_failed();
    // The session's connection here ended: stop tracking it.
    void forget(const std::string& session);

    // Last offset delivered (or own), for tests.
    std::optional<std::int64_t> last(const std::string& session,
                                     const std::string& conversation) const;

    // Parses the conversation id and offset of an encoded `message` event; nullopt otherwise.
    static std::optional<std::pair<std::string, std::int64_t>> message_ref(std::string_view event);

private:
    struct state {
        std::int64_t last = 0;
        bool reading = false; // a gap read is in flight
        bool again = false;   // something arrived meanwhile: read once more afterwards
        bool failed = false;  // the last gap read failed: retry_failed() tries again
        // The session's own offsets above last + 1, ascending. Its `ok` often comes back
        // before the live copy of the other party's message just below it (that one waits
        // for a session lookup); without these the next live message would see a gap and
        // read the log. Bounded; an offset left out only costs that read.
        std::vector<std::int64_t> own_ahead;
    };
    static void absorb_own(state& s);
    using key = std::pair<std::string, std::string>; // session, conversation

    void start_read(const key& k, std::int64_t after); // mutex not held
    // Re-reads every tracked conversation not being read (only those whose last read failed,
    // when failed_only) after its last offset. Mutex not held.
    void reread(bool failed_only);
    void on_read(const key& k, bool ok, std::vector<tracked_message> messages);

    delivery_tracker_deps deps_;
    mutable std::mutex mutex_;
    std::map<key, state> states_;
};

} // namespace kindred::server
