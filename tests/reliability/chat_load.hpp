// chat_load.hpp — shared by the fault tests of issue #8 (items 3–7) and the drain test of issue
// #9: peer accounts made with kindredctl, matched seeker/peer sockets with both sides'
// end-to-end crypto, the two-instance chat load (two_instance_chat), and a "chatter"
// that drives one socket from its own thread (a send window, retries of `unavailable` and
// `rate_limited`, resume on another instance after a drop) and records what it sent, what was
// acknowledged and what arrived, so that a test can check afterwards — by the decrypted
// sequence numbers in the plaintexts — that every acknowledged message arrived exactly once
// and in order. The heavy functions are compiled once, in chat_load.cpp.
// Threading: set-up and checks run on the test's thread; each chatter owns its socket and runs
// on one thread of its own; results are read after the thread is joined.
#pragma once

#include "integration_support.hpp"
#include <kindred/client/e2e.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/testsupport/process.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace kindred::rtest {

using namespace kindred::itest;
namespace e2e = kindred::client::e2e;
namespace kp = kindred::protocol;
using steady = std::chrono::steady_clock;
using kindred::client::ws_options;
using kindred::testsupport::redis_options;
using kindred::testsupport::simple_http_status;

// Rate limits far above what the tests send, for tests whose fault is not the rate limit.
inline std::vector<std::string> unlimited_args() {
    return {"--messages-per-second", "100000",  "--message-burst", "100000",
            "--send-per-minute",     "1000000", "--send-burst",    "100000"};
}

inline double ms_between(steady::time_point a, steady::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// The p-th percentile (0..100) by nearest rank; 0 for an empty sample.
inline double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()));
    return v[std::min(rank, v.size() - 1)];
}

// Open file descriptors of a process (entries of /proc/<pid>/fd).
inline std::size_t open_fds(pid_t pid) {
    std::error_code ec;
    std::size_t n = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++n;
    return n;
}

// A "VmRSS"/"VmHWM" line of /proc/<pid>/status, in KiB (0 when unreadable).
inline long status_kib(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
    return 0;
}

