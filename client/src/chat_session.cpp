// chat_session.cpp — the sans-I/O client session state machine (see chat_session.hpp).
// Offsets: a conversation's offsets are handled strictly in order. A message that arrives
// ahead of a gap is buffered (not decrypted: decrypting it first would make the missing
// earlier ones `replayed`); the gap is closed by our own `ok` offsets or by `sync`.
#include <kindred/client/chat_session.hpp>
#include <kindred/protocol/codec.hpp>

#include <boost/json/object.hpp>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <utility>

namespace kindred::client {

namespace {

using protocol::role;
namespace ev = chat_events;

constexpr std::int64_t default_retry_ms = 1000;
// A send answered `unavailable` again and again backs off exponentially from its first delay
// up to this, with jitter: when a server sheds load by refusing thousands of sends at once,
// retries that all come back one second later refuse each other again (seen at 10,000
// clients in the storm benchmark).
constexpr std::int64_t max_unavailable_retry_ms = 16000;

// A deterministic jitter factor in [0.5, 1.5) for one retry of one message: sessions differ
// by conversation, so retries spread without a random source (the session stays pure).
double retry_jitter(const std::string& conversation, std::int64_t seq, int attempt) {
    std::uint64_t h = 1469598103934665603ull; // FNV-1a
    const auto mix = [&h](std::uint64_t byte) {
        h ^= byte;
        h *= 1099511628211ull;
    };
    for (unsigned char c : conversation)
        mix(c);
    for (int i = 0; i < 8; ++i)
        mix(static_cast<std::uint64_t>(seq) >> (8 * i) & 0xff);
    mix(static_cast<std::uint64_t>(attempt));
    return 0.5 + static_cast<double>(h % 1000) / 1000.0;
}
// Messages held ahead of a gap, per conversation; past it they are dropped and left to sync
// (bounds memory whatever offsets a server sends).
constexpr std::size_t max_buffered = 1024;

std::string e2e_code(const boost::system::error_code& ec) {
    if (ec.category() == e2e::e2e_category()) {
        return std::string(e2e::to_string(static_cast<e2e::error>(ec.value())));
    }
    return "internal";
}

struct outgoing_message {
    protocol::send message;
    std::optional<std::string> request_id; // set while a copy of it is on the current socket
    std::optional<std::int64_t> due_ms;    // waiting after rate_limited / unavailable
    bool delay_reported = false;           // one error event per message, not per retry
    int unavailable_answers = 0;           // in a row: the backoff's exponent
};

struct conversation {
    std::optional<e2e::conversation_crypto> crypto;
    std::string other;           // alias of the peer, or "seeker"
    std::string moderator_alias; // set by `joined`
    std::int64_t next_seq = 1;
    std::map<std::int64_t, outgoing_message> unacked;         // by seq
    std::int64_t last_offset = 0;                             // handled in order up to here
    std::set<std::int64_t> own_offsets;                       // our acknowledged offsets above last
    std::map<std::int64_t, protocol::message_event> buffered; // received ahead of a gap
    bool sync_in_flight = false;
};

struct pending_request {
    std::string type;
    protocol::client_message message;
    std::string conversation_id;
    std::int64_t seq = 0;
    bool retried = false; // re-sent after a reconnect or `unavailable`: `conflict` = it had arrived
    bool delayed = false; // re-sent after rate_limited/unavailable (reported once already)
};

struct deferred_request {
    protocol::client_message message;
    bool retried = false;
    std::int64_t due_ms = 0;
    bool delayed = false;
};

enum class link_state { down, hello_sent, ready, failed };

// The conversation a request is about (matched with its answer), or empty.
std::string conversation_of(const protocol::client_message& message) {
    if (auto* e = std::get_if<protocol::end>(&message)) return e->conversation_id;
    if (auto* s = std::get_if<protocol::sync>(&message)) return s->conversation_id;
    return {};
}

} // namespace

struct chat_session::state {
    role local = role::seeker;
    std::optional<peer_setup> peer;
    std::optional<e2e::prekey_store> prekeys;
    bool setup_done = false; // peer: identity registered and first prekeys uploaded

    link_state link = link_state::down;
    std::optional<std::string> resume_token;
    bool hello_was_resume = false;
    std::optional<std::int64_t> hello_retry_at;
    std::uint64_t next_id = 1;
    std::map<std::string, pending_request> pending; // by id
    std::vector<deferred_request> deferred;         // waiting for ready / for a time

