// moderation_store.cpp — escalations, duty, bans, blocks and consults on Redis: validate what
// reaches a key, run one Lua script (moderation/lua/, embedded by CMake; audited ones with
// accounts/lua/audit_append.lua prepended), read its reply defensively (a reply of the wrong
// shape is error::corrupt, never a crash). Handlers run on the Redis client's strand.
#include <kindred/moderation/audit_append.hpp>
#include <kindred/moderation/error.hpp>
#include <kindred/moderation/lua_scripts.hpp>
#include <kindred/moderation/moderation_store.hpp>
#include <kindred/store/client.hpp>

#include <sodium.h>

#include <algorithm>
#include <utility>

namespace kindred::moderation {

namespace {

using boost::system::error_code;

// Scripts are assembled from parts, because Lua scripts cannot include one another: the
// audit append (accounts' file, one chain for every folder) and/or the record reader.
std::string assemble(bool audit, bool record, std::string_view body) {
    std::string s;
    if (audit) s.append(lua::audit_append).append("\n");
    if (record) s.append(lua::esc_record).append("\n");
    s.append(body);
    return s;
}

struct script_set {
    store::script create{assemble(true, true, lua::esc_create)};
    store::script get{assemble(false, true, lua::esc_get)};
    store::script list_open{assemble(false, true, lua::esc_list_open)};
    store::script acknowledge{assemble(true, true, lua::esc_acknowledge)};
    store::script resolve{assemble(true, true, lua::esc_resolve)};
    store::script repage{assemble(true, true, lua::esc_repage)};
    store::script link{assemble(false, true, lua::esc_link)};
    store::script level{assemble(false, false, lua::esc_level)};
    store::script watch{assemble(false, false, lua::mod_watch)};
    store::script refresh{assemble(false, false, lua::mod_refresh)};
    store::script unwatch{assemble(false, false, lua::mod_unwatch)};
    store::script on_duty{assemble(false, false, lua::mod_on_duty)};
    store::script audit_only{assemble(true, false, lua::audit_only)};
    store::script ban{assemble(true, false, lua::ban)};
    store::script block_device{assemble(true, false, lua::block_device)};
    store::script consult_create{assemble(false, false, lua::consult_create)};
};

const script_set& scripts() {
    static const script_set s;
    return s;
}

bool ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    return ok;
}

std::string random_id() {
    ensure_sodium();
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    char hex[sizeof raw * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    return std::string(hex, sizeof raw * 2);
}

bool is_lower_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// Escalation, consult and device ids: 32 lowercase hex digits (128 bits).
bool valid_hex_id(std::string_view id) {
    return id.size() == 32 && std::all_of(id.begin(), id.end(), is_lower_hex);
}

// What may become part of a key or a field name: conversation and session ids, usernames
// (1..128 of [A-Za-z0-9._~@-]; no ':', braces or spaces, so no key can spell another).
bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 128) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '~' || c == '@' || c == '-';
    });
}

bool valid_optional_name(std::string_view s) {
    return s.empty() || valid_name(s);
}

std::string to_base64(const std::vector<std::uint8_t>& b) {
    ensure_sodium();
    std::string out(sodium_base64_encoded_len(b.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), b.data(), b.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1); // the terminating NUL
    return out;
}

std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text) {
    ensure_sodium();
    std::vector<std::uint8_t> out(text.size() / 4 * 3 + 3);
    std::size_t len = 0;
    if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return std::nullopt;
    out.resize(len);
    return out;
}

std::int64_t ms(std::chrono::milliseconds d) {
    return d.count();
}

