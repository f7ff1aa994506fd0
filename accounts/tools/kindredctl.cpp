// kindredctl.cpp — the admin tool: staff accounts and the audit chain in Redis, directly (no
// server needed); the cluster's status and a reload of every instance's catalog (issue #9).
// Reads the server's own config file format (kindred::server::load_config) for the Redis
// address and the tag/language catalog. One command per run; exit codes are a contract with
// operators' scripts (see usage_text and accounts/README.md).
// Threading: the Redis client runs on a background io thread; main() waits for each answer.
#include <kindred/accounts/account_store.hpp>
#include <kindred/accounts/audit.hpp>
#include <kindred/accounts/identity.hpp>
#include <kindred/accounts/model.hpp>
#include <kindred/accounts/password.hpp>
#include <kindred/insights/insights_store.hpp>
#include <kindred/insights/report.hpp>
#include <kindred/protocol/messages.hpp>
#include <kindred/server/config.hpp>
#include <kindred/server/ops_status.hpp>
#include <kindred/store/client.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <future>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace ka = kindred::accounts;
namespace ks = kindred::store;
namespace ki = kindred::insights;
namespace json = boost::json;
using boost::system::error_code;
using namespace std::chrono_literals;

// Exit codes: part of the tool's contract.
enum exit_code : int {
    exit_ok = 0,
    exit_failed = 1,      // the operation failed for another reason (Redis error reply, ...)
    exit_usage = 2,       // bad command line or value (role, date, tag, language, name, ...)
    exit_not_found = 3,   // no such user
    exit_conflict = 4,    // the user already exists
    exit_unavailable = 5, // Redis cannot be reached
    exit_tampered = 6,    // audit verify: the audit chain is broken
};

const char* const usage_text = R"(Usage: kindredctl [global options] COMMAND [options]

Staff accounts of a Kindred deployment, changed directly in Redis. Every change is recorded
in the audit stream with the actor (default "kindredctl").

