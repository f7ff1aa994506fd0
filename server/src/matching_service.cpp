// matching_service.cpp — see matching_service.hpp. Error mapping (docs/matching.md §6): Redis
// trouble → unavailable; already_queued / in_conversation / wrong_state → conflict;
// bad_input → bad_message; a cancel with nothing waiting → not_found.
#include <kindred/accounts/account_store.hpp>
#include <kindred/matching/matching_store.hpp>
#include <kindred/moderation/lexicon.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/codec.hpp>
#include <kindred/relay/conversation_log.hpp>
#include <kindred/relay/error.hpp>
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/event_bus.hpp>
#include <kindred/server/insights_recorder.hpp>
#include <kindred/server/matching_service.hpp>
#include <kindred/server/paced.hpp>
#include <kindred/store/client.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>

namespace kindred::server {

namespace json = boost::json;
using protocol::error_code;

namespace {

bool contains(const std::vector<std::string>& list, std::string_view v) {
    return std::find(list.begin(), list.end(), v) != list.end();
}

// A matching_store (or Redis) error as the contract's answer.
service_answer matching_error(const std::optional<std::string>& id, boost::system::error_code ec) {
    using matching::error;
    if (ec == error::already_queued)
        return error_answer(id, error_code::conflict, "already queued");
    if (ec == error::in_conversation)
        return error_answer(id, error_code::conflict, "already in a conversation");
    if (ec == error::wrong_state)
        return error_answer(id, error_code::conflict, "the shift is not in a state that allows it");
    if (ec == error::not_found) return error_answer(id, error_code::conflict, "no shift started");
    if (ec == error::not_waiting)
        return error_answer(id, error_code::not_found,
                            "no waiting request (it may just have been matched)");
    if (ec == error::bad_input)
        return error_answer(id, error_code::bad_message, "rejected by the matching rules");
    return error_answer(id, error_code::unavailable, "matching is unavailable; try again");
}

// `field[i]: unknown …` for the first value not in `allowed`; empty when all are.
std::string first_not_in(const std::vector<std::string>& values,
                         const std::vector<std::string>& allowed, std::string_view field,
                         std::string_view what) {
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!contains(allowed, values[i]))
            return std::string(field) + "[" + std::to_string(i) + "]: " + std::string(what) + " '" +
                   values[i] + "'";
    return {};
}

outbound_frame queued_frame(std::size_t position, std::optional<std::int64_t> wait_s) {
    json::object o;
    o["type"] = "queued";
    o["position"] = position;
    // Unknown (nothing comparable matched recently): null rather than a made-up number.
    if (wait_s)
        o["estimated_wait_s"] = *wait_s;
    else
        o["estimated_wait_s"] = nullptr;
    return {"queued", json::serialize(o), std::nullopt};
}

outbound_frame shift_frame(const matching::peer_view& v) {
    return make_event_frame(protocol::shift_state{v.state, v.active, v.capacity});
}

} // namespace

matching_service::matching_service(matching::matching_store& matching,
                                   accounts::account_store& accounts, store::client& redis,
                                   event_bus& bus, connection_registry& connections,
                                   matching_service_options options)
    : matching_(matching)
    , accounts_(accounts)
    , redis_(redis)
    , bus_(bus)
    , connections_(connections)
    , options_(std::move(options)) {
    auto view = std::make_shared<catalog_view>();
    view->tags = options_.catalog_tags;
    view->languages = options_.catalog_languages;
    view->lexicon = options_.lexicon;
    catalog_ = std::move(view);
    bus_.on_notice("matched", [this](const std::string& session, const json::object& body) {
        matched_at_seeker(session, body);
    });
}