// One record from esc_record.lua's { fields, excerpts, due }; nullopt when unreadable.
std::optional<escalation_record> record_from(const store::reply& r) {
    if (!r.is_array() || r.size() != 3 || !r.at(0).is_array() || !r.at(1).is_array())
        return std::nullopt;
    escalation_record rec;
    bool have_level = false, have_category = false, have_source = false, have_state = false;
    const auto& f = r.at(0).elements();
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
        const std::string& name = f[i].str();
        const std::string& value = f[i + 1].str();
        auto number = [&] { return store::parse_int64(value).value_or(0); };
        if (name == "id") {
            rec.id = value;
        } else if (name == "conv") {
            rec.conversation_id = value;
        } else if (name == "level") {
            auto v = protocol::from_string<protocol::level>(value);
            if (!v) return std::nullopt;
            rec.level = *v;
            have_level = true;
        } else if (name == "category") {
            auto v = protocol::from_string<protocol::category>(value);
            if (!v) return std::nullopt;
            rec.category = *v;
            have_category = true;
        } else if (name == "source") {
            auto v = protocol::from_string<protocol::escalation_source>(value);
            if (!v) return std::nullopt;
            rec.source = *v;
            have_source = true;
        } else if (name == "state") {
            auto v = protocol::from_string<protocol::escalation_status>(value);
            if (!v) return std::nullopt;
            rec.state = *v;
            have_state = true;
        } else if (name == "created_at") {
            rec.created_at = number();
        } else if (name == "acknowledged_by") {
            rec.acknowledged_by = value;
        } else if (name == "acknowledged_at") {
            rec.acknowledged_at = number();
        } else if (name == "resolved_by") {
            rec.resolved_by = value;
        } else if (name == "resolved_at") {
            rec.resolved_at = number();
        } else if (name == "outcome") {
            rec.outcome = value;
        } else if (name == "repaged") {
            rec.repaged = number();
        } else if (name == "note") {
            rec.note = value;
        } else if (name == "reason") {
            rec.reason = value;
        } else if (name == "session") {
            rec.session = value;
        } else if (name == "peer") {
            rec.peer = value;
        }
    }
    if (rec.id.empty() || !have_level || !have_category || !have_source || !have_state)
        return std::nullopt;
    const auto& x = r.at(1).elements();
    for (std::size_t i = 0; i + 1 < x.size(); i += 2) {
        auto sealed = from_base64(x[i + 1].str());
        if (!sealed) return std::nullopt;
        rec.excerpts.push_back({x[i].str(), std::move(*sealed)});
    }
    // Hash order is arbitrary: a stable order for callers and tests.
    std::sort(rec.excerpts.begin(), rec.excerpts.end(),
              [](const auto& a, const auto& b) { return a.moderator_id < b.moderator_id; });
    if (!r.at(2).str().empty()) {
        auto due = store::parse_int64(r.at(2).str());
        if (!due) return std::nullopt;
        rec.next_page_at = *due;
    }
    return rec;
}

// An array of records; nullopt when any is unreadable.
std::optional<std::vector<escalation_record>> records_from(const store::reply& r) {
    if (!r.is_array()) return std::nullopt;
    std::vector<escalation_record> out;
    for (const auto& item : r.elements()) {
        auto rec = record_from(item);
        if (!rec) return std::nullopt;
        out.push_back(std::move(*rec));
    }
    return out;
}

std::optional<transition_result> transition_from(const std::string& s) {
    if (s == "ok") return transition_result::ok;
    if (s == "unchanged") return transition_result::unchanged;
    if (s == "conflict") return transition_result::conflict;
    if (s == "not_found") return transition_result::not_found;
    return std::nullopt;
}

using transition = std::pair<transition_result, escalation_record>;

// A {status, record} reply of acknowledge / resolve.
void answer_transition(const moderation_store::handler<transition>& h, error_code ec,
                       const store::reply& r) {
    if (ec) return h(ec, {});
    auto status = transition_from(r.at(0).str());
    if (!r.is_array() || !status) return h(make_error_code(error::corrupt), {});
    if (*status == transition_result::not_found) return h({}, {*status, {}});
    auto rec = record_from(r.at(1));
    if (!rec) return h(make_error_code(error::corrupt), {});
    h({}, {*status, std::move(*rec)});
}

} // namespace