inline std::size_t count_of(const std::string& text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

// One conversation as one side sees it, and what that side's chatter recorded.
struct conversation_side {
    std::string conversation_id;
    std::string label; // written in every plaintext this side sends ("p3.seeker")
    std::optional<e2e::conversation_crypto> crypto;
    // Filled by the chatter:
    std::int64_t next_seq = 1;
    std::map<std::int64_t, std::int64_t> acked;         // seq → offset
    std::map<std::int64_t, kp::message_event> received; // offset → first copy
    std::map<std::int64_t, steady::time_point> arrived; // offset → first arrival
    std::map<std::int64_t, steady::time_point> sent_at; // seq → first send
    int live_duplicates = 0; // an offset already received came again, never having synced
    int sync_overlap = 0;    // ... after a resume sync (allowed: clients de-duplicate)
};

// One connection: a seeker (one conversation) or a peer (one or more).
struct chat_client {
    std::string name;
    kp::role role = kp::role::seeker;
    ws_client ws;
    std::string resume_token;
    unsigned short port = 0;
    std::vector<conversation_side> convs;
    // Peers: the identity and the prekeys uploaded (base64 public → pair).
    std::optional<e2e::identity_key_pair> identity;
    std::map<std::string, e2e::kx_key_pair> prekeys;
};

// "<label> <seq> <steady ns>" padded with '.' to at least pad bytes.
inline std::string plaintext(const std::string& label, std::int64_t seq, std::size_t pad) {
    std::string t = label + " " + std::to_string(seq) + " " +
                    std::to_string(steady::now().time_since_epoch().count());
    if (t.size() < pad) t.append(pad - t.size(), '.');
    return t;
}

struct parsed_plaintext {
    std::string label;
    std::int64_t seq = 0;
    steady::time_point sent{};
};
inline std::optional<parsed_plaintext> parse_plaintext(const std::string& t) {
    std::istringstream in(t);
    parsed_plaintext p;
    long long ns = 0;
    if (!(in >> p.label >> p.seq >> ns)) return std::nullopt;
    p.sent = steady::time_point(steady::duration(ns));
    return p;
}

struct chatter_options {
    int messages = 0;           // per conversation
    int expect_from_other = -1; // per conversation; -1: same as messages
    int window = 1;             // sends in flight (1 when a refusal must not reorder seqs)
    std::chrono::microseconds interval{0}; // between two sends of this socket
    std::size_t pad = 0;                   // plaintext size
    steady::time_point deadline = steady::now() + std::chrono::seconds(40);
    // Where to resume after the socket dies (tried in order, again and again until the
    // deadline); empty: a drop ends the run.
    std::function<std::vector<unsigned short>()> resume_ports;
    // When set and true, stop sending (the run still waits for the answers in flight).
    const std::atomic<bool>* stop_sending = nullptr;
    // When set, counts this run's send oks as they come (for a test that acts halfway).
    std::atomic<int>* acked_counter = nullptr;
};

struct chatter_report {
    int sends = 0;                         // frames sent (retries included)
    int ok = 0;                            // send oks
    int retried = 0;                       // sends answered unavailable/rate_limited and sent again
    std::vector<double> unavailable_ms;    // send → `unavailable` answer
    std::vector<double> ack_ms;            // send → ok (first attempt to ok)
    std::vector<steady::time_point> ok_at; // when each send ok arrived
    std::vector<std::string> errors;       // anything unexpected
    int drops = 0;
    std::vector<steady::time_point> dropped_at, resumed_at;
    std::optional<std::uint16_t> close_code; // the close that ended a run without resume
    bool finished = false; // everything sent was acknowledged and everything expected arrived
};

namespace detail {

inline std::string send_id(std::size_t conv, std::int64_t seq) {
    return "s" + std::to_string(conv) + "_" + std::to_string(seq);
}
inline bool parse_send_id(const std::string& id, std::size_t& conv, std::int64_t& seq) {
    if (id.size() < 4 || id[0] != 's') return false;
    auto us = id.find('_');
    if (us == std::string::npos) return false;
    conv = std::stoul(id.substr(1, us - 1));
    seq = std::stoll(id.substr(us + 1));
    return true;
}

// Every offset ≤ the result is received or one of this side's own: the point to sync after.
inline std::int64_t contiguous(const conversation_side& c) {
    std::set<std::int64_t> own;
    for (auto& [seq, off] : c.acked)
        own.insert(off);
    std::int64_t h = 0;
    while (c.received.contains(h + 1) || own.contains(h + 1))
        ++h;
    return h;
}

} // namespace detail

// Drives `client` until every message it sends is acknowledged and every message expected from
// the other side(s) arrived, or the deadline. See chatter_options.
chatter_report run_chatter(chat_client& client, const chatter_options& o);

// Runs one chatter per client, each on its own thread; returns the reports in client order.
std::vector<chatter_report> run_chatters(std::vector<chat_client*> clients,
                                         std::vector<chatter_options> options);

// After runs that ended with stop_sending: lets each client of each (seeker, peer) pair — one
// conversation each — receive until it has as many messages as the other side had
// acknowledged (or `within` passes). Sends nothing.
std::vector<chatter_report>
drain_pairs(const std::vector<std::pair<chat_client*, chat_client*>>& pairs,
            std::chrono::seconds within = std::chrono::seconds(15));

// What one direction of a conversation showed.
struct direction_check {
    std::vector<double> delivery_ms; // send → first arrival at the receiver
};

// Checks one direction: every message `sender` had acknowledged arrived at `receiver` exactly
// once (by offset, and by the decrypted label and seq), in order, at the acknowledged offset;
// with `all_acked`, every seq 1..messages was acknowledged. Decrypts with the receiver's
// crypto (call once per side, after its chatter ended).
direction_check check_direction(const conversation_side& sender, conversation_side& receiver,
                                int messages, bool all_acked = true);

// check_direction both ways for one pair's conversation, each side having sent `messages`
// (all acknowledged). Returns each message's delivery time (ms).
std::vector<double> check_pair(conversation_side& seeker, conversation_side& peer, int messages);

// The two-instance chat load of the instance-kill and drain tests: instance A (the fixture's
// server) and B share one Redis; seeker/peer pairs are spread over them in a cycle of four
// (both on A, seeker A/peer B, seeker B/peer A, both on B); every client sends `per_side`
// sequenced, end-to-end encrypted messages (window 4), counts its send oks in `acked` and
// resumes on B when its socket dies. Filled by chat_fixture::set_up_two_instance_chat; not
// movable, since the options point at `acked`.
struct two_instance_chat {
    unsigned short a_port = 0, b_port = 0;
    int per_side = 0;
    std::vector<chat_client> peers, seekers; // pair i: seekers[i] with peers[i]
    std::vector<chat_client*> clients;       // per pair: its seeker, then its peer
    std::vector<chatter_options> options;    // one per client
    std::vector<bool> on_a;                  // per client: on A when the run starts
    std::atomic<int> acked{0};               // send oks of every client so far

    two_instance_chat() = default;
    two_instance_chat(const two_instance_chat&) = delete;
    two_instance_chat& operator=(const two_instance_chat&) = delete;

    int total() const { return static_cast<int>(clients.size()) * per_side; }

    // After a run (reports in client order) in which A went away at `a_gone`: no client saw an
    // error and each finished; each client that was on A dropped exactly once and resumed on
    // B, none on B dropped; every client ends on B. Returns each resume's time after `a_gone`
    // (ms).
    std::vector<double> check_resumed_on_b(const std::vector<chatter_report>& reports,
                                           steady::time_point a_gone) const;

    // check_direction both ways for every pair (every message acknowledged). Returns each
    // message's delivery time (ms) and how many copies of offsets already received came
    // after a resume sync.
    struct delivery {
        std::vector<double> delivery_ms;
        int sync_overlap = 0;
    };
    delivery check_pairs();
};

// integration_test plus peer accounts and matched pairs.
class chat_fixture : public integration_test {
protected:
    // Creates a certified peer (tag grief, language en); the password.
    std::string make_peer_account(const std::string& username);

    // Logs the peer in, opens its socket on `on_port`, registers an identity, uploads
    // capacity + 1 prekeys and starts a shift.
    chat_client open_peer(const std::string& username, const std::string& password,
                          unsigned short on_port, int capacity);

    // A new seeker on `on_port` (of `host`), matched with `peer` (which must be the only peer
    // with a free slot); both get the conversation with their crypto. `label` names the pair.
    chat_client match_seeker(chat_client& peer, unsigned short on_port, const std::string& label,
                             const std::string& host = "127.0.0.1");

    // Fills `chat` (see two_instance_chat) with `pairs` pairs on A (`a_port`) and B (`b_port`),
    // set up one at a time so that the new peer is the only one with a free slot: peer
    // accounts "<account_prefix><i>", pairs labelled "<label_prefix><i>". The chatters run
    // until `within` from now. A failed set-up is a fatal failure: call it inside
    // ASSERT_NO_FATAL_FAILURE.
    void set_up_two_instance_chat(two_instance_chat& chat, unsigned short a_port,
                                  unsigned short b_port, int pairs, int per_side,
                                  const std::string& account_prefix,
                                  const std::string& label_prefix, std::chrono::seconds within);
};

} // namespace kindred::rtest