std::int64_t matching_service::now_ms() const {
    if (options_.clock) return options_.clock();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string matching_service::peer_session_key(std::string_view peer_id) {
    return "peer:{" + std::string(peer_id) + "}:session";
}

std::string matching_service::encode_prekey(const protocol::signed_prekey& k) {
    return protocol::base64_encode(k.prekey) + "." + protocol::base64_encode(k.signature);
}

std::optional<protocol::signed_prekey> matching_service::decode_prekey(std::string_view stored) {
    auto dot = stored.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto pk = protocol::base64_decode(stored.substr(0, dot));
    auto sig = protocol::base64_decode(stored.substr(dot + 1));
    protocol::signed_prekey k;
    if (!pk || !sig || pk->size() != k.prekey.size() || sig->size() != k.signature.size())
        return std::nullopt;
    std::copy(pk->begin(), pk->end(), k.prekey.begin());
    std::copy(sig->begin(), sig->end(), k.signature.begin());
    return k;
}

bool matching_service::serves(std::string_view type) const {
    return type == protocol::request_match::wire_type ||
           type == protocol::cancel_match::wire_type || type == protocol::prekeys::wire_type ||
           type == protocol::shift_start::wire_type || type == protocol::shift_pause::wire_type ||
           type == protocol::shift_resume::wire_type || type == protocol::shift_end::wire_type;
}

void matching_service::handle(service_request r, answer_handler h) {
    const auto type = protocol::type_name(r.message);
    if (type == protocol::request_match::wire_type)
        return request_match(std::move(r), std::move(h));
    if (type == protocol::cancel_match::wire_type) return cancel_match(std::move(r), std::move(h));
    if (type == protocol::prekeys::wire_type) return store_prekeys(std::move(r), std::move(h));
    if (type == protocol::shift_start::wire_type) return shift_start(std::move(r), std::move(h));
    if (type == protocol::shift_pause::wire_type || type == protocol::shift_resume::wire_type ||
        type == protocol::shift_end::wire_type)
        return shift_change(std::move(r), std::move(h));
    h(error_answer(r.id, error_code::unavailable, "not implemented yet"));
}

std::shared_ptr<const matching_service::catalog_view> matching_service::catalog() const {
    std::lock_guard lock(catalog_mutex_);
    return catalog_;
}

void matching_service::reload_catalog(std::vector<std::string> tags,
                                      std::vector<std::string> languages,
                                      std::shared_ptr<const moderation::lexicon> lexicon) {
    auto view = std::make_shared<catalog_view>();
    view->tags = std::move(tags);
    view->languages = std::move(languages);
    std::lock_guard lock(catalog_mutex_);
    view->owned = lexicon ? std::move(lexicon) : catalog_->owned;
    view->lexicon = view->owned ? view->owned.get() : catalog_->lexicon;
    catalog_ = std::move(view);
}

void matching_service::stage(std::string_view name, steady::time_point since) const {
    if (options_.on_stage)
        options_.on_stage(
            name, std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - since));
}