Commands:
  user add NAME --role peer|moderator|admin --alias ALIAS --languages en,es [--password-stdin]
  user certify NAME --tags grief,addiction --until YYYY-MM-DD
  user revoke-tags NAME --tags grief,addiction
  user list
  user show NAME
  user disable NAME          (revokes every login token of the user at once)
  user enable NAME
  user delete NAME           (revokes every login token of the user at once)
  user passwd NAME [--password-stdin]
  user set-alias NAME ALIAS
  user set-languages NAME en,es
  user reset-identity NAME   (lets the peer's client register a new identity key)
  demo-seed                  (dev mode only: demo-peer, demo-moderator, demo-admin)
  audit verify               (checks the audit stream's hash chain)
  audit tail [-n N]          (the last N audit entries, default 20)
  report [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--tag T] [--language L] [--wait-over MIN] [--csv]
                             (programme insights: anonymous, small cells suppressed)
  demo-insights [--date YYYY-MM-DD]
                             (dev mode only: records a simulated day of insights)
  status                     (instances, peers on shift, queue, open escalations)
  reload                     (every instance re-reads its catalog, crisis resources, lexicon)
Run `kindredctl COMMAND --help` for one command.

Global options (anywhere on the line):
  --config FILE   server config file (JSON with comments); env KINDRED_CONFIG;
                  default: config/kindred.sample.json when it exists
  --redis ADDR    unix:/path/redis.sock or tcp://host:port; env KINDRED_REDIS;
                  default: the config file's, or unix:state/redis.sock when it exists and
                  no config file was named (the Redis of `make run`)
  --dev           dev mode (as the server's --dev): required by demo-seed
  --actor NAME    who to record in the audit stream (default kindredctl)
  --json          machine-readable output on stdout (errors too)
  -h, --help      this help

Without --password-stdin, `user add` and `user passwd` print a generated one-time password.
With it, the password is the first line of standard input (12 to 1024 bytes).

Exit codes: 0 ok, 1 operation failed, 2 usage or invalid value (role, date, tag or language
not in the catalog, bad name or alias), 3 no such user, 4 user already exists,
5 Redis unavailable, 6 audit chain broken (audit verify).
)";

struct command_spec {
    std::vector<std::string> words;       // {"user", "add"}
    std::vector<std::string> positionals; // {"NAME"}
    std::set<std::string> value_options;  // {"role", ...}
    std::set<std::string> required_options;
    std::set<std::string> flag_options; // {"password-stdin"}
    std::string help;
};

const std::vector<command_spec>& commands() {
    static const std::vector<command_spec> all = {
        {{"user", "add"},
         {"NAME"},
         {"role", "alias", "languages"},
         {"role", "alias", "languages"},
         {"password-stdin"},
         "kindredctl user add NAME --role peer|moderator|admin --alias ALIAS --languages en,es "
         "[--password-stdin]\n"
         "  Creates an account. NAME: 3-32 of a-z 0-9 . _ - (starting with a letter or digit).\n"
         "  ALIAS: what seekers see, 1-32 characters. Languages from the config's catalog.\n"
         "  Without --password-stdin prints a generated one-time password.\n"
         "  Exit 4 if the user exists."},
        {{"user", "certify"},
         {"NAME"},
         {"tags", "until"},
         {"tags", "until"},
         {},
         "kindredctl user certify NAME --tags grief,addiction --until YYYY-MM-DD\n"
         "  Certifies the user for catalog tags through the end of that day (UTC), replacing\n"
         "  earlier dates of the same tags."},
        {{"user", "revoke-tags"},
         {"NAME"},
         {"tags"},
         {"tags"},
         {},
         "kindredctl user revoke-tags NAME --tags a,b\n"
         "  Removes certifications (tags no longer in the catalog too; ones not held are "
         "ignored)."},
        {{"user", "list"}, {}, {}, {}, {}, "kindredctl user list\n  Every account."},
        {{"user", "show"}, {"NAME"}, {}, {}, {}, "kindredctl user show NAME\n  One account."},
        {{"user", "disable"},
         {"NAME"},
         {},
         {},
         {},
         "kindredctl user disable NAME\n"
         "  Refuses logins and revokes every login token now (open sockets close with 4003)."},
        {{"user", "enable"},
         {"NAME"},
         {},
         {},
         {},
         "kindredctl user enable NAME\n  Allows a disabled user to log in again."},
        {{"user", "delete"},
         {"NAME"},
         {},
         {},
         {},
         "kindredctl user delete NAME\n  Deletes the account and revokes every login token."},
        {{"user", "passwd"},
         {"NAME"},
         {},
         {},
         {"password-stdin"},
         "kindredctl user passwd NAME [--password-stdin]\n"
         "  Sets a new password (generated and printed unless --password-stdin), revokes every\n"
         "  login token and clears a login lockout."},
        {{"user", "set-alias"},
         {"NAME", "ALIAS"},
         {},
         {},
         {},
         "kindredctl user set-alias NAME ALIAS\n  Changes the alias seekers see."},
        {{"user", "set-languages"},
         {"NAME", "LANGUAGES"},
         {},
         {},
         {},
         "kindredctl user set-languages NAME en,es\n  Replaces the languages (from the catalog)."},
        {{"user", "reset-identity"},
         {"NAME"},
         {},
         {},
         {},
         "kindredctl user reset-identity NAME\n"
         "  Forgets the peer's registered identity key, so its client can register a new one."},
        {{"demo-seed"},
         {},
         {},
         {},
         {},
         "kindredctl demo-seed   (needs dev mode: --dev, KINDRED_DEV_MODE=true or dev_mode in "
         "the config)\n"
         "  Creates, or resets, demo-peer (certified for a few tags for a year), demo-moderator\n"
         "  and demo-admin, and prints their passwords. Never outside dev mode."},
        {{"audit", "verify"},
         {},
         {},
         {},
         {},
         "kindredctl audit verify\n"
         "  Checks the audit stream's hash chain from its first present entry (older entries\n"
         "  trimmed by MAXLEN are not provable) to the head. Prints \"ok, N entries\" (exit 0),\n"
         "  or names the first bad entry and why (exit 6): hash mismatch (changed), entries\n"
         "  missing before it (deleted or moved), out of order, prev mismatch, not chained,\n"
         "  or the newest entries missing."},
        {{"report"},
         {},
         {"from", "to", "tag", "language", "wait-over"},
         {},
         {"csv"},
         "kindredctl report [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--tag T] [--language L]\n"
         "                  [--wait-over MINUTES] [--csv]\n"
         "  Programme insights from Redis, the same figures as the admin page and\n"
         "  GET /v1/insights: waiting times, coverage gaps by tag, feedback, escalations.\n"
         "  Default range: the last 7 days through today (UTC), at most 400 days.\n"
         "  Figures below the config's insights_min_cell are printed as \"suppressed\".\n"
         "  --wait-over: 1, 2, 5 (default), 10 or 30. --csv: the CSV export; --json: the JSON."},
        {{"demo-insights"},
         {},
         {"date"},
         {},
         {},
         "kindredctl demo-insights [--date YYYY-MM-DD]   (needs dev mode)\n"
         "  Records a simulated day of anonymous insights counters (default: today, UTC)\n"
         "  through the insights store, for demos and the admin page's tests. Never outside\n"
         "  dev mode: it adds to the real counters."},
        {{"audit", "tail"},
         {},
         {"n"},
         {},
         {},
         "kindredctl audit tail [-n N]\n"
         "  The last N audit entries (default 20, at most 100000), oldest first. Entries hold\n"
         "  no secrets: who, what, when, on which account."},
        {{"status"},
         {},
         {},
         {},
         {},
         "kindredctl status [--json]\n"
         "  The cluster as Redis sees it now: live instances (id, age, last heartbeat,\n"
         "  connections and sessions by role, draining or serving), peers on shift by tag\n"
         "  (present ones only), waiting requests by tag and language with the oldest wait,\n"
         "  and every unresolved escalation with its level, state and age (OVERDUE: open past\n"
         "  its level's acknowledgement deadline from the config). Read-only."},
        {{"reload"},
         {},
         {},
         {},
         {},
         "kindredctl reload [--json]\n"
         "  Publishes a reload request on ctl:reload: every running instance re-reads the tag\n"
         "  and language catalog and the crisis resources from its config file, and its\n"
         "  lexicon file (as SIGHUP does). A file that fails to load is logged by the instance\n"
         "  and the old one is kept. Prints how many instances heard it."},
    };
    return all;
}

// ---- output ---------------------------------------------------------------------------

struct output {
    bool json = false;

    // An error: text on stderr, or {"ok":false,...} on stdout with --json. Returns `code`.
    int fail(int code, const std::string& message) const {
        if (json) {
            static const std::map<int, const char*> names = {
                {exit_failed, "failed"},           {exit_usage, "usage"},
                {exit_not_found, "not_found"},     {exit_conflict, "conflict"},
                {exit_unavailable, "unavailable"}, {exit_tampered, "tampered"}};
            json::object o{{"ok", false}, {"error", names.at(code)}, {"message", message}};
            std::cout << json::serialize(o) << "\n";
        } else {
            std::cerr << "kindredctl: " << message << "\n";
        }
        return code;
    }
    void emit(const json::object& o) const { std::cout << json::serialize(o) << "\n"; }
};

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string utc_time(std::int64_t ms) {
    if (ms <= 0) return "-";
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

json::object account_json(const ka::account& a, std::int64_t now) {
    json::array langs;
    for (const auto& l : a.languages)
        langs.emplace_back(l);
    json::array certs;
    for (const auto& c : a.certifications)
        certs.emplace_back(json::object{
            {"tag", c.tag}, {"until", ka::format_date(c.until)}, {"active", c.active(now)}});
    json::array active;
    for (const auto& t : a.active_tags(now))
        active.emplace_back(t);
    json::object o{{"username", a.username},
                   {"role", std::string(ka::to_string(a.role))},
                   {"alias", a.alias},
                   {"languages", std::move(langs)},
                   {"certifications", std::move(certs)},
                   {"active_tags", std::move(active)},
                   {"disabled", a.disabled},
                   {"created_at", a.created_at},
                   {"updated_at", a.updated_at}};
    if (a.identity_key)
        o["identity_key"] = ka::identity_key_to_base64(*a.identity_key);
    else
        o["identity_key"] = nullptr;
    return o;
}

std::string account_text(const ka::account& a, std::int64_t now) {
    std::string certs;
    for (const auto& c : a.certifications) {
        if (!certs.empty()) certs += ", ";
        certs += c.tag + " until " + ka::format_date(c.until) + (c.active(now) ? "" : " (expired)");
    }
    std::string out;
    out += "username:     " + a.username + "\n";
    out += "role:         " + std::string(ka::to_string(a.role)) + "\n";
    out += "alias:        " + a.alias + "\n";
    out += "languages:    " + join(a.languages, ", ") + "\n";
    out += "certified:    " + (certs.empty() ? std::string("-") : certs) + "\n";
    out += "disabled:     " + std::string(a.disabled ? "yes" : "no") + "\n";
    out += "identity key: " +
           (a.identity_key ? ka::identity_key_to_base64(*a.identity_key) : std::string("-")) + "\n";
    out += "created:      " + utc_time(a.created_at) + "\n";
    out += "updated:      " + utc_time(a.updated_at) + "\n";
    return out;
}

// ---- command line -----------------------------------------------------------------------

struct parsed_line {
    std::optional<std::string> config, redis, actor;
    bool json = false;
    bool dev = false;
    bool help = false;
    std::vector<std::string> words;             // command words and positionals, in order
    std::map<std::string, std::string> options; // command options with values
    std::set<std::string> flags;                // command flags
    std::vector<std::string> unknown_options;
};

const std::set<std::string> all_value_options = {"role",  "alias",    "languages", "tags",
                                                 "until", "n",        "from",      "to",
                                                 "tag",   "language", "wait-over", "date"};
const std::set<std::string> all_flag_options = {"password-stdin", "csv"};

// Returns an error message, or empty.
std::string parse_line(const std::vector<std::string>& args, parsed_line& out) {
    bool only_words = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (only_words || a.size() < 2 || a[0] != '-') {
            out.words.push_back(a);
            continue;
        }
        if (a == "--") {
            only_words = true;
            continue;
        }
        if (a == "-h" || a == "--help") {
            out.help = true;
            continue;
        }
        // -n N (audit tail) is the one short option with a value.
        if (a.rfind("--", 0) != 0 && a != "-n") return "unknown option " + a;
        std::string name = a == "-n" ? std::string("n") : a.substr(2);
        std::optional<std::string> value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        }
        auto take_value = [&]() -> std::optional<std::string> {
            if (value) return value;
            if (i + 1 >= args.size()) return std::nullopt;
            return args[++i];
        };
        if (name == "json" || name == "dev" || all_flag_options.count(name)) {
            if (value) return "--" + name + " takes no value";
            if (name == "json")
                out.json = true;
            else if (name == "dev")
                out.dev = true;
            else
                out.flags.insert(name);
            continue;
        }
        if (name == "config" || name == "redis" || name == "actor" ||
            all_value_options.count(name)) {
            auto v = take_value();
            if (!v) return "--" + name + " needs a value";
            if (name == "config")
                out.config = *v;
            else if (name == "redis")
                out.redis = *v;
            else if (name == "actor")
                out.actor = *v;
            else if (out.options.count(name))
                return "--" + name + " given twice";
            else
                out.options[name] = *v;
            continue;
        }
        return "unknown option --" + name;
    }
    return {};
}

// The command whose words start the line: the longest match.
const command_spec* find_command(const std::vector<std::string>& words) {
    const command_spec* best = nullptr;
    for (const auto& c : commands()) {
        if (words.size() < c.words.size()) continue;
        if (!std::equal(c.words.begin(), c.words.end(), words.begin())) continue;
        if (!best || c.words.size() > best->words.size()) best = &c;
    }
    return best;
}

std::string group_help(const std::string& group) {
    std::string out = "Commands of `kindredctl " + group + "`:\n";
    for (const auto& c : commands())
        if (c.words.front() == group) out += "  " + c.help.substr(0, c.help.find('\n')) + "\n";
    out += "Run `kindredctl " + group +
           " COMMAND --help` for one command; `kindredctl --help` "
           "for global options and exit codes.\n";
    return out;
}

// ---- running operations -----------------------------------------------------------------

// An io_context on a background thread with the Redis client and the account store.
class session {
public:
    session(ks::endpoint where, ka::account_store_options opts)
        : guard_(boost::asio::make_work_guard(io_))
        , thread_([this] { io_.run(); }) {
        ks::client_options o;
        o.address = std::move(where);
        o.name = "kindredctl";
        o.command_timeout = 3000ms;
        o.connect_timeout = 1000ms;
        o.ping_interval = 0ms;
        client_ = std::make_unique<ks::client>(io_, o);
        client_->start();
        store_ = std::make_unique<ka::account_store>(*client_, std::move(opts));
    }
    ~session() {
        store_.reset();
        client_.reset(); // stop() posts; handlers complete with error::stopped
        guard_.reset();
        io_.stop();
        thread_.join();
    }

    bool wait_connected(std::chrono::milliseconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!client_->connected()) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(20ms);
        }
        return true;
    }

    ka::account_store& store() { return *store_; }
    ks::client& client() { return *client_; }

    // Runs start(handler) and waits for the handler's arguments.
    template <class... Args, class Start>
    std::tuple<Args...> call(Start start) {
        auto p = std::make_shared<std::promise<std::tuple<Args...>>>();
        auto f = p->get_future();
        start([p](Args... args) { p->set_value(std::tuple<Args...>(std::move(args)...)); });
        return f.get(); // every handler runs exactly once (store contract)
    }
    error_code done(std::function<void(ka::account_store::done_handler)> start) {
        return std::get<0>(call<error_code>(std::move(start)));
    }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
    std::unique_ptr<ks::client> client_;
    std::unique_ptr<ka::account_store> store_;
};