class moderation_store::impl {
public:
    impl(store::client& r, moderation_options o)
        : redis(r)
        , opt(std::move(o)) {
        if (!opt.new_id) opt.new_id = random_id;
        if (opt.repage_batch == 0) opt.repage_batch = 1;
    }

    store::client& redis;
    moderation_options opt;

    std::string key(std::string_view kind) const { return opt.key_prefix + std::string(kind); }
    std::string key(std::string_view kind, std::string_view id) const {
        return opt.key_prefix + std::string(kind) + std::string(id);
    }
    std::string esc_key(std::string_view id) const { return key("esc:", id); }

    // Index sets (esc:conv, esc:sess) live as long as a resolved escalation may: no open
    // conversation or waiting session outlives that (conversations end within 24 h).
    std::string index_ttl() const { return std::to_string(ms(opt.resolved_ttl)); }

    // Answers a request refused before touching Redis through a PING on the same client, so
    // that the handler runs where every other handler runs and never inside the call. Rare
    // (malformed input), so the round trip does not matter.
    template <class Handler, class... Values>
    void defer(Handler h, error_code ec, Values... values) {
        redis.command({"PING"},
                      [h = std::move(h), ec, values...](error_code, store::reply) mutable {
                          h(ec, std::move(values)...);
                      });
    }

    void eval(const store::script& s, std::vector<std::string> keys, std::vector<std::string> args,
              store::client::handler h) {
        redis.eval(s, std::move(keys), std::move(args), std::move(h));
    }

    // Replies that are one list of records.
    static store::client::handler records_handler(handler<std::vector<escalation_record>> h) {
        return [h = std::move(h)](error_code ec, store::reply r) {
            if (ec) return h(ec, {});
            auto recs = records_from(r);
            if (!recs) return h(make_error_code(error::corrupt), {});
            h({}, std::move(*recs));
        };
    }

    // A done_handler for scripts that answer an integer.
    static store::client::handler done_of(done_handler h) {
        return [h = std::move(h)](error_code ec, store::reply r) {
            if (ec) return h(ec);
            h(r.is_integer() ? error_code{} : make_error_code(error::corrupt));
        };
    }
};

moderation_store::moderation_store(store::client& redis, moderation_options options)
    : impl_(std::make_shared<impl>(redis, std::move(options))) {}

moderation_store::~moderation_store() = default;

const moderation_options& moderation_store::options() const noexcept {
    return impl_->opt;
}

void moderation_store::load_scripts(done_handler h) {
    const script_set& s = scripts();
    const store::script* all[] = {&s.create,     &s.get,     &s.list_open,    &s.acknowledge,
                                  &s.resolve,    &s.repage,  &s.link,         &s.level,
                                  &s.watch,      &s.refresh, &s.unwatch,      &s.on_duty,
                                  &s.audit_only, &s.ban,     &s.block_device, &s.consult_create};
    impl_->redis.load_all(all, std::move(h));
}

// ---- escalations ----