void matching_service::request_match(service_request r, answer_handler h) {
    const auto received = steady::now();
    auto& m = std::get<protocol::request_match>(r.message);
    const auto cat = catalog();
    if (auto bad = first_not_in(m.tags, cat->tags, "tags", "unknown tag"); !bad.empty())
        return h(error_answer(r.id, error_code::bad_message, bad));
    if (auto bad = first_not_in(m.languages, cat->languages, "languages", "unknown language");
        !bad.empty())
        return h(error_answer(r.id, error_code::bad_message, bad));

    const std::string session = r.session_id;
    // Intake triage (contract §8): each of the request's languages, the highest level wins.
    // The intake text is never logged or stored; only the level is.
    auto risk = protocol::risk::none;
    auto triage_category = protocol::category::other;
    if (m.intake && cat->lexicon) {
        auto best = moderation::level::none;
        for (const auto& language : m.languages) {
            const auto a = cat->lexicon->assess(language, *m.intake);
            if (a.risk > best) {
                best = a.risk;
                triage_category =
                    protocol::from_string<protocol::category>(moderation::to_string(a.kind))
                        .value_or(protocol::category::other);
            }
        }
        static_assert(static_cast<int>(moderation::level::imminent) ==
                      static_cast<int>(protocol::risk::imminent));
        risk = static_cast<protocol::risk>(static_cast<int>(best));
        spdlog::info("event=intake_triaged risk={}", moderation::to_string(best));
    }
    // The intake is kept (in memory only) before the request can be matched, so a match made
    // at once by another instance still finds it here.
    bool had_intake = false;
    {
        std::lock_guard lock(mutex_);
        if (m.intake && !intakes_.contains(session)) {
            intakes_[session] = std::move(*m.intake);
            had_intake = true;
        }
    }
    matching::enqueue_request e;
    e.session = session;
    e.tags = m.tags;
    e.languages = m.languages;
    e.risk_level = risk;
    e.payload = protocol::base64_encode(m.pubkey);
    auto enqueue = [this, id = r.id, session, had_intake, risk, triage_category, received,
                    e = std::move(e), h = std::move(h)]() mutable {
        // Copied first: the arguments' evaluation order is unspecified.
        auto tags = e.tags, languages = e.languages;
        matching_.enqueue(std::move(e), [this, id, session, had_intake, risk, triage_category,
                                         received, tags = std::move(tags),
                                         languages = std::move(languages), h = std::move(h)](
                                            boost::system::error_code ec, matching::queue_entry q) {
            if (ec) {
                // Already queued: most likely a retry of a request answered `unavailable` that
                // Redis carried out later, whose intake the timeout dropped; this one's is kept.
                if (had_intake && ec != matching::error::already_queued) {
                    std::lock_guard lock(mutex_);
                    intakes_.erase(session);
                }
                return h(matching_error(id, ec));
            }
            stage("enqueue", received);
            service_answer a;
            a.frames.push_back(make_ok_frame(id));
            {
                std::lock_guard lock(mutex_);
                if (options_.on_stage) clocks_[session] = {received, steady::now(), {}};
                if (q.position > 0) {
                    waiting_[session] = q.position;
                    a.frames.push_back(queued_frame(q.position, q.estimated_wait_s));
                }
            }
            h(std::move(a));
            if (options_.insights) options_.insights->requested(session, tags, languages);
            // Triage at high or imminent raises an escalation (source triage) for the moderators.
            if (risk >= protocol::risk::high && options_.on_triage)
                options_.on_triage(session,
                                   static_cast<protocol::level>(static_cast<int>(risk) - 1),
                                   triage_category);
        });
        // The pass that may match this request starts now, not when the enqueue's answer is
        // back: the store's commands share one connection and run in order, so its snapshot
        // already sees the request — one round trip less between request_match and
        // `matched`. (Should the enqueue fail, the pass is an ordinary one.)
        matching_.match_seeker(session,
                               [this](const matching::sweep_report& rep) { on_sweep(rep); });
    };
    if (!options_.before_enqueue) return enqueue();
    options_.before_enqueue(session, r.device_id, std::move(enqueue));
}

void matching_service::cancel_match(service_request r, answer_handler h) {
    const std::string session = r.session_id;
    matching_.cancel(session,
                     [this, id = r.id, session, h = std::move(h)](boost::system::error_code ec) {
                         if (ec) return h(matching_error(id, ec));
                         {
                             std::lock_guard lock(mutex_);
                             intakes_.erase(session);
                             waiting_.erase(session);
                             clocks_.erase(session);
                         }
                         if (options_.insights) options_.insights->cancelled(session);
                         service_answer a;
                         a.frames.push_back(make_ok_frame(id));
                         h(std::move(a));
                     });
}

void matching_service::remember_peer(const std::string& peer_id, const std::string& session) {
    {
        std::lock_guard lock(mutex_);
        peers_[peer_id] = session;
    }
    redis_.command({"SET", peer_session_key(peer_id), session, "EX",
                    std::to_string(options_.peer_session_ttl_s)},
                   [](boost::system::error_code, store::reply) {});
}

std::string matching_service::check_shift_options(const std::vector<std::string>& wont_take,
                                                  const std::optional<std::int64_t>& planned_end_at,
                                                  const std::vector<std::string>& catalog_tags,
                                                  std::int64_t now_ms) {
    // A won't-take tag outside the catalog could never match anything: most likely a typo the
    // peer would rather hear about than silently be unprotected by.
    if (auto bad = first_not_in(wont_take, catalog_tags, "wont_take", "unknown tag"); !bad.empty())
        return bad;
    if (planned_end_at) {
        if (*planned_end_at <= now_ms) return "planned_end_at: must be in the future";
        if (*planned_end_at - now_ms > max_planned_shift_ms)
            return "planned_end_at: must be within 24 hours";
    }
    return {};
}