struct context {
    output out;
    std::string actor = "kindredctl";
    std::string redis_address;
    std::string config_file;
    kindred::server::config cfg;
    ka::catalog cat;
    std::unique_ptr<session> s;
};

// Maps an operation's error to a message and exit code.
int report(const context& c, const error_code& ec, const std::string& user) {
    if (ka::is_unavailable(ec))
        return c.out.fail(exit_unavailable,
                          "Redis unavailable at " + c.redis_address + " (" + ec.message() + ")");
    if (ec == ka::error::not_found)
        return c.out.fail(exit_not_found, "no user named \"" + user + "\"");
    if (ec == ka::error::already_exists)
        return c.out.fail(exit_conflict, "user \"" + user + "\" already exists");
    if (ec == ka::error::conflict) return c.out.fail(exit_conflict, ec.message());
    if (ka::is_invalid_input(ec)) return c.out.fail(exit_usage, ec.message());
    return c.out.fail(exit_failed, "operation failed: " + ec.message());
}

std::string catalog_source(const context& c) {
    return c.config_file.empty() ? std::string("the built-in defaults (no config file)")
                                 : c.config_file;
}

// Pre-checks with the pure validators, for messages that name the offending value.
int check_user_name(const context& c, const std::string& name) {
    if (!ka::valid_username(name))
        return c.out.fail(exit_usage, "\"" + name + "\": " +
                                          make_error_code(ka::error::invalid_username).message());
    return exit_ok;
}