    std::map<std::string, conversation> conversations;
    std::set<std::string> ended_ids;
    std::optional<e2e::kx_key_pair> seeker_keys;
    std::optional<shift_request> shift;

    std::vector<std::string> out;
    std::vector<chat_event> events;

    // --- plumbing ---
    void emit(chat_event e) { events.push_back(std::move(e)); }

    void error_event(std::string context, std::string code, std::string message,
                     std::optional<std::string> conversation_id = {},
                     std::optional<std::int64_t> retry_after_ms = {}) {
        emit(ev::error{std::move(context), std::move(code), std::move(message),
                       std::move(conversation_id), retry_after_ms});
    }

    std::string new_id() { return "c" + std::to_string(next_id++); }

    bool ready() const { return link == link_state::ready; }

    // Sends a request with a fresh id now, or keeps it until the session is ready.
    void request(protocol::client_message message, std::string conversation_id = {},
                 bool retried = false, bool delayed = false) {
        if (!ready()) {
            deferred.push_back({std::move(message), retried, 0, delayed});
            return;
        }
        auto id = new_id();
        out.push_back(protocol::encode_client_message(message, id));
        pending[id] = pending_request{std::string(protocol::type_name(message)),
                                      std::move(message),
                                      std::move(conversation_id),
                                      0,
                                      retried,
                                      delayed};
    }

    void send_hello() {
        protocol::hello h;
        if (resume_token) {
            h.resume_token = *resume_token;
        } else {
            h.role = local;
            if (peer) h.token = peer->token;
        }
        hello_was_resume = resume_token.has_value();
        auto id = new_id();
        out.push_back(protocol::encode_client_message(h, id));
        pending[id] = pending_request{"hello", h, {}, 0, false, false};
        link = link_state::hello_sent;
    }

    void transmit(const std::string& conversation_id, conversation& c, std::int64_t seq) {
        auto& m = c.unacked.at(seq);
        auto id = new_id();
        out.push_back(protocol::encode_client_message(m.message, id));
        pending[id] = pending_request{"send", {}, conversation_id, seq, false, false};
        m.request_id = id;
        m.due_ms.reset();
    }

    void send_sync(const std::string& conversation_id, conversation& c) {
        c.sync_in_flight = true;
        request(protocol::sync{conversation_id, c.last_offset}, conversation_id);
    }

    void finish(const std::string& conversation_id, std::string by, std::string reason) {
        if (conversations.erase(conversation_id) == 0) return;
        ended_ids.insert(conversation_id);
        emit(ev::ended{conversation_id, std::move(by), std::move(reason)});
    }

    // --- offsets ---
    void process(const std::string& conversation_id, conversation& c,
                 const protocol::message_event& m) {
        auto text = c.crypto->decrypt(m);
        if (!text) {
            error_event("message", e2e_code(text.error()), "a message could not be decrypted",
                        conversation_id);
            return;
        }
        std::string sender = m.from == role::moderator ? c.moderator_alias
                             : m.from == local         ? std::string("me")
                                                       : c.other;
        emit(ev::message{conversation_id, m.offset, m.from, std::move(sender), std::move(*text),
                         m.sent_at});
    }

    void advance(const std::string& conversation_id, conversation& c) {
        for (;;) {
            const auto next = c.last_offset + 1;
            if (c.own_offsets.erase(next) > 0) {
                c.last_offset = next;
            } else if (auto it = c.buffered.find(next); it != c.buffered.end()) {
                auto m = std::move(it->second);
                c.buffered.erase(it);
                c.last_offset = next;
                process(conversation_id, c, m);
            } else {
                break;
            }
        }
    }

    // A gap that our own in-flight sends cannot explain is repaired with `sync`.
    void check_gap(const std::string& conversation_id, conversation& c) {
        if (!ready() || c.sync_in_flight || c.buffered.empty()) return;
        if (c.buffered.begin()->first <= c.last_offset + 1) return;
        const bool own_in_flight = std::any_of(c.unacked.begin(), c.unacked.end(),
                                               [](const auto& u) { return u.second.request_id; });
        if (own_in_flight) return;
        send_sync(conversation_id, c);
    }

