// moderation_service.cpp — see moderation_service.hpp. Errors: a conversation that is not the
// caller's is not_found (no hint it exists); Redis trouble is unavailable. Logs name what
// happened (level, source, outcome), never a note, an excerpt or a device id.
#include <kindred/accounts/account_store.hpp>
#include <kindred/matching/matching_store.hpp>
#include <kindred/moderation/moderation_store.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/relay/conversation_log.hpp>
#include <kindred/relay/error.hpp>
#include <kindred/server/event_bus.hpp>
#include <kindred/server/insights_recorder.hpp>
#include <kindred/server/matching_service.hpp>
#include <kindred/server/moderation_service.hpp>
#include <kindred/server/relay_service.hpp>
#include <kindred/server/session_store.hpp>
#include <kindred/store/client.hpp>

#include <boost/json/object.hpp>

#include <spdlog/spdlog.h>

#include <memory>

namespace kindred::server {

namespace json = boost::json;
using protocol::error_code;

namespace {

// Store and log errors: relay's table covers not_found, the store's unavailability and the
// rest (moderation errors map to not_found / internal the same way).
service_answer store_error(const std::optional<std::string>& id, boost::system::error_code ec) {
    if (relay::is_unavailable(ec))
        return error_answer(id, error_code::unavailable, "storage unavailable; try again");
    auto c = relay::to_contract(ec);
    if (c.code == error_code::internal && ec.category() != relay::relay_category())
        return error_answer(id, error_code::not_found, "not found");
    return error_answer(id, c.code, c.message);
}

std::string actor_of(const service_request& r) {
    if (r.role == protocol::role::seeker) return "seeker";
    return r.staff ? r.staff->username : "unknown";
}

std::string encode_escalation(const moderation::escalation_record& r, std::string_view moderator) {
    return protocol::encode_event(
        protocol::server_event{protocol::escalation_event{moderation::view_for(r, moderator)}});
}

} // namespace

moderation_service::moderation_service(moderation::moderation_store& store,
                                       relay::conversation_log& log,
                                       matching::matching_store& matching,
                                       accounts::account_store& accounts, store::client& redis,
                                       event_bus& bus, relay_service& relay,
                                       moderation_service_options options)
    : store_(store)
    , log_(log)
    , matching_(matching)
    , accounts_(accounts)
    , redis_(redis)
    , bus_(bus)
    , relay_(relay)
    , options_(std::move(options)) {}

std::string moderation_service::moderator_session_key(std::string_view moderator) {
    return "mod:{mod}:session:" + std::string(moderator);
}

std::int64_t moderation_service::now_ms() const {
    if (options_.clock) return options_.clock();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool moderation_service::serves(std::string_view type) const {
    return type == protocol::escalate::wire_type || type == protocol::report::wire_type ||
           type == protocol::block::wire_type || type == protocol::moderator_keys::wire_type ||
           type == protocol::watch::wire_type || type == protocol::unwatch::wire_type ||
           type == protocol::acknowledge::wire_type || type == protocol::resolve::wire_type ||
           type == protocol::join::wire_type || type == protocol::ban::wire_type ||
           type == protocol::consult::wire_type || type == protocol::consult_reply::wire_type;
}

void moderation_service::handle(service_request r, answer_handler h) {
    if (!member_of(r)) return h(error_answer(r.id, error_code::forbidden, "not allowed"));
    const auto type = protocol::type_name(r.message);
    if (type == protocol::escalate::wire_type) return escalate(std::move(r), std::move(h));
    if (type == protocol::report::wire_type) return report(std::move(r), std::move(h));
    if (type == protocol::block::wire_type) return block(std::move(r), std::move(h));
    if (type == protocol::moderator_keys::wire_type)
        return moderator_keys(std::move(r), std::move(h));
    if (type == protocol::watch::wire_type) return watch(std::move(r), std::move(h));
    if (type == protocol::unwatch::wire_type) return unwatch(std::move(r), std::move(h));
    if (type == protocol::acknowledge::wire_type)
        return acknowledge(std::move(r), std::move(h), false);
    if (type == protocol::resolve::wire_type) return acknowledge(std::move(r), std::move(h), true);
    if (type == protocol::join::wire_type) return join(std::move(r), std::move(h));
    if (type == protocol::ban::wire_type) return ban(std::move(r), std::move(h));
    if (type == protocol::consult::wire_type) return consult(std::move(r), std::move(h));
    consult_reply(std::move(r), std::move(h));
}

// ---- sessions and presence ----------------------------------------------------------------

void moderation_service::session_opened(const std::string& session_id, protocol::role role,
                                        const std::optional<staff_identity>& staff) {
    if (role != protocol::role::moderator || !staff) return;
    // Where the relay reaches this moderator once it has joined a conversation.
    redis_.command({"SET", moderator_session_key(staff->username), session_id, "EX", "86400"},
                   [](boost::system::error_code, store::reply) {});
}

void moderation_service::connection_closed(const std::string& session_id) {
    // The moderator stays on duty until its presence lapses (a console that reconnects and
    // watches again keeps its place); an explicit unwatch ends it at once.
    std::lock_guard lock(mutex_);
    watching_.erase(session_id);
}

void moderation_service::presence_tick() {
    std::vector<std::pair<std::string, std::string>> pairs;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [session, moderator] : watching_)
            pairs.emplace_back(moderator, session);
    }
    if (pairs.empty()) return;
    store_.refresh(std::move(pairs), now_ms(), [](boost::system::error_code ec) {
        if (ec) spdlog::warn("event=moderator_presence_failed error=\"{}\"", ec.message());
    });
}

