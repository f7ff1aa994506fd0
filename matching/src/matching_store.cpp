// matching_store.cpp — see matching_store.hpp. Never logs sessions, peers, tags or payloads.
// Every completion handler below runs on the Redis client's strand, one at a time, so the
// per-operation state they share (a pass, a pipelined pair) needs no lock; only the pass
// bookkeeping in impl (requests may come from any thread) is behind a mutex.
#include "replies.hpp"
#include <kindred/matching/lua_scripts.hpp>
#include <kindred/matching/matching_store.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/script.hpp>

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace kindred::matching {

namespace {

using steady = std::chrono::steady_clock;

std::chrono::microseconds micros_since(steady::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t);
}

// The scripts, built once (thread-safe static initialisation); SHA1s are computed locally.
struct scripts {
    store::script enqueue{std::string(lua::enqueue)};
    store::script cancel{std::string(lua::cancel)};
    store::script snapshot{std::string(lua::snapshot)};
    store::script position{std::string(lua::position)};
    store::script claim{std::string(lua::claim)};
    store::script release{std::string(lua::release)};
    store::script requeue{std::string(lua::requeue)};
    store::script shift_start{std::string(lua::shift_start)};
    store::script shift_change{std::string(lua::shift_change)};
    store::script block{std::string(lua::block)};
    store::script refresh{std::string(lua::refresh)};
    store::script add_prekeys{std::string(lua::add_prekeys)};
    store::script find_match{std::string(lua::find_match)};
    store::script cooldown{std::string(lua::cooldown)};
};

const scripts& lua_scripts() {
    static const scripts s;
    return s;
}

std::int64_t system_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string random_id() {
    unsigned char bytes[16];
    randombytes_buf(bytes, sizeof bytes);
    char out[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(out, sizeof out, bytes, sizeof bytes,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

std::string ms_text(std::chrono::milliseconds d) {
    return std::to_string(std::max<std::int64_t>(d.count(), 1));
}

bool valid_list(const std::vector<std::string>& items, std::size_t min, std::size_t max,
                bool (*shape)(std::string_view)) {
    if (items.size() < min || items.size() > max) return false;
    return std::all_of(items.begin(), items.end(), [&](const std::string& s) { return shape(s); });
}

std::vector<std::string> unique(std::vector<std::string> v) {
    std::vector<std::string> out;
    for (auto& s : v) {
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    }
    return out;
}

bool valid_id(const std::string& id) {
    return !id.empty() && id.size() <= 128;
}

const std::string& status_of(const store::reply& r) {
    return r.at(0).str();
}

// The error a script's {'fail', reason, ...} reply names.
boost::system::error_code failure_of(const store::reply& r) {
    if (auto e = detail::error_from(r.at(1).str())) return make_error_code(*e);
    return make_error_code(error::bad_reply);
}

std::optional<peer_view> parse_view(const std::string& peer_id, const store::reply& r,
                                    std::size_t from) {
    // {…, shift_id, state, active, cap} starting at `from`.
    auto state = protocol::from_string<shift_status>(r.at(from + 1).str());
    auto active = detail::integer_of(r.at(from + 2));
    auto cap = detail::integer_of(r.at(from + 3));
    if (!state || !active || !cap) return std::nullopt;
    peer_view v;
    v.peer_id = peer_id;
    v.shift_id = r.at(from).str();
    v.state = *state;
    v.active = static_cast<int>(*active);
    v.capacity = static_cast<int>(*cap);
    return v;
}

} // namespace

class matching_store::impl : public std::enable_shared_from_this<impl> {
public:
    impl(store::client& redis, matching_options options)
        : redis_(redis)
        , options_(std::move(options)) {
        if (!options_.clock) options_.clock = system_ms;
        if (!options_.new_conversation_id) {
            // Idempotent and thread-safe; the server's main has already checked it succeeds.
            if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
            options_.new_conversation_id = random_id;
        }
        if (options_.max_rounds == 0) options_.max_rounds = 1;
    }

    store::client& redis_;
    matching_options options_;

    // Pass bookkeeping (any thread).
    std::mutex mutex_;
    bool running_ = false;
    std::vector<sweep_handler> next_;
    std::int64_t next_now_ = 0;
    steady::time_point next_since_{};    // when the oldest of next_ asked
    std::vector<std::string> uncertain_; // claims whose outcome we never heard
    std::atomic<std::uint64_t> passes_{0};

    std::string key(std::string_view kind) const { return options_.key_prefix + std::string(kind); }
    std::string key(std::string_view kind, std::string_view id) const {
        return options_.key_prefix + std::string(kind) + ":" + std::string(id);
    }
    std::int64_t now() const { return options_.clock(); }

    sweep::config sweep_config() const {
        return {options_.policy, options_.estimate, options_.max_rounds};
    }

    // --- snapshot ----------------------------------------------------------------------------
    // `full`: everything a pass needs; otherwise only what queue positions need (no peers,
    // no blocked sets), which is cheaper on a long queue.
    void read_snapshot(std::int64_t now_ms, bool full,
                       std::function<void(boost::system::error_code, snapshot)> done) {
        redis_.eval(
            lua_scripts().snapshot, {key("queue"), key("peers"), key("stats"), key("stats_since")},
            {options_.key_prefix, "1", std::to_string(now_ms), ms_text(options_.estimate.window),
             full ? "1" : "0", std::to_string(options_.policy.relax_after.count()),
             std::to_string(options_.policy.end_window.count())},
            [done = std::move(done)](boost::system::error_code ec, store::reply r) {
                if (ec) return done(ec, {});
                auto s = detail::parse_snapshot(r);
                if (!s) return done(make_error_code(error::bad_reply), {});
                done({}, std::move(*s));
            });
    }

    // One request's place and estimate from position.lua (indexes and counters: no read of
    // the queue or of every recent match). `gone_ok` (after enqueue/requeue): a request that
    // already left the queue — a pass on some instance matched it in between — is position
    // 0, not an error.
    void answer_position_now(std::string session, std::int64_t now_ms, handler<queue_entry> h,
                             bool gone_ok = true) {
        redis_.eval(
            lua_scripts().position, {key("queue"), key("req", session), key("stats_since")},
            {options_.key_prefix, session, std::to_string(now_ms),
             ms_text(options_.estimate.window)},
            [self = shared_from_this(), session, now_ms, gone_ok,
             h = std::move(h)](boost::system::error_code ec, store::reply r) {
                if (ec) return h(ec, {});
                if (!r.is_array()) {
                    if (gone_ok) return h({}, queue_entry{session, 0, std::nullopt});
                    return h(make_error_code(error::not_waiting), {});
                }
                auto pos = r.size() == 10 ? detail::integer_of(r.at(6)) : std::nullopt;
                auto by_tag = r.size() == 10 ? detail::integer_of(r.at(7)) : std::nullopt;
                auto by_lang = r.size() == 10 ? detail::integer_of(r.at(8)) : std::nullopt;
                auto at = r.size() == 10 && r.at(4).is_string() ? store::parse_int64(r.at(4).str())
                                                                : std::nullopt;
                if (!pos || !by_tag || !by_lang || !at || *pos < 1 || *by_tag < 0 || *by_lang < 0)
                    return h(make_error_code(error::bad_reply), {});
                std::optional<std::int64_t> since;
                if (r.at(9).is_string() && !r.at(9).str().empty())
                    since = store::parse_int64(r.at(9).str());
                seeker_request req;
                req.session = session;
                req.enqueued_at_ms = *at;
                const auto& est = self->options_.estimate;
                queue_entry e;
                e.session = session;
                e.position = static_cast<std::size_t>(*pos);
                e.estimated_wait_s = estimate_from_rates(
                    req, e.position,
                    counted_rate(static_cast<std::size_t>(*by_tag), now_ms, since, est),
                    counted_rate(static_cast<std::size_t>(*by_lang), now_ms, since, est), now_ms,
                    self->options_.policy);
                h({}, std::move(e));
            });
    }

    // --- passes ------------------------------------------------------------------------------
    struct pass {
        explicit pass(sweep::config c)
            : machine(std::move(c)) {}
        sweep machine;
        std::vector<sweep_handler> waiters;
        std::int64_t now_hint = 0;
        std::int64_t now_ms = 0;
        pass_timing timing;
        steady::time_point phase_start{}; // of the snapshot or claims in flight
    };

    void request_pass(sweep_handler h, std::int64_t now_hint) {
        std::vector<sweep_handler> batch;
        std::int64_t hint = 0;
        steady::time_point since;
        {
            std::lock_guard lock(mutex_);
            if (next_.empty()) next_since_ = steady::now();
            next_.push_back(std::move(h));
            next_now_ = std::max(next_now_, now_hint);
            if (running_) return; // served by the pass that starts when this one ends
            running_ = true;
            batch.swap(next_);
            hint = std::exchange(next_now_, 0);
            since = next_since_;
        }
        start_pass(std::move(batch), hint, since);
    }

    void start_pass(std::vector<sweep_handler> waiters, std::int64_t now_hint,
                    steady::time_point since) {
        auto p = std::make_shared<pass>(sweep_config());
        p->machine.set_pass_id(++passes_);
        p->waiters = std::move(waiters);
        p->now_hint = now_hint;
        p->timing.requests = p->waiters.size();
        p->timing.waited = micros_since(since);
        look_up_uncertain();
        drive(p, p->machine.start());
    }

    // Claims whose reply was lost (timeout, dropped connection) may have run: look their
    // records up (pipelined ahead of the next snapshot) and deliver the ones that did.
    void look_up_uncertain() {
        std::vector<std::string> ids;
        {
            std::lock_guard lock(mutex_);
            ids.swap(uncertain_);
        }
        for (auto& id : ids) {
            redis_.command(
                {"HGETALL", key("conv", id)},
                [self = shared_from_this(), id](boost::system::error_code ec, store::reply r) {
                    if (ec) {
                        self->remember_uncertain({id});
                        return;
                    }
                    if (auto m = detail::parse_record(id, r)) {
                        if (self->options_.on_match) self->options_.on_match(*m);
                    } else if (self->options_.on_claim_lost) {
                        self->options_.on_claim_lost(id, claim_loss::refused);
                    }
                });
        }
    }

    void remember_uncertain(const std::vector<std::string>& ids) {
        constexpr std::size_t max_uncertain = 10000;
        std::lock_guard lock(mutex_);
        for (const auto& id : ids) {
            if (uncertain_.size() < max_uncertain) uncertain_.push_back(id);
        }
    }

    void drive(const std::shared_ptr<pass>& p, sweep::step step) {
        switch (step) {
        case sweep::step::snapshot: {
            p->now_ms = std::max(now(), p->now_hint);
            ++p->timing.rounds;
            p->phase_start = steady::now();
            read_snapshot(p->now_ms, true,
                          [self = shared_from_this(), p](boost::system::error_code ec, snapshot s) {
                              p->timing.snapshots += micros_since(p->phase_start);
                              if (ec) return self->drive(p, p->machine.on_snapshot_error(ec));
                              self->drive(p, p->machine.on_snapshot(std::move(s), p->now_ms));
                          });
            return;
        }
        case sweep::step::claim:
            send_claims(p);
            return;
        case sweep::step::done:
            finish_pass(p);
            return;
        }
    }

    void send_claims(const std::shared_ptr<pass>& p) {
        struct batch {
            std::vector<claim_result> results;
            std::size_t remaining = 0;
        };
        const auto& orders = p->machine.claims();
        auto b = std::make_shared<batch>();
        b->results.resize(orders.size());
        b->remaining = orders.size();
        p->phase_start = steady::now();
        const std::string now_text = std::to_string(p->now_ms);
        for (std::size_t i = 0; i < orders.size(); ++i) {
            const claim_order& o = orders[i];
            std::string conv = options_.new_conversation_id();
            const auto& s = o.pick.session;
            const auto& peer = o.pick.peer_id;
            redis_.eval(lua_scripts().claim,
                        {key("queue"), key("req", s), key("peer", peer), key("alive", peer),
                         key("prekeys", peer), key("blocked", s), key("conv", conv),
                         key("seeker", s), key("rate", std::to_string(p->now_ms / 60000)),
                         key("stats_since"), key("cooldown", peer)},
                        {s, o.request_id, peer, o.shift_id, conv, o.pick.relaxed ? "1" : "0",
                         detail::join(o.pick.shared_tags), now_text,
                         ms_text(options_.policy.end_window), ms_text(options_.record_ttl),
                         ms_text(options_.estimate.window), options_.key_prefix},
                        [self = shared_from_this(), p, b, i, o, conv](boost::system::error_code ec,
                                                                      store::reply r) {
                            claim_result res;
                            const auto& lost = self->options_.on_claim_lost;
                            if (ec) {
                                res.conversation_id = conv;
                                res.ec = ec;
                                if (lost) lost(conv, claim_loss::unknown);
                            } else {
                                res = detail::parse_claim(r, o, conv);
                                if (res.match) {
                                    res.match->matched_at_ms = p->now_ms;
                                    if (self->options_.on_match)
                                        self->options_.on_match(*res.match);
                                } else if (lost) {
                                    // A reply it cannot read (res.ec) is settled like a lost one.
                                    lost(conv, res.ec ? claim_loss::unknown : claim_loss::refused);
                                }
                            }
                            b->results[i] = std::move(res);
                            if (--b->remaining != 0) return;
                            p->timing.claims += micros_since(p->phase_start);
                            self->drive(p, p->machine.on_claims(std::move(b->results)));
                        });
            if (options_.on_claim_sent) options_.on_claim_sent(conv, s, peer);
        }
    }

    void finish_pass(const std::shared_ptr<pass>& p) {
        const sweep_report& report = p->machine.report();
        if (!report.uncertain.empty()) remember_uncertain(report.uncertain);
        if (options_.on_pass) options_.on_pass(p->timing);
        for (auto& w : p->waiters) {
            if (w) w(report);
        }
        std::vector<sweep_handler> batch;
        std::int64_t hint = 0;
        steady::time_point since;
        {
            std::lock_guard lock(mutex_);
            if (next_.empty()) {
                running_ = false;
                return;
            }
            batch.swap(next_);
            hint = std::exchange(next_now_, 0);
            since = next_since_;
        }
        start_pass(std::move(batch), hint, since);
    }
};

// ---------------------------------------------------------------------------------------------

matching_store::matching_store(store::client& redis, matching_options options)
    : impl_(std::make_shared<impl>(redis, std::move(options))) {}

matching_store::~matching_store() = default;

const matching_options& matching_store::options() const noexcept {
    return impl_->options_;
}

void matching_store::enqueue(enqueue_request request, handler<queue_entry> h) {
    request.tags = unique(std::move(request.tags));
    request.languages = unique(std::move(request.languages));
    if (!valid_id(request.session) ||
        !valid_list(request.tags, 1, protocol::limits::max_seeker_tags, protocol::is_tag_id) ||
        !valid_list(request.languages, 1, protocol::limits::max_languages,
                    protocol::is_language_tag))
        return h(make_error_code(error::bad_input), {});
    auto& i = *impl_;
    const auto now_ms = i.now();
    const auto& s = request.session;
    // The snapshot is sent only once the enqueue has answered: pipelining both would not
    // keep them in order when the enqueue script meets NOSCRIPT and is sent again.
    i.redis_.eval(lua_scripts().enqueue,
                  {i.key("queue"), i.key("req", s), i.key("seeker", s), i.key("seq")},
                  {s, detail::join(request.tags), detail::join(request.languages),
                   std::string(protocol::to_string(request.risk_level)), std::to_string(now_ms),
                   "0", request.payload, ms_text(i.options_.request_ttl), i.options_.key_prefix},
                  [self = impl_, h = std::move(h), s, now_ms](boost::system::error_code ec,
                                                              store::reply r) mutable {
                      if (ec) return h(ec, {});
                      if (status_of(r) != "ok") return h(failure_of(r), {});
                      self->answer_position_now(std::move(s), now_ms, std::move(h));
                  });
}

void matching_store::load_scripts(done_handler h) {
    const auto& l = lua_scripts();
    const store::script* all[] = {&l.enqueue,      &l.cancel,  &l.snapshot, &l.position,
                                  &l.claim,        &l.release, &l.requeue,  &l.shift_start,
                                  &l.shift_change, &l.block,   &l.refresh,  &l.add_prekeys,
                                  &l.find_match,   &l.cooldown};
    impl_->redis_.load_all(all, std::move(h));
}

void matching_store::cancel(std::string session, done_handler h) {
    auto& i = *impl_;
    i.redis_.eval(lua_scripts().cancel, {i.key("queue"), i.key("req", session)},
                  {session, i.options_.key_prefix},
                  [h = std::move(h)](boost::system::error_code ec, store::reply r) {
                      if (ec) return h(ec);
                      h(r.integer() == 1 ? boost::system::error_code{}
                                         : make_error_code(error::not_waiting));
                  });
}

void matching_store::position(std::string session, handler<queue_entry> h) {
    impl_->answer_position_now(std::move(session), impl_->now(), std::move(h), false);
}

void matching_store::queue(handler<std::vector<queue_entry>> h) {
    const auto now_ms = impl_->now();
    impl_->read_snapshot(
        now_ms, false,
        [self = impl_, h = std::move(h), now_ms](boost::system::error_code ec, snapshot s) {
            if (ec) return h(ec, {});
            h({}, queue_view(s, now_ms, self->options_.policy, self->options_.estimate));
        });
}

void matching_store::requeue(std::string conversation_id, requeue_options options,
                             handler<queue_entry> h) {
    auto& i = *impl_;
    const auto now_ms = i.now();
    i.redis_.eval(
        lua_scripts().requeue, {i.key("conv", conversation_id), i.key("queue"), i.key("seq")},
        {i.options_.key_prefix, conversation_id, std::to_string(now_ms),
         ms_text(i.options_.request_ttl), options.avoid_peer ? "1" : "0",
         ms_text(i.options_.block_ttl), options.payload ? "1" : "0", options.payload.value_or("")},
        [self = impl_, h = std::move(h), now_ms](boost::system::error_code ec,
                                                 store::reply r) mutable {
            if (ec) return h(ec, {});
            if (status_of(r) != "ok") return h(failure_of(r), {});
            self->answer_position_now(r.at(2).str(), now_ms, std::move(h));
        });
}

void matching_store::block(std::string peer_id, std::string session, done_handler h) {
    if (!valid_id(peer_id) || !valid_id(session)) return h(make_error_code(error::bad_input));
    auto& i = *impl_;
    i.redis_.eval(lua_scripts().block, {i.key("blocked", session)},
                  {peer_id, ms_text(i.options_.block_ttl)},
                  [h = std::move(h)](boost::system::error_code ec, store::reply) { h(ec); });
}

void matching_store::shift_start(shift_request request, handler<peer_view> h) {
    request.tags = unique(std::move(request.tags));
    request.languages = unique(std::move(request.languages));
    request.wont_take = unique(std::move(request.wont_take));
    if (!valid_id(request.peer_id) || request.capacity < protocol::limits::min_capacity ||
        request.capacity > protocol::limits::max_capacity ||
        !valid_list(request.tags, 0, protocol::limits::max_shift_tags, protocol::is_tag_id) ||
        !valid_list(request.languages, 1, protocol::limits::max_languages,
                    protocol::is_language_tag) ||
        !valid_list(request.wont_take, 0, protocol::limits::max_shift_tags, protocol::is_tag_id))
        return h(make_error_code(error::bad_input), {});
    auto& i = *impl_;
    const auto& p = request.peer_id;
    i.redis_.eval(lua_scripts().shift_start,
                  {i.key("peer", p), i.key("peers"), i.key("alive", p), i.key("seq")},
                  {p, std::to_string(request.capacity), detail::join(request.tags),
                   detail::join(request.languages), detail::join(request.wont_take),
                   request.planned_end_ms ? std::to_string(*request.planned_end_ms) : std::string(),
                   std::to_string(i.now()), ms_text(i.options_.presence_ttl),
                   i.options_.key_prefix},
                  [h = std::move(h), p](boost::system::error_code ec, store::reply r) {
                      if (ec) return h(ec, {});
                      auto v = parse_view(p, r, 0);
                      if (!v) return h(make_error_code(error::bad_reply), {});
                      h({}, std::move(*v));
                  });
}

namespace {

void shift_change(matching_store::impl& i, std::string peer_id, const char* op,
                  matching_store::handler<peer_view> h) {
    i.redis_.eval(lua_scripts().shift_change, {i.key("peer", peer_id), i.key("peers")},
                  {peer_id, op, i.options_.key_prefix},
                  [h = std::move(h), peer_id](boost::system::error_code ec, store::reply r) {
                      if (ec) return h(ec, {});
                      const auto& status = status_of(r);
                      if (status == "ok") {
                          auto v = parse_view(peer_id, r, 1);
                          if (!v) return h(make_error_code(error::bad_reply), {});
                          return h({}, std::move(*v));
                      }
                      peer_view unchanged;
                      if (r.at(1).str() == "wrong_state") {
                          if (auto v = parse_view(peer_id, r, 2)) unchanged = std::move(*v);
                      }
                      h(failure_of(r), std::move(unchanged));
                  });
}

} // namespace

void matching_store::shift_pause(std::string peer_id, handler<peer_view> h) {
    shift_change(*impl_, std::move(peer_id), "pause", std::move(h));
}
void matching_store::shift_resume(std::string peer_id, handler<peer_view> h) {
    shift_change(*impl_, std::move(peer_id), "resume", std::move(h));
}
void matching_store::shift_end(std::string peer_id, handler<peer_view> h) {
    shift_change(*impl_, std::move(peer_id), "end", std::move(h));
}

void matching_store::refresh_presence(std::vector<std::string> peer_ids,
                                      std::vector<std::string> sessions, done_handler h) {
    auto& i = *impl_;
    std::vector<std::string> args{i.options_.key_prefix, ms_text(i.options_.presence_ttl),
                                  ms_text(i.options_.request_ttl), std::to_string(peer_ids.size())};
    for (auto& p : peer_ids)
        args.push_back(std::move(p));
    for (auto& s : sessions)
        args.push_back(std::move(s));
    i.redis_.eval(lua_scripts().refresh, {i.key("peers")}, std::move(args),
                  [h = std::move(h)](boost::system::error_code ec, store::reply) { h(ec); });
}

void matching_store::add_prekeys(std::string peer_id, std::vector<std::string> prekeys,
                                 handler<std::int64_t> h) {
    if (!valid_id(peer_id) || prekeys.empty() ||
        std::any_of(prekeys.begin(), prekeys.end(), [](const auto& k) { return k.empty(); }))
        return h(make_error_code(error::bad_input), 0);
    auto& i = *impl_;
    std::vector<std::string> args{std::to_string(std::max<std::size_t>(i.options_.max_prekeys, 1))};
    for (auto& k : prekeys)
        args.push_back(std::move(k));
    i.redis_.eval(lua_scripts().add_prekeys, {i.key("prekeys", peer_id)}, std::move(args),
                  [h = std::move(h)](boost::system::error_code ec, store::reply r) {
                      h(ec, ec ? 0 : r.integer());
                  });
}

void matching_store::prekey_count(std::string peer_id, handler<std::int64_t> h) {
    impl_->redis_.command({"LLEN", impl_->key("prekeys", peer_id)},
                          [h = std::move(h)](boost::system::error_code ec, store::reply r) {
                              h(ec, ec ? 0 : r.integer());
                          });
}

void matching_store::set_cooldown(std::string peer_id, std::chrono::milliseconds duration,
                                  done_handler h) {
    if (!valid_id(peer_id) || duration.count() <= 0) return h(make_error_code(error::bad_input));
    auto& i = *impl_;
    i.redis_.eval(lua_scripts().cooldown, {i.key("cooldown", peer_id)},
                  {std::to_string(duration.count())},
                  [h = std::move(h)](boost::system::error_code ec, store::reply) { h(ec); });
}

void matching_store::cooldown_left(std::string peer_id, handler<std::chrono::milliseconds> h) {
    if (!valid_id(peer_id)) return h(make_error_code(error::bad_input), {});
    impl_->redis_.command({"PTTL", impl_->key("cooldown", peer_id)},
                          [h = std::move(h)](boost::system::error_code ec, store::reply r) {
                              if (ec) return h(ec, {});
                              auto left = detail::integer_of(r);
                              if (!left) return h(make_error_code(error::bad_reply), {});
                              // -2: no key (no cooldown); -1: a key without expiry.
                              if (*left == -2) return h({}, std::chrono::milliseconds(0));
                              if (*left == -1) return h({}, std::chrono::milliseconds::max());
                              // PTTL says 0 in the key's last millisecond, while the snapshot
                              // and the claim still see it: 0 must mean "no key".
                              h({}, std::chrono::milliseconds(std::max<long long>(*left, 1)));
                          });
}

void matching_store::release(std::string conversation_id, handler<release_result> h) {
    auto& i = *impl_;
    i.redis_.eval(
        lua_scripts().release, {i.key("conv", conversation_id), i.key("peers")},
        {i.options_.key_prefix, conversation_id, std::to_string(i.now())},
        [h = std::move(h)](boost::system::error_code ec, store::reply r) {
            if (ec) return h(ec, {});
            const auto& status = status_of(r);
            if (status != "ok" && status != "already") return h(failure_of(r), {});
            release_result out;
            out.released_now = status == "ok";
            out.session = r.at(2).str();
            out.peer.peer_id = r.at(1).str();
            out.peer.state =
                protocol::from_string<shift_status>(r.at(3).str()).value_or(shift_status::off);
            out.peer.active = static_cast<int>(r.at(4).integer());
            out.peer.capacity = static_cast<int>(r.at(5).integer());
            h({}, std::move(out));
        });
}

void matching_store::match_seeker(std::string, sweep_handler h) {
    impl_->request_pass(std::move(h), 0);
}

void matching_store::match_peer(std::string, sweep_handler h) {
    impl_->request_pass(std::move(h), 0);
}

void matching_store::match_relaxed_due(std::int64_t now_ms, sweep_handler h) {
    impl_->request_pass(std::move(h), now_ms);
}

void matching_store::get_match(std::string conversation_id, handler<match_record> h) {
    impl_->redis_.command(
        {"HGETALL", impl_->key("conv", conversation_id)},
        [h = std::move(h), conversation_id](boost::system::error_code ec, store::reply r) {
            if (ec) return h(ec, {});
            auto m = detail::parse_record(conversation_id, r);
            if (!m) return h(make_error_code(error::not_found), {});
            h({}, std::move(*m));
        });
}

void matching_store::find_match(std::string session, handler<match_record> h) {
    auto& i = *impl_;
    i.redis_.eval(lua_scripts().find_match, {i.key("seeker", session)}, {i.options_.key_prefix},
                  [h = std::move(h)](boost::system::error_code ec, store::reply r) {
                      if (ec) return h(ec, {});
                      if (!r.is_array() || r.size() != 2)
                          return h(make_error_code(error::not_found), {});
                      auto m = detail::parse_record(r.at(0).str(), r.at(1));
                      if (!m) return h(make_error_code(error::not_found), {});
                      h({}, std::move(*m));
                  });
}

void matching_store::peer(std::string peer_id, handler<peer_state> h) {
    auto& i = *impl_;
    struct parts {
        store::reply hash;
        bool alive = false;
        bool cooling = false;
        boost::system::error_code ec;
    };
    auto p = std::make_shared<parts>();
    // Pipelined: four reads, one round trip (not atomic; a view for the `shift` event).
    i.redis_.command({"HMGET", i.key("peer", peer_id), "shift", "state", "cap", "active", "tags",
                      "langs", "wont", "idle", "end"},
                     [p](boost::system::error_code ec, store::reply r) {
                         if (ec) p->ec = ec;
                         p->hash = std::move(r);
                     });
    i.redis_.command({"EXISTS", i.key("alive", peer_id)},
                     [p](boost::system::error_code ec, store::reply r) {
                         if (ec && !p->ec) p->ec = ec;
                         p->alive = r.integer() == 1;
                     });
    i.redis_.command({"EXISTS", i.key("cooldown", peer_id)},
                     [p](boost::system::error_code ec, store::reply r) {
                         if (ec && !p->ec) p->ec = ec;
                         p->cooling = r.integer() == 1;
                     });
    i.redis_.command({"LLEN", i.key("prekeys", peer_id)},
                     [p, h = std::move(h), peer_id](boost::system::error_code ec, store::reply r) {
                         if (ec && !p->ec) p->ec = ec;
                         if (p->ec) return h(p->ec, {});
                         const auto& f = p->hash;
                         if (!f.at(1).is_string()) return h(make_error_code(error::not_found), {});
                         // The snapshot's peer entry: the same fields in the same order.
                         std::vector<store::reply> e{store::reply::make_string(peer_id)};
                         for (std::size_t k = 0; k < 9; ++k) {
                             const bool number = k == 2 || k == 3 || k == 7;
                             std::string v = f.at(k).is_string() ? f.at(k).str() : "";
                             e.push_back(store::reply::make_string(v.empty() && number ? "0" : v));
                         }
                         e.push_back(store::reply::make_integer(p->alive ? 1 : 0));
                         e.push_back(store::reply::make_integer(r.integer()));
                         e.push_back(store::reply::make_integer(p->cooling ? 1 : 0));
                         auto state = detail::parse_peer(store::reply::make_array(std::move(e)));
                         if (!state) return h(make_error_code(error::bad_reply), {});
                         h({}, std::move(*state));
                     });
}

} // namespace kindred::matching