int check_languages_arg(const context& c, const std::string& text, std::vector<std::string>& out) {
    std::string bad;
    auto r = ka::check_languages(ka::split_list(text), c.cat, &bad);
    if (r) {
        out = *r;
        return exit_ok;
    }
    if (r.error() == ka::error::no_languages)
        return c.out.fail(exit_usage, "at least one language is required");
    return c.out.fail(exit_usage, "language \"" + bad + "\" is not in the catalog of " +
                                      catalog_source(c) +
                                      " (known: " + join(c.cat.languages, ", ") + ")");
}

int check_tags_arg(const context& c, const std::string& text, std::vector<std::string>& out) {
    std::string bad;
    auto r = ka::check_tags(ka::split_list(text), c.cat, &bad);
    if (r) {
        out = *r;
        return exit_ok;
    }
    if (r.error() == ka::error::unknown_tag)
        return c.out.fail(exit_usage, "tag \"" + bad + "\" is not in the catalog of " +
                                          catalog_source(c) + " (known: " + join(c.cat.tags, ", ") +
                                          ")");
    if (bad.empty()) return c.out.fail(exit_usage, "--tags needs at least one tag");
    return c.out.fail(exit_usage, "\"" + bad + "\": " + r.error().message());
}

int check_until_arg(const context& c, const std::string& text) {
    auto r = ka::check_until(text, now_ms());
    if (r) return exit_ok;
    if (r.error() == ka::error::date_in_past)
        return c.out.fail(exit_usage, "--until " + text + ": that day has already passed (UTC)");
    return c.out.fail(exit_usage, "--until \"" + text + "\": not a date; write YYYY-MM-DD");
}

// The password: the first line of stdin, or a generated one (printed by the caller).
int read_password(const context& c, bool from_stdin, std::string& out, bool& generated) {
    generated = !from_stdin;
    if (!from_stdin) {
        out = ka::generate_password();
        return exit_ok;
    }
    std::getline(std::cin, out);
    if (!out.empty() && out.back() == '\r') out.pop_back();
    if (!ka::valid_password(out))
        return c.out.fail(exit_usage, "password from stdin: " +
                                          make_error_code(ka::error::invalid_password).message());
    return exit_ok;
}

// Prints the account after a change (or the change's result in --json).
int show_after(context& c, const std::string& name, const std::string& what,
               std::optional<std::string> password = std::nullopt) {
    auto [ec, a] =
        c.s->call<error_code, ka::account>([&](auto h) { c.s->store().get(name, std::move(h)); });
    if (ec) return report(c, ec, name);
    if (c.out.json) {
        json::object o{{"ok", true}, {"user", account_json(a, now_ms())}};
        if (password) o["password"] = *password;
        c.out.emit(o);
    } else {
        std::cout << what << "\n";
        if (password)
            std::cout << "one-time password (shown only now; give it to the user in person): "
                      << *password << "\n";
    }
    return exit_ok;
}

int cmd_user_add(context& c, const parsed_line& line, const std::string& name) {
    if (int e = check_user_name(c, name)) return e;
    auto r = ka::role_from_string(line.options.at("role"));
    if (!r)
        return c.out.fail(exit_usage, "--role \"" + line.options.at("role") +
                                          "\": must be peer, moderator or admin");
    const auto& alias = line.options.at("alias");
    if (!ka::valid_alias(alias))
        return c.out.fail(exit_usage,
                          "--alias: " + make_error_code(ka::error::invalid_alias).message());
    std::vector<std::string> langs;
    if (int e = check_languages_arg(c, line.options.at("languages"), langs)) return e;
    std::string password;
    bool generated = false;
    if (int e = read_password(c, line.flags.count("password-stdin") > 0, password, generated))
        return e;
    auto ec = c.s->done([&](auto h) {
        c.s->store().create(c.actor, {name, *r, alias, langs}, password, std::move(h));
    });
    if (ec) return report(c, ec, name);
    return show_after(c, name, "created " + std::string(ka::to_string(*r)) + " \"" + name + "\"",
                      generated ? std::optional<std::string>(password) : std::nullopt);
}

int cmd_user_passwd(context& c, const parsed_line& line, const std::string& name) {
    if (int e = check_user_name(c, name)) return e;
    std::string password;
    bool generated = false;
    if (int e = read_password(c, line.flags.count("password-stdin") > 0, password, generated))
        return e;
    auto ec = c.s->done(
        [&](auto h) { c.s->store().set_password(c.actor, name, password, std::move(h)); });
    if (ec) return report(c, ec, name);
    return show_after(c, name, "password of \"" + name + "\" changed; every login token revoked",
                      generated ? std::optional<std::string>(password) : std::nullopt);
}