void matching_service::shift_start(service_request r, answer_handler h) {
    if (!r.staff)
        return h(error_answer(r.id, error_code::not_authenticated, "log in again and say hello"));
    auto m = std::get<protocol::shift_start>(r.message);
    if (m.capacity < 1 || m.capacity > 5)
        return h(error_answer(r.id, error_code::bad_message, "capacity: must be 1 to 5"));
    const auto cat = catalog();
    if (auto bad = first_not_in(m.tags, cat->tags, "tags", "unknown tag"); !bad.empty())
        return h(error_answer(r.id, error_code::bad_message, bad));
    if (auto bad = first_not_in(m.languages, cat->languages, "languages", "unknown language");
        !bad.empty())
        return h(error_answer(r.id, error_code::bad_message, bad));
    if (auto bad = check_shift_options(m.wont_take, m.planned_end_at, cat->tags, now_ms());
        !bad.empty())
        return h(error_answer(r.id, error_code::bad_message, bad));
    const std::string peer_id = r.staff->username;
    accounts_.get(peer_id, [this, id = r.id, session = r.session_id, peer_id, m = std::move(m),
                            h = std::move(h)](boost::system::error_code ec,
                                              accounts::account account) mutable {
        if (ec) return h(error_answer(id, error_code::unavailable, "accounts are unavailable"));
        const auto active = account.active_tags(now_ms());
        if (auto bad = first_not_in(m.tags, active, "tags", "not certified (or expired) for");
            !bad.empty())
            return h(error_answer(id, error_code::bad_message, bad));
        if (!account.languages.empty())
            if (auto bad = first_not_in(m.languages, account.languages, "languages",
                                        "not a language of this account:");
                !bad.empty())
                return h(error_answer(id, error_code::bad_message, bad));
        matching::shift_request s;
        s.peer_id = peer_id;
        s.capacity = static_cast<int>(m.capacity);
        s.tags = std::move(m.tags);
        s.languages = std::move(m.languages);
        s.wont_take = std::move(m.wont_take);
        s.planned_end_ms = m.planned_end_at;
        auto tags = s.tags, languages = s.languages; // before s moves (argument order)
        matching_.shift_start(
            std::move(s),
            [this, id, session, peer_id, tags = std::move(tags), languages = std::move(languages),
             h = std::move(h)](boost::system::error_code sec, matching::peer_view v) {
                if (sec) return h(matching_error(id, sec));
                if (options_.insights)
                    options_.insights->shift_started(peer_id, session, tags, languages);
                remember_peer(peer_id, session);
                service_answer a;
                a.frames.push_back(make_ok_frame(id));
                a.frames.push_back(shift_frame(v));
                h(std::move(a));
                matching_.match_peer(peer_id,
                                     [this](const matching::sweep_report& rep) { on_sweep(rep); });
            });
    });
}

void matching_service::shift_change(service_request r, answer_handler h) {
    if (!r.staff)
        return h(error_answer(r.id, error_code::not_authenticated, "log in again and say hello"));
    const std::string peer_id = r.staff->username;
    const auto type = protocol::type_name(r.message);
    const bool resume = type == protocol::shift_resume::wire_type;
    auto done = [this, id = r.id, session = r.session_id, peer_id, resume,
                 h = std::move(h)](boost::system::error_code ec, matching::peer_view v) {
        if (ec) return h(matching_error(id, ec));
        if (options_.insights) options_.insights->shift_changed(peer_id, v.state);
        remember_peer(peer_id, session);
        service_answer a;
        a.frames.push_back(make_ok_frame(id));
        a.frames.push_back(shift_frame(v));
        h(std::move(a));
        if (resume)
            matching_.match_peer(peer_id,
                                 [this](const matching::sweep_report& rep) { on_sweep(rep); });
    };
    if (type == protocol::shift_pause::wire_type)
        matching_.shift_pause(peer_id, std::move(done));
    else if (resume)
        matching_.shift_resume(peer_id, std::move(done));
    else
        matching_.shift_end(peer_id, std::move(done));
}

void matching_service::store_prekeys(service_request r, answer_handler h) {
    if (!r.staff)
        return h(error_answer(r.id, error_code::not_authenticated, "log in again and say hello"));
    // Verified against the registered identity key by connection_logic before reaching here.
    const auto& keys = std::get<protocol::prekeys>(r.message).keys;
    std::vector<std::string> stored;
    stored.reserve(keys.size());
    for (const auto& k : keys)
        stored.push_back(encode_prekey(k));
    const std::string peer_id = r.staff->username;
    matching_.add_prekeys(
        peer_id, std::move(stored),
        [this, id = r.id, verified = keys.size(), peer_id,
         h = std::move(h)](boost::system::error_code ec, std::int64_t remaining) {
            if (ec) return h(matching_error(id, ec));
            service_answer a;
            a.frames.push_back(
                make_ok_frame(id, json::object{{"verified", verified}, {"remaining", remaining}}));
            if (remaining < options_.prekeys_low_below)
                a.frames.push_back(make_event_frame(protocol::prekeys_low{remaining}));
            h(std::move(a));
            matching_.match_peer(peer_id,
                                 [this](const matching::sweep_report& rep) { on_sweep(rep); });
        });
}

