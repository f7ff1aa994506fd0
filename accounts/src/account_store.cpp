// account_store.cpp — accounts, tokens and identity keys on Redis: validate, (hash), run one
// Lua script, read its reply. The scripts live in accounts/lua/ and are embedded by CMake.
#include <kindred/accounts/account_store.hpp>
#include <kindred/accounts/identity.hpp>
#include <kindred/accounts/keys.hpp>
#include <kindred/accounts/lua_scripts.hpp>
#include <kindred/accounts/token.hpp>
#include <kindred/protocol/base64.hpp>
#include <kindred/store/client.hpp>

#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <mutex>
#include <utility>

namespace kindred::accounts {

namespace {

using boost::system::error_code;

// A script that appends to the audit stream: audit_append.lua's function, then the script.
// Lua scripts cannot include one another, so the one chained append is shared by prefixing.
std::string audited(std::string_view body) {
    return std::string(lua::audit_append) + "\n" + std::string(body);
}

// The scripts, each hashed once (SHA1 for EVALSHA) on first use.
struct script_set {
    store::script account_create{audited(lua::account_create)};
    store::script account_update{audited(lua::account_update)};
    store::script account_revoke{audited(lua::account_revoke)};
    store::script account_get{std::string(lua::account_get)};
    store::script account_list{std::string(lua::account_list)};
    store::script login_begin{std::string(lua::login_begin)};
    store::script token_issue{std::string(lua::token_issue)};
    store::script token_lookup{std::string(lua::token_lookup)};
    store::script token_logout{std::string(lua::token_logout)};
    store::script identity_register{audited(lua::identity_register)};
};

const script_set& scripts() {
    static const script_set s;
    return s;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) {
        if (!out.empty()) out += ',';
        out += i;
    }
    return out;
}

// An account from the flat field/value array the scripts return (no password field).
// Unknown fields are ignored; a missing or unreadable role means the record is corrupt.
boost::system::result<account> account_from_fields(std::string name, const store::reply& flat) {
    account a;
    a.username = std::move(name);
    bool have_role = false;
    const auto& e = flat.elements();
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
        const std::string& field = e[i].str();
        const std::string& value = e[i + 1].str();
        if (field == "role") {
            auto r = role_from_string(value);
            if (!r) return make_error_code(error::corrupt_record);
            a.role = *r;
            have_role = true;
        } else if (field == "alias") {
            a.alias = value;
        } else if (field == "languages") {
            a.languages = split_list(value);
        } else if (field == "disabled") {
            a.disabled = value == "1";
        } else if (field == "identity_key") {
            // Decoded only: the point was checked when it was registered. The full check
            // (crypto_core_ed25519_is_valid_point, ~0.5M instructions) ran on every token
            // re-check of every staff socket, twice a second each.
            auto bytes = value.size() == protocol::base64_encoded_size(32)
                             ? protocol::base64_decode(value)
                             : std::nullopt;
            accounts::identity_key key{};
            if (!bytes || bytes->size() != key.size())
                return make_error_code(error::corrupt_record);
            std::copy(bytes->begin(), bytes->end(), key.begin());
            a.identity_key = key;
        } else if (field == "created_at") {
            a.created_at = store::parse_int64(value).value_or(0);
        } else if (field == "updated_at") {
            a.updated_at = store::parse_int64(value).value_or(0);
        } else if (field.rfind("cert:", 0) == 0) {
            if (auto d = parse_date(value)) a.certifications.push_back({field.substr(5), *d});
        }
    }
    if (!have_role) return make_error_code(error::corrupt_record);
    std::sort(a.certifications.begin(), a.certifications.end(),
              [](const certification& x, const certification& y) { return x.tag < y.tag; });
    return a;
}

} // namespace

class account_store::impl {
public:
    impl(store::client& r, account_store_options o)
        : redis(r)
        , opt(std::move(o)) {
        if (!opt.now_ms)
            opt.now_ms = [] {
                return std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                    .count();
            };
    }

    store::client& redis;
    account_store_options opt;

