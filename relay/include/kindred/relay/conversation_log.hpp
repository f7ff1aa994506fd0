// conversation_log.hpp — the stored conversations (contract §7) in Redis, over
// kindred::store::client: create, append (one Lua script: membership, copies, seq, offset,
// store), read in bounded batches with the `recovered` verdict, end with a purge grace,
// moderator joins, membership checks and each party's list of conversations.
// Only ciphertext reaches Redis; keys and scripts are listed in relay/README.md.
//
// Threading: member functions may be called from any thread. Every handler runs on the Redis
// client's strand, never inside the call that started it (a request refused before touching
// Redis is answered through a PING on the same client, so it still runs there). Callers
// that need their own strand post to it.
// Lifetime: the store::client must outlive every pending operation; the conversation_log
// itself may be destroyed with operations pending (they hold what they need).
//
// Errors: success, a relay::error, or a kindred::store error (is_unavailable()); map any of
// them to the contract with to_contract() (error.hpp).
#pragma once

#include <kindred/relay/error.hpp>
#include <kindred/relay/model.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kindred::store {
class client;
}

namespace kindred::relay {

struct log_options {
    // Prepended to every key ("" in production; tests and side-by-side deployments may set
    // one). The conversation's hash tag stays `{c}`.
    std::string key_prefix;
    // Every key of a conversation expires this long after create, whatever happens
    // (config conversation_max_s; contract default 24 h).
    std::chrono::seconds hard_limit{86400};
    // After end, every key of the conversation expires after this grace, never later than
    // the hard limit (config; contract default 5 min).
    std::chrono::seconds purge_after{300};
    // read_all: entries per XRANGE round trip.
    std::size_t batch_size = 256;
    // A fresh epoch for create (default: 128 random bits in hex). Tests may inject one.
    std::function<std::string()> new_epoch;
};

class conversation_log {
public:
    template <class T>
    using handler = std::function<void(boost::system::error_code, T)>;
    using done_handler = std::function<void(boost::system::error_code)>;

    conversation_log(store::client& redis, log_options options = {});
    ~conversation_log();
    conversation_log(const conversation_log&) = delete;
    conversation_log& operator=(const conversation_log&) = delete;

    const log_options& options() const noexcept;

    // Loads every script into Redis (SCRIPT LOAD), e.g. at start-up: a script that does not
    // compile fails here rather than on the first message. It also keeps the first appends
    // of a fresh Redis from meeting NOSCRIPT, whose retry can reorder pipelined calls (see
    // relay/README.md).
    void load_scripts(done_handler h);

    // A new conversation between a seeker and a peer (after a match): meta with a fresh
    // epoch, state active, last_offset 0, expiring after the hard limit; and both parties'
    // indexes (sent with it, one round trip). Idempotent: the same id with the same parties
    // answers created=false and the original epoch; other parties → already_exists. Invalid
    // ids → not_found.
    void create(std::string conversation_id, parties p, std::int64_t now_ms,
                handler<create_result> h);
    // Removes a conversation created for a match that then did not happen (matching creates
    // it while the claim is in flight), with both index entries — only while it is exactly as
    // create left it: active, these parties, no moderator, nothing stored. true: removed;
    // false: missing, or kept because it is not untouched. Invalid ids → not_found.
    void discard(std::string conversation_id, parties p, handler<bool> h);

    // Stores one message (one Lua script, atomic). In order:
    //   no such conversation, `from` not a party (or malformed ids) → not_found;
    //   seq already stored by this sender → success, duplicate=true, the original offset
    //     (answered even after the end, so a retry learns its message was kept);
    //   ended → ended; copies not exactly one per other party present → bad_copies;
    //   seq lower than the sender's last → seq_conflict;
    //   else offset = last_offset + 1, XADD with entry id <offset>-0, seq remembered.
    // After error::timeout / disconnected the message may be stored: the client's retry
    // with the same seq is answered from the store.
    void append(append_request r, handler<append_result> h);

    // One batch of entries after r.after (at most r.max_count) with the gap verdict; see
    // read_request for the reader check, `known` and `epoch`. Works while active and after
    // the end, until the purge.
    void read(read_request r, handler<read_result> h);
    // Batches of options().batch_size until the end of the log, concatenated; recovered is
    // false if any batch had a gap or the epoch changed between batches. For a sync that
    // streams as it reads, call read() in a loop instead (bounded memory).
    void read_all(read_request r, handler<read_result> h);

    // Ends the conversation: state ended, by/reason/ended_at recorded, every key expires
    // after purge_after (never beyond the hard limit). A second end answers already_ended
    // with the first one's by/reason. by != system: by_id must hold that role, else
    // not_found. invalid_reason for a reason that is not a reason id.
    void end(end_request r, handler<end_result> h);

    // A moderator joins: from now on every message needs a `moderator` copy too. The same
    // moderator again → already=true; another moderator replaces the one before (previous).
    // ended → ended; no such conversation → not_found. Adds the conversation to the
    // moderator's index.
    void add_party(std::string conversation_id, std::string moderator_id, std::int64_t now_ms,
                   handler<join_result> h);

    // The meta when `who` is a party, else not_found (for receipt, typing, transfer …).
    void membership(std::string conversation_id, member who, handler<conversation_meta> h);
    // The meta, no party check (server-internal use only).
    void meta(std::string conversation_id, handler<conversation_meta> h);

    // The conversations `who` is a party of and that still exist, oldest first, for the
    // hello answer (state and last_offset each).
    void list_for(member who, handler<std::vector<protocol::conversation_summary>> h);

    class impl;

private:
    std::shared_ptr<impl> impl_;
};

} // namespace kindred::relay