void moderation_service::fan_out(const moderation::escalation_record& r) {
    store_.on_duty(now_ms(), [this, r](boost::system::error_code ec,
                                       std::vector<moderation::on_duty_moderator> mods) {
        if (ec) {
            // Nobody is told now; the record is stored, a watch replays it and the re-page
            // (for levels with a deadline) tells everyone again.
            spdlog::warn("event=escalation_fan_out_failed error=\"{}\"", ec.message());
            return;
        }
        for (const auto& m : mods)
            bus_.deliver(m.session, "escalation", encode_escalation(r, m.moderator_id));
    });
}

void moderation_service::repage_tick() {
    {
        std::lock_guard lock(mutex_);
        if (repage_running_) return; // one pass at a time per instance
        repage_running_ = true;
    }
    store_.repage_due(now_ms(), [this](boost::system::error_code ec,
                                       std::vector<moderation::escalation_record> due) {
        {
            std::lock_guard lock(mutex_);
            repage_running_ = false;
        }
        if (ec) return; // Redis trouble: the next tick takes them
        for (const auto& r : due) {
            spdlog::warn("event=escalation_repaged escalation={}… level={} repaged={}",
                         r.id.substr(0, 6), protocol::to_string(r.level), r.repaged);
            fan_out(r);
        }
    });
}

// ---- escalations --------------------------------------------------------------------------

void moderation_service::create(const std::optional<std::string>& id, moderation::new_escalation e,
                                answer_handler h) {
    e.now_ms = now_ms();
    store_.create(std::move(e), [this, id, h = std::move(h)](boost::system::error_code ec,
                                                             moderation::escalation_record rec) {
        if (ec) return h(store_error(id, ec));
        spdlog::info("event=escalation_created escalation={}… level={} category={} source={}",
                     rec.id.substr(0, 6), protocol::to_string(rec.level),
                     protocol::to_string(rec.category), protocol::to_string(rec.source));
        json::object fields;
        fields["escalation_id"] = rec.id;
        h(ok_answer(id, fields));
        if (options_.insights) options_.insights->escalated(rec.conversation_id, rec.level);
        fan_out(rec);
    });
}

void moderation_service::escalate(service_request r, answer_handler h) {
    auto& m = std::get<protocol::escalate>(r.message);
    if (r.role == protocol::role::moderator)
        return h(error_answer(r.id, error_code::forbidden,
                              "moderators acknowledge and resolve escalations"));
    moderation::new_escalation e;
    e.level = m.level;
    e.category = m.category;
    e.source = r.role == protocol::role::seeker ? protocol::escalation_source::seeker
                                                : protocol::escalation_source::peer;
    e.note = m.note.value_or("");
    e.excerpts = std::move(m.excerpts);
    e.actor = actor_of(r);
    if (!m.conversation_id) {
        if (r.role != protocol::role::seeker)
            return h(error_answer(r.id, error_code::bad_message,
                                  "conversation_id: required for a peer"));
        // A panic button with no conversation (also while queued): linked to the
        // conversation if the seeker is matched later.
        e.session = r.session_id;
        return create(r.id, std::move(e), std::move(h));
    }
    create_in(r, *m.conversation_id, std::move(e), std::move(h));
}