void moderation_store::create(new_escalation e, handler<escalation_record> h) {
    auto& im = *impl_;
    bool ok = valid_optional_name(e.conversation_id) && valid_optional_name(e.session) &&
              valid_optional_name(e.peer) && !e.actor.empty() &&
              e.excerpts.size() <= protocol::limits::max_excerpts;
    for (const auto& x : e.excerpts)
        ok = ok && valid_name(x.moderator_id) && !x.sealed.empty();
    std::string id = im.opt.new_id();
    if (!ok || !valid_hex_id(id))
        return im.defer(std::move(h), make_error_code(error::not_found), escalation_record{});

    const auto deadline = im.opt.deadlines[static_cast<std::size_t>(e.level) % 4];
    const std::int64_t next_due = deadline.count() > 0 ? e.now_ms + deadline.count() : 0;
    std::vector<std::string> args{im.opt.key_prefix,
                                  id,
                                  e.conversation_id,
                                  std::string(protocol::to_string(e.level)),
                                  std::string(protocol::to_string(e.category)),
                                  std::string(protocol::to_string(e.source)),
                                  std::to_string(e.now_ms),
                                  e.note,
                                  e.reason,
                                  e.session,
                                  e.peer,
                                  std::to_string(next_due),
                                  e.actor,
                                  std::to_string(im.opt.audit_max_len),
                                  im.index_ttl()};
    for (const auto& x : e.excerpts) {
        args.push_back(x.moderator_id);
        args.push_back(to_base64(x.sealed));
    }
    im.eval(scripts().create, {im.esc_key(id), im.opt.audit_key}, std::move(args),
            [h = std::move(h)](error_code ec, store::reply r) {
                if (ec) return h(ec, {});
                auto rec = record_from(r);
                if (!rec) return h(make_error_code(error::corrupt), {});
                h({}, std::move(*rec));
            });
}

void moderation_store::get(std::string id, handler<std::optional<escalation_record>> h) {
    auto& im = *impl_;
    if (!valid_hex_id(id))
        return im.defer(std::move(h), error_code{}, std::optional<escalation_record>{});
    im.eval(scripts().get, {im.esc_key(id)}, {im.opt.key_prefix, id},
            [h = std::move(h)](error_code ec, store::reply r) {
                if (ec) return h(ec, std::nullopt);
                if (r.is_array() && r.size() == 0) return h({}, std::nullopt);
                auto rec = record_from(r);
                if (!rec) return h(make_error_code(error::corrupt), std::nullopt);
                h({}, std::move(rec));
            });
}

void moderation_store::list_open(handler<std::vector<escalation_record>> h) {
    auto& im = *impl_;
    im.eval(scripts().list_open, {im.key("esc:open")}, {im.opt.key_prefix},
            impl::records_handler(std::move(h)));
}

void moderation_store::acknowledge(std::string id, std::string moderator, std::int64_t now_ms,
                                   handler<std::pair<transition_result, escalation_record>> h) {
    auto& im = *impl_;
    if (!valid_hex_id(id))
        return im.defer(std::move(h), error_code{}, transition{transition_result::not_found, {}});
    if (!valid_name(moderator))
        return im.defer(std::move(h), make_error_code(error::not_found), transition{});
    im.eval(scripts().acknowledge, {im.esc_key(id), im.opt.audit_key},
            {im.opt.key_prefix, id, moderator, std::to_string(now_ms),
             std::to_string(im.opt.audit_max_len)},
            [h = std::move(h)](error_code ec, store::reply r) { answer_transition(h, ec, r); });
}

void moderation_store::resolve(std::string id, std::string moderator,
                               protocol::resolve_outcome outcome, std::int64_t now_ms,
                               handler<std::pair<transition_result, escalation_record>> h) {
    auto& im = *impl_;
    if (!valid_hex_id(id))
        return im.defer(std::move(h), error_code{}, transition{transition_result::not_found, {}});
    const auto outcome_text = protocol::to_string(outcome);
    if (!valid_name(moderator) || outcome_text.empty())
        return im.defer(std::move(h), make_error_code(error::not_found), transition{});
    const std::string key = im.esc_key(id);
    im.eval(scripts().resolve, {key, key + ":x", im.opt.audit_key},
            {im.opt.key_prefix, id, moderator, std::string(outcome_text), std::to_string(now_ms),
             std::to_string(im.opt.audit_max_len), std::to_string(ms(im.opt.resolved_ttl))},
            [h = std::move(h)](error_code ec, store::reply r) { answer_transition(h, ec, r); });
}

