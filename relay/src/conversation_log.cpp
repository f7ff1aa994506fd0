// conversation_log.cpp — conversations on Redis: check what can be checked without Redis,
// run one Lua script (relay/lua/, embedded by CMake), read its reply defensively (a reply
// of the wrong shape is error::corrupt, never a crash).
#include <kindred/relay/conversation_log.hpp>
#include <kindred/relay/lua_scripts.hpp>
#include <kindred/store/client.hpp>

#include <charconv>
#include <cstdio>
#include <random>
#include <utility>

namespace kindred::relay {

namespace {

using boost::system::error_code;

struct script_set {
    store::script create{std::string(lua::conv_create)};
    store::script append{std::string(lua::conv_append)};
    store::script read{std::string(lua::conv_read)};
    store::script end{std::string(lua::conv_end)};
    store::script join{std::string(lua::conv_join)};
    store::script index_add{std::string(lua::index_add)};
    store::script discard{std::string(lua::conv_discard)};
};

const script_set& scripts() {
    static const script_set s;
    return s;
}

std::string random_epoch() {
    std::random_device rd; // /dev/urandom: the epoch must differ from every earlier one
    std::string out;
    for (int i = 0; i < 4; ++i) {
        char buf[9];
        std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
        out += buf;
    }
    return out;
}

std::string bytes_text(std::span<const std::uint8_t> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// The status word every script puts first.
const std::string& status_of(const store::reply& r) {
    return r.at(0).str();
}

parties parties_from(const store::reply& r, std::size_t first) {
    return {r.at(first).str(), r.at(first + 1).str(), r.at(first + 2).str()};
}

// The offset of one XRANGE element [id, [field, value, ...]]: the id's first part.
std::optional<std::int64_t> offset_of(const store::reply& item) {
    const std::string& id = item.at(0).str();
    const auto dash = id.find('-');
    if (dash == std::string::npos) return std::nullopt;
    return store::parse_int64(std::string_view(id).substr(0, dash));
}

// One XRANGE element → an entry; nullopt when unreadable.
std::optional<entry> entry_from(const store::reply& item) {
    if (!item.is_array() || item.size() != 2 || !item.at(1).is_array()) return std::nullopt;
    auto offset = offset_of(item);
    if (!offset) return std::nullopt;
    entry e;
    e.offset = *offset;
    // Copies by role, so they come out in the order seeker, peer, moderator.
    std::array<std::optional<protocol::message_copy>, 3> copies;
    bool have_from = false, have_seq = false;
    const auto& f = item.at(1).elements();
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
        const std::string& name = f[i].str();
        const std::string& value = f[i + 1].str();
        if (name == "from") {
            auto r = protocol::from_string<role>(value);
            if (!r) return std::nullopt;
            e.from = *r;
            have_from = true;
        } else if (name == "seq") {
            auto s = store::parse_int64(value);
            if (!s) return std::nullopt;
            e.seq = *s;
            have_seq = true;
        } else if (name == "sent_at") {
            e.sent_at = store::parse_int64(value).value_or(0);
        } else if (name.size() > 2 && (name[0] == 'n' || name[0] == 'c') && name[1] == ':') {
            auto r = protocol::from_string<role>(std::string_view(name).substr(2));
            if (!r) return std::nullopt;
            auto& c = copies[static_cast<std::size_t>(*r)];
            if (!c) c.emplace().to = *r;
            if (name[0] == 'n') {
                if (value.size() != c->nonce.size()) return std::nullopt;
                std::copy(value.begin(), value.end(), c->nonce.begin());
            } else {
                c->ciphertext.assign(value.begin(), value.end());
            }
        }
    }
    if (!have_from || !have_seq) return std::nullopt;
    for (auto& c : copies) {
        if (c) e.copies.push_back(std::move(*c));
    }
    return e;
}

// An HGETALL of the meta → the meta; nullopt when empty or unreadable.
std::optional<conversation_meta> meta_from(std::string conversation_id, const store::reply& r) {
    if (!r.is_array() || r.size() == 0) return std::nullopt;
    conversation_meta m;
    m.conversation_id = std::move(conversation_id);
    bool have_state = false;
    const auto& e = r.elements();
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
        const std::string& name = e[i].str();
        const std::string& value = e[i + 1].str();
        if (name == "state") {
            if (value == "active")
                m.state = conversation_state::active;
            else if (value == "ended")
                m.state = conversation_state::ended;
            else
                return std::nullopt;
            have_state = true;
        } else if (name == "seeker") {
            m.parties.seeker = value;
        } else if (name == "peer") {
            m.parties.peer = value;
        } else if (name == "moderator") {
            m.parties.moderator = value;
        } else if (name == "created_at") {
            m.created_at = store::parse_int64(value).value_or(0);
        } else if (name == "ended_at") {
            m.ended_at = store::parse_int64(value).value_or(0);
        } else if (name == "ended_by") {
            m.ended_by = protocol::from_string<protocol::ended_by>(value).value_or(
                protocol::ended_by::system);
        } else if (name == "reason") {
            m.reason = value;
        } else if (name == "epoch") {
            m.epoch = value;
        } else if (name == "last_offset") {
            m.last_offset = store::parse_int64(value).value_or(0);
        }
    }
    if (!have_state) return std::nullopt;
    return m;
}

} // namespace