int cmd_user_list(context& c) {
    auto [ec, all] = c.s->call<error_code, std::vector<ka::account>>(
        [&](auto h) { c.s->store().list(std::move(h)); });
    if (ec) return report(c, ec, "");
    const auto now = now_ms();
    if (c.out.json) {
        json::array users;
        for (const auto& a : all)
            users.emplace_back(account_json(a, now));
        c.out.emit(json::object{{"ok", true}, {"users", std::move(users)}});
        return exit_ok;
    }
    if (all.empty()) {
        std::cout << "no users\n";
        return exit_ok;
    }
    std::printf("%-32s %-9s %-8s %-20s %-10s %s\n", "USERNAME", "ROLE", "STATUS", "ALIAS",
                "LANGUAGES", "TAGS");
    for (const auto& a : all)
        std::printf("%-32s %-9s %-8s %-20s %-10s %s\n", a.username.c_str(),
                    std::string(ka::to_string(a.role)).c_str(), a.disabled ? "disabled" : "active",
                    a.alias.c_str(), join(a.languages).c_str(), join(a.active_tags(now)).c_str());
    return exit_ok;
}

int cmd_user_show(context& c, const std::string& name) {
    if (int e = check_user_name(c, name)) return e;
    auto [ec, a] =
        c.s->call<error_code, ka::account>([&](auto h) { c.s->store().get(name, std::move(h)); });
    if (ec) return report(c, ec, name);
    if (c.out.json)
        c.out.emit(json::object{{"ok", true}, {"user", account_json(a, now_ms())}});
    else
        std::cout << account_text(a, now_ms());
    return exit_ok;
}

// demo-seed: the dev-mode demo accounts, reset to a known state.
int cmd_demo_seed(context& c) {
    if (!c.cfg.dev_mode)
        return c.out.fail(exit_usage, "demo-seed runs only in dev mode (--dev, "
                                      "KINDRED_DEV_MODE=true or \"dev_mode\": true); demo "
                                      "accounts must never exist in production");
    auto pick = [](const std::vector<std::string>& catalog,
                   std::initializer_list<const char*> preferred, std::size_t n) {
        std::vector<std::string> out;
        for (const char* p : preferred)
            if (std::find(catalog.begin(), catalog.end(), p) != catalog.end() && out.size() < n)
                out.emplace_back(p);
        for (const auto& id : catalog)
            if (out.size() < n && std::find(out.begin(), out.end(), id) == out.end())
                out.push_back(id);
        return out;
    };
    const auto langs = pick(c.cat.languages, {"en", "es"}, 2);
    const auto tags = pick(c.cat.tags, {"grief", "addiction", "caregiving"}, 3);
    if (langs.empty())
        return c.out.fail(exit_usage, "the catalog of " + catalog_source(c) + " has no languages");
    const std::string until = ka::format_date(ka::add_years(ka::date_of(now_ms()), 1));

    struct demo {
        std::string name;
        ka::role r;
        std::string alias;
        std::string password;
    };
    const std::vector<demo> demos = {
        {"demo-peer", ka::role::peer, "River", "demo-peer-password"},
        {"demo-moderator", ka::role::moderator, "Harbor", "demo-moderator-password"},
        {"demo-admin", ka::role::admin, "Admin", "demo-admin-password"},
    };
    json::array created;
    for (const auto& d : demos) {
        auto ec = c.s->done([&](auto h) { c.s->store().remove(c.actor, d.name, std::move(h)); });
        if (ec && ec != ka::error::not_found) return report(c, ec, d.name);
        ec = c.s->done([&](auto h) {
            c.s->store().create(c.actor, {d.name, d.r, d.alias, langs}, d.password, std::move(h));
        });
        if (ec) return report(c, ec, d.name);
        if (d.r == ka::role::peer && !tags.empty()) {
            ec = c.s->done(
                [&](auto h) { c.s->store().certify(c.actor, d.name, tags, until, std::move(h)); });
            if (ec) return report(c, ec, d.name);
        }
        created.emplace_back(json::object{{"username", d.name},
                                          {"role", std::string(ka::to_string(d.r))},
                                          {"password", d.password}});
    }
    if (c.out.json) {
        c.out.emit(json::object{{"ok", true}, {"accounts", std::move(created)}});
        return exit_ok;
    }
    std::cout << "demo accounts (dev mode only):\n";
    for (const auto& d : demos)
        std::printf("  %-9s %-15s password: %s\n", std::string(ka::to_string(d.r)).c_str(),
                    d.name.c_str(), d.password.c_str());
    if (!tags.empty())
        std::cout << "  demo-peer is certified for " << join(tags, ", ") << " until " << until
                  << "\n";
    return exit_ok;
}

// ---- programme insights ---------------------------------------------------------------

std::int64_t today_days() {
    return ki::day_of(now_ms());
}

int cmd_report(context& c, const parsed_line& line) {
    ki::report_query q;
    q.min_cell = c.cfg.insights_min_cell;
    auto date_opt = [&](const char* name, std::int64_t fallback, std::int64_t& out) -> int {
        auto it = line.options.find(name);
        if (it == line.options.end()) {
            out = fallback;
            return 0;
        }
        auto d = ki::parse_date(it->second);
        if (!d) return c.out.fail(exit_usage, std::string("--") + name + ": a date YYYY-MM-DD");
        out = *d;
        return 0;
    };
    if (int e = date_opt("to", today_days(), q.to_day)) return e;
    if (int e = date_opt("from", q.to_day - 6, q.from_day)) return e;
    if (auto it = line.options.find("tag"); it != line.options.end()) {
        if (!kindred::protocol::is_tag_id(it->second))
            return c.out.fail(exit_usage, "--tag: not a tag id");
        q.tag = it->second;
    }
    if (auto it = line.options.find("language"); it != line.options.end()) {
        if (!kindred::protocol::is_language_tag(it->second))
            return c.out.fail(exit_usage, "--language: not a language tag");
        q.language = it->second;
    }
    if (auto it = line.options.find("wait-over"); it != line.options.end()) {
        const auto minutes = ks::parse_int64(it->second);
        if (!minutes || *minutes < 1 || *minutes > 30)
            return c.out.fail(exit_usage, "--wait-over: minutes 1, 2, 5, 10 or 30");
        q.wait_over_s = *minutes * 60;
    }
    if (auto problem = ki::check_query(q); !problem.empty())
        return c.out.fail(exit_usage, problem.rfind("wait_over", 0) == 0
                                          ? "--wait-over: minutes 1, 2, 5, 10 or 30"
                                          : "--" + problem);
    ki::insights_options io;
    io.retention = std::chrono::hours(24) * c.cfg.insights_retention_days;
    ki::insights_store store(c.s->client(), io);
    auto [ec, in] = c.s->call<error_code, ki::report_input>(
        [&](auto h) { store.read_report(q, c.cat.tags, std::move(h)); });
    if (ec) return report(c, ec, "");
    const auto r = ki::report_json(in);
    if (line.flags.count("csv"))
        std::cout << ki::report_csv(r);
    else if (c.out.json)
        c.out.emit(r);
    else
        std::cout << ki::report_text(r);
    return exit_ok;
}