void moderation_store::repage_due(std::int64_t now_ms, handler<std::vector<escalation_record>> h) {
    auto& im = *impl_;
    std::vector<std::string> args{im.opt.key_prefix, std::to_string(now_ms),
                                  std::to_string(im.opt.repage_batch),
                                  std::to_string(im.opt.audit_max_len)};
    for (auto d : im.opt.deadlines)
        args.push_back(std::to_string(std::max<std::int64_t>(0, d.count())));
    im.eval(scripts().repage, {im.key("esc:due"), im.opt.audit_key}, std::move(args),
            impl::records_handler(std::move(h)));
}

void moderation_store::link(std::string session, std::string conversation_id, std::string peer,
                            handler<std::vector<escalation_record>> h) {
    auto& im = *impl_;
    if (!valid_name(session) || !valid_name(conversation_id) || !valid_optional_name(peer))
        return im.defer(std::move(h), make_error_code(error::not_found),
                        std::vector<escalation_record>{});
    im.eval(scripts().link, {im.key("esc:sess:", session), im.key("esc:conv:", conversation_id)},
            {im.opt.key_prefix, conversation_id, peer, im.index_ttl()},
            impl::records_handler(std::move(h)));
}

void moderation_store::conversation_level(std::string conversation_id,
                                          handler<std::optional<protocol::level>> h) {
    auto& im = *impl_;
    if (!valid_name(conversation_id))
        return im.defer(std::move(h), error_code{}, std::optional<protocol::level>{});
    im.eval(scripts().level, {im.key("esc:conv:", conversation_id)}, {im.opt.key_prefix},
            [h = std::move(h)](error_code ec, store::reply r) {
                if (ec) return h(ec, std::nullopt);
                if (!r.is_array()) return h(make_error_code(error::corrupt), std::nullopt);
                std::optional<protocol::level> top;
                for (const auto& item : r.elements()) {
                    auto l = protocol::from_string<protocol::level>(item.str());
                    if (!l) return h(make_error_code(error::corrupt), std::nullopt);
                    if (!top || *l > *top) top = *l;
                }
                h({}, top);
            });
}

// ---- moderators on duty ----

void moderation_store::watch(std::string moderator, std::string session,
                             protocol::x25519_public_key pubkey, std::int64_t now_ms,
                             done_handler h) {
    auto& im = *impl_;
    if (!valid_name(moderator) || !valid_name(session))
        return im.defer(std::move(h), make_error_code(error::not_found));
    im.eval(scripts().watch, {im.key("mods:on"), im.key("mods:sess"), im.key("mods:key")},
            {moderator, session, to_base64({pubkey.begin(), pubkey.end()}),
             std::to_string(now_ms + ms(im.opt.presence_ttl)), std::to_string(now_ms)},
            impl::done_of(std::move(h)));
}

void moderation_store::refresh(std::vector<std::pair<std::string, std::string>> moderators,
                               std::int64_t now_ms, done_handler h) {
    auto& im = *impl_;
    std::vector<std::string> args{std::to_string(now_ms + ms(im.opt.presence_ttl))};
    for (auto& [m, s] : moderators) {
        if (!valid_name(m) || !valid_name(s)) continue; // cannot hold duty: nothing to renew
        args.push_back(std::move(m));
        args.push_back(std::move(s));
    }
    if (args.size() == 1) return im.defer(std::move(h), error_code{});
    im.eval(scripts().refresh, {im.key("mods:on"), im.key("mods:sess")}, std::move(args),
            impl::done_of(std::move(h)));
}

void moderation_store::unwatch(std::string moderator, std::string session, done_handler h) {
    auto& im = *impl_;
    if (!valid_name(moderator) || !valid_name(session))
        return im.defer(std::move(h), error_code{}); // could not be on duty: already off
    im.eval(scripts().unwatch, {im.key("mods:on"), im.key("mods:sess"), im.key("mods:key")},
            {moderator, session}, impl::done_of(std::move(h)));
}