class conversation_log::impl : public std::enable_shared_from_this<impl> {
public:
    impl(store::client& r, log_options o)
        : redis(r)
        , opt(std::move(o)) {
        if (!opt.new_epoch) opt.new_epoch = random_epoch;
        if (opt.batch_size == 0) opt.batch_size = 1;
    }

    store::client& redis;
    log_options opt;

    conversation_keys keys(const std::string& conversation_id) const {
        return keys_for(opt.key_prefix, conversation_id);
    }

    // Answers a request refused before touching Redis through a PING on the same client, so
    // that the handler runs where every other handler runs and never inside the call. Rare
    // (malformed input), so the round trip does not matter.
    template <class T>
    void defer(handler<T> h, error_code ec) {
        redis.command({"PING"}, [h = std::move(h), ec](error_code, store::reply) { h(ec, T{}); });
    }

    // Lists a conversation in each member's index; `done` gets the first error (or success)
    // once every call has answered.
    void index(const std::string& conversation_id, std::vector<member> members, std::int64_t now_ms,
               std::int64_t ttl_ms, std::function<void(error_code)> done) {
        if (members.empty()) return done({});
        struct state {
            std::size_t left;
            error_code first;
            std::function<void(error_code)> done;
        };
        auto st = std::make_shared<state>(state{members.size(), {}, std::move(done)});
        for (const auto& m : members) {
            redis.eval(scripts().index_add, {index_key(opt.key_prefix, m)},
                       {conversation_id, std::to_string(now_ms + ttl_ms), std::to_string(now_ms),
                        std::to_string(ttl_ms)},
                       [st](error_code ec, store::reply) {
                           if (ec && !st->first) st->first = ec;
                           if (--st->left == 0) st->done(st->first);
                       });
        }
    }

    void read_batch(read_request r, handler<read_result> h) {
        if (!valid_conversation_id(r.conversation_id) ||
            (r.reader && !valid_party_id(r.reader->id)))
            return defer(std::move(h), error::not_found);
        if (r.after < 0 || r.after > max_offset) return defer(std::move(h), error::invalid_after);
        const std::size_t count = r.max_count == 0 ? 1 : r.max_count;
        const auto k = keys(r.conversation_id);
        std::vector<std::string> args{r.reader ? std::string(protocol::to_string(r.reader->role))
                                               : std::string(),
                                      r.reader ? r.reader->id : std::string(),
                                      std::to_string(r.after), std::to_string(count)};
        redis.eval(scripts().read, {k.meta, k.log}, std::move(args),
                   [r = std::move(r), count, h = std::move(h)](error_code ec, store::reply rep) {
                       if (ec) return h(ec, {});
                       const std::string& status = status_of(rep);
                       read_result out;
                       if (status == "missing") {
                           // Known to the caller but gone from Redis: history was lost.
                           if (!r.known) return h(error::not_found, {});
                           out.recovered = false;
                           return h({}, std::move(out));
                       }
                       if (status == "not_found") return h(error::not_found, {});
                       if (status != "ok") return h(error::corrupt, {});
                       const std::string& state = rep.at(1).str();
                       if (state == "active")
                           out.state = conversation_state::active;
                       else if (state == "ended")
                           out.state = conversation_state::ended;
                       else
                           return h(error::corrupt, {});
                       out.epoch = rep.at(2).str();
                       auto last = store::parse_int64(rep.at(3).str());
                       if (!last) return h(error::corrupt, {});
                       out.last_offset = *last;
                       std::vector<std::int64_t> offsets;
                       bool damaged = false;
                       for (const auto& item : rep.at(4).elements()) {
                           auto off = offset_of(item);
                           if (!off) return h(error::corrupt, {});
                           offsets.push_back(*off);
                           // An unreadable entry is left out and the history not vouched
                           // for, rather than failing every later sync of the conversation.
                           if (auto e = entry_from(item))
                               out.entries.push_back(std::move(*e));
                           else
                               damaged = true;
                       }
                       const batch_check c = check_batch(r.after, out.last_offset, count, offsets);
                       out.recovered =
                           c.complete && !damaged && (!r.epoch || *r.epoch == out.epoch);
                       out.more = c.more;
                       h({}, std::move(out));
                   });
    }

