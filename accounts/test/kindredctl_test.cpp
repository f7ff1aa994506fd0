// kindredctl_test.cpp — the built kindredctl binary end to end against a real redis-server
// (label: integration): every command, every error path with its exit code, --json output,
// --help everywhere, configuration discovery.
#include <kindred/accounts/password.hpp>
#include <kindred/testsupport/process.hpp>
#include <kindred/testsupport/redis_process.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;
using kindred::testsupport::build_bin_dir;
using kindred::testsupport::child_process;
using kindred::testsupport::redis_process;
using kindred::testsupport::temp_dir;
using namespace std::chrono_literals;

namespace {

const char* const test_config = R"(// kindredctl test config
{
  "redis": "@REDIS@",
  "languages": [{"id": "en", "label": "English"}, {"id": "es", "label": "Español"}],
  "tags": [
    {"id": "grief", "labels": {"en": "Grief"}},
    {"id": "addiction", "labels": {"en": "Addiction"}},
    {"id": "caregiving", "labels": {"en": "Caregiving"}},
  ],
}
)";

struct result {
    int code = -1;
    std::string out; // stdout and stderr together
    json::value parsed() const {
        boost::system::error_code ec;
        auto v = json::parse(out, ec);
        EXPECT_FALSE(ec) << "not JSON: " << out;
        return v;
    }
};

class kindredctl_env {
public:
    explicit kindredctl_env(std::string redis_in_config = {}) {
        write_config(dir_.path() / "kindred.json",
                     redis_in_config.empty() ? redis.unix_address() : redis_in_config);
    }

    static void write_config(const fs::path& p, const std::string& redis_address) {
        std::string text = test_config;
        text.replace(text.find("@REDIS@"), 7, redis_address);
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
    }

    // Runs kindredctl with --config <the test config> prepended unless `bare`.
    result run(std::vector<std::string> args, const std::string& stdin_text = {},
               const std::vector<std::string>& env = {}, const fs::path& cwd = {},
               bool bare = false) {
        if (!bare) args.insert(args.begin(), {"--config", (dir_.path() / "kindred.json").string()});
        const auto n = runs_++;
        const auto log = dir_.path() / ("run" + std::to_string(n) + ".log");
        const auto in = dir_.path() / ("stdin" + std::to_string(n));
        std::ofstream(in) << stdin_text;
        // sh: clear inherited KINDRED_* settings, enter cwd, feed stdin, then env NAME=value.
        std::vector<std::string> argv{
            "/bin/sh", "-c",
            "unset KINDRED_REDIS KINDRED_CONFIG KINDRED_DEV_MODE; cd \"$KCTL_CWD\" && "
            "exec env \"$@\" < \"$KCTL_STDIN\"",
            "sh"};
        for (const auto& e : env)
            argv.push_back(e);
        argv.push_back((build_bin_dir() / "kindredctl").string());
        for (auto& a : args)
            argv.push_back(std::move(a));
        auto p = child_process::spawn(argv, log,
                                      {"KCTL_CWD=" + (cwd.empty() ? dir_.path() : cwd).string(),
                                       "KCTL_STDIN=" + in.string()});
        result r;
        r.code = p.wait_for(30s);
        r.out = p.log();
        return r;
    }

    const fs::path& dir() const { return dir_.path(); }

    temp_dir dir_;
    redis_process redis;

private:
    int runs_ = 0;
};

std::string field(const json::value& v, const char* name) {
    const auto* o = v.if_object();
    if (!o || !o->contains(name) || !o->at(name).is_string()) return {};
    return std::string(o->at(name).as_string());
}

} // namespace

