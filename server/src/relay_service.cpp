// relay_service.cpp — see relay_service.hpp. Errors follow relay::to_contract (relay/README.md);
// Redis trouble is `unavailable`. Live pushes are at-most-once; `sync` is the truth.
#include <kindred/matching/matching_store.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/relay/conversation_log.hpp>
#include <kindred/relay/error.hpp>
#include <kindred/server/delivery_tracker.hpp>
#include <kindred/server/event_bus.hpp>
#include <kindred/server/lua_scripts.hpp>
#include <kindred/server/matching_service.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/moderation_service.hpp>
#include <kindred/server/paced.hpp>
#include <kindred/server/relay_service.hpp>
#include <kindred/server/session_store.hpp>
#include <kindred/store/client.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace kindred::server {

using protocol::error_code;

std::optional<relay::member> member_of(const service_request& r) {
    if (r.role == protocol::role::seeker) return relay::member{r.role, r.session_id};
    if (!r.staff) return std::nullopt;
    return relay::member{r.role, r.staff->username};
}

namespace {

// The ok of a send, written by the protocol's direct encoder (one per relayed message).
outbound_frame send_ok_frame(const std::optional<std::string>& id, std::int64_t offset) {
    if (!id) return make_ok_frame(id, protocol::ok_fields(protocol::send_ok{offset}));
    return {"ok", protocol::encode_ok(*id, protocol::send_ok{offset}), std::nullopt};
}

service_answer relay_error(const std::optional<std::string>& id, boost::system::error_code ec) {
    auto c = relay::to_contract(ec);
    return error_answer(id, c.code, c.message);
}

protocol::ended_by ended_by_of(protocol::role r) {
    switch (r) {
    case protocol::role::seeker:
        return protocol::ended_by::seeker;
    case protocol::role::peer:
        return protocol::ended_by::peer;
    case protocol::role::moderator:
        return protocol::ended_by::moderator;
    }
    return protocol::ended_by::system;
}

} // namespace

relay_service::relay_service(relay::conversation_log& log, matching::matching_store& matching,
                             store::client& redis, event_bus& bus, relay_service_options options)
    : log_(log)
    , matching_(matching)
    , redis_(redis)
    , bus_(bus)
    , options_(std::move(options)) {}