    void on_message(const protocol::message_event& m) {
        auto it = conversations.find(m.conversation_id);
        if (it == conversations.end()) {
            if (!ended_ids.contains(m.conversation_id)) {
                error_event("message", "not_found", "a message for an unknown conversation",
                            m.conversation_id);
            }
            return;
        }
        auto& c = it->second;
        // Duplicates (live delivery then the same offset in sync) are skipped before decrypting.
        if (m.offset <= c.last_offset || c.own_offsets.contains(m.offset) ||
            c.buffered.contains(m.offset)) {
            return;
        }
        if (m.from == local) {
            c.own_offsets.insert(m.offset); // our own message replayed by sync: nothing to show
        } else if (m.offset == c.last_offset + 1 || c.buffered.size() < max_buffered) {
            c.buffered.emplace(m.offset, m);
        } // else: dropped; the sync that the gap triggers delivers it again

        advance(it->first, c);
        check_gap(it->first, c);
    }

    // --- answers ---
    void on_ok(const std::string& re, const boost::json::object& body, std::int64_t now_ms) {
        auto node = pending.extract(re);
        if (node.empty()) return; // not ours (or answered twice): ignore
        auto& p = node.mapped();
        if (p.type == "hello") {
            on_hello_ok(body, now_ms);
        } else if (p.type == "send") {
            on_send_ok(p, body);
        } else if (p.type == "sync") {
            on_sync_ok(p, body);
        } else if (p.type == "end") {
            finish(p.conversation_id, std::string(protocol::to_string(local)), "done");
        } else if (p.type == "register_identity") {
            upload_prekeys(peer ? peer->prekey_batch : 0);
        } else if (p.type == "prekeys") {
            const auto* k = std::get_if<protocol::prekeys>(&p.message);
            emit(ev::prekeys_uploaded{k ? k->keys.size() : 0});
            if (!setup_done) {
                setup_done = true;
                if (shift)
                    request(protocol::shift_start{shift->capacity, shift->tags, shift->languages});
            }
        } else if (p.type == "cancel_match") {
            seeker_keys.reset();
        }
    }

    void on_hello_ok(const boost::json::object& body, std::int64_t) {
        auto decoded = protocol::decode_ok<protocol::hello_ok>(body);
        if (auto* f = std::get_if<protocol::decode_failure>(&decoded)) {
            fail("bad_message", "hello answer: " + f->message);
            return;
        }
        auto& ok = std::get<protocol::hello_ok>(decoded);
        resume_token = ok.resume_token;
        link = link_state::ready;
        hello_retry_at.reset();
        const bool resumed = hello_was_resume;
        emit(ev::ready{resumed});
        if (resumed) {
            for (const auto& summary : ok.conversations) {
                if (summary.state == "ended") finish(summary.conversation_id, "system", "ended");
            }
            for (auto& [id, c] : conversations) {
                send_sync(id, c);
                for (auto& [seq, m] : c.unacked)
                    transmit(id, c, seq);
            }
        } else if (peer && !setup_done) {
            request(protocol::register_identity{peer->identity.public_key});
        }
        auto waiting = std::move(deferred);
        deferred.clear();
        for (auto& d : waiting) {
            auto conversation_id = conversation_of(d.message);
            request(std::move(d.message), std::move(conversation_id), d.retried, d.delayed);
        }
    }

    void on_send_ok(const pending_request& p, const boost::json::object& body) {
        auto it = conversations.find(p.conversation_id);
        if (it == conversations.end()) return;
        auto& c = it->second;
        auto decoded = protocol::decode_ok<protocol::send_ok>(body);
        if (auto* f = std::get_if<protocol::decode_failure>(&decoded)) {
            error_event("send", "bad_message", "send answer: " + f->message, it->first);
            return;
        }
        const auto offset = std::get<protocol::send_ok>(decoded).offset;
        if (c.unacked.erase(p.seq) > 0) emit(ev::delivered{it->first, p.seq, offset});
        if (offset > c.last_offset) c.own_offsets.insert(offset);
        c.buffered.erase(offset);
        advance(it->first, c);
        check_gap(it->first, c);
    }

    void on_sync_ok(const pending_request& p, const boost::json::object& body) {
        auto it = conversations.find(p.conversation_id);
        if (it == conversations.end()) return;
        auto& c = it->second;
        c.sync_in_flight = false;
        auto decoded = protocol::decode_ok<protocol::sync_ok>(body);
        if (auto* f = std::get_if<protocol::decode_failure>(&decoded)) {
            error_event("sync", "bad_message", "sync answer: " + f->message, it->first);
            return;
        }
        const auto ok = std::get<protocol::sync_ok>(decoded);
        // The server has sent every message for us up to ok.offset: what is still missing
        // below it is our own (or, with recovered:false, lost). Handle the rest in order.
        while (!c.buffered.empty() && c.buffered.begin()->first <= ok.offset) {
            auto m = std::move(c.buffered.begin()->second);
            c.buffered.erase(c.buffered.begin());
            if (m.offset <= c.last_offset) continue;
            c.last_offset = m.offset;
            process(it->first, c, m);
        }
        c.last_offset = std::max(c.last_offset, ok.offset);
        c.own_offsets.erase(c.own_offsets.begin(), c.own_offsets.upper_bound(c.last_offset));
        if (!ok.recovered) emit(ev::history_incomplete{it->first});
        advance(it->first, c);
        check_gap(it->first, c);
    }