void moderation_service::report(service_request r, answer_handler h) {
    auto& m = std::get<protocol::report>(r.message);
    moderation::new_escalation e;
    e.level = protocol::level::medium;
    e.category = (m.reason == protocol::report_reason::harassment ||
                  m.reason == protocol::report_reason::inappropriate)
                     ? protocol::category::abuse
                     : protocol::category::other;
    e.source = protocol::escalation_source::report;
    e.reason = std::string(protocol::to_string(m.reason));
    e.excerpts = std::move(m.excerpts);
    e.actor = actor_of(r);
    create_in(r, m.conversation_id, std::move(e), std::move(h));
}

void moderation_service::create_in(const service_request& r, std::string conversation,
                                   moderation::new_escalation e, answer_handler h) {
    // Only a party may raise one on a conversation: anyone else gets not_found.
    log_.membership(conversation, *member_of(r),
                    [this, id = r.id, e = std::move(e), conversation, h = std::move(h)](
                        boost::system::error_code ec, relay::conversation_meta meta) mutable {
                        if (ec) return h(store_error(id, ec));
                        e.conversation_id = conversation;
                        e.session = meta.parties.seeker;
                        e.peer = meta.parties.peer;
                        create(id, std::move(e), std::move(h));
                    });
}

void moderation_service::acknowledge(service_request r, answer_handler h, bool resolve) {
    const std::string moderator = r.staff->username;
    auto done = [this, id = r.id, resolve, h = std::move(h)](
                    boost::system::error_code ec,
                    std::pair<moderation::transition_result, moderation::escalation_record> res) {
        if (ec) return h(store_error(id, ec));
        switch (res.first) {
        case moderation::transition_result::not_found:
            return h(error_answer(id, error_code::not_found, "escalation not found"));
        case moderation::transition_result::conflict:
            return h(error_answer(id, error_code::conflict,
                                  resolve ? "already resolved"
                                          : "already acknowledged by another moderator"));
        case moderation::transition_result::unchanged:
            return h(ok_answer(id));
        case moderation::transition_result::ok:
            break;
        }
        spdlog::info("event=escalation_{} escalation={}…{}", resolve ? "resolved" : "acknowledged",
                     res.second.id.substr(0, 6),
                     resolve ? " outcome=" + res.second.outcome : std::string());
        h(ok_answer(id));
        if (resolve && options_.insights)
            options_.insights->resolved(res.second.conversation_id, res.second.outcome);
        if (options_.on_transition) options_.on_transition(res.second, resolve);
        fan_out(res.second);
    };
    if (resolve) {
        const auto& m = std::get<protocol::resolve>(r.message);
        store_.resolve(m.escalation_id, moderator, m.outcome, now_ms(), std::move(done));
    } else {
        const auto& m = std::get<protocol::acknowledge>(r.message);
        store_.acknowledge(m.escalation_id, moderator, now_ms(), std::move(done));
    }
}

// ---- moderators on duty -------------------------------------------------------------------

void moderation_service::watch(service_request r, answer_handler h) {
    const auto& m = std::get<protocol::watch>(r.message);
    const std::string moderator = r.staff->username;
    const std::string session = r.session_id;
    store_.watch(
        moderator, session, m.pubkey, now_ms(),
        [this, id = r.id, moderator, session,
         h = std::move(h)](boost::system::error_code ec) mutable {
            if (ec) return h(store_error(id, ec));
            {
                std::lock_guard lock(mutex_);
                watching_[session] = moderator;
            }
            spdlog::info("event=moderator_on_duty");
            // Every open escalation, after the ok; then every change as it happens.
            store_.list_open([id, moderator,
                              h = std::move(h)](boost::system::error_code lec,
                                                std::vector<moderation::escalation_record> open) {
                service_answer a;
                a.frames.push_back(make_ok_frame(id));
                if (!lec)
                    for (const auto& rec : open)
                        a.frames.push_back({"escalation", encode_escalation(rec, moderator), {}});
                h(std::move(a));
            });
        });
}

void moderation_service::unwatch(service_request r, answer_handler h) {
    {
        std::lock_guard lock(mutex_);
        watching_.erase(r.session_id);
    }
    store_.unwatch(r.staff->username, r.session_id,
                   [id = r.id, h = std::move(h)](boost::system::error_code ec) {
                       if (ec) return h(store_error(id, ec));
                       h(ok_answer(id));
                   });
}