// A simulated day: demand through the day on the first tags of the catalog, peers covering
// some hours (and leaving gaps), feedback and escalations. Deterministic, so demos repeat.
int cmd_demo_insights(context& c, const parsed_line& line) {
    if (!c.cfg.dev_mode)
        return c.out.fail(exit_usage, "demo-insights runs only in dev mode (--dev, "
                                      "KINDRED_DEV_MODE=true or \"dev_mode\": true): it adds to "
                                      "the real counters");
    std::int64_t day = today_days();
    if (auto it = line.options.find("date"); it != line.options.end()) {
        auto d = ki::parse_date(it->second);
        if (!d) return c.out.fail(exit_usage, "--date: a date YYYY-MM-DD");
        day = *d;
    }
    if (c.cat.tags.empty() || c.cat.languages.empty())
        return c.out.fail(exit_usage, "the catalog of " + catalog_source(c) +
                                          " needs at least one tag and one language");
    ki::insights_options io;
    io.retention = std::chrono::hours(24) * c.cfg.insights_retention_days;
    ki::insights_store store(c.s->client(), io);
    const auto& k = store.options().keys;
    const std::int64_t t0 = day * ki::ms_per_day;
    const std::int64_t H = ki::ms_per_hour;
    std::vector<ki::increment> all;
    auto add = [&](std::vector<ki::increment> v) { all.insert(all.end(), v.begin(), v.end()); };
    const std::size_t ntags = std::min<std::size_t>(3, c.cat.tags.size());
    const std::string lang = c.cat.languages.front();
    std::uint32_t rnd = 12345;
    auto next = [&](std::uint32_t n) {
        rnd = rnd * 1103515245u + 12345u;
        return (rnd >> 16) % n;
    };
    std::int64_t requests = 0;
    for (std::size_t ti = 0; ti < ntags; ++ti) {
        const ki::attributes a{{c.cat.tags[ti]}, {lang}};
        // Peers on this tag 08:00-16:00 (the first tag also 18:00-22:00); nobody at night.
        add(ki::shift_increments(k, t0 + 8 * H, t0 + 16 * H, a));
        if (ti == 0) add(ki::shift_increments(k, t0 + 18 * H, t0 + 22 * H, a));
        for (int hour = 0; hour < 24; ++hour) {
            const bool covered = (hour >= 8 && hour < 16) || (ti == 0 && hour >= 18 && hour < 22);
            const int n = static_cast<int>((hour >= 7 && hour < 23 ? 6 : 1) + next(4)) /
                          static_cast<int>(ti + 1);
            for (int i = 0; i < n; ++i) {
                const auto at = t0 + hour * H + static_cast<std::int64_t>(next(3'000'000));
                add(ki::request_increments(k, at, a));
                ++requests;
                if (!covered && next(3) == 0) {
                    add(ki::cancel_increments(k, at + 600'000, a));
                    continue;
                }
                const std::int64_t wait = covered ? 5 + next(100) : 300 + next(1500);
                add(ki::match_increments(k, at + wait * 1000, a, !covered && next(2) == 0, wait));
                const std::int64_t length = 240 + next(3000);
                add(ki::end_increments(k, at + (wait + length) * 1000, a, length, next(20) == 0));
                if (next(3) != 0)
                    add(ki::feedback_increments(
                        k, at + (wait + length) * 1000, a, static_cast<int>(3 + next(3)),
                        std::string_view(ki::feelings[next(10) < 7 ? 2 : next(2)])));
                if (next(8) == 0) {
                    const auto level = ki::levels[next(4)];
                    add(ki::escalation_increments(k, at + wait * 1000, a, level));
                    add(ki::outcome_increments(k, at + (wait + 600) * 1000, a,
                                               ki::outcomes[next(5)]));
                }
            }
        }
    }
    // Sent in slices so no one script call grows without bound.
    for (std::size_t i = 0; i < all.size(); i += 300) {
        std::vector<ki::increment> slice(
            all.begin() + static_cast<std::ptrdiff_t>(i),
            all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), i + 300)));
        auto ec = c.s->done([&](auto h) { store.add(std::move(slice), std::move(h)); });
        if (ec) return report(c, ec, "");
    }
    if (c.out.json) {
        c.out.emit(
            json::object{{"ok", true}, {"date", ki::format_date(day)}, {"requests", requests}});
        return exit_ok;
    }
    std::cout << "recorded a simulated day of insights for " << ki::format_date(day) << " ("
              << requests << " requests on " << ntags << " tags, language " << lang << ")\n";
    return exit_ok;
}

json::object audit_json(const ka::audit_entry& e) {
    return json::object{{"id", e.id},         {"seq", e.seq},     {"prev", e.prev},
                        {"hash", e.hash},     {"actor", e.actor}, {"action", e.action},
                        {"target", e.target}, {"at", e.at},       {"detail", e.detail}};
}

int cmd_audit_verify(context& c) {
    auto [ec, r] = c.s->call<error_code, ka::audit_report>(
        [&](auto h) { ka::verify_audit(c.s->client(), "audit", std::move(h)); });
    if (ec) return report(c, ec, "");
    if (!r.ok) {
        const std::string where = r.bad_id.empty() ? std::string() : "entry " + r.bad_id + ": ";
        if (c.out.json) {
            c.out.emit(json::object{{"ok", false},
                                    {"error", "tampered"},
                                    {"entry", r.bad_id},
                                    {"reason", r.reason},
                                    {"checked", r.checked},
                                    {"message", "audit chain broken: " + where + r.reason}});
            return exit_tampered;
        }
        std::cerr << "kindredctl: audit chain broken: " << where << r.reason << "\n";
        return exit_tampered;
    }
    if (c.out.json)
        c.out.emit(json::object{{"ok", true}, {"checked", r.checked}});
    else
        std::cout << "ok, " << r.checked << " entries\n";
    return exit_ok;
}

