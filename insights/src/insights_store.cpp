// insights_store.cpp — see insights_store.hpp. Scripts are embedded from lua/ and run by SHA.
#include <kindred/insights/insights_store.hpp>
#include <kindred/insights/lua_scripts.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/error.hpp>

#include <map>

namespace kindred::insights {

using boost::system::error_code;

namespace {

const store::script add_script{std::string(lua::ins_add)};
const store::script claim_script{std::string(lua::ins_feedback_claim)};

counters counters_of(const store::reply& r) {
    counters out;
    const auto& e = r.elements();
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
        // Untrusted: a value that is not a decimal integer is skipped, never thrown on.
        if (auto v = store::parse_int64(e[i + 1].str())) out[e[i].str()] = *v;
    }
    return out;
}

} // namespace

std::string join_list(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out.push_back(',');
        out += s;
    }
    return out;
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        auto part = text.substr(0, comma);
        if (!part.empty()) out.emplace_back(part);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return out;
}

class insights_store::impl {
public:
    impl(store::client& r, insights_options o)
        : redis(r)
        , options(std::move(o)) {}
    store::client& redis;
    insights_options options;
};

insights_store::insights_store(store::client& redis, insights_options options)
    : impl_(std::make_shared<impl>(redis, std::move(options))) {}

insights_store::~insights_store() = default;

const insights_options& insights_store::options() const noexcept {
    return impl_->options;
}

void insights_store::add(std::vector<increment> increments, done_handler h) {
    std::vector<std::string> keys;
    std::map<std::string, std::size_t> index;
    std::vector<std::string> args{std::to_string(impl_->options.retention.count())};
    args.reserve(1 + increments.size() * 3);
    for (auto& inc : increments) {
        auto [it, fresh] = index.try_emplace(inc.key, keys.size() + 1);
        if (fresh) keys.push_back(inc.key);
        args.push_back(std::to_string(it->second));
        args.push_back(std::move(inc.field));
        args.push_back(std::to_string(inc.by));
    }
    impl_->redis.eval(add_script, std::move(keys), std::move(args),
                      [h = std::move(h)](error_code ec, store::reply) {
                          if (h) h(ec);
                      });
}

void insights_store::read(std::vector<std::string> keys, handler<std::vector<counters>> done) {
    struct state {
        std::vector<std::string> keys;
        std::vector<counters> out;
        std::size_t next = 0;
        handler<std::vector<counters>> h;
        std::weak_ptr<impl> owner;
    };
    auto st = std::make_shared<state>();
    st->keys = std::move(keys);
    st->out.resize(st->keys.size());
    st->h = std::move(done);
    st->owner = impl_;
    auto self = impl_;
    // One round: up to read_batch HGETALLs pipelined; the last reply starts the next round.
    auto round = std::make_shared<std::function<void()>>();
    *round = [st, self, round]() {
        const std::size_t begin = st->next;
        const std::size_t end = std::min(st->keys.size(), begin + self->options.read_batch);
        st->next = end;
        if (begin == end) {
            // Nothing to read at all: still answer from the client's strand, not inline.
            self->redis.command({"PING"}, [st, round](error_code ec, store::reply) {
                auto h = std::move(st->h);
                *round = nullptr; // break the cycle
                h(ec, std::move(st->out));
            });
            return;
        }
        auto pending = std::make_shared<std::size_t>(end - begin);
        auto failed = std::make_shared<error_code>();
        for (std::size_t i = begin; i < end; ++i) {
            self->redis.command({"HGETALL", st->keys[i]}, [st, self, round, pending, failed,
                                                           i](error_code ec, store::reply r) {
                if (ec && !*failed) *failed = ec;
                if (!ec) st->out[i] = counters_of(r);
                if (--*pending > 0) return;
                if (*failed || st->next >= st->keys.size()) {
                    auto h = std::move(st->h);
                    auto fn = std::move(*round); // break the cycle; `fn` dies on return
                    return h(*failed, std::move(st->out));
                }
                (*round)();
            });
        }
    };
    (*round)();
}

void insights_store::read_report(report_query q, std::vector<std::string> coverage_tags,
                                 handler<report_input> h) {
    const auto& k = impl_->options.keys;
    const auto sel = selected_scope(q);
    const std::int64_t first_hour = q.from_day * 24;
    const std::int64_t hours = (q.to_day - q.from_day + 1) * 24;
    std::vector<std::string> keys;
    for (std::int64_t i = 0; i < hours; ++i)
        keys.push_back(k.hour_key(first_hour + i, sel));
    for (auto d = q.from_day; d <= q.to_day; ++d)
        keys.push_back(k.feedback_key(d, sel));
    if (q.tag) coverage_tags = {*q.tag};
    const std::string lang = q.language.value_or(std::string(any));
    for (const auto& t : coverage_tags)
        for (std::int64_t i = 0; i < hours; ++i)
            keys.push_back(k.hour_key(first_hour + i, scope{t, lang}));
    read(std::move(keys), [q, tags = std::move(coverage_tags), first_hour, hours,
                           h = std::move(h)](error_code ec, std::vector<counters> cells) {
        report_input in;
        in.query = q;
        if (ec) return h(ec, std::move(in));
        std::size_t at = 0;
        for (std::int64_t i = 0; i < hours; ++i, ++at)
            if (!cells[at].empty()) in.hours[first_hour + i] = std::move(cells[at]);
        for (auto d = q.from_day; d <= q.to_day; ++d, ++at)
            if (!cells[at].empty()) in.feedback[d] = std::move(cells[at]);
        for (const auto& t : tags) {
            auto& m = in.tag_hours[t];
            for (std::int64_t i = 0; i < hours; ++i, ++at)
                if (!cells[at].empty()) m[first_hour + i] = std::move(cells[at]);
        }
        h(ec, std::move(in));
    });
}