void moderation_service::moderator_keys(service_request r, answer_handler h) {
    store_.on_duty(now_ms(),
                   [id = r.id, h = std::move(h)](boost::system::error_code ec,
                                                 std::vector<moderation::on_duty_moderator> mods) {
                       if (ec) return h(store_error(id, ec));
                       protocol::moderator_keys_ok ok;
                       for (const auto& m : mods)
                           ok.keys.push_back({m.moderator_id, m.pubkey});
                       h(ok_answer(id, protocol::ok_fields(ok)));
                   });
}

// ---- join and ban: only for conversations with an escalation ----------------------------

void moderation_service::join(service_request r, answer_handler h) {
    const auto& m = std::get<protocol::join>(r.message);
    const std::string moderator = r.staff->username;
    const std::string conversation = m.conversation_id;
    const auto pubkey = m.pubkey;
    store_.conversation_level(conversation, [this, id = r.id, moderator, conversation, pubkey,
                                             h = std::move(h)](
                                                boost::system::error_code ec,
                                                std::optional<protocol::level> level) mutable {
        if (ec) return h(store_error(id, ec));
        // Moderators join conversations someone asked for help in, not any conversation.
        if (!level) return h(error_answer(id, error_code::not_found, "conversation not found"));
        matching_.get_match(conversation, [this, id, moderator, conversation, pubkey,
                                           h = std::move(h)](boost::system::error_code mec,
                                                             matching::match_record rec) mutable {
            if (mec) return h(error_answer(id, error_code::not_found, "conversation not found"));
            auto prekey = matching_service::decode_prekey(rec.prekey);
            auto seeker = protocol::base64_decode(rec.payload);
            protocol::join_ok ok;
            if (!prekey || !seeker || seeker->size() != ok.seeker_pubkey.size())
                return h(error_answer(id, error_code::internal, "conversation keys unreadable"));
            std::copy(seeker->begin(), seeker->end(), ok.seeker_pubkey.begin());
            ok.peer_prekey = prekey->prekey;
            log_.add_party(
                conversation, moderator, now_ms(),
                [this, id, moderator, conversation, pubkey, ok,
                 h = std::move(h)](boost::system::error_code jec, relay::join_result res) {
                    if (jec) return h(store_error(id, jec));
                    h(ok_answer(id, protocol::ok_fields(ok)));
                    // A moderator joining again (a reloaded console) comes with a fresh key:
                    // both parties are told again; only the first join is audited.
                    if (!res.already) {
                        spdlog::info("event=moderator_joined conversation={}…",
                                     conversation.substr(0, 6));
                        store_.audit_join(moderator, conversation, now_ms(),
                                          [](boost::system::error_code) {});
                    }
                    accounts_.get(moderator, [this, conversation, pubkey,
                                              parties = res.parties](boost::system::error_code aec,
                                                                     accounts::account account) {
                        protocol::joined j;
                        j.conversation_id = conversation;
                        j.moderator.alias = aec ? std::string("Moderator") : account.alias;
                        j.moderator.pubkey = pubkey;
                        const auto ev = protocol::encode_event(protocol::server_event{j});
                        // Both parties are told a moderator is with them.
                        relay_.deliver_to({protocol::role::seeker, parties.seeker}, "joined", ev);
                        relay_.deliver_to({protocol::role::peer, parties.peer}, "joined", ev);
                    });
                });
        });
    });
}