    void read_loop(read_request r, std::shared_ptr<read_result> acc, bool first,
                   handler<read_result> h) {
        auto self = shared_from_this();
        read_request next = r;
        read_batch(std::move(r), [self, next, acc, first,
                                  h = std::move(h)](error_code ec, read_result batch) mutable {
            if (ec) return h(ec, {});
            if (first) {
                acc->epoch = batch.epoch;
                acc->state = batch.state;
                acc->recovered = batch.recovered;
            } else {
                // The conversation was lost and re-created between two batches.
                acc->recovered = acc->recovered && batch.recovered && batch.epoch == acc->epoch;
                acc->state = batch.state;
            }
            acc->last_offset = batch.last_offset;
            for (auto& e : batch.entries)
                acc->entries.push_back(std::move(e));
            if (!batch.more || acc->entries.empty()) {
                acc->more = false;
                return h({}, std::move(*acc));
            }
            next.after = acc->entries.back().offset;
            self->read_loop(std::move(next), acc, false, std::move(h));
        });
    }
};

conversation_log::conversation_log(store::client& redis, log_options options)
    : impl_(std::make_shared<impl>(redis, std::move(options))) {}

conversation_log::~conversation_log() = default;

const log_options& conversation_log::options() const noexcept {
    return impl_->opt;
}

void conversation_log::load_scripts(done_handler h) {
    const script_set& s = scripts();
    const store::script* all[] = {&s.create, &s.append,    &s.read,   &s.end,
                                  &s.join,   &s.index_add, &s.discard};
    impl_->redis.load_all(all, std::move(h));
}

void conversation_log::create(std::string conversation_id, parties p, std::int64_t now_ms,
                              handler<create_result> h) {
    if (!valid_conversation_id(conversation_id) || !valid_party_id(p.seeker) ||
        !valid_party_id(p.peer))
        return impl_->defer(std::move(h), error::not_found);
    const auto k = impl_->keys(conversation_id);
    const std::int64_t ttl_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(impl_->opt.hard_limit).count();
    std::string epoch = impl_->opt.new_epoch();
    // The create and both index entries are sent together: one round trip, not two (this is
    // on the way from a match to `matched`). An index entry left next to a conversation that
    // turns out to be taken is harmless: readers check the meta's parties every time, and a
    // retry re-adds missing entries (ZADD NX keeps the first deadline).
    struct state {
        std::size_t left = 2;
        error_code ec;
        create_result out;
        handler<create_result> h;
    };
    auto st = std::make_shared<state>();
    st->h = std::move(h);
    auto one_done = [st] {
        if (--st->left != 0) return;
        if (st->ec) return st->h(st->ec, {});
        st->h({}, std::move(st->out));
    };
    impl_->redis.eval(
        scripts().create, {k.meta, k.log, k.seq},
        {p.seeker, p.peer, std::to_string(now_ms), std::to_string(ttl_ms), std::move(epoch)},
        [st, one_done](error_code ec, store::reply r) {
            if (ec) {
                st->ec = ec;
            } else if (const std::string& status = status_of(r); status == "taken") {
                st->ec = error::already_exists;
            } else if (status != "created" && status != "exists") {
                st->ec = error::corrupt;
            } else {
                st->out = create_result{status == "created", r.at(1).str()};
            }
            one_done();
        });
    impl_->index(conversation_id, {{role::seeker, p.seeker}, {role::peer, p.peer}}, now_ms, ttl_ms,
                 [st, one_done](error_code iec) {
                     if (iec && !st->ec) st->ec = iec;
                     one_done();
                 });
}

void conversation_log::discard(std::string conversation_id, parties p, handler<bool> h) {
    if (!valid_conversation_id(conversation_id) || !valid_party_id(p.seeker) ||
        !valid_party_id(p.peer))
        return impl_->defer(std::move(h), error::not_found);
    const auto k = impl_->keys(conversation_id);
    auto self = impl_;
    impl_->redis.eval(
        scripts().discard, {k.meta, k.log, k.seq}, {p.seeker, p.peer},
        [self, conversation_id, p, h = std::move(h)](error_code ec, store::reply r) {
            if (ec) return h(ec, false);
            const std::string& status = status_of(r);
            if (status != "discarded") return h({}, false);
            // Only now: a conversation that was kept keeps its index entries.
            for (const member& m : {member{role::seeker, p.seeker}, member{role::peer, p.peer}})
                self->redis.command({"ZREM", index_key(self->opt.key_prefix, m), conversation_id},
                                    [](error_code, store::reply) {});
            h({}, true);
        });
}