TEST(Kindredctl, AddWithGeneratedPasswordThenShowAndList) {
    kindredctl_env k;
    auto add = k.run(
        {"user", "add", "river", "--role", "peer", "--alias", "River", "--languages", "en,es"});
    ASSERT_EQ(add.code, 0) << add.out;
    EXPECT_NE(add.out.find("created peer \"river\""), std::string::npos) << add.out;
    // The one-time password is printed once; Redis holds only its Argon2id hash.
    const auto marker = std::string("in person): ");
    auto at = add.out.find(marker);
    ASSERT_NE(at, std::string::npos) << add.out;
    auto password = add.out.substr(at + marker.size(), 20);
    EXPECT_EQ(password.find_first_not_of(kindred::accounts::generated_password_alphabet),
              std::string::npos);
    auto hash = k.redis.command({"HGET", "user:{river}", "password"});
    EXPECT_TRUE(kindred::accounts::verify_password(hash, password));

    auto show = k.run({"user", "show", "river"});
    ASSERT_EQ(show.code, 0) << show.out;
    EXPECT_NE(show.out.find("alias:        River"), std::string::npos) << show.out;
    EXPECT_EQ(show.out.find(password), std::string::npos);

    auto add2 = k.run({"user", "add", "alder", "--role", "moderator", "--alias", "Alder Tree",
                       "--languages", "es", "--password-stdin", "--json"},
                      "a password from stdin\n");
    ASSERT_EQ(add2.code, 0) << add2.out;
    auto v = add2.parsed();
    EXPECT_EQ(v.at("ok"), true);
    EXPECT_FALSE(v.as_object().contains("password")); // nothing generated, nothing printed
    EXPECT_EQ(field(v.at("user"), "username"), "alder");
    EXPECT_EQ(field(v.at("user"), "role"), "moderator");
    EXPECT_EQ(field(v.at("user"), "alias"), "Alder Tree");
    EXPECT_TRUE(kindred::accounts::verify_password(
        k.redis.command({"HGET", "user:{alder}", "password"}), "a password from stdin"));

    auto list = k.run({"user", "list", "--json"});
    ASSERT_EQ(list.code, 0) << list.out;
    auto users = list.parsed().at("users").as_array();
    ASSERT_EQ(users.size(), 2u);
    EXPECT_EQ(field(users[0], "username"), "alder");
    EXPECT_EQ(field(users[1], "username"), "river");
    EXPECT_EQ(users[1].at("languages"), json::parse(R"(["en","es"])"));
    EXPECT_EQ(users[1].at("disabled"), false);
    EXPECT_TRUE(users[1].at("identity_key").is_null());

    auto text_list = k.run({"user", "list"});
    EXPECT_EQ(text_list.code, 0);
    EXPECT_NE(text_list.out.find("river"), std::string::npos);
    EXPECT_NE(text_list.out.find("alder"), std::string::npos);

    auto add_json = k.run(
        {"--json", "user", "add", "brook", "--role", "admin", "--alias", "B", "--languages", "en"});
    ASSERT_EQ(add_json.code, 0) << add_json.out;
    auto generated = field(add_json.parsed(), "password");
    EXPECT_EQ(generated.size(), 20u);
    EXPECT_TRUE(kindred::accounts::verify_password(
        k.redis.command({"HGET", "user:{brook}", "password"}), generated));
}