std::string insights_store::peer_key(const std::string& account, std::int64_t day) const {
    return impl_->options.peer_prefix + "{" + account + "}:" + day_stamp(day);
}

void insights_store::add_peer_chat(const std::string& account, std::int64_t at_ms, done_handler h) {
    const auto key = peer_key(account, day_of(at_ms));
    const auto ttl = std::to_string(impl_->options.peer_ttl.count());
    impl_->redis.eval(add_script, {key}, {ttl, "1", "chats", "1"},
                      [h = std::move(h)](error_code ec, store::reply) {
                          if (h) h(ec);
                      });
}

void insights_store::add_peer_seconds(const std::string& account, std::int64_t from_ms,
                                      std::int64_t to_ms, done_handler h) {
    // Per day: sum the hour shares of each day (they add up exactly).
    std::map<std::int64_t, std::int64_t> by_day;
    for (const auto& s : split_by_hour(from_ms, to_ms))
        by_day[s.hour / 24] += s.seconds;
    std::vector<std::string> keys;
    std::vector<std::string> args{std::to_string(impl_->options.peer_ttl.count())};
    for (const auto& [day, seconds] : by_day) {
        keys.push_back(peer_key(account, day));
        args.push_back(std::to_string(keys.size()));
        args.emplace_back("seconds");
        args.push_back(std::to_string(seconds));
    }
    impl_->redis.eval(add_script, std::move(keys), std::move(args),
                      [h = std::move(h)](error_code ec, store::reply) {
                          if (h) h(ec);
                      });
}

void insights_store::read_peer(const std::string& account, std::vector<std::int64_t> days,
                               handler<std::vector<peer_day>> h) {
    std::vector<std::string> keys;
    for (auto d : days)
        keys.push_back(peer_key(account, d));
    read(std::move(keys), [h = std::move(h)](error_code ec, std::vector<counters> cells) {
        std::vector<peer_day> out;
        for (const auto& c : cells) {
            peer_day d;
            if (auto it = c.find("chats"); it != c.end()) d.chats = it->second;
            if (auto it = c.find("seconds"); it != c.end()) d.seconds_on_shift = it->second;
            out.push_back(d);
        }
        h(ec, std::move(out));
    });
}

std::string insights_store::conversation_key(const std::string& conversation_id) {
    return "conv:{" + conversation_id + "}:ins";
}

void insights_store::remember_conversation(const std::string& conversation_id, const attributes& a,
                                           std::chrono::seconds ttl, done_handler h) {
    const auto key = conversation_key(conversation_id);
    // HSET then EXPIRE, pipelined: the hash never lives without its TTL for longer than a
    // round trip, and only the second answer is awaited.
    impl_->redis.command({"HSET", key, "t", join_list(a.tags), "l", join_list(a.languages)},
                         [](error_code, store::reply) {});
    impl_->redis.command({"EXPIRE", key, std::to_string(ttl.count())},
                         [h = std::move(h)](error_code ec, store::reply) {
                             if (h) h(ec);
                         });
}

void insights_store::conversation(const std::string& conversation_id,
                                  handler<std::optional<attributes>> h) {
    impl_->redis.command({"HMGET", conversation_key(conversation_id), "t", "l"},
                         [h = std::move(h)](error_code ec, store::reply r) {
                             if (ec || r.at(0).is_nil()) return h(ec, std::nullopt);
                             attributes a{split_list(r.at(0).str()), split_list(r.at(1).str())};
                             h(ec, std::move(a));
                         });
}

void insights_store::expire_conversation(const std::string& conversation_id,
                                         std::chrono::seconds ttl, done_handler h) {
    impl_->redis.command({"EXPIRE", conversation_key(conversation_id), std::to_string(ttl.count())},
                         [h = std::move(h)](error_code ec, store::reply) {
                             if (h) h(ec);
                         });
}

void insights_store::claim_feedback(const std::string& conversation_id, std::chrono::seconds ttl,
                                    handler<std::pair<bool, attributes>> h) {
    impl_->redis.eval(
        claim_script, {conversation_key(conversation_id)},
        {std::to_string(std::max<std::int64_t>(1, ttl.count()))},
        [h = std::move(h)](error_code ec, store::reply r) {
            if (ec) return h(ec, {false, {}});
            if (r.at(0).integer() != 1) return h(ec, {false, {}});
            h(ec, {true, attributes{split_list(r.at(1).str()), split_list(r.at(2).str())}});
        });
}

} // namespace kindred::insights