void conversation_log::append(append_request r, handler<append_result> h) {
    if (!valid_conversation_id(r.conversation_id) || !valid_party_id(r.from.id))
        return impl_->defer(std::move(h), error::not_found);
    if (r.seq < 1 || r.seq > max_offset) return impl_->defer(std::move(h), error::invalid_seq);
    const auto k = impl_->keys(r.conversation_id);
    std::vector<std::string> args;
    args.reserve(4 + 3 * r.copies.size());
    args.emplace_back(protocol::to_string(r.from.role));
    args.push_back(r.from.id);
    args.push_back(std::to_string(r.seq));
    args.push_back(std::to_string(r.sent_at));
    for (const auto& c : r.copies) {
        // Raw bytes, not base64: a third less memory for what Redis holds most of.
        args.emplace_back(protocol::to_string(c.to));
        args.push_back(bytes_text(c.nonce));
        args.push_back(bytes_text(c.ciphertext));
    }
    impl_->redis.eval(
        scripts().append, {k.meta, k.log, k.seq}, std::move(args),
        [from = r.from.role, h = std::move(h)](error_code ec, store::reply rep) {
            if (ec) return h(ec, {});
            const std::string& status = status_of(rep);
            if (status == "ok" || status == "dup") {
                auto offset = store::parse_int64(rep.at(1).str());
                if (!offset || *offset < 1) return h(error::corrupt, {});
                append_result out;
                out.offset = *offset;
                out.duplicate = status == "dup";
                out.epoch = rep.at(2).str();
                out.recipients = parties_from(rep, 3).others(from);
                return h({}, std::move(out));
            }
            if (status == "not_found") return h(error::not_found, {});
            if (status == "ended") return h(error::ended, {});
            if (status == "bad_copies") return h(error::bad_copies, {});
            if (status == "seq_conflict") return h(error::seq_conflict, {});
            h(error::corrupt, {});
        },
        // A send's caller waits; a retry with the same seq is safe.
        store::on_stall::fail);
}

void conversation_log::read(read_request r, handler<read_result> h) {
    impl_->read_batch(std::move(r), std::move(h));
}

void conversation_log::read_all(read_request r, handler<read_result> h) {
    r.max_count = impl_->opt.batch_size;
    impl_->read_loop(std::move(r), std::make_shared<read_result>(), true, std::move(h));
}

void conversation_log::end(end_request r, handler<end_result> h) {
    if (!valid_conversation_id(r.conversation_id) ||
        (r.by != protocol::ended_by::system && !valid_party_id(r.by_id)))
        return impl_->defer(std::move(h), error::not_found);
    if (!protocol::is_reason_id(r.reason)) return impl_->defer(std::move(h), error::invalid_reason);
    const auto k = impl_->keys(r.conversation_id);
    const std::int64_t purge_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(impl_->opt.purge_after).count();
    impl_->redis.eval(scripts().end, {k.meta, k.log, k.seq},
                      {std::string(protocol::to_string(r.by)),
                       r.by == protocol::ended_by::system ? std::string() : r.by_id, r.reason,
                       std::to_string(r.now), std::to_string(purge_ms)},
                      [h = std::move(h)](error_code ec, store::reply rep) {
                          if (ec) return h(ec, {});
                          const std::string& status = status_of(rep);
                          if (status == "not_found") return h(error::not_found, {});
                          if (status != "ended" && status != "already")
                              return h(error::corrupt, {});
                          end_result out;
                          out.already_ended = status == "already";
                          out.by = protocol::from_string<protocol::ended_by>(rep.at(1).str())
                                       .value_or(protocol::ended_by::system);
                          out.reason = rep.at(2).str();
                          out.ended_at = store::parse_int64(rep.at(3).str()).value_or(0);
                          out.parties = parties_from(rep, 4);
                          h({}, std::move(out));
                      });
}