int cmd_audit_tail(context& c, const parsed_line& line) {
    std::size_t n = 20;
    if (auto it = line.options.find("n"); it != line.options.end()) {
        const auto& t = it->second;
        if (t.empty() || t.size() > 6 || t.find_first_not_of("0123456789") != std::string::npos ||
            std::stoul(t) < 1 || std::stoul(t) > 100000)
            return c.out.fail(exit_usage, "-n: a number from 1 to 100000");
        n = std::stoul(t);
    }
    auto [ec, entries] = c.s->call<error_code, std::vector<ka::audit_entry>>(
        [&](auto h) { ka::tail_audit(c.s->client(), "audit", n, std::move(h)); });
    if (ec) return report(c, ec, "");
    if (c.out.json) {
        json::array all;
        for (const auto& e : entries)
            all.emplace_back(audit_json(e));
        c.out.emit(json::object{{"ok", true}, {"entries", std::move(all)}});
        return exit_ok;
    }
    if (entries.empty()) {
        std::cout << "no audit entries\n";
        return exit_ok;
    }
    for (const auto& e : entries) {
        std::int64_t at = 0;
        if (!e.at.empty() && e.at.size() < 19 &&
            e.at.find_first_not_of("0123456789") == std::string::npos)
            at = std::stoll(e.at);
        std::cout << utc_time(at) << "  " << e.seq << "  " << e.actor << "  " << e.action << "  "
                  << e.target << (e.detail.empty() ? "" : "  " + e.detail) << "\n";
    }
    return exit_ok;
}

int cmd_status(context& c) {
    kindred::server::ops_status_options o;
    o.imminent_ack_s = c.cfg.timing.imminent_ack_s;
    o.high_ack_s = c.cfg.timing.high_ack_s;
    auto [ec, st] = c.s->call<error_code, kindred::server::cluster_status>([&](auto h) {
        kindred::server::read_cluster_status(c.s->client(), o, now_ms(), std::move(h));
    });
    if (ec) return report(c, ec, "");
    if (c.out.json)
        c.out.emit(kindred::server::status_json(st, o));
    else
        std::cout << kindred::server::status_table(st, o);
    return exit_ok;
}

int cmd_reload(context& c) {
    auto [ec, r] = c.s->call<error_code, ks::reply>([&](auto h) {
        c.s->client().publish("ctl:reload",
                              json::serialize(json::object{{"type", "reload"}, {"actor", c.actor}}),
                              std::move(h));
    });
    if (ec) return report(c, ec, "");
    const long long heard = r.to_integer().value_or(0);
    if (c.out.json)
        c.out.emit(json::object{{"ok", true}, {"instances", heard}});
    else
        std::cout << "reload requested; " << heard << " instance(s) heard it (see their logs: "
                  << "event=config_reloaded or event=config_reload_failed)\n";
    return exit_ok;
}

int run(context& c, const command_spec& spec, const parsed_line& line) {
    const auto& w = line.words;
    const std::string name = spec.positionals.empty() ? std::string() : w[spec.words.size()];
    const auto& verb = spec.words.back();

    if (verb == "add") return cmd_user_add(c, line, name);
    if (verb == "passwd") return cmd_user_passwd(c, line, name);
    if (verb == "list") return cmd_user_list(c);
    if (verb == "show") return cmd_user_show(c, name);
    if (verb == "demo-seed") return cmd_demo_seed(c);
    if (verb == "report") return cmd_report(c, line);
    if (verb == "demo-insights") return cmd_demo_insights(c, line);
    if (verb == "status") return cmd_status(c);
    if (verb == "reload") return cmd_reload(c);
    if (spec.words.front() == "audit")
        return verb == "verify" ? cmd_audit_verify(c) : cmd_audit_tail(c, line);

    if (int e = check_user_name(c, name)) return e;
    error_code ec;
    std::string what;
    auto& st = c.s->store();
    if (verb == "certify") {
        std::vector<std::string> tags;
        if (int e = check_tags_arg(c, line.options.at("tags"), tags)) return e;
        if (int e = check_until_arg(c, line.options.at("until"))) return e;
        ec = c.s->done([&](auto h) {
            st.certify(c.actor, name, tags, line.options.at("until"), std::move(h));
        });
        what = "certified \"" + name + "\" for " + join(tags, ", ") + " until " +
               line.options.at("until");
    } else if (verb == "revoke-tags") {
        auto tags = ka::split_list(line.options.at("tags"));
        for (const auto& t : tags)
            if (!ka::valid_tag_id(t))
                return c.out.fail(exit_usage,
                                  "\"" + t +
                                      "\": " + make_error_code(ka::error::invalid_tag).message());
        if (tags.empty()) return c.out.fail(exit_usage, "--tags needs at least one tag");
        ec = c.s->done([&](auto h) { st.revoke_tags(c.actor, name, tags, std::move(h)); });
        what = "revoked " + join(tags, ", ") + " from \"" + name + "\"";
    } else if (verb == "disable") {
        ec = c.s->done([&](auto h) { st.set_disabled(c.actor, name, true, std::move(h)); });
        what = "disabled \"" + name + "\"; every login token revoked";
    } else if (verb == "enable") {
        ec = c.s->done([&](auto h) { st.set_disabled(c.actor, name, false, std::move(h)); });
        what = "enabled \"" + name + "\"";
    } else if (verb == "delete") {
        ec = c.s->done([&](auto h) { st.remove(c.actor, name, std::move(h)); });
        if (ec) return report(c, ec, name);
        if (c.out.json)
            c.out.emit(json::object{{"ok", true}, {"deleted", name}});
        else
            std::cout << "deleted \"" << name << "\"; every login token revoked\n";
        return exit_ok;
    } else if (verb == "set-alias") {
        const auto& alias = w[spec.words.size() + 1];
        if (!ka::valid_alias(alias))
            return c.out.fail(exit_usage,
                              "ALIAS: " + make_error_code(ka::error::invalid_alias).message());
        ec = c.s->done([&](auto h) { st.set_alias(c.actor, name, alias, std::move(h)); });
        what = "alias of \"" + name + "\" is now \"" + alias + "\"";
    } else if (verb == "set-languages") {
        std::vector<std::string> langs;
        if (int e = check_languages_arg(c, w[spec.words.size() + 1], langs)) return e;
        ec = c.s->done([&](auto h) { st.set_languages(c.actor, name, langs, std::move(h)); });
        what = "languages of \"" + name + "\" are now " + join(langs, ", ");
    } else if (verb == "reset-identity") {
        ec = c.s->done([&](auto h) { st.reset_identity(c.actor, name, std::move(h)); });
        what = "identity key of \"" + name +
               "\" forgotten; the peer's client may register a "
               "new one";
    } else {
        return c.out.fail(exit_failed, "command not implemented");
    }
    if (ec) return report(c, ec, name);
    return show_after(c, name, what);
}

} // namespace