struct matching_service::peer_reads {
    boost::system::error_code account_error;
    accounts::account account;
    std::string peer_session;
};

// Both sides may hear of the match only once its conversation exists (so their first `send`
// finds it), and the announcement needs the peer's account and session; the three are
// asked for at once and joined here.
struct matching_service::early_match {
    std::string session, peer_id;
    bool created = false;
    std::shared_ptr<peer_reads> reads;
    std::function<void(early_match&)> then; // set by the outcome, before its one_done
    // after_all(3): the create, the reads, the claim's outcome; the last runs `then`. Each
    // writes its part before its call, so `then` sees all three.
    std::function<void()> one_done;
};

std::shared_ptr<matching_service::early_match>
matching_service::take_early(const std::string& conversation_id) {
    std::lock_guard lock(mutex_);
    auto it = early_.find(conversation_id);
    if (it == early_.end()) return nullptr;
    auto e = std::move(it->second);
    early_.erase(it);
    return e;
}

void matching_service::on_match(const matching::match_record& record) {
    const auto claimed = steady::now();
    if (options_.on_stage) {
        std::optional<steady::time_point> queued;
        {
            std::lock_guard lock(mutex_);
            if (auto it = clocks_.find(record.session); it != clocks_.end())
                queued = it->second.queued;
        }
        if (queued) stage("to_claim", *queued);
    }
    spdlog::info("event=matched conversation={}… relaxed={} waited_s={}",
                 record.conversation_id.substr(0, 6), record.relaxed, record.waited_s());
    // Escalations the seeker raised while queued now name the conversation (join, cooldown).
    if (options_.on_matched)
        options_.on_matched(record.session, record.conversation_id, record.peer_id);
    if (options_.insights) options_.insights->matched(record);
    if (!options_.conversations) return announce(record);
    auto early = take_early(record.conversation_id);
    if (!early) return create_and_read(record, claimed, 0);
    early->then = [this, record, claimed](early_match& e) {
        if (e.created) return conversation_ready(record, *e.reads, claimed);
        // The early create met Redis trouble: the usual tries, from the second.
        create_and_read(record, claimed, 1);
    };
    early->one_done();
}

void matching_service::claim_sent(const std::string& conversation_id, const std::string& session,
                                  const std::string& peer_id) {
    if (!options_.conversations) return;
    auto e = std::make_shared<early_match>();
    e->session = session;
    e->peer_id = peer_id;
    // A plain pointer: whoever makes the last call holds `e`.
    e->one_done = after_all(3, [raw = e.get()] { raw->then(*raw); });
    {
        std::lock_guard lock(mutex_);
        early_[conversation_id] = e;
    }
    // Sent right behind the claim on the same connection: when the claim's answer is in, these
    // are too, or nearly. Should the claim be refused, the conversation is discarded unseen
    // (its id is random and told to nobody).
    options_.conversations->create(conversation_id, relay::parties{session, peer_id, {}}, now_ms(),
                                   [e](boost::system::error_code ec, relay::create_result) {
                                       e->created = !ec;
                                       e->one_done();
                                   });
    read_peer(peer_id, [e](std::shared_ptr<peer_reads> r) {
        e->reads = std::move(r);
        e->one_done();
    });
}

void matching_service::claim_lost(const std::string& conversation_id, matching::claim_loss why) {
    // Unknown (the claim's answer was lost): the store settles it later with on_match or
    // refused, which find the early work still here.
    if (why == matching::claim_loss::unknown) return;
    auto e = take_early(conversation_id);
    if (!e) return;
    // Discarded even when the create answered an error: after a timeout it may have run, and
    // a conversation left behind would be listed to both parties until the hard limit.
    // (discard removes only what is untouched since create; nothing there is nothing done.)
    e->then = [this, conversation_id](early_match& done) {
        discard_early(conversation_id, relay::parties{done.session, done.peer_id, {}}, 0);
    };
    e->one_done();
}