void conversation_log::add_party(std::string conversation_id, std::string moderator_id,
                                 std::int64_t now_ms, handler<join_result> h) {
    if (!valid_conversation_id(conversation_id) || !valid_party_id(moderator_id))
        return impl_->defer(std::move(h), error::not_found);
    const auto k = impl_->keys(conversation_id);
    auto self = impl_;
    impl_->redis.eval(scripts().join, {k.meta}, {moderator_id},
                      [self, conversation_id, moderator_id, now_ms,
                       h = std::move(h)](error_code ec, store::reply rep) {
                          if (ec) return h(ec, {});
                          const std::string& status = status_of(rep);
                          if (status == "not_found") return h(error::not_found, {});
                          if (status == "ended") return h(error::ended, {});
                          if (status != "joined" && status != "already")
                              return h(error::corrupt, {});
                          join_result out;
                          out.already = status == "already";
                          out.previous = out.already ? std::string() : rep.at(1).str();
                          out.parties = {rep.at(2).str(), rep.at(3).str(), moderator_id};
                          const std::int64_t ttl = rep.at(4).integer();
                          self->index(conversation_id, {{role::moderator, moderator_id}}, now_ms,
                                      ttl > 0 ? ttl : 1, [out = std::move(out), h](error_code iec) {
                                          if (iec) return h(iec, {});
                                          h({}, out);
                                      });
                      });
}

void conversation_log::meta(std::string conversation_id, handler<conversation_meta> h) {
    if (!valid_conversation_id(conversation_id))
        return impl_->defer(std::move(h), error::not_found);
    const auto k = impl_->keys(conversation_id);
    impl_->redis.command({"HGETALL", k.meta}, [conversation_id, h = std::move(h)](
                                                  error_code ec, store::reply rep) mutable {
        if (ec) return h(ec, {});
        if (rep.is_array() && rep.size() == 0) return h(error::not_found, {});
        auto m = meta_from(std::move(conversation_id), rep);
        if (!m) return h(error::corrupt, {});
        h({}, std::move(*m));
    });
}

void conversation_log::membership(std::string conversation_id, member who,
                                  handler<conversation_meta> h) {
    if (!valid_party_id(who.id)) return impl_->defer(std::move(h), error::not_found);
    meta(std::move(conversation_id),
         [who = std::move(who), h = std::move(h)](error_code ec, conversation_meta m) {
             if (ec) return h(ec, {});
             if (!m.parties.has(who)) return h(error::not_found, {});
             h({}, std::move(m));
         });
}

void conversation_log::list_for(member who,
                                handler<std::vector<protocol::conversation_summary>> h) {
    using list = std::vector<protocol::conversation_summary>;
    // Nobody with a malformed id is a party of anything.
    if (!valid_party_id(who.id)) return impl_->defer(std::move(h), error_code{});
    const std::string index = index_key(impl_->opt.key_prefix, who);
    auto self = impl_;
    impl_->redis.command(
        {"ZRANGE", index, "0", "-1"},
        [self, index, who, h = std::move(h)](error_code ec, store::reply ids) mutable {
            if (ec) return h(ec, {});
            std::vector<std::string> convs;
            for (const auto& e : ids.elements()) {
                if (valid_conversation_id(e.str())) convs.push_back(e.str());
            }
            if (convs.empty()) return h({}, {});
            // One HMGET per conversation, pipelined; replies come back in order on the
            // client's strand, so the shared state needs no lock.
            struct state {
                std::vector<std::optional<protocol::conversation_summary>> found;
                std::vector<std::string> gone;
                std::size_t left = 0;
                error_code first;
            };
            auto st = std::make_shared<state>();
            st->found.resize(convs.size());
            st->left = convs.size();
            auto finish = [self, index, st, h]() {
                if (st->first) return h(st->first, {});
                if (!st->gone.empty()) {
                    // Purged conversations leave the index (best effort: a stale entry is
                    // harmless, the meta is checked every time).
                    std::vector<std::string> cmd{"ZREM", index};
                    cmd.insert(cmd.end(), st->gone.begin(), st->gone.end());
                    self->redis.command(std::move(cmd), [](error_code, store::reply) {});
                }
                list out;
                for (auto& f : st->found) {
                    if (f) out.push_back(std::move(*f));
                }
                h({}, std::move(out));
            };
            for (std::size_t i = 0; i < convs.size(); ++i) {
                const auto k = self->keys(convs[i]);
                self->redis.command(
                    {"HMGET", k.meta, "state", "seeker", "peer", "moderator", "last_offset"},
                    [st, i, who, id = convs[i], finish](error_code mec, store::reply r) {
                        if (mec) {
                            if (!st->first) st->first = mec;
                        } else if (r.at(0).is_nil()) {
                            st->gone.push_back(id);
                        } else {
                            const parties p = parties_from(r, 1);
                            const std::string& state = r.at(0).str();
                            if (p.has(who) && (state == "active" || state == "ended")) {
                                st->found[i] = protocol::conversation_summary{
                                    id, state, store::parse_int64(r.at(4).str()).value_or(0)};
                            }
                        }
                        if (--st->left == 0) finish();
                    });
            }
        });
}

} // namespace kindred::relay