    void on_error(const protocol::error_frame& e, std::int64_t now_ms) {
        const std::string code(protocol::to_string(e.code));
        if (!e.re) {
            error_event("event", code, e.message, {}, e.retry_after_ms);
            return;
        }
        auto node = pending.extract(*e.re);
        if (node.empty()) return;
        auto& p = node.mapped();
        const bool retryable = e.code == protocol::error_code::rate_limited ||
                               e.code == protocol::error_code::unavailable;
        const auto due = now_ms + e.retry_after_ms.value_or(default_retry_ms);
        if (p.type == "hello") {
            if (hello_was_resume && e.code == protocol::error_code::not_found) {
                restart();
            } else if (retryable || e.code == protocol::error_code::internal) {
                hello_retry_at = due;
            } else {
                fail(code, e.message);
            }
            return;
        }
        if (p.type == "send") {
            auto it = conversations.find(p.conversation_id);
            if (it == conversations.end()) return;
            auto& c = it->second;
            if (retryable) {
                if (auto u = c.unacked.find(p.seq); u != c.unacked.end()) {
                    u->second.request_id.reset();
                    u->second.due_ms = due;
                    if (e.code == protocol::error_code::unavailable) {
                        const int n = std::min(++u->second.unavailable_answers, 16);
                        const auto first = e.retry_after_ms.value_or(default_retry_ms);
                        const auto delay =
                            std::min(first << std::min(n - 1, 14), max_unavailable_retry_ms);
                        u->second.due_ms = now_ms + static_cast<std::int64_t>(
                                                        static_cast<double>(delay) *
                                                        retry_jitter(p.conversation_id, p.seq, n));
                    }
                    if (!std::exchange(u->second.delay_reported, true)) {
                        error_event("send", code, e.message, it->first, e.retry_after_ms);
                    }
                }
            } else if (e.code == protocol::error_code::not_found) {
                finish(it->first, "system", "gone");
            } else {
                c.unacked.erase(p.seq);
                error_event("send", code, e.message, it->first);
                check_gap(it->first, c);
            }
            return;
        }
        if (p.type == "sync") {
            auto it = conversations.find(p.conversation_id);
            if (it == conversations.end()) return;
            it->second.sync_in_flight = false;
            if (e.code == protocol::error_code::not_found) {
                finish(it->first, "system", "gone");
            } else if (retryable) {
                it->second.sync_in_flight = true; // re-sent by tick()
                deferred.push_back(
                    {protocol::sync{it->first, it->second.last_offset}, false, due, true});
            } else {
                error_event("sync", code, e.message, it->first);
            }
            return;
        }
        if (p.type == "end" && e.code == protocol::error_code::not_found) {
            finish(p.conversation_id, "system", "gone");
            return;
        }
        if (p.retried && e.code == protocol::error_code::conflict &&
            (p.type == "request_match" || p.type == "shift_start")) {
            return; // the first attempt had arrived before the connection dropped
        }
        if (p.type == "register_identity" && e.code == protocol::error_code::conflict) {
            fail(code, "another identity key is registered for this account (an admin can "
                       "reset it)");
            return;
        }
        const bool report = !(retryable && p.delayed);
        if (retryable) {
            // An `unavailable` request may still have been carried out when Redis came back
            // (its answer had timed out): the retry's `conflict` then means it is in, as after
            // a reconnect. A `rate_limited` one was refused before anything was done.
            const bool may_have_run = e.code == protocol::error_code::unavailable;
            deferred.push_back({std::move(p.message), p.retried || may_have_run, due, true});
        }
        if (!report) return;
        error_event(p.type, code, e.message,
                    p.conversation_id.empty() ? std::nullopt
                                              : std::optional<std::string>(p.conversation_id),
                    e.retry_after_ms);
    }

    void fail(std::string code, std::string message) {
        link = link_state::failed;
        emit(ev::session_failed{std::move(code), std::move(message)});
    }