void moderation_service::ban(service_request r, answer_handler h) {
    const auto& m = std::get<protocol::ban>(r.message);
    const std::string moderator = r.staff->username;
    const std::string conversation = m.conversation_id;
    const auto party = m.party;
    const auto duration_s = m.duration_s;
    store_.conversation_level(conversation, [this, id = r.id, moderator, conversation, party,
                                             duration_s, h = std::move(h)](
                                                boost::system::error_code ec,
                                                std::optional<protocol::level> level) mutable {
        if (ec) return h(store_error(id, ec));
        if (!level) return h(error_answer(id, error_code::not_found, "conversation not found"));
        log_.meta(conversation, [this, id, moderator, conversation, party, duration_s,
                                 h = std::move(h)](boost::system::error_code mec,
                                                   relay::conversation_meta meta) mutable {
            if (mec) return h(store_error(id, mec));
            const std::string seeker = meta.parties.seeker;
            const std::string peer = meta.parties.peer;
            redis_.command(
                {"HGET", session_store::session_key(seeker), "device"},
                [this, id, moderator, conversation, party, duration_s, seeker, peer,
                 active = meta.state == relay::conversation_state::active,
                 h = std::move(h)](boost::system::error_code dec, store::reply reply) mutable {
                    if (dec) return h(store_error(id, dec));
                    const std::string device = reply.is_string() ? reply.str() : "";
                    store_.ban(
                        moderator, party, device, seeker, peer, conversation, duration_s, now_ms(),
                        [this, id, conversation, party, seeker, peer, active,
                         h = std::move(h)](boost::system::error_code bec) {
                            if (bec) return h(store_error(id, bec));
                            spdlog::info("event=banned party={} conversation={}…",
                                         protocol::to_string(party), conversation.substr(0, 6));
                            h(ok_answer(id));
                            // The conversation cannot go on: both parties hear `ended`
                            // first, then the banned party's sockets close (4005) wherever
                            // they are.
                            auto close = [this, party, seeker, peer] {
                                if (party == protocol::party::seeker)
                                    return bus_.notify(seeker, std::string(banned_notice), {});
                                redis_.command(
                                    {"GET", matching_service::peer_session_key(peer)},
                                    [this](boost::system::error_code gec, store::reply s) {
                                        if (gec || !s.is_string()) return;
                                        bus_.notify(s.str(), std::string(banned_notice), {});
                                    });
                            };
                            if (!active) return close();
                            relay_.end_by_moderation(conversation, "banned", std::move(close));
                        });
                });
        });
    });
}

// ---- peers: block, and the private channel to moderators ---------------------------------

void moderation_service::block(service_request r, answer_handler h) {
    const auto& m = std::get<protocol::block>(r.message);
    const std::string peer = r.staff->username;
    const std::string conversation = m.conversation_id;
    log_.membership(
        conversation, *member_of(r),
        [this, id = r.id, peer, conversation,
         h = std::move(h)](boost::system::error_code ec, relay::conversation_meta meta) mutable {
            if (ec) return h(store_error(id, ec));
            const std::string seeker = meta.parties.seeker;
            // This session at once (matching's own blocked set), and the seeker's device for
            // every later session.
            matching_.block(peer, seeker, [](boost::system::error_code) {});
            redis_.command(
                {"HGET", session_store::session_key(seeker), "device"},
                [this, id, peer, conversation, h = std::move(h)](boost::system::error_code dec,
                                                                 store::reply reply) mutable {
                    if (dec) return h(store_error(id, dec));
                    const std::string device = reply.is_string() ? reply.str() : "";
                    store_.block_device(peer, device, conversation, now_ms(),
                                        [id, h = std::move(h)](boost::system::error_code bec) {
                                            if (bec) return h(store_error(id, bec));
                                            spdlog::info("event=seeker_blocked");
                                            h(ok_answer(id));
                                        });
                });
        });
}

void moderation_service::before_enqueue(const std::string& session, const std::string& device_id,
                                        std::function<void()> then) {
    if (device_id.empty()) return then();
    store_.device_blocks(
        device_id, [this, session, then = std::move(then)](boost::system::error_code ec,
                                                           std::vector<std::string> peers) {
            if (ec || peers.empty()) return then();
            // Every block lands before the request can be claimed.
            auto left = std::make_shared<std::size_t>(peers.size());
            auto once = std::make_shared<std::function<void()>>(std::move(then));
            for (const auto& p : peers)
                matching_.block(p, session, [left, once](boost::system::error_code) {
                    if (--*left == 0) (*once)();
                });
        });
}

void moderation_service::consult(service_request r, answer_handler h) {
    auto& m = std::get<protocol::consult>(r.message);
    auto c = std::make_shared<pending_consult>();
    c->id = r.id;
    c->peer = r.staff->username;
    c->session = r.session_id;
    c->pubkey = m.pubkey;
    c->copies = std::move(m.copies);
    if (!m.conversation_id) return consult_send(std::move(c), std::move(h));
    c->conversation = *m.conversation_id;
    log_.membership(c->conversation, *member_of(r),
                    [this, c, h = std::move(h)](boost::system::error_code ec,
                                                relay::conversation_meta) mutable {
                        if (ec) return h(store_error(c->id, ec));
                        consult_send(std::move(c), std::move(h));
                    });
}