TEST(Kindredctl, CertifyRevokeAliasLanguagesIdentity) {
    kindredctl_env k;
    ASSERT_EQ(
        k.run({"user", "add", "river", "--role", "peer", "--alias", "River", "--languages", "en"})
            .code,
        0);
    auto cert = k.run({"user", "certify", "river", "--tags", "grief,addiction", "--until",
                       "2099-06-30", "--json"});
    ASSERT_EQ(cert.code, 0) << cert.out;
    auto certs = cert.parsed().at("user").at("certifications").as_array();
    ASSERT_EQ(certs.size(), 2u);
    EXPECT_EQ(field(certs[0], "tag"), "addiction");
    EXPECT_EQ(field(certs[0], "until"), "2099-06-30");
    EXPECT_EQ(certs[0].at("active"), true);
    EXPECT_EQ(cert.parsed().at("user").at("active_tags"), json::parse(R"(["addiction","grief"])"));

    auto revoke = k.run({"user", "revoke-tags", "river", "--tags", "grief", "--json"});
    ASSERT_EQ(revoke.code, 0) << revoke.out;
    EXPECT_EQ(revoke.parsed().at("user").at("active_tags"), json::parse(R"(["addiction"])"));

    auto alias = k.run({"user", "set-alias", "river", "Río Grande", "--json"});
    ASSERT_EQ(alias.code, 0) << alias.out;
    EXPECT_EQ(field(alias.parsed().at("user"), "alias"), "Río Grande");

    auto langs = k.run({"user", "set-languages", "river", "es,en", "--json"});
    ASSERT_EQ(langs.code, 0) << langs.out;
    EXPECT_EQ(langs.parsed().at("user").at("languages"), json::parse(R"(["es","en"])"));

    // A registered key (the server stores it; here by hand) is forgotten by reset-identity.
    k.redis.command(
        {"HSET", "user:{river}", "identity_key", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="});
    auto shown = k.run({"user", "show", "river", "--json"});
    ASSERT_EQ(shown.code, 0) << shown.out;
    EXPECT_EQ(field(shown.parsed().at("user"), "identity_key"),
              "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    auto reset = k.run({"user", "reset-identity", "river", "--json"});
    ASSERT_EQ(reset.code, 0) << reset.out;
    EXPECT_TRUE(reset.parsed().at("user").at("identity_key").is_null());
    EXPECT_EQ(k.redis.command({"HEXISTS", "user:{river}", "identity_key"}), "0");
}

TEST(Kindredctl, DisableEnableDeleteRevokeTokens) {
    kindredctl_env k;
    ASSERT_EQ(
        k.run({"user", "add", "river", "--role", "peer", "--alias", "River", "--languages", "en"})
            .code,
        0);
    // A live token as account_store issues it (its hash in the user's set).
    const std::string h(64, 'a');
    k.redis.command({"HSET", "token:{" + h + "}", "user", "river", "role", "peer"});
    k.redis.command({"SADD", "user:{river}:tokens", h});

    auto off = k.run({"user", "disable", "river", "--json"});
    ASSERT_EQ(off.code, 0) << off.out;
    EXPECT_EQ(off.parsed().at("user").at("disabled"), true);
    EXPECT_EQ(k.redis.command({"EXISTS", "token:{" + h + "}"}), "0");

    auto on = k.run({"user", "enable", "river"});
    ASSERT_EQ(on.code, 0) << on.out;
    EXPECT_EQ(k.redis.command({"HGET", "user:{river}", "disabled"}), "0");

    k.redis.command({"HSET", "token:{" + h + "}", "user", "river", "role", "peer"});
    k.redis.command({"SADD", "user:{river}:tokens", h});
    auto del = k.run({"user", "delete", "river", "--json"});
    ASSERT_EQ(del.code, 0) << del.out;
    EXPECT_EQ(field(del.parsed(), "deleted"), "river");
    EXPECT_TRUE(k.redis.keys("user:{river}*").empty());
    EXPECT_TRUE(k.redis.keys("token:*").empty());
    EXPECT_EQ(k.run({"user", "show", "river"}).code, 3);
}

TEST(Kindredctl, PasswdGeneratedAndFromStdin) {
    kindredctl_env k;
    ASSERT_EQ(k.run({"user", "add", "river", "--role", "peer", "--alias", "River", "--languages",
                     "en", "--password-stdin"},
                    "the first password\n")
                  .code,
              0);
    k.redis.command({"SET", "marker", "1"});
    auto gen = k.run({"user", "passwd", "river", "--json"});
    ASSERT_EQ(gen.code, 0) << gen.out;
    auto pw = field(gen.parsed(), "password");
    ASSERT_EQ(pw.size(), 20u);
    auto hash = k.redis.command({"HGET", "user:{river}", "password"});
    EXPECT_TRUE(kindred::accounts::verify_password(hash, pw));
    EXPECT_FALSE(kindred::accounts::verify_password(hash, "the first password"));

    auto typed =
        k.run({"user", "passwd", "river", "--password-stdin"}, "typed by the operator\r\n");
    ASSERT_EQ(typed.code, 0) << typed.out;
    EXPECT_EQ(typed.out.find("one-time password"), std::string::npos);
    EXPECT_TRUE(kindred::accounts::verify_password(
        k.redis.command({"HGET", "user:{river}", "password"}), "typed by the operator"));

    auto short_pw = k.run({"user", "passwd", "river", "--password-stdin"}, "short\n");
    EXPECT_EQ(short_pw.code, 2) << short_pw.out;
    auto empty_pw = k.run({"user", "passwd", "river", "--password-stdin"}, "");
    EXPECT_EQ(empty_pw.code, 2) << empty_pw.out;
}

TEST(Kindredctl, ErrorPathsAndExitCodes) {
    kindredctl_env k;
    ASSERT_EQ(
        k.run({"user", "add", "river", "--role", "peer", "--alias", "River", "--languages", "en"})
            .code,
        0);
    struct expectation {
        std::vector<std::string> args;
        int code;
        std::string says;
    };
    const std::vector<expectation> cases = {
        // 4: conflict
        {{"user", "add", "river", "--role", "peer", "--alias", "R", "--languages", "en"},
         4,
         "already exists"},
        // 3: unknown user, for every command that names one
        {{"user", "show", "nobody"}, 3, "no user named \"nobody\""},
        {{"user", "disable", "nobody"}, 3, "no user"},
        {{"user", "enable", "nobody"}, 3, "no user"},
        {{"user", "delete", "nobody"}, 3, "no user"},
        {{"user", "passwd", "nobody"}, 3, "no user"},
        {{"user", "certify", "nobody", "--tags", "grief", "--until", "2099-01-01"}, 3, "no user"},
        {{"user", "revoke-tags", "nobody", "--tags", "grief"}, 3, "no user"},
        {{"user", "set-alias", "nobody", "X"}, 3, "no user"},
        {{"user", "set-languages", "nobody", "en"}, 3, "no user"},
        {{"user", "reset-identity", "nobody"}, 3, "no user"},
        // 2: bad values
        {{"user", "add", "brook", "--role", "boss", "--alias", "B", "--languages", "en"},
         2,
         "--role \"boss\""},
        {{"user", "add", "brook", "--role", "peer", "--alias", "B", "--languages", "en,kl"},
         2,
         "language \"kl\" is not in the catalog"},
        {{"user", "add", "Brook!", "--role", "peer", "--alias", "B", "--languages", "en"},
         2,
         "username must be"},
        {{"user", "add", "brook", "--role", "peer", "--alias", " B", "--languages", "en"},
         2,
         "alias must be"},
        {{"user", "certify", "river", "--tags", "astrology", "--until", "2099-01-01"},
         2,
         "tag \"astrology\" is not in the catalog"},
        {{"user", "certify", "river", "--tags", "grief", "--until", "2099-02-30"}, 2, "not a date"},
        {{"user", "certify", "river", "--tags", "grief", "--until", "30/06/2099"}, 2, "not a date"},
        {{"user", "certify", "river", "--tags", "grief", "--until", "2001-01-01"},
         2,
         "already passed"},
        {{"user", "set-languages", "river", "xx"}, 2, "language \"xx\" is not in the catalog"},
        {{"user", "set-alias", "river", ""}, 2, "alias must be"},
        {{"user", "revoke-tags", "river", "--tags", "Bad Tag"}, 2, "tags must be"},
        // 2: usage
        {{"user", "add", "brook", "--alias", "B", "--languages", "en"}, 2, "--role is required"},
        {{"user", "certify", "river", "--tags", "grief"}, 2, "--until is required"},
        {{"user", "show"}, 2, "missing NAME"},
        {{"user", "show", "river", "extra"}, 2, "unexpected argument \"extra\""},
        {{"user", "show", "river", "--tags", "grief"}, 2, "--tags does not apply"},
        {{"user", "list", "--password-stdin"}, 2, "--password-stdin does not apply"},
        {{"user", "frobnicate"}, 2, "unknown command \"user frobnicate\""},
        {{"frobnicate"}, 2, "unknown command \"frobnicate\""},
        {{"user", "list", "--bogus"}, 2, "unknown option --bogus"},
        {{"user", "list", "--actor", "two words"}, 2, "actor must be"},
        {{"user", "add", "brook", "--role"}, 2, "--role needs a value"},
    };
    for (const auto& c : cases) {
        auto r = k.run(c.args);
        std::string line;
        for (const auto& a : c.args)
            line += a + " ";
        EXPECT_EQ(r.code, c.code) << line << "\n" << r.out;
        EXPECT_NE(r.out.find(c.says), std::string::npos) << line << "\n" << r.out;
    }
    // Nothing was changed by any of them.
    EXPECT_EQ(k.redis.command({"SMEMBERS", "users"}), "river");
    EXPECT_EQ(k.redis.command({"XLEN", "audit"}), "1");
}

TEST(Kindredctl, JsonErrors) {
    kindredctl_env k;
    auto r = k.run({"user", "show", "nobody", "--json"});
    EXPECT_EQ(r.code, 3);
    auto v = r.parsed();
    EXPECT_EQ(v.at("ok"), false);
    EXPECT_EQ(field(v, "error"), "not_found");
    EXPECT_FALSE(field(v, "message").empty());

    auto u = k.run({"--json", "user", "add", "x"});
    EXPECT_EQ(u.code, 2);
    EXPECT_EQ(field(u.parsed(), "error"), "usage");

    ASSERT_EQ(
        k.run({"user", "add", "river", "--role", "peer", "--alias", "R", "--languages", "en"}).code,
        0);
    auto dup = k.run(
        {"user", "add", "river", "--role", "peer", "--alias", "R", "--languages", "en", "--json"});
    EXPECT_EQ(dup.code, 4);
    EXPECT_EQ(field(dup.parsed(), "error"), "conflict");
}

TEST(Kindredctl, RedisUnavailableIsExitFive) {
    kindredctl_env k;
    const auto missing = "unix:" + (k.dir() / "no-such.sock").string();
    auto r = k.run({"--redis", missing, "user", "list"});
    EXPECT_EQ(r.code, 5) << r.out;
    EXPECT_NE(r.out.find("Redis unavailable"), std::string::npos) << r.out;
    auto j = k.run({"--redis", missing, "user", "list", "--json"});
    EXPECT_EQ(j.code, 5);
    EXPECT_EQ(field(j.parsed(), "error"), "unavailable");
    // Nothing listening on a TCP port: refused connections until the connect wait ends.
    auto tcp = k.run({"--redis",
                      "tcp://127.0.0.1:" + std::to_string(kindred::testsupport::free_tcp_port()),
                      "user", "list"});
    EXPECT_EQ(tcp.code, 5) << tcp.out;
    // And when Redis goes away after a change.
    k.redis.stop();
    EXPECT_EQ(k.run({"user", "show", "river"}).code, 5);
}

TEST(Kindredctl, HelpOnEveryCommand) {
    kindredctl_env k;
    const std::vector<std::vector<std::string>> commands = {
        {"user", "add"},       {"user", "certify"},       {"user", "revoke-tags"},
        {"user", "list"},      {"user", "show"},          {"user", "disable"},
        {"user", "enable"},    {"user", "delete"},        {"user", "passwd"},
        {"user", "set-alias"}, {"user", "set-languages"}, {"user", "reset-identity"},
        {"demo-seed"},         {"audit", "verify"},       {"audit", "tail"}};
    for (auto c : commands) {
        std::string words;
        for (const auto& w : c)
            words += (words.empty() ? "" : " ") + w;
        c.push_back("--help");
        auto r = k.run(c);
        EXPECT_EQ(r.code, 0) << words << "\n" << r.out;
        EXPECT_EQ(r.out.rfind("Usage: kindredctl " + words, 0), 0u) << words << "\n" << r.out;
    }
    auto top = k.run({"--help"});
    EXPECT_EQ(top.code, 0);
    EXPECT_NE(top.out.find("Exit codes:"), std::string::npos);
    auto group = k.run({"user", "--help"});
    EXPECT_EQ(group.code, 0);
    EXPECT_NE(group.out.find("kindredctl user reset-identity NAME"), std::string::npos);
    auto none = k.run({});
    EXPECT_EQ(none.code, 2);
    EXPECT_NE(none.out.find("Usage: kindredctl"), std::string::npos);
}

TEST(Kindredctl, DemoSeedOnlyInDevModeAndIdempotent) {
    kindredctl_env k;
    auto refused = k.run({"demo-seed"});
    EXPECT_EQ(refused.code, 2) << refused.out;
    EXPECT_NE(refused.out.find("dev mode"), std::string::npos);
    EXPECT_TRUE(k.redis.keys("user:*").empty());

    for (int round = 0; round < 2; ++round) {
        auto seeded = k.run({"demo-seed", "--dev", "--json"});
        ASSERT_EQ(seeded.code, 0) << seeded.out;
        auto accounts = seeded.parsed().at("accounts").as_array();
        ASSERT_EQ(accounts.size(), 3u);
        for (const auto& a : accounts) {
            auto name = field(a, "username");
            EXPECT_TRUE(kindred::accounts::verify_password(
                k.redis.command({"HGET", "user:{" + name + "}", "password"}), field(a, "password")))
                << name;
        }
        auto peer = k.run({"user", "show", "demo-peer", "--json"}).parsed().at("user");
        EXPECT_EQ(field(peer, "role"), "peer");
        EXPECT_EQ(peer.at("active_tags"), json::parse(R"(["addiction","caregiving","grief"])"));
        EXPECT_EQ(peer.at("languages"), json::parse(R"(["en","es"])"));
        EXPECT_EQ(
            field(k.run({"user", "show", "demo-moderator", "--json"}).parsed().at("user"), "role"),
            "moderator");
        EXPECT_EQ(
            field(k.run({"user", "show", "demo-admin", "--json"}).parsed().at("user"), "role"),
            "admin");
        EXPECT_EQ(k.redis.command({"SCARD", "users"}), "3");
    }
    // Also by environment, as the server reads it.
    EXPECT_EQ(k.run({"demo-seed"}, "", {"KINDRED_DEV_MODE=true"}).code, 0);
    auto text = k.run({"demo-seed", "--dev"});
    EXPECT_NE(text.out.find("demo-peer-password"), std::string::npos) << text.out;
}

TEST(Kindredctl, AuditActorAndNoSecrets) {
    kindredctl_env k;
    ASSERT_EQ(k.run({"user", "add", "river", "--role", "peer", "--alias", "R", "--languages", "en",
                     "--password-stdin"},
                    "secret passphrase one\n")
                  .code,
              0);
    ASSERT_EQ(k.run({"--actor", "ops@host", "user", "passwd", "river", "--password-stdin"},
                    "secret passphrase two\n")
                  .code,
              0);
    auto audit = k.redis.command({"XRANGE", "audit", "-", "+"});
    EXPECT_NE(audit.find("kindredctl"), std::string::npos) << audit;
    EXPECT_NE(audit.find("ops@host"), std::string::npos) << audit;
    EXPECT_NE(audit.find("user.password"), std::string::npos) << audit;
    EXPECT_EQ(audit.find("secret passphrase"), std::string::npos) << audit;
    EXPECT_EQ(audit.find("$argon2"), std::string::npos) << audit;
}

TEST(Kindredctl, FindsTheRedisOfMakeRunFromTheProjectFolder) {
    // A project folder as `make run` leaves it: config/kindred.sample.json (whose redis
    // points nowhere, like the sample's tcp default) and state/redis.sock.
    kindredctl_env k;
    const auto project = k.dir() / "project";
    kindredctl_env::write_config(project / "config" / "kindred.sample.json",
                                 "unix:" + (k.dir() / "nowhere.sock").string());
    fs::create_directories(project / "state");
    fs::create_symlink(k.redis.socket_path(), project / "state" / "redis.sock");

    auto add =
        k.run({"user", "add", "river", "--role", "peer", "--alias", "R", "--languages", "es"}, "",
              {}, project, /*bare=*/true);
    ASSERT_EQ(add.code, 0) << add.out;
    EXPECT_EQ(k.redis.command({"SISMEMBER", "users", "river"}), "1");
    // The catalog came from config/kindred.sample.json.
    auto bad = k.run({"user", "certify", "river", "--tags", "veterans", "--until", "2099-01-01"},
                     "", {}, project, true);
    EXPECT_EQ(bad.code, 2);
    EXPECT_NE(bad.out.find("kindred.sample.json"), std::string::npos) << bad.out;

    // KINDRED_REDIS and --redis win over state/redis.sock.
    const auto nowhere = "unix:" + (k.dir() / "nowhere.sock").string();
    EXPECT_EQ(k.run({"user", "list"}, "", {"KINDRED_REDIS=" + nowhere}, project, true).code, 5);
    EXPECT_EQ(k.run({"--redis", nowhere, "user", "list"}, "", {}, project, true).code, 5);
    // KINDRED_CONFIG names a config: its redis is used, not state/redis.sock.
    EXPECT_EQ(k.run({"user", "list"}, "",
                    {"KINDRED_CONFIG=" + (project / "config" / "kindred.sample.json").string()},
                    project, true)
                  .code,
              5);
    EXPECT_EQ(k.run({"user", "list"}, "", {"KINDRED_CONFIG=" + (k.dir() / "kindred.json").string()},
                    project, true)
                  .code,
              0);
}

TEST(Kindredctl, BadConfigIsAUsageError) {
    kindredctl_env k;
    std::ofstream(k.dir() / "broken.json") << "{ \"redis\": 42 ";
    auto r =
        k.run({"--config", (k.dir() / "broken.json").string(), "user", "list"}, "", {}, {}, true);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("config:"), std::string::npos) << r.out;
    auto missing =
        k.run({"--config", (k.dir() / "missing.json").string(), "user", "list"}, "", {}, {}, true);
    EXPECT_EQ(missing.code, 2) << missing.out;
}

TEST(Kindredctl, AuditVerifyAndTail) {
    kindredctl_env k;
    ASSERT_EQ(k.run({"user", "add", "river", "--role", "peer", "--alias", "R", "--languages", "en",
                     "--password-stdin"},
                    "secret passphrase one\n")
                  .code,
              0);
    ASSERT_EQ(k.run({"--actor", "ops", "user", "set-alias", "river", "Riv"}).code, 0);
    ASSERT_EQ(k.run({"user", "disable", "river"}).code, 0);

    auto ok = k.run({"audit", "verify"});
    EXPECT_EQ(ok.code, 0) << ok.out;
    EXPECT_NE(ok.out.find("ok, 3 entries"), std::string::npos) << ok.out;

    auto tail = k.run({"--json", "audit", "tail", "-n", "2"});
    ASSERT_EQ(tail.code, 0) << tail.out;
    const auto tail_json = tail.parsed();
    const auto& entries = tail_json.at("entries").as_array();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(field(entries[0], "action"), "user.set_alias");
    EXPECT_EQ(field(entries[0], "actor"), "ops");
    EXPECT_EQ(field(entries[1], "action"), "user.disable");
    EXPECT_EQ(field(entries[1], "seq"), "3");
    const auto middle = field(entries[0], "id");
    const auto last = field(entries[1], "id");

    auto text = k.run({"audit", "tail"});
    EXPECT_EQ(text.code, 0);
    EXPECT_NE(text.out.find("user.create"), std::string::npos) << text.out;
    EXPECT_EQ(text.out.find("secret passphrase"), std::string::npos) << text.out;

    k.redis.command({"XDEL", "audit", middle});
    auto bad = k.run({"audit", "verify"});
    EXPECT_EQ(bad.code, 6) << bad.out;
    EXPECT_NE(bad.out.find(last), std::string::npos) << bad.out;
    EXPECT_NE(bad.out.find("missing"), std::string::npos) << bad.out;
    auto bad_json = k.run({"--json", "audit", "verify"});
    EXPECT_EQ(bad_json.code, 6);
    EXPECT_EQ(field(bad_json.parsed(), "entry"), last);

    EXPECT_EQ(k.run({"audit", "tail", "-n", "0"}).code, 2);
    EXPECT_EQ(k.run({"audit", "nonsense"}).code, 2);
    EXPECT_EQ(k.run({"audit", "verify", "--help"}).code, 0);
    auto help = k.run({"audit", "tail", "--help"});
    EXPECT_EQ(help.code, 0);
    EXPECT_NE(help.out.find("-n N"), std::string::npos) << help.out;
}