    // The resume token was refused: everything the old session had is gone.
    void restart() {
        ev::session_restarted r;
        for (const auto& [id, c] : conversations) {
            r.lost_conversations.push_back(id);
            ended_ids.insert(id);
        }
        conversations.clear();
        deferred.clear();
        pending.clear();
        seeker_keys.reset();
        setup_done = false;
        resume_token.reset();
        emit(std::move(r));
        send_hello();
    }

    void upload_prekeys(std::size_t count) {
        if (!prekeys || count == 0) return;
        count = std::min(count, protocol::limits::max_prekeys);
        if (!peer->prekey_seed) {
            request(protocol::prekeys{prekeys->generate(count)});
            return;
        }
        std::vector<protocol::signed_prekey> keys;
        for (std::size_t i = 0; i < count; ++i) {
            keys.push_back(prekeys->add(derive_prekey(*peer->prekey_seed, peer->prekey_index++)));
        }
        emit(ev::prekeys_reserved{peer->prekey_index});
        request(protocol::prekeys{std::move(keys)});
    }

    // --- events ---
    void on_event(const protocol::server_event& event) {
        std::visit([this](const auto& e) { handle(e); }, event);
    }

    void handle(const protocol::pong&) {}
    void handle(const protocol::escalation_event&) {}
    // The consult channel (§8 extension) is not in this client yet.
    void handle(const protocol::consult_event&) {}
    void handle(const protocol::consult_reply_event&) {}
    void handle(const protocol::queued& q) { emit(ev::queued{q.position, q.estimated_wait_s}); }

    void handle(const protocol::seeker_matched& m) {
        if (local != role::seeker || !seeker_keys) {
            error_event("matched", "bad_message", "a match for a request we did not make",
                        m.conversation_id);
            return;
        }
        auto crypto = e2e::conversation_crypto::for_seeker(m.conversation_id, *seeker_keys, m.peer);
        if (!crypto) {
            // Refuse the match: the prekey is not signed by the identity key the server named.
            error_event("matched", e2e_code(crypto.error()), "the peer's key did not verify",
                        m.conversation_id);
            request(protocol::end{m.conversation_id, std::string("bad_signature")},
                    m.conversation_id);
            return;
        }
        conversation c;
        c.crypto.emplace(std::move(*crypto));
        c.other = m.peer.alias.empty() ? std::string("peer") : m.peer.alias;
        auto code = c.crypto->safety_code().value_or("");
        emit(ev::matched{m.conversation_id, c.other, std::move(code), m.relaxed, m.peer.shared_tags,
                         std::nullopt, protocol::risk::none, 0});
        conversations.insert_or_assign(m.conversation_id, std::move(c));
    }

    void handle(const protocol::peer_matched& m) {
        if (local != role::peer || !prekeys) {
            error_event("matched", "bad_message", "a peer match for a seeker", m.conversation_id);
            return;
        }
        auto key = prekeys->take(m.prekey);
        if (!key) {
            error_event("matched", "not_found", "the match names a prekey we do not hold",
                        m.conversation_id);
            request(protocol::end{m.conversation_id, std::string("unknown_prekey")},
                    m.conversation_id);
            return;
        }
        auto crypto = e2e::conversation_crypto::for_peer(m.conversation_id, *key,
                                                         prekeys->identity_key(), m.seeker.pubkey);
        if (!crypto) {
            error_event("matched", e2e_code(crypto.error()), "the seeker's key was refused",
                        m.conversation_id);
            request(protocol::end{m.conversation_id, std::string("bad_public_key")},
                    m.conversation_id);
            return;
        }
        conversation c;
        c.crypto.emplace(std::move(*crypto));
        c.other = "seeker";
        auto code = c.crypto->safety_code().value_or("");
        emit(ev::matched{m.conversation_id, c.other, std::move(code), false, m.seeker.shared_tags,
                         m.intake, m.seeker.risk, m.seeker.waited_s});
        conversations.insert_or_assign(m.conversation_id, std::move(c));
    }

    void handle(const protocol::shift_state& s) { emit(ev::shift{s.state, s.active, s.capacity}); }

    void handle(const protocol::prekeys_low& low) {
        if (!peer) return;
        const auto have = static_cast<std::size_t>(std::max<std::int64_t>(low.remaining, 0));
        if (have < peer->prekey_batch) upload_prekeys(peer->prekey_batch - have);
    }

    void handle(const protocol::message_event& m) { on_message(m); }

    void handle(const protocol::receipt_event& r) {
        if (conversations.contains(r.conversation_id)) {
            emit(ev::receipt{r.conversation_id, r.offset, r.from});
        }
    }

