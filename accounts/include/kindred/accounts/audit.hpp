// audit.hpp — the hash-chained, content-free audit stream: its canonical entry form, the chain
// check, and reading it from Redis (verify, tail). Appends happen only inside the accounts Lua
// scripts (lua/audit_append.lua). Spec: accounts/README.md, "Audit chain".
// Threading: audit_verifier is a plain value; the Redis readers call their handler exactly once
// on the client's executor.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::store {
class client;
class reply;
} // namespace kindred::store

namespace kindred::accounts {

// One stream entry. `chained` is false when seq/prev/hash are absent (an entry not written by
// audit_append.lua): the verifier reports it.
struct audit_entry {
    std::string id; // the stream id, e.g. "1773576000000-0"
    std::string seq, prev, hash, actor, action, target, at, detail;
    bool chained = false;
};

// The prev of the very first entry ever appended.
inline constexpr std::string_view audit_genesis = "0000000000000000000000000000000000000000";

// <len>:<bytes>; for seq, prev, actor, action, target, at, detail, in that order.
std::string audit_canonical(const audit_entry& e);
// Lowercase hex SHA-1 of audit_canonical(e) (what redis.sha1hex computes in the script).
std::string audit_hash(const audit_entry& e);

// An XRANGE/XREVRANGE reply → entries (malformed elements are skipped: they cannot be named).
std::vector<audit_entry> audit_entries_from_reply(const store::reply& r);

struct audit_report {
    bool ok = true;
    std::size_t checked = 0; // entries checked (up to and including the bad one)
    std::string bad_id;      // the first bad entry's stream id; empty when ok or the tail is cut
    std::string reason;      // why, for people
};

// Checks the chain entry by entry, in stream order. The first entry's prev and seq are taken as
// given (MAXLEN trimming removes older entries); each later entry must have seq = previous + 1
// and prev = the previous entry's hash; every entry's hash must match its fields.
class audit_verifier {
public:
    // False once a bad entry was seen (later entries are then ignored).
    bool add(const audit_entry& e);
    // The head key's (hash, seq), when it exists: the last entry must be the head, so deleting
    // the newest entries is detected too.
    audit_report finish(const std::optional<std::pair<std::string, std::string>>& head);
    const audit_report& report() const { return report_; }

private:
    audit_report report_;
    std::optional<audit_entry> last_;
};

// Reads the whole stream in batches and verifies it. ec only for Redis trouble.
void verify_audit(store::client& redis, std::string stream,
                  std::function<void(boost::system::error_code, audit_report)> h);
// The last n entries, oldest first.
void tail_audit(store::client& redis, std::string stream, std::size_t n,
                std::function<void(boost::system::error_code, std::vector<audit_entry>)> h);

} // namespace kindred::accounts