void matching_service::discard_early(const std::string& conversation_id, relay::parties parties,
                                     int attempt) {
    options_.conversations->discard(
        conversation_id, parties,
        [this, conversation_id, parties, attempt](boost::system::error_code ec, bool) {
            if (!ec) return;
            if (attempt < max_attempts - 1)
                return discard_early(conversation_id, parties, attempt + 1);
            // Left behind, it lists an empty conversation to both parties until the hard limit.
            spdlog::warn("event=conversation_discard_failed conversation={}… error=\"{}\"",
                         conversation_id.substr(0, 6), ec.message());
        });
}

void matching_service::create_and_read(const matching::match_record& record,
                                       steady::time_point claimed, int attempt) {
    struct joined {
        bool created = false;
        std::shared_ptr<peer_reads> reads;
    };
    auto j = std::make_shared<joined>();
    auto one_done = after_all(2, [this, record, claimed, j] {
        if (!j->created) return undo_match(record, false);
        conversation_ready(record, *j->reads, claimed);
    });
    read_peer(record.peer_id, [j, one_done](std::shared_ptr<peer_reads> r) {
        j->reads = std::move(r);
        one_done();
    });
    // create is idempotent: a retry covers a dropped answer.
    auto create = std::make_shared<std::function<void(int)>>();
    *create = [this, record, create, j, one_done](int n) {
        options_.conversations->create(
            record.conversation_id, relay::parties{record.session, record.peer_id, {}}, now_ms(),
            [this, record, create, n, j, one_done](boost::system::error_code ec,
                                                   relay::create_result) {
                if (ec && n < max_attempts - 1) return (*create)(n + 1);
                *create = nullptr; // break the cycle
                if (ec) {
                    // Announcing a conversation that does not exist would strand both sides.
                    spdlog::error("event=conversation_create_failed conversation={}… error=\"{}\"",
                                  record.conversation_id.substr(0, 6), ec.message());
                    return one_done(); // not created: undone once the reads are in
                }
                j->created = true;
                one_done();
            });
    };
    (*create)(attempt);
}

void matching_service::conversation_ready(const matching::match_record& record,
                                          const peer_reads& reads, steady::time_point claimed) {
    stage("create", claimed);
    // Watched for the peer grace period (relay_service::grace_tick).
    redis_.command(
        {"ZADD", "convs:{active}", std::to_string(record.matched_at_ms), record.conversation_id},
        [](boost::system::error_code, store::reply) {});
    announce_with(record, reads, 0, claimed);
}

void matching_service::undo_match(const matching::match_record& record, bool avoid_peer) {
    // Neither side was told: end the stored conversation (if any), give the peer its slot back
    // and put the seeker first in the queue again, so nobody is left stranded.
    if (options_.conversations) {
        relay::end_request e;
        e.conversation_id = record.conversation_id;
        e.reason = "match_failed";
        e.now = now_ms();
        options_.conversations->end(std::move(e),
                                    [](boost::system::error_code, relay::end_result) {});
        redis_.command({"ZREM", "convs:{active}", record.conversation_id},
                       [](boost::system::error_code, store::reply) {});
    }
    matching_.release(record.conversation_id, [this, record,
                                               avoid_peer](boost::system::error_code ec,
                                                           matching::release_result) {
        if (ec) {
            spdlog::error("event=match_undo_failed conversation={}… error=\"{}\"",
                          record.conversation_id.substr(0, 6), ec.message());
            return;
        }
        matching::requeue_options o;
        o.avoid_peer = avoid_peer;
        matching_.requeue(record.conversation_id, o,
                          [this, record](boost::system::error_code rec, matching::queue_entry) {
                              if (rec) {
                                  spdlog::error("event=match_undo_failed conversation={}… "
                                                "error=\"{}\"",
                                                record.conversation_id.substr(0, 6), rec.message());
                                  return;
                              }
                              spdlog::warn("event=match_undone conversation={}…",
                                           record.conversation_id.substr(0, 6));
                              matching_.match_seeker(
                                  record.session,
                                  [this](const matching::sweep_report& rep) { on_sweep(rep); });
                          });
    });
}