    void handle(const protocol::typing_event& t) {
        if (conversations.contains(t.conversation_id)) {
            emit(ev::typing{t.conversation_id, t.from});
        }
    }

    void handle(const protocol::ended& e) {
        finish(e.conversation_id, std::string(protocol::to_string(e.by)), e.reason);
    }

    void handle(const protocol::joined& j) {
        auto it = conversations.find(j.conversation_id);
        if (it == conversations.end()) return;
        if (auto r = it->second.crypto->add_moderator(j.moderator.pubkey); !r) {
            error_event("joined", e2e_code(r.error()), "the moderator's key was refused",
                        j.conversation_id);
            return;
        }
        it->second.moderator_alias = j.moderator.alias;
        emit(ev::joined{j.conversation_id, j.moderator.alias});
    }
};

// ---------------------------------------------------------------------------------------------

chat_session::chat_session(std::unique_ptr<state> s)
    : s_(std::move(s)) {}
chat_session::chat_session(chat_session&&) noexcept = default;
chat_session& chat_session::operator=(chat_session&&) noexcept = default;
chat_session::~chat_session() = default;

chat_session chat_session::seeker() {
    auto s = std::make_unique<state>();
    s->local = role::seeker;
    return chat_session(std::move(s));
}

chat_session chat_session::peer(peer_setup setup) {
    auto s = std::make_unique<state>();
    s->local = role::peer;
    s->prekeys.emplace(setup.identity);
    if (setup.prekey_seed) {
        // Those an earlier run uploaded and the server may still hand out.
        const auto from = setup.prekey_index - std::min(setup.prekey_index, setup.prekey_window);
        for (auto i = from; i < setup.prekey_index; ++i) {
            s->prekeys->add(derive_prekey(*setup.prekey_seed, i));
        }
    }
    s->peer.emplace(std::move(setup));
    return chat_session(std::move(s));
}

protocol::role chat_session::local_role() const noexcept {
    return s_->local;
}

void chat_session::on_connected(std::int64_t) {
    if (s_->link == link_state::failed) return;
    s_->send_hello();
}

void chat_session::on_disconnected() {
    auto& s = *s_;
    if (s.link != link_state::failed) s.link = link_state::down;
    s.hello_retry_at.reset();
    for (auto& [id, p] : s.pending) {
        if (p.type == "send") {
            if (auto it = s.conversations.find(p.conversation_id); it != s.conversations.end()) {
                if (auto u = it->second.unacked.find(p.seq); u != it->second.unacked.end()) {
                    u->second.request_id.reset();
                }
            }
        } else if (p.type == "sync") {
            if (auto it = s.conversations.find(p.conversation_id); it != s.conversations.end()) {
                it->second.sync_in_flight = false; // every conversation syncs after resume
            }
        } else if (p.type != "hello") {
            s.deferred.push_back({std::move(p.message), true, 0, p.delayed});
        }
    }
    s.pending.clear();
    // A deferred sync is superseded by the sync every conversation gets after the resume.
    std::erase_if(s.deferred, [](const deferred_request& d) {
        return std::holds_alternative<protocol::sync>(d.message);
    });
    for (auto& [id, c] : s.conversations)
        c.sync_in_flight = false;
}

void chat_session::on_frame(std::string_view text, std::int64_t now_ms) {
    auto& s = *s_;
    auto frame = protocol::decode_server_frame(text);
    if (!frame) {
        s.error_event("event", "bad_json", "the server sent a frame that is not a JSON object");
        return;
    }
    if (frame->type == "ok") {
        if (frame->re) s.on_ok(*frame->re, frame->body, now_ms);
        return;
    }
    if (frame->type == "error") {
        auto e = protocol::decode_error_frame(*frame);
        if (!e) {
            s.error_event("event", "bad_message", "the server sent a malformed error");
            return;
        }
        s.on_error(*e, now_ms);
        return;
    }
    auto event = protocol::decode_server_event(*frame);
    if (auto* f = std::get_if<protocol::decode_failure>(&event)) {
        // Unknown event types are ignored (room for later additions); malformed known ones
        // are reported.
        if (f->code != protocol::error_code::unknown_type) {
            s.error_event("event", std::string(protocol::to_string(f->code)),
                          frame->type + ": " + f->message);
        }
        return;
    }
    s.on_event(std::get<protocol::server_event>(event));
}

void chat_session::tick(std::int64_t now_ms) {
    auto& s = *s_;
    if (s.link == link_state::hello_sent && s.hello_retry_at && *s.hello_retry_at <= now_ms &&
        s.pending.empty()) {
        s.hello_retry_at.reset();
        s.send_hello();
    }
    if (!s.ready()) return;
    for (auto& [id, c] : s.conversations) {
        // In seq order, and never past a message still waiting: the server stores a
        // conversation's seqs in order, so a later seq stored first would turn the earlier
        // one's retry into `conflict` (each refused message has its own backoff and jitter).
        for (auto& [seq, m] : c.unacked) {
            if (m.request_id || !m.due_ms) continue;
            if (*m.due_ms > now_ms) break;
            s.transmit(id, c, seq);
        }
    }
    std::vector<deferred_request> due;
    std::erase_if(s.deferred, [&](deferred_request& d) {
        if (d.due_ms > now_ms) return false;
        due.push_back(std::move(d));
        return true;
    });
    for (auto& d : due) {
        auto conversation_id = conversation_of(d.message);
        s.request(std::move(d.message), std::move(conversation_id), d.retried, d.delayed);
    }
}

bool chat_session::is_ready() const noexcept {
    return s_->ready();
}
bool chat_session::has_failed() const noexcept {
    return s_->link == link_state::failed;
}

std::vector<std::string> chat_session::take_outgoing() {
    return std::exchange(s_->out, {});
}
std::vector<chat_event> chat_session::take_events() {
    return std::exchange(s_->events, {});
}

std::optional<chat_events::error> chat_session::request_match(match_request request) {
    auto& s = *s_;
    if (s.local != role::seeker) {
        return ev::error{"request_match", "forbidden", "only a seeker asks for a peer", {}, {}};
    }
    if (request.intake && !request.intake_notice_confirmed) {
        return ev::error{"request_match",
                         "bad_message",
                         "intake: the person must first be told the server reads it",
                         {},
                         {}};
    }
    s.seeker_keys = e2e::generate_kx_key_pair();
    s.request(protocol::request_match{std::move(request.tags), std::move(request.languages),
                                      s.seeker_keys->public_key, std::move(request.intake)});
    return std::nullopt;
}

void chat_session::cancel_match() {
    if (s_->local == role::seeker) s_->request(protocol::cancel_match{});
}

void chat_session::start_shift(shift_request request) {
    auto& s = *s_;
    if (s.local != role::peer) return;
    s.shift = request;
    if (s.setup_done) {
        s.request(protocol::shift_start{request.capacity, request.tags, request.languages});
    }
}
void chat_session::pause_shift() {
    if (s_->local == role::peer) s_->request(protocol::shift_pause{});
}
void chat_session::resume_shift() {
    if (s_->local == role::peer) s_->request(protocol::shift_resume{});
}
void chat_session::end_shift() {
    if (s_->local != role::peer) return;
    s_->shift.reset();
    s_->request(protocol::shift_end{});
}
std::size_t chat_session::prekeys_in_store() const noexcept {
    return s_->prekeys ? s_->prekeys->size() : 0;
}

std::variant<std::int64_t, chat_events::error>
chat_session::send_text(const std::string& conversation_id, std::string_view text) {
    auto& s = *s_;
    auto it = s.conversations.find(conversation_id);
    if (it == s.conversations.end()) {
        return ev::error{"send", "not_found", "no such active conversation", conversation_id, {}};
    }
    auto& c = it->second;
    const auto seq = c.next_seq;
    auto message = c.crypto->make_send(seq, text);
    if (!message) {
        return ev::error{"send",
                         e2e_code(message.error()),
                         "the message cannot be encrypted",
                         conversation_id,
                         {}};
    }
    ++c.next_seq;
    c.unacked[seq] = outgoing_message{std::move(*message), std::nullopt, std::nullopt, false};
    if (s.ready()) s.transmit(conversation_id, c, seq);
    return seq;
}

void chat_session::displayed(const std::string& conversation_id, std::int64_t offset) {
    // Fire and forget: a receipt lost with the connection only delays the other's tick mark.
    if (s_->ready() && s_->conversations.contains(conversation_id)) {
        s_->out.push_back(
            protocol::encode_client_message(protocol::receipt{conversation_id, offset}));
    }
}

void chat_session::typing(const std::string& conversation_id) {
    if (s_->ready() && s_->conversations.contains(conversation_id)) {
        s_->out.push_back(protocol::encode_client_message(protocol::typing{conversation_id}));
    }
}

void chat_session::end(const std::string& conversation_id, std::string reason) {
    if (!s_->conversations.contains(conversation_id)) return;
    s_->request(protocol::end{conversation_id, std::move(reason)}, conversation_id);
}

std::vector<std::string> chat_session::active_conversations() const {
    std::vector<std::string> ids;
    for (const auto& [id, c] : s_->conversations)
        ids.push_back(id);
    return ids;
}

std::optional<std::string> chat_session::safety_code(const std::string& conversation_id) const {
    auto it = s_->conversations.find(conversation_id);
    if (it == s_->conversations.end()) return std::nullopt;
    return it->second.crypto->safety_code();
}

std::optional<std::string> chat_session::other_name(const std::string& conversation_id) const {
    auto it = s_->conversations.find(conversation_id);
    if (it == s_->conversations.end()) return std::nullopt;
    return it->second.other;
}

std::int64_t chat_session::last_offset(const std::string& conversation_id) const {
    auto it = s_->conversations.find(conversation_id);
    return it == s_->conversations.end() ? 0 : it->second.last_offset;
}

std::size_t chat_session::unacknowledged(const std::string& conversation_id) const {
    auto it = s_->conversations.find(conversation_id);
    return it == s_->conversations.end() ? 0 : it->second.unacked.size();
}

// ---------------------------------------------------------------------------------------------

e2e::kx_key_pair derive_prekey(const e2e::seed& prekey_seed, std::uint64_t index) {
    e2e::initialize();
    constexpr std::string_view label = "kindred-chat prekey";
    std::array<std::uint8_t, label.size() + 8> message{};
    std::copy(label.begin(), label.end(), message.begin());
    for (std::size_t i = 0; i < 8; ++i) {
        message[label.size() + i] = static_cast<std::uint8_t>(index >> (8 * i));
    }
    e2e::seed derived;
    crypto_generichash(derived.data(), derived.size(), message.data(), message.size(),
                       prekey_seed.data(), prekey_seed.size());
    return e2e::kx_key_pair_from_seed(derived.view());
}

e2e::seed derive_prekey_seed(const e2e::seed& identity_seed) {
    e2e::initialize();
    constexpr std::string_view label = "kindred-chat prekeys";
    e2e::seed derived;
    crypto_generichash(derived.data(), derived.size(),
                       reinterpret_cast<const unsigned char*>(label.data()), label.size(),
                       identity_seed.data(), identity_seed.size());
    return derived;
}

std::string describe(const chat_event& event) {
    return std::visit(
        [](const auto& e) -> std::string {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, ev::ready>) {
                return e.resumed ? "ready (resumed)" : "ready";
            } else if constexpr (std::is_same_v<T, ev::session_restarted>) {
                return "session_restarted lost=" + std::to_string(e.lost_conversations.size());
            } else if constexpr (std::is_same_v<T, ev::session_failed>) {
                return "session_failed " + e.code;
            } else if constexpr (std::is_same_v<T, ev::queued>) {
                return "queued position=" + std::to_string(e.position);
            } else if constexpr (std::is_same_v<T, ev::matched>) {
                return "matched " + e.conversation_id + " with " + e.other;
            } else if constexpr (std::is_same_v<T, ev::message>) {
                return "message " + e.conversation_id + " offset=" + std::to_string(e.offset);
            } else if constexpr (std::is_same_v<T, ev::delivered>) {
                return "delivered " + e.conversation_id + " seq=" + std::to_string(e.seq) +
                       " offset=" + std::to_string(e.offset);
            } else if constexpr (std::is_same_v<T, ev::receipt>) {
                return "receipt " + e.conversation_id + " offset=" + std::to_string(e.offset);
            } else if constexpr (std::is_same_v<T, ev::typing>) {
                return "typing " + e.conversation_id;
            } else if constexpr (std::is_same_v<T, ev::ended>) {
                return "ended " + e.conversation_id + " by " + e.by + " (" + e.reason + ")";
            } else if constexpr (std::is_same_v<T, ev::history_incomplete>) {
                return "history_incomplete " + e.conversation_id;
            } else if constexpr (std::is_same_v<T, ev::joined>) {
                return "joined " + e.conversation_id;
            } else if constexpr (std::is_same_v<T, ev::shift>) {
                return "shift " + std::string(protocol::to_string(e.state));
            } else if constexpr (std::is_same_v<T, ev::prekeys_uploaded>) {
                return "prekeys_uploaded " + std::to_string(e.count);
            } else if constexpr (std::is_same_v<T, ev::prekeys_reserved>) {
                return "prekeys_reserved " + std::to_string(e.next_index);
            } else {
                return "error " + e.context + " " + e.code + ": " + e.message;
            }
        },
        event);
}

} // namespace kindred::client