    // Made on first use (one Argon2id hash at opt.limits), so that tools that never log
    // anyone in do not pay for it. Every login attempt needs it or a real hash, so the first
    // attempt's extra cost says nothing about the account. Empty if libsodium could not
    // allocate: then verification fails, as it should.
    const std::string& dummy_hash() {
        std::call_once(dummy_once_,
                       [this] { dummy_hash_ = make_dummy_hash(opt.limits).value_or(""); });
        return dummy_hash_;
    }

    std::int64_t now() const { return opt.now_ms(); }

    void blocking(std::function<void()> job) {
        if (opt.run_blocking)
            opt.run_blocking(std::move(job));
        else
            job();
    }

    // Completes `h` with `ec` without calling it inside the caller's call: the answer rides
    // on a PING through the client (posted even while Redis is down), so that every handler
    // of this class runs where store handlers run. Only used for requests refused before
    // touching Redis (bad input), which are rare.
    template <class Handler, class... Rest>
    void defer(Handler h, error_code ec, Rest... rest) {
        redis.command({"PING"}, [h = std::move(h), ec, rest...](error_code, store::reply) mutable {
            h(ec, std::move(rest)...);
        });
    }

    void eval(const store::script& s, std::vector<std::string> keys, std::vector<std::string> args,
              store::client::handler h) {
        redis.eval(s, std::move(keys), std::move(args), std::move(h));
    }

    // An account_update.lua call: ops are (op, field, value) triples.
    void update(const std::string& actor, const std::string& username, std::string action,
                std::string detail, std::vector<std::string> ops, done_handler h) {
        std::vector<std::string> args{
            username,          std::to_string(now()), actor, std::to_string(opt.audit_max_len),
            std::move(action), std::move(detail)};
        for (auto& o : ops)
            args.push_back(std::move(o));
        eval(scripts().account_update, {keys::user(username), std::string(keys::audit)},
             std::move(args), [h = std::move(h)](error_code ec, store::reply r) {
                 if (ec) return h(ec);
                 if (!r.is_integer()) return h(make_error_code(error::corrupt_record));
                 h(r.integer() == 0 ? make_error_code(error::not_found) : error_code{});
             });
    }

    // An account_revoke.lua call (disable, delete, password).
    void revoke(const std::string& actor, const std::string& username, std::string action,
                std::string password_hash, done_handler h) {
        eval(scripts().account_revoke,
             {keys::user(username), keys::user_tokens(username), std::string(keys::users),
              std::string(keys::audit), keys::login_fail(username)},
             {username, std::to_string(now()), actor, std::to_string(opt.audit_max_len),
              std::move(action), std::move(password_hash), std::string(keys::revoked_channel)},
             [h = std::move(h)](error_code ec, store::reply r) {
                 if (ec) return h(ec);
                 if (!r.is_integer()) return h(make_error_code(error::corrupt_record));
                 h(r.integer() == 0 ? make_error_code(error::not_found) : error_code{});
             });
    }

    // Validation shared by operator changes: a usable actor, and a username that could
    // exist (a malformed one cannot: not_found).
    error_code check_actor_and_user(const std::string& actor, const std::string& username) {
        if (!valid_actor(actor)) return make_error_code(error::invalid_actor);
        if (!valid_username(username)) return make_error_code(error::not_found);
        return {};
    }

private:
    std::once_flag dummy_once_;
    std::string dummy_hash_;
};

account_store::account_store(store::client& redis, account_store_options options)
    : impl_(std::make_shared<impl>(redis, std::move(options))) {}

account_store::~account_store() = default;

const account_store_options& account_store::options() const noexcept {
    return impl_->opt;
}

void account_store::get(std::string username, account_handler h) {
    if (!valid_username(username))
        return impl_->defer(std::move(h), make_error_code(error::not_found), account{});
    impl_->eval(scripts().account_get, {keys::user(username)}, {},
                [h = std::move(h), username](error_code ec, store::reply r) {
                    if (ec) return h(ec, account{});
                    if (!r.is_array()) return h(make_error_code(error::corrupt_record), account{});
                    if (r.size() == 0) return h(make_error_code(error::not_found), account{});
                    auto a = account_from_fields(username, r);
                    if (!a) return h(a.error(), account{});
                    h({}, std::move(*a));
                });
}