void matching_service::read_peer(const std::string& peer_id,
                                 std::function<void(std::shared_ptr<peer_reads>)> done) {
    // The peer's account and its current session are read together (one round trip, not
    // two: every round trip is on the path from request_match to `matched`).
    auto r = std::make_shared<peer_reads>();
    auto one_done = after_all(2, [r, done = std::move(done)] { done(r); });
    redis_.command({"GET", peer_session_key(peer_id)},
                   [r, one_done](boost::system::error_code ec, store::reply reply) {
                       if (!ec && reply.is_string()) r->peer_session = reply.str();
                       one_done();
                   });
    accounts_.get(peer_id, [r, one_done](boost::system::error_code ec, accounts::account account) {
        r->account_error = ec;
        r->account = std::move(account);
        one_done();
    });
}

void matching_service::announce(const matching::match_record& record, int attempt,
                                steady::time_point since) {
    if (attempt == 0) since = steady::now();
    read_peer(record.peer_id, [this, record, attempt, since](std::shared_ptr<peer_reads> r) {
        announce_with(record, *r, attempt, since);
    });
}

void matching_service::announce_with(const matching::match_record& rec, const peer_reads& r,
                                     int attempt, steady::time_point since) {
    auto key = decode_prekey(rec.prekey);
    auto pub = protocol::base64_decode(rec.payload);
    protocol::x25519_public_key seeker_key{};
    const auto ec = r.account_error;
    const auto& account = r.account;
    const std::string& peer_session = r.peer_session;
    // Redis trouble (e.g. a burst of matches): try again before giving up.
    if (ec && relay::is_unavailable(ec) && attempt < max_attempts - 1)
        return announce(rec, attempt + 1, since);
    if (ec || !account.identity_key || !key || !pub || pub->size() != seeker_key.size()) {
        // Without these neither side can set up the encryption: undo the match rather
        // than leave the seeker holding a conversation it never hears of. A peer whose
        // record is unusable is avoided for this seeker.
        spdlog::error("event=match_unusable conversation={}…", rec.conversation_id.substr(0, 6));
        return undo_match(rec, !ec);
    }
    std::copy(pub->begin(), pub->end(), seeker_key.begin());
    protocol::seeker_matched se;
    se.conversation_id = rec.conversation_id;
    se.relaxed = rec.relaxed;
    se.peer.alias = account.alias;
    se.peer.tags = account.active_tags(now_ms());
    se.peer.shared_tags = rec.shared_tags;
    se.peer.prekey = key->prekey;
    se.peer.identity_key = *account.identity_key;
    se.peer.signature = key->signature;
    protocol::peer_matched pe;
    pe.conversation_id = rec.conversation_id;
    pe.prekey = key->prekey;
    pe.seeker.pubkey = seeker_key;
    pe.seeker.tags = rec.seeker_tags;
    pe.seeker.shared_tags = rec.shared_tags;
    pe.seeker.waited_s = rec.waited_s();
    pe.seeker.risk = rec.risk_level;
    std::string seeker_event = protocol::encode_event(protocol::server_event{std::move(se)});
    std::string peer_event = protocol::encode_event(protocol::server_event{std::move(pe)});
    if (options_.on_stage) {
        stage("announce", since);
        std::lock_guard lock(mutex_);
        if (auto it = clocks_.find(rec.session); it != clocks_.end())
            it->second.announced = steady::now();
    }
    json::object body;
    body["seeker_event"] = seeker_event;
    body["peer_session"] = peer_session;
    body["peer_event"] = peer_event;
    // The seeker's instance adds the intake it holds and forwards to the peer; if
    // the seeker is connected nowhere, the peer is told here, without intake.
    bus_.notify(rec.session, "matched", std::move(body),
                [this, peer_session, peer_event](bool reached) {
                    if (!reached) bus_.deliver(peer_session, "matched", peer_event);
                });
    bus_.deliver(peer_session, "shift",
                 protocol::encode_event(protocol::shift_state{protocol::shift_status::on,
                                                              rec.peer_active, rec.peer_capacity}));
    if (rec.prekeys_left < options_.prekeys_low_below)
        bus_.deliver(peer_session, "prekeys_low",
                     protocol::encode_event(protocol::prekeys_low{rec.prekeys_left}));
}