void moderation_service::consult_send(std::shared_ptr<pending_consult> p, answer_handler h) {
    store_.create_consult(
        p->peer, p->session, p->conversation, now_ms(),
        [this, p, h = std::move(h)](boost::system::error_code ec, moderation::consult_record c) {
            if (ec) return h(store_error(p->id, ec));
            json::object fields;
            fields["consult_id"] = c.id;
            h(ok_answer(p->id, fields));
            spdlog::info("event=consult_sent consult={}…", c.id.substr(0, 6));
            // Only to moderators on duty, each its own copy; never to the seeker.
            store_.on_duty(now_ms(), [this, c, p](boost::system::error_code oec,
                                                  std::vector<moderation::on_duty_moderator> mods) {
                if (oec) return;
                for (const auto& mod : mods)
                    for (const auto& copy : p->copies) {
                        if (copy.moderator_id != mod.moderator_id) continue;
                        protocol::consult_event ev;
                        ev.consult_id = c.id;
                        if (!c.conversation_id.empty()) ev.conversation_id = c.conversation_id;
                        ev.peer = c.peer;
                        ev.pubkey = p->pubkey;
                        ev.sealed = copy.sealed;
                        ev.sent_at = c.created_at;
                        bus_.deliver(mod.session, "consult",
                                     protocol::encode_event(protocol::server_event{ev}));
                    }
            });
        });
}

void moderation_service::consult_reply(service_request r, answer_handler h) {
    auto& m = std::get<protocol::consult_reply>(r.message);
    const std::string moderator = r.staff->username;
    store_.get_consult(m.consult_id, [this, id = r.id, moderator, sealed = std::move(m.sealed),
                                      h = std::move(h)](
                                         boost::system::error_code ec,
                                         std::optional<moderation::consult_record> c) {
        if (ec) return h(store_error(id, ec));
        if (!c) return h(error_answer(id, error_code::not_found, "consult not found"));
        protocol::consult_reply_event ev;
        ev.consult_id = c->id;
        ev.moderator = moderator;
        ev.sealed = sealed;
        ev.sent_at = now_ms();
        h(ok_answer(id));
        // To the peer's current session (it may have reconnected since it asked).
        redis_.command({"GET", matching_service::peer_session_key(c->peer)},
                       [this, fallback = c->session,
                        text = protocol::encode_event(protocol::server_event{ev})](
                           boost::system::error_code gec, store::reply s) mutable {
                           const std::string session = !gec && s.is_string() ? s.str() : fallback;
                           bus_.deliver(session, "consult_reply", std::move(text));
                       });
    });
}

// ---- hooks --------------------------------------------------------------------------------

void moderation_service::on_triage(const std::string& session, protocol::level level,
                                   protocol::category category) {
    moderation::new_escalation e;
    e.level = level;
    e.category = category;
    e.source = protocol::escalation_source::triage;
    e.session = session;
    e.actor = "system";
    e.now_ms = now_ms();
    store_.create(
        std::move(e), [this](boost::system::error_code ec, moderation::escalation_record rec) {
            if (ec) {
                spdlog::error("event=triage_escalation_failed error=\"{}\"", ec.message());
                return;
            }
            spdlog::info("event=escalation_created escalation={}… level={} source=triage",
                         rec.id.substr(0, 6), protocol::to_string(rec.level));
            if (options_.insights) options_.insights->escalated(rec.conversation_id, rec.level);
            fan_out(rec);
        });
}

void moderation_service::on_matched(const std::string& session, const std::string& conversation,
                                    const std::string& peer) {
    store_.link(
        session, conversation, peer,
        [this](boost::system::error_code ec, std::vector<moderation::escalation_record> changed) {
            if (ec) return;
            for (const auto& r : changed)
                fan_out(r);
        });
}

void moderation_service::on_ended(const std::string& conversation, const std::string& peer) {
    if (options_.peer_cooldown.count() <= 0 || peer.empty()) return;
    store_.conversation_level(conversation, [this, peer](boost::system::error_code ec,
                                                         std::optional<protocol::level> level) {
        if (ec || !level || *level < protocol::level::high) return;
        matching_.set_cooldown(peer, options_.peer_cooldown, [](boost::system::error_code) {});
        spdlog::info(
            "event=peer_cooldown seconds={}",
            std::chrono::duration_cast<std::chrono::seconds>(options_.peer_cooldown).count());
    });
}

} // namespace kindred::server