void moderation_store::on_duty(std::int64_t now_ms, handler<std::vector<on_duty_moderator>> h) {
    auto& im = *impl_;
    im.eval(scripts().on_duty, {im.key("mods:on"), im.key("mods:sess"), im.key("mods:key")},
            {std::to_string(now_ms)}, [h = std::move(h)](error_code ec, store::reply r) {
                std::vector<on_duty_moderator> out;
                if (ec) return h(ec, std::move(out));
                if (!r.is_array() || r.size() % 3 != 0)
                    return h(make_error_code(error::corrupt), std::move(out));
                const auto& e = r.elements();
                for (std::size_t i = 0; i + 2 < e.size(); i += 3) {
                    auto key = from_base64(e[i + 2].str());
                    on_duty_moderator m;
                    // One unreadable key must not hide every other moderator: skip it.
                    if (!key || key->size() != m.pubkey.size()) continue;
                    m.moderator_id = e[i].str();
                    m.session = e[i + 1].str();
                    std::copy(key->begin(), key->end(), m.pubkey.begin());
                    out.push_back(std::move(m));
                }
                h({}, std::move(out));
            });
}

// ---- join, bans, blocks ----

void moderation_store::audit_join(std::string moderator, std::string conversation_id,
                                  std::int64_t now_ms, done_handler h) {
    auto& im = *impl_;
    if (!valid_name(moderator) || !valid_name(conversation_id))
        return im.defer(std::move(h), make_error_code(error::not_found));
    im.eval(scripts().audit_only, {im.opt.audit_key},
            {std::to_string(im.opt.audit_max_len), moderator, "conversation.join", conversation_id,
             std::to_string(now_ms), ""},
            impl::done_of(std::move(h)));
}

void moderation_store::ban(std::string moderator, protocol::party party, std::string device_id,
                           std::string session, std::string peer, std::string conversation_id,
                           std::int64_t duration_s, std::int64_t now_ms, done_handler h) {
    auto& im = *impl_;
    std::vector<std::string> keys{im.opt.audit_key};
    if (party == protocol::party::seeker) {
        // The device when there is one; the session too (a resume presents the session, and
        // banning it as well costs nothing).
        if (valid_hex_id(device_id)) keys.push_back(im.key("ban:d:", device_id));
        if (valid_name(session)) keys.push_back(im.key("ban:s:", session));
    } else if (valid_name(peer)) {
        keys.push_back(im.key("ban:p:", peer));
    }
    if (keys.size() == 1 || !valid_name(moderator) || !valid_optional_name(conversation_id))
        return im.defer(std::move(h), make_error_code(error::not_found));
    // The codec bounds duration_s (1..max_ban_s); clamped again so that no caller can set a
    // ban that never ends or expires at once.
    duration_s = std::clamp<std::int64_t>(duration_s, 1, protocol::limits::max_ban_s);
    im.eval(scripts().ban, std::move(keys),
            {std::to_string(im.opt.audit_max_len), moderator,
             party == protocol::party::seeker ? "ban.seeker" : "ban.peer", conversation_id,
             std::to_string(now_ms), std::to_string(duration_s), std::to_string(duration_s * 1000)},
            impl::done_of(std::move(h)));
}

void moderation_store::is_banned(std::string device_id, std::string session, std::string peer,
                                 handler<bool> h) {
    auto& im = *impl_;
    std::vector<std::string> cmd{"EXISTS"};
    if (valid_hex_id(device_id)) cmd.push_back(im.key("ban:d:", device_id));
    if (valid_name(session)) cmd.push_back(im.key("ban:s:", session));
    if (valid_name(peer)) cmd.push_back(im.key("ban:p:", peer));
    if (cmd.size() == 1) return im.defer(std::move(h), error_code{}, false);
    im.redis.command(std::move(cmd), [h = std::move(h)](error_code ec, store::reply r) {
        if (ec) return h(ec, false);
        if (!r.is_integer()) return h(make_error_code(error::corrupt), false);
        h({}, r.integer() > 0);
    });
}