void matching_service::matched_at_seeker(const std::string& session, const json::object& body) {
    auto text = [&](std::string_view k) -> std::string {
        auto it = body.find(k);
        return it != body.end() && it->value().is_string() ? std::string(it->value().get_string())
                                                           : std::string();
    };
    std::string seeker_event = text("seeker_event");
    std::string peer_session = text("peer_session");
    std::string peer_event = text("peer_event");
    std::optional<std::string> intake;
    std::optional<seeker_clock> clock;
    {
        std::lock_guard lock(mutex_);
        if (auto it = intakes_.find(session); it != intakes_.end()) {
            intake = std::move(it->second);
            intakes_.erase(it);
        }
        waiting_.erase(session);
        if (auto it = clocks_.find(session); it != clocks_.end()) {
            clock = it->second;
            clocks_.erase(it);
        }
    }
    if (!seeker_event.empty()) bus_.deliver(session, "matched", std::move(seeker_event));
    if (clock) {
        // announced is unset when another instance announced the match.
        if (clock->announced != steady::time_point{}) stage("handoff", clock->announced);
        stage("total", clock->requested);
    }
    if (peer_event.empty()) return;
    if (intake) {
        json::error_code ec;
        auto v = json::parse(peer_event, ec);
        if (!ec && v.is_object()) {
            v.get_object()["intake"] = *intake;
            peer_event = json::serialize(v);
        }
    }
    bus_.deliver(std::move(peer_session), "matched", std::move(peer_event));
}

void matching_service::on_sweep(const matching::sweep_report& report) {
    for (const auto& q : report.queue) {
        if (q.position == 0 || connections_.find_session(q.session).empty()) continue;
        {
            std::lock_guard lock(mutex_);
            auto& last = waiting_[q.session];
            if (last == q.position) continue;
            last = q.position;
        }
        auto f = queued_frame(q.position, q.estimated_wait_s);
        bus_.deliver(q.session, "queued", std::move(f.text));
    }
}

void matching_service::relax_tick() {
    matching_.match_relaxed_due(0, [this](const matching::sweep_report& rep) { on_sweep(rep); });
}

void matching_service::presence_tick() {
    std::vector<std::string> peers;
    std::vector<std::string> sessions;
    {
        std::lock_guard lock(mutex_);
        for (auto it = peers_.begin(); it != peers_.end();) {
            if (connections_.find_session(it->second).empty()) {
                it = peers_.erase(it); // gone from here: its presence lapses unless renewed
            } else {
                peers.push_back(it->first);
                ++it;
            }
        }
        std::erase_if(clocks_,
                      [this](const auto& c) { return connections_.find_session(c.first).empty(); });
        for (auto it = waiting_.begin(); it != waiting_.end();) {
            if (connections_.find_session(it->first).empty()) {
                // Not held here (any more): its request expires unless its new holder
                // renews it; the intake stays with this process only, so it goes too.
                intakes_.erase(it->first);
                it = waiting_.erase(it);
            } else {
                sessions.push_back(it->first);
                ++it;
            }
        }
    }
    if (peers.empty() && sessions.empty()) return;
    matching_.refresh_presence(
        std::move(peers), std::move(sessions), [](boost::system::error_code ec) {
            if (ec) spdlog::warn("event=presence_refresh_failed error=\"{}\"", ec.message());
        });
}

void matching_service::session_opened(const std::string& session_id, protocol::role role,
                                      const std::optional<staff_identity>& staff) {
    if (role != protocol::role::peer || !staff) return;
    remember_peer(staff->username, session_id);
    // A console that reloads or resumes learns its shift at once (after the hello answer: the
    // delivery is posted to the connection's strand), not at the next change.
    matching_.peer(staff->username,
                   [this, session_id](boost::system::error_code ec, matching::peer_state p) {
                       if (ec) return; // no shift yet (not_found) or Redis trouble: nothing to tell
                       bus_.deliver(session_id, "shift",
                                    protocol::encode_event(protocol::server_event{
                                        protocol::shift_state{p.shift, p.active, p.capacity}}));
                   });
}

void matching_service::connection_closed(const std::string& session_id) {
    // The session lives on for its grace period and may resume here or elsewhere; presence
    // and the in-memory intake are dropped by the next presence_tick if it does not.
    (void)session_id;
}

} // namespace kindred::server