void account_store::list(list_handler h) {
    impl_->eval(scripts().account_list, {std::string(keys::users)}, {},
                [h = std::move(h)](error_code ec, store::reply r) {
                    std::vector<account> out;
                    if (ec) return h(ec, std::move(out));
                    if (!r.is_array())
                        return h(make_error_code(error::corrupt_record), std::move(out));
                    for (const auto& item : r.elements()) {
                        auto a = account_from_fields(item.at(0).str(), item.at(1));
                        if (!a) return h(a.error(), std::vector<account>{});
                        out.push_back(std::move(*a));
                    }
                    h({}, std::move(out));
                });
}

void account_store::create(std::string actor, new_account a, std::string password, done_handler h) {
    auto& im = *impl_;
    if (!valid_actor(actor)) return im.defer(std::move(h), make_error_code(error::invalid_actor));
    if (!valid_username(a.username))
        return im.defer(std::move(h), make_error_code(error::invalid_username));
    if (!valid_alias(a.alias)) return im.defer(std::move(h), make_error_code(error::invalid_alias));
    auto langs = check_languages(a.languages, im.opt.catalog);
    if (!langs) return im.defer(std::move(h), langs.error());
    if (!valid_password(password))
        return im.defer(std::move(h), make_error_code(error::invalid_password));

    im.blocking([self = impl_, actor = std::move(actor), a = std::move(a), languages = join(*langs),
                 password = std::move(password), h = std::move(h)]() mutable {
        auto hash = hash_password(password, self->opt.limits);
        if (!hash) return self->defer(std::move(h), make_error_code(error::internal));
        const auto now = std::to_string(self->now());
        std::string detail = "role=" + std::string(to_string(a.role)) + " languages=" + languages;
        self->eval(scripts().account_create,
                   {keys::user(a.username), std::string(keys::users), std::string(keys::audit)},
                   {a.username, std::string(to_string(a.role)), a.alias, languages,
                    std::move(*hash), now, actor, std::to_string(self->opt.audit_max_len),
                    std::move(detail)},
                   [h = std::move(h)](error_code ec, store::reply r) {
                       if (ec) return h(ec);
                       h(r.integer() == 1 ? error_code{} : make_error_code(error::already_exists));
                   });
    });
}

void account_store::set_password(std::string actor, std::string username, std::string password,
                                 done_handler h) {
    auto& im = *impl_;
    if (auto ec = im.check_actor_and_user(actor, username)) return im.defer(std::move(h), ec);
    if (!valid_password(password))
        return im.defer(std::move(h), make_error_code(error::invalid_password));
    im.blocking([self = impl_, actor = std::move(actor), username = std::move(username),
                 password = std::move(password), h = std::move(h)]() mutable {
        auto hash = hash_password(password, self->opt.limits);
        if (!hash) return self->defer(std::move(h), make_error_code(error::internal));
        self->revoke(actor, username, "password", std::move(*hash), std::move(h));
    });
}

void account_store::set_disabled(std::string actor, std::string username, bool disabled,
                                 done_handler h) {
    auto& im = *impl_;
    if (auto ec = im.check_actor_and_user(actor, username)) return im.defer(std::move(h), ec);
    if (disabled)
        im.revoke(actor, username, "disable", {}, std::move(h));
    else
        im.update(actor, username, "user.enable", {}, {"S", "disabled", "0"}, std::move(h));
}

void account_store::remove(std::string actor, std::string username, done_handler h) {
    auto& im = *impl_;
    if (auto ec = im.check_actor_and_user(actor, username)) return im.defer(std::move(h), ec);
    im.revoke(actor, username, "delete", {}, std::move(h));
}

void account_store::certify(std::string actor, std::string username, std::vector<std::string> tags,
                            std::string until, done_handler h) {
    auto& im = *impl_;
    if (auto ec = im.check_actor_and_user(actor, username)) return im.defer(std::move(h), ec);
    auto checked = check_tags(tags, im.opt.catalog);
    if (!checked) return im.defer(std::move(h), checked.error());
    auto day = check_until(until, im.now());
    if (!day) return im.defer(std::move(h), day.error());
    const std::string date_text = format_date(*day);
    std::vector<std::string> ops;
    for (const auto& t : *checked) {
        ops.push_back("S");
        ops.push_back("cert:" + t);
        ops.push_back(date_text);
    }
    im.update(actor, username, "user.certify", "tags=" + join(*checked) + " until=" + date_text,
              std::move(ops), std::move(h));
}