void moderation_store::block_device(std::string peer, std::string device_id,
                                    std::string conversation_id, std::int64_t now_ms,
                                    done_handler h) {
    auto& im = *impl_;
    if (!valid_name(peer) || !valid_optional_name(conversation_id) ||
        (!device_id.empty() && !valid_hex_id(device_id)))
        return im.defer(std::move(h), make_error_code(error::not_found));
    std::vector<std::string> keys{im.opt.audit_key};
    if (!device_id.empty()) keys.push_back(im.key("dblock:", device_id));
    im.eval(scripts().block_device, std::move(keys),
            {std::to_string(im.opt.audit_max_len), peer, conversation_id, std::to_string(now_ms),
             std::to_string(ms(im.opt.device_block_ttl))},
            impl::done_of(std::move(h)));
}

void moderation_store::device_blocks(std::string device_id, handler<std::vector<std::string>> h) {
    auto& im = *impl_;
    if (!valid_hex_id(device_id))
        return im.defer(std::move(h), error_code{}, std::vector<std::string>{});
    im.redis.command({"SMEMBERS", im.key("dblock:", device_id)},
                     [h = std::move(h)](error_code ec, store::reply r) {
                         std::vector<std::string> out;
                         if (ec) return h(ec, std::move(out));
                         if (!r.is_array())
                             return h(make_error_code(error::corrupt), std::move(out));
                         for (const auto& item : r.elements())
                             out.push_back(item.str());
                         std::sort(out.begin(), out.end());
                         h({}, std::move(out));
                     });
}

// ---- consults ----

void moderation_store::create_consult(std::string peer, std::string session,
                                      std::string conversation_id, std::int64_t now_ms,
                                      handler<consult_record> h) {
    auto& im = *impl_;
    consult_record c{im.opt.new_id(), std::move(peer), std::move(session),
                     std::move(conversation_id), now_ms};
    if (!valid_hex_id(c.id) || !valid_name(c.peer) || !valid_optional_name(c.session) ||
        !valid_optional_name(c.conversation_id))
        return im.defer(std::move(h), make_error_code(error::not_found), consult_record{});
    im.eval(scripts().consult_create, {im.key("consult:", c.id)},
            {c.peer, c.session, c.conversation_id, std::to_string(now_ms),
             std::to_string(ms(im.opt.consult_ttl))},
            [h = std::move(h), c](error_code ec, store::reply r) mutable {
                if (ec) return h(ec, {});
                // 0: the id was taken — a generator bug, never silently shared.
                if (!r.is_integer() || r.integer() != 1)
                    return h(make_error_code(error::corrupt), {});
                h({}, std::move(c));
            });
}

void moderation_store::get_consult(std::string id, handler<std::optional<consult_record>> h) {
    auto& im = *impl_;
    if (!valid_hex_id(id))
        return im.defer(std::move(h), error_code{}, std::optional<consult_record>{});
    im.redis.command({"HGETALL", im.key("consult:", id)},
                     [h = std::move(h), id](error_code ec, store::reply r) {
                         if (ec) return h(ec, std::nullopt);
                         if (!r.is_array()) return h(make_error_code(error::corrupt), std::nullopt);
                         if (r.size() == 0) return h({}, std::nullopt);
                         consult_record c;
                         c.id = id;
                         const auto& e = r.elements();
                         for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
                             const std::string& name = e[i].str();
                             if (name == "peer")
                                 c.peer = e[i + 1].str();
                             else if (name == "session")
                                 c.session = e[i + 1].str();
                             else if (name == "conv")
                                 c.conversation_id = e[i + 1].str();
                             else if (name == "created_at")
                                 c.created_at = store::parse_int64(e[i + 1].str()).value_or(0);
                         }
                         if (c.peer.empty())
                             return h(make_error_code(error::corrupt), std::nullopt);
                         h({}, std::move(c));
                     });
}

} // namespace kindred::moderation