std::int64_t relay_service::now_ms() const {
    if (options_.clock) return options_.clock();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool relay_service::serves(std::string_view type) const {
    return type == protocol::send::wire_type || type == protocol::receipt::wire_type ||
           type == protocol::typing::wire_type || type == protocol::sync::wire_type ||
           type == protocol::end::wire_type || type == protocol::transfer::wire_type;
}

void relay_service::handle(service_request r, answer_handler h) {
    if (!member_of(r))
        return h(error_answer(r.id, error_code::not_found, "conversation not found"));
    const auto type = protocol::type_name(r.message);
    if (type == protocol::send::wire_type) return send(std::move(r), std::move(h));
    if (type == protocol::sync::wire_type) return sync(std::move(r), std::move(h));
    if (type == protocol::end::wire_type) return end(std::move(r), std::move(h), false);
    if (type == protocol::transfer::wire_type) return end(std::move(r), std::move(h), true);
    forward(std::move(r), std::move(h));
}

void relay_service::deliver_to(const relay::member& m, std::string type, std::string text,
                               std::function<void()> done) {
    auto finished = [done = std::move(done)](bool) {
        if (done) done();
    };
    if (m.role == protocol::role::seeker) {
        bus_.deliver(m.id, std::move(type), std::move(text), std::move(finished));
        return;
    }
    const auto pointer = m.role == protocol::role::peer
                             ? matching_service::peer_session_key(m.id)
                             : moderation_service::moderator_session_key(m.id);
    redis_.command({"GET", pointer}, [this, type = std::move(type), text = std::move(text),
                                      finished = std::move(finished)](boost::system::error_code ec,
                                                                      store::reply reply) mutable {
        // Offline: sync recovers.
        if (ec || !reply.is_string()) return finished(false);
        bus_.deliver(reply.str(), std::move(type), std::move(text), std::move(finished));
    });
}

void relay_service::deliver_message_to(const relay::member& m, std::string conversation,
                                       std::int64_t offset, std::string text) {
    if (m.role == protocol::role::seeker) {
        bus_.deliver_live(m.id, std::move(conversation), offset, std::move(text));
        return;
    }
    const auto pointer = m.role == protocol::role::peer
                             ? matching_service::peer_session_key(m.id)
                             : moderation_service::moderator_session_key(m.id);
    redis_.command({"GET", pointer}, [this, conversation = std::move(conversation), offset,
                                      text = std::move(text)](boost::system::error_code ec,
                                                              store::reply reply) mutable {
        if (ec || !reply.is_string()) return; // offline: sync recovers
        bus_.deliver_live(reply.str(), std::move(conversation), offset, std::move(text));
    });
}

void relay_service::connection_closed(const std::string& session_id) {
    if (options_.tracker) options_.tracker->forget(session_id);
}

void relay_service::read_for(const std::string& session, const std::string& conversation,
                             std::int64_t after,
                             std::function<void(bool ok, std::vector<tracked_message>)> done) {
    log_.meta(conversation, [this, session, conversation, after, done = std::move(done)](
                                boost::system::error_code ec, relay::conversation_meta meta) {
        if (ec) return done(false, {});
        // Seekers are parties by session id; staff by username, so a moderator is told
        // apart from the peer by its session pointer.
        if (meta.parties.seeker == session || meta.parties.moderator.empty())
            return read_as(conversation, after,
                           meta.parties.seeker == session ? protocol::role::seeker
                                                          : protocol::role::peer,
                           std::move(done));
        redis_.command({"GET", moderation_service::moderator_session_key(meta.parties.moderator)},
                       [this, session, conversation, after, done = std::move(done)](
                           boost::system::error_code gec, store::reply r) mutable {
                           const bool moderator = !gec && r.is_string() && r.str() == session;
                           read_as(conversation, after,
                                   moderator ? protocol::role::moderator : protocol::role::peer,
                                   std::move(done));
                       });
    });
}

void relay_service::read_as(const std::string& conversation, std::int64_t after,
                            protocol::role role,
                            std::function<void(bool ok, std::vector<tracked_message>)> done) {
    {
        relay::read_request q;
        q.conversation_id = conversation;
        q.after = after;
        log_.read_all(std::move(q), [conversation, role, done = std::move(done)](
                                        boost::system::error_code rec, relay::read_result res) {
            if (rec) return done(false, {});
            std::vector<tracked_message> out;
            out.reserve(res.entries.size());
            for (const auto& e : res.entries) {
                tracked_message m;
                m.offset = e.offset;
                if (auto ev = relay::to_event(conversation, e, role))
                    m.event = protocol::encode_event(protocol::server_event{std::move(*ev)});
                out.push_back(std::move(m));
            }
            done(true, std::move(out));
        });
    }
}

void relay_service::send(service_request r, answer_handler h) {
    auto& m = std::get<protocol::send>(r.message);
    relay::append_request a;
    a.conversation_id = m.conversation_id;
    a.from = *member_of(r);
    a.seq = m.seq;
    a.copies = std::move(m.copies);
    a.sent_at = now_ms();
    auto stored = a; // for the live events, without reading the entry back
    // About one send in 16 is timed (metrics.hpp); the others cost one relaxed add.
    const auto received = metrics::relay_sample() ? std::chrono::steady_clock::now()
                                                  : std::chrono::steady_clock::time_point{};
    log_.append(std::move(a),
                [this, id = r.id, session = r.session_id, stored = std::move(stored), received,
                 h = std::move(h)](boost::system::error_code ec, relay::append_result res) {
                    if (ec) return h(relay_error(id, ec));
                    service_answer answer;
                    answer.frames.push_back(send_ok_frame(id, res.offset));
                    h(std::move(answer));
                    if (options_.tracker)
                        options_.tracker->on_own(session, stored.conversation_id, res.offset);
                    // A duplicate (a retried seq) is delivered again: its first attempt may have
                    // been stored after its answer timed out (a stalled or overloaded Redis), and
                    // then nobody pushed it — the recipient would only see it at the next message
                    // or its next sync. The recipient's instance drops an offset it already pushed
                    // (delivery tracker), and clients de-duplicate by offset. Clients resend the
                    // same copies.
                    const auto e = relay::entry_of(stored, res.offset);
                    for (const auto& to : res.recipients)
                        if (auto ev = relay::to_event(stored.conversation_id, e, to.role))
                            deliver_message_to(to, stored.conversation_id, res.offset,
                                               protocol::encode_event(protocol::server_event{*ev}));
                    if (res.duplicate) return; // counted when it was stored
                    if (options_.stats) {
                        if (received != std::chrono::steady_clock::time_point{})
                            options_.stats->message_relayed(received);
                        else
                            options_.stats->message_relayed();
                    }
                });
}

void relay_service::forward(service_request r, answer_handler h) {
    std::string conversation;
    std::string event;
    std::string type;
    const auto from = member_of(r)->role;
    if (const auto* rc = std::get_if<protocol::receipt>(&r.message)) {
        conversation = rc->conversation_id;
        type = "receipt";
        event = protocol::encode_event(
            protocol::server_event{protocol::receipt_event{conversation, rc->offset, from}});
    } else {
        conversation = std::get<protocol::typing>(r.message).conversation_id;
        type = "typing";
        event = protocol::encode_event(
            protocol::server_event{protocol::typing_event{conversation, from}});
    }
    log_.membership(
        conversation, *member_of(r),
        [this, id = r.id, from, type = std::move(type), event = std::move(event),
         h = std::move(h)](boost::system::error_code ec, relay::conversation_meta meta) {
            if (ec) return h(relay_error(id, ec));
            service_answer a;
            if (id) a.frames.push_back(make_ok_frame(id));
            h(std::move(a));
            if (meta.state != relay::conversation_state::active) return;
            for (const auto& to : meta.parties.others(from))
                deliver_to(to, type, event);
        });
}

// One sync in progress: the next batch to read and the verdict so far.
struct relay_service::sync_state {
    std::optional<std::string> id;
    std::string session;
    protocol::role reader;
    relay::read_request next;
    bool first = true;
    std::string epoch;
    bool recovered = true;
};

void relay_service::sync(service_request r, answer_handler h) {
    const auto& m = std::get<protocol::sync>(r.message);
    auto st = std::make_shared<sync_state>();
    st->id = r.id;
    st->session = r.session_id;
    st->next.conversation_id = m.conversation_id;
    st->next.reader = *member_of(r);
    st->next.after = m.after;
    st->next.max_count = sync_batch_entries;
    st->reader = st->next.reader->role;
    sync_batch(std::move(st), std::move(h));
}

// Reads one batch and answers it; while more remain, the answer carries `more`, which the
// connection calls once it has written most of this batch (bounded memory and queue,
// whatever the length of the history). The last part ends with ok {offset, recovered}.
void relay_service::sync_batch(std::shared_ptr<sync_state> st, answer_handler h) {
    auto q = st->next;
    log_.read(std::move(q), [this, st, h = std::move(h)](boost::system::error_code ec,
                                                         relay::read_result res) {
        if (ec) return h(relay_error(st->id, ec));
        if (st->first) {
            st->first = false;
            st->epoch = res.epoch;
            st->recovered = res.recovered;
        } else {
            // The conversation was lost and re-created between two batches.
            st->recovered = st->recovered && res.recovered && res.epoch == st->epoch;
        }
        service_answer a;
        // The reader's own messages hold no copy for it and are skipped: it knows their
        // offsets from its `ok`s (protocol/README.md §7).
        for (const auto& e : res.entries)
            if (auto ev = relay::to_event(st->next.conversation_id, e, st->reader))
                a.frames.push_back(make_event_frame(protocol::server_event{std::move(*ev)}));
        if (res.more && !res.entries.empty()) {
            st->next.after = res.entries.back().offset;
            a.more = [this, st](answer_handler next) { sync_batch(st, std::move(next)); };
        } else {
            // Live copies of what this sync returned are duplicates from now on.
            if (options_.tracker)
                options_.tracker->on_synced(st->session, st->next.conversation_id, res.last_offset);
            a.frames.push_back(make_ok_frame(
                st->id, protocol::ok_fields(protocol::sync_ok{res.last_offset, st->recovered})));
        }
        h(std::move(a));
    });
}

void relay_service::end(service_request r, answer_handler h, bool transfer) {
    relay::end_request e;
    const auto who = *member_of(r);
    if (transfer) {
        e.conversation_id = std::get<protocol::transfer>(r.message).conversation_id;
        e.reason = "transfer";
    } else {
        const auto& m = std::get<protocol::end>(r.message);
        e.conversation_id = m.conversation_id;
        e.reason = m.reason.value_or("done");
    }
    e.by = ended_by_of(who.role);
    e.by_id = who.id;
    e.now = now_ms();
    const std::string conversation = e.conversation_id;
    // A transfer is the peer's to make: anyone else gets not_found (no hint it exists).
    log_.end(std::move(e), [this, id = r.id, conversation, transfer, who,
                            h = std::move(h)](boost::system::error_code ec, relay::end_result res) {
        if (ec) return h(relay_error(id, ec));
        service_answer a;
        a.frames.push_back(make_ok_frame(id));
        h(std::move(a));
        if (res.already_ended) return; // told before
        announce_end(conversation, res, [this, conversation, transfer] {
            after_end(conversation, transfer, transfer);
        });
    });
}

void relay_service::announce_end(const std::string& conversation_id, const relay::end_result& res,
                                 std::function<void()> then) {
    redis_.command({"ZREM", active_key(), conversation_id},
                   [](boost::system::error_code, store::reply) {});
    if (options_.on_ended) options_.on_ended(conversation_id, res.parties.peer);
    const auto ev = protocol::encode_event(
        protocol::server_event{protocol::ended{conversation_id, res.by, res.reason}});
    // `then` (the slot's release) waits until the peer's `ended` is pushed or published, so
    // the peer never hears of its next conversation before the end of this one.
    const auto parties = res.parties.all();
    const bool has_peer = std::any_of(parties.begin(), parties.end(), [](const relay::member& p) {
        return p.role == protocol::role::peer;
    });
    for (const auto& p : parties)
        deliver_to(p, "ended", ev,
                   p.role == protocol::role::peer ? std::move(then) : std::function<void()>{});
    if (!has_peer && then) then();
}

void relay_service::grace_tick() {
    if (grace_lease_released_.load()) return;   // draining
    if (grace_scanning_.exchange(true)) return; // the previous scan is still running
    if (options_.instance_id.empty()) {
        if (options_.stats) options_.stats->grace_scan();
        return grace_read_page(0);
    }
    static const store::script lease{std::string(lua::grace_lease)};
    redis_.eval(lease, {grace_lease_key()},
                {options_.instance_id, std::to_string(options_.grace_lease.count())},
                [this](boost::system::error_code ec, store::reply reply) {
                    // Another instance holds it (or Redis trouble): its scan covers this tick.
                    if (ec || !reply.is_integer() || reply.integer() != 1)
                        return grace_scanning_.store(false);
                    // A tick that raced the start of draining renewed it after the hand-back.
                    if (grace_lease_released_.load()) {
                        grace_scanning_.store(false);
                        return release_grace_lease();
                    }
                    if (options_.stats) options_.stats->grace_scan();
                    grace_read_page(0);
                });
}

void relay_service::release_grace_lease() {
    grace_lease_released_.store(true);
    if (options_.instance_id.empty()) return;
    static const store::script release{std::string(lua::grace_release)};
    redis_.eval(release, {grace_lease_key()}, {options_.instance_id},
                [](boost::system::error_code, store::reply) {
                    // Not handed back (Redis trouble): it expires grace_lease after the last tick.
                });
}

// One page of the active set (ranks from `start`), checked grace_checks_in_flight at a time;
// then the next page. Conversations that ended meanwhile left the set, so a page may skip a
// few ids: the next scan sees them.
void relay_service::grace_read_page(std::size_t start) {
    redis_.command(
        {"ZRANGE", active_key(), std::to_string(start), std::to_string(start + grace_page - 1)},
        [this, start](boost::system::error_code ec, store::reply reply) {
            if (ec || !reply.is_array()) {
                grace_scanning_.store(false);
                return;
            }
            std::vector<std::string> ids;
            for (const auto& item : reply.elements())
                if (item.is_string()) ids.push_back(item.str());
            const bool last = reply.size() < grace_page;
            const std::size_t next = start + ids.size();
            for_each_paced<std::string>(
                std::move(ids), grace_checks_in_flight,
                [this](const std::string& conversation, std::function<void()> done) {
                    grace_check(conversation, std::move(done));
                },
                [this, last, next] {
                    if (last) return grace_scanning_.store(false);
                    grace_read_page(next);
                });
        });
}

void relay_service::grace_check(const std::string& conversation, std::function<void()> done) {
    log_.meta(conversation, [this, conversation, done = std::move(done)](
                                boost::system::error_code mec, relay::conversation_meta meta) {
        if (mec) {
            // Purged (or never created): nothing to watch any more.
            if (mec == relay::error::not_found)
                redis_.command({"ZREM", active_key(), conversation},
                               [](boost::system::error_code, store::reply) {});
            return done();
        }
        if (meta.state != relay::conversation_state::active) {
            redis_.command({"ZREM", active_key(), conversation},
                           [](boost::system::error_code, store::reply) {});
            return done();
        }
        // Both checks answer before the slot is free; either may end the conversation.
        auto one_done = after_all(2, std::move(done));
        // The seeker's session expired (its grace passed without a resume): the
        // conversation cannot continue; the peer is told and its slot released.
        redis_.command(
            {"EXISTS", session_store::session_key(meta.parties.seeker)},
            [this, conversation, one_done](boost::system::error_code sec, store::reply sr) {
                if (!sec && sr.is_integer() && sr.integer() == 0)
                    end_by_system(conversation, "seeker_unavailable", false);
                one_done();
            });
        matching_.peer(meta.parties.peer,
                       [this, conversation, one_done](boost::system::error_code pec,
                                                      matching::peer_state peer) {
                           // Redis trouble: decide next time.
                           if (!pec && !peer.present)
                               end_by_system(conversation, "peer_unavailable", true);
                           one_done();
                       });
    });
}

void relay_service::end_by_system(const std::string& conversation, std::string reason, bool requeue,
                                  std::function<void()> then) {
    relay::end_request e;
    e.conversation_id = conversation;
    e.by = protocol::ended_by::system;
    e.reason = reason;
    e.now = now_ms();
    log_.end(std::move(e), [this, conversation, reason, requeue, then = std::move(then)](
                               boost::system::error_code eec, relay::end_result res) {
        // Another instance (or the other check) may have ended it first.
        if (eec || res.already_ended) {
            if (then) then();
            return;
        }
        spdlog::info("event={} conversation={}…", reason, conversation.substr(0, 6));
        announce_end(conversation, res, [this, conversation, requeue, then = std::move(then)] {
            after_end(conversation, requeue, false);
            if (then) then();
        });
    });
}

void relay_service::after_end(const std::string& conversation_id, bool requeue, bool avoid_peer) {
    matching_.release(conversation_id, [this, conversation_id, requeue,
                                        avoid_peer](boost::system::error_code ec,
                                                    matching::release_result rel) {
        if (ec) {
            spdlog::warn("event=release_failed error=\"{}\"", ec.message());
            return;
        }
        const auto peer_id = rel.peer.peer_id;
        deliver_to(relay::member{protocol::role::peer, peer_id}, "shift",
                   protocol::encode_event(protocol::server_event{
                       protocol::shift_state{rel.peer.state, rel.peer.active, rel.peer.capacity}}));
        auto on_sweep = options_.on_sweep;
        if (requeue) {
            matching::requeue_options o;
            o.avoid_peer = avoid_peer;
            matching_.requeue(conversation_id, o,
                              [this, session = rel.session, on_sweep](boost::system::error_code rec,
                                                                      matching::queue_entry) {
                                  if (rec) {
                                      spdlog::warn("event=requeue_failed error=\"{}\"",
                                                   rec.message());
                                      return;
                                  }
                                  matching_.match_seeker(session, [on_sweep](const auto& rep) {
                                      if (on_sweep) on_sweep(rep);
                                  });
                              });
        }
        matching_.match_peer(peer_id, [on_sweep](const matching::sweep_report& rep) {
            if (on_sweep) on_sweep(rep);
        });
    });
}

} // namespace kindred::server