void account_store::revoke_tags(std::string actor, std::string username,
                                std::vector<std::string> tags, done_handler h) {
    auto& im = *impl_;
    if (auto ec = im.check_actor_and_user(actor, username)) return im.defer(std::move(h), ec);
    if (tags.empty() || !std::all_of(tags.begin(), tags.end(), valid_tag_id))
        return im.defer(std::move(h), make_error_code(error::invalid_tag));
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    std::vector<std::string> ops;
    for (const auto& t : tags) {
        ops.push_back("D");
        ops.push_back("cert:" + t);
        ops.push_back("");
    }
    im.update(actor, username, "user.revoke_tags", "tags=" + join(tags), std::move(ops),
              std::move(h));
}

void account_store::set_alias(std::string actor, std::string username, std::string alias,
                              done_handler h) {
    auto& im = *impl_;
    if (auto ec = im.check_actor_and_user(actor, username)) return im.defer(std::move(h), ec);
    if (!valid_alias(alias)) return im.defer(std::move(h), make_error_code(error::invalid_alias));
    im.update(actor, username, "user.set_alias", {}, {"S", "alias", std::move(alias)},
              std::move(h));
}

void account_store::set_languages(std::string actor, std::string username,
                                  std::vector<std::string> languages, done_handler h) {
    auto& im = *impl_;
    if (auto ec = im.check_actor_and_user(actor, username)) return im.defer(std::move(h), ec);
    auto langs = check_languages(languages, im.opt.catalog);
    if (!langs) return im.defer(std::move(h), langs.error());
    auto text = join(*langs);
    im.update(actor, username, "user.set_languages", "languages=" + text, {"S", "languages", text},
              std::move(h));
}

void account_store::reset_identity(std::string actor, std::string username, done_handler h) {
    auto& im = *impl_;
    if (auto ec = im.check_actor_and_user(actor, username)) return im.defer(std::move(h), ec);
    im.update(actor, username, "user.reset_identity", {}, {"D", "identity_key", ""}, std::move(h));
}

void account_store::register_identity(std::string username, identity_key key, done_handler h) {
    auto& im = *impl_;
    if (!valid_username(username)) return im.defer(std::move(h), make_error_code(error::not_found));
    if (!valid_identity_key(key))
        return im.defer(std::move(h), make_error_code(error::invalid_identity_key));
    im.eval(scripts().identity_register, {keys::user(username), std::string(keys::audit)},
            {username, identity_key_to_base64(key), std::to_string(im.now()),
             std::to_string(im.opt.audit_max_len)},
            [h = std::move(h)](error_code ec, store::reply r) {
                if (ec) return h(ec);
                switch (r.integer()) {
                case 0:
                    return h(make_error_code(error::not_found));
                case 1:
                case 2:
                    return h({});
                case 3:
                    return h(make_error_code(error::conflict));
                default:
                    return h(make_error_code(error::corrupt_record));
                }
            });
}