int main(int argc, char** argv) {
    // The store logs connection trouble through spdlog; kindredctl reports it itself.
    spdlog::set_level(spdlog::level::off);

    std::vector<std::string> args(argv + 1, argv + argc);
    parsed_line line;
    output out;
    std::string err = parse_line(args, line);
    out.json = line.json;
    if (!err.empty()) return out.fail(exit_usage, err + " (see kindredctl --help)");

    const command_spec* spec = find_command(line.words);
    if (line.help) {
        if (spec)
            std::cout << "Usage: " << spec->help << "\n";
        else if (!line.words.empty() &&
                 (line.words.front() == "user" || line.words.front() == "audit"))
            std::cout << group_help(line.words.front());
        else
            std::cout << usage_text;
        return exit_ok;
    }
    if (line.words.empty()) {
        std::cerr << usage_text;
        return exit_usage;
    }
    if (!spec) {
        const auto& group = line.words.front();
        if (group == "user" || group == "audit")
            return out.fail(exit_usage,
                            (line.words.size() > 1
                                 ? "unknown command \"" + group + " " + line.words[1] + "\""
                                 : "`" + group + "` needs a command") +
                                "\n" + group_help(group));
        return out.fail(exit_usage,
                        "unknown command \"" + line.words.front() + "\" (see kindredctl --help)");
    }
    const std::size_t want = spec->words.size() + spec->positionals.size();
    if (line.words.size() != want) {
        std::string names = join(spec->positionals, " ");
        return out.fail(exit_usage, (line.words.size() < want
                                         ? "missing " + names
                                         : "unexpected argument \"" + line.words[want] + "\"") +
                                        "\nUsage: " + spec->help.substr(0, spec->help.find('\n')));
    }
    for (const auto& [k, v] : line.options)
        if (!spec->value_options.count(k))
            return out.fail(exit_usage, "--" + k + " does not apply to this command\nUsage: " +
                                            spec->help.substr(0, spec->help.find('\n')));
    for (const auto& f : line.flags)
        if (!spec->flag_options.count(f))
            return out.fail(exit_usage, "--" + f + " does not apply to this command\nUsage: " +
                                            spec->help.substr(0, spec->help.find('\n')));
    for (const auto& r : spec->required_options)
        if (!line.options.count(r))
            return out.fail(exit_usage, "--" + r + " is required\nUsage: " +
                                            spec->help.substr(0, spec->help.find('\n')));

    context c;
    c.out = out;
    if (line.actor) {
        if (!ka::valid_actor(*line.actor))
            return out.fail(exit_usage,
                            "--actor: " + make_error_code(ka::error::invalid_actor).message());
        c.actor = *line.actor;
    }

    // Configuration: the server's loader, so both read the file the same way.
    // Precedence: flags > KINDRED_* > file > defaults, plus the `make run` conveniences.
    auto env = kindred::server::process_environment();
    std::vector<std::string> config_args;
    const bool named_config = line.config || env.count("KINDRED_CONFIG");
    namespace fs = std::filesystem;
    std::error_code fec;
    if (line.config) {
        config_args = {"--config", *line.config};
    } else if (!named_config && fs::is_regular_file("config/kindred.sample.json", fec)) {
        config_args = {"--config", "config/kindred.sample.json"};
    }
    if (line.redis) {
        config_args.insert(config_args.end(), {"--redis", *line.redis});
    } else if (!env.count("KINDRED_REDIS") && !named_config &&
               fs::is_socket("state/redis.sock", fec)) {
        config_args.insert(config_args.end(),
                           {"--redis", "unix:" + fs::absolute("state/redis.sock").string()});
    }
    if (line.dev) config_args.push_back("--dev");
    auto loaded = kindred::server::load_config(config_args, env, kindred::server::read_text_file);
    if (loaded.what != kindred::server::load_result::action::run)
        return out.fail(exit_usage, "config: " + loaded.text);
    c.cfg = std::move(loaded.cfg);
    c.config_file = c.cfg.config_file;
    for (const auto& t : c.cfg.tags)
        c.cat.tags.push_back(t.id);
    for (const auto& l : c.cfg.languages)
        c.cat.languages.push_back(l.id);
    c.redis_address = c.cfg.redis;

    std::string why;
    auto where = ks::parse_endpoint(c.redis_address, &why);
    if (!where) return out.fail(exit_usage, "redis address: " + why);

    ka::account_store_options opts;
    opts.catalog = c.cat;
    opts.limits = ka::password_limits::interactive();
    // A unix socket that is not there cannot answer: say so now rather than after a wait.
    if (where->type == ks::endpoint::kind::unix_socket && !fs::exists(where->path, fec))
        return out.fail(exit_unavailable, "Redis unavailable at " + c.redis_address +
                                              " (no such socket; is `make run` up? see --redis)");
    c.s = std::make_unique<session>(*where, std::move(opts));
    if (!c.s->wait_connected(2s))
        return out.fail(exit_unavailable, "Redis unavailable at " + c.redis_address +
                                              " (is `make run` up? see --redis)");
    int code = exit_failed;
    try {
        code = run(c, *spec, line);
    } catch (const std::exception& e) {
        code = out.fail(exit_failed, std::string("unexpected error: ") + e.what());
    }
    std::cout.flush();
    return code;
}