void account_store::login(std::string username, std::string password, login_handler h) {
    auto& im = *impl_;
    // Every attempt takes the same path: count it, read the hash, verify (against the dummy
    // hash when there is no usable account), answer. A malformed name reads a key that can
    // never exist ("user:{}"), so even it costs what an unknown name costs.
    const bool name_ok = valid_username(username);
    // Built before the handler below takes `username` (argument order is unspecified).
    std::vector<std::string> begin_keys{keys::login_fail(username),
                                        keys::user(name_ok ? std::string_view(username) : "")};
    im.eval(
        scripts().login_begin, std::move(begin_keys),
        {std::to_string(im.opt.lockout.max_failures),
         std::to_string(im.opt.lockout.window.count())},
        [self = impl_, username = std::move(username), password = std::move(password), name_ok,
         h = std::move(h)](error_code ec, store::reply r) mutable {
            if (ec) return h(ec, login_result{});
            if (!r.is_array() || r.size() < 2)
                return h(make_error_code(error::corrupt_record), login_result{});
            if (r.at(0).integer() == 0) {
                login_result locked;
                locked.retry_after =
                    std::chrono::seconds(std::max<long long>(1, r.at(1).integer()));
                return h(make_error_code(error::rate_limited), std::move(locked));
            }
            std::string hash = r.at(1).str();
            const bool usable = name_ok && !hash.empty() && r.at(2).str() != "1";
            self->blocking([self, username = std::move(username), password = std::move(password),
                            hash = std::move(hash), usable, h = std::move(h)]() mutable {
                const std::string_view against =
                    usable ? std::string_view(hash) : std::string_view(self->dummy_hash());
                const std::string_view pw = std::string_view(password).substr(
                    0, std::min(password.size(), max_password_bytes));
                const bool ok =
                    verify_password(against, pw) && usable && password.size() <= max_password_bytes;
                sodium_memzero(password.data(), password.size());
                if (!ok) return h(make_error_code(error::bad_credentials), login_result{});

                login_result out;
                out.token = generate_token();
                out.username = username;
                const auto th = token_hash(out.token);
                const auto now = self->now();
                const auto lifetime = self->opt.token_lifetime.count();
                out.expires_at = now + lifetime;
                std::vector<std::string> issue_keys{keys::user(username),
                                                    keys::user_tokens(username), keys::token(th),
                                                    keys::login_fail(username)};
                std::vector<std::string> issue_args{username,
                                                    th,
                                                    std::to_string(now),
                                                    std::to_string(out.expires_at),
                                                    std::to_string(lifetime),
                                                    std::move(hash)};
                self->eval(scripts().token_issue, std::move(issue_keys), std::move(issue_args),
                           [out = std::move(out), h = std::move(h)](error_code ec2,
                                                                    store::reply r2) mutable {
                               if (ec2) return h(ec2, login_result{});
                               if (!r2.is_array())
                                   // Disabled, deleted or re-passworded since the check.
                                   return h(make_error_code(error::bad_credentials),
                                            login_result{});
                               auto role = role_from_string(r2.at(0).str());
                               if (!role)
                                   return h(make_error_code(error::corrupt_record), login_result{});
                               out.role = *role;
                               out.alias = r2.at(1).str();
                               h({}, std::move(out));
                           });
            });
        });
}

void account_store::lookup(std::string token, token_handler h) {
    if (!looks_like_token(token))
        return impl_->defer(std::move(h), make_error_code(error::not_found), token_info{});
    lookup_hash(token_hash(token), std::move(h));
}

void account_store::lookup_hash(std::string hash, token_handler h) {
    auto& im = *impl_;
    if (!looks_like_token_hash(hash))
        return im.defer(std::move(h), make_error_code(error::not_found), token_info{});
    im.eval(scripts().token_lookup, {keys::token(hash)}, {std::to_string(im.now())},
            [hash, h = std::move(h)](error_code ec, store::reply r) {
                if (ec) return h(ec, token_info{});
                if (!r.is_array()) return h(make_error_code(error::not_found), token_info{});
                auto a = account_from_fields(r.at(0).str(), r.at(2));
                if (!a) return h(a.error(), token_info{});
                if (a->disabled) return h(make_error_code(error::not_found), token_info{});
                token_info info;
                info.token_hash = hash;
                info.expires_at = r.at(1).to_integer().value_or(0);
                info.account = std::move(*a);
                h({}, std::move(info));
            });
}

void account_store::logout(std::string token, done_handler h) {
    auto& im = *impl_;
    if (!looks_like_token(token)) return im.defer(std::move(h), make_error_code(error::not_found));
    auto th = token_hash(token);
    im.eval(scripts().token_logout, {keys::token(th)}, {th, std::string(keys::revoked_channel)},
            [h = std::move(h)](error_code ec, store::reply r) {
                if (ec) return h(ec);
                h(r.integer() == 1 ? error_code{} : make_error_code(error::not_found));
            });
}

} // namespace kindred::accounts
