// main.cpp — kindred-server: load the configuration (exit 2 naming the bad option), wire the
// parts together, run the io_context on N threads, drain on SIGTERM/SIGINT, exit 0.
// Threading: main builds everything before the worker threads start and tears it down after
// they have all returned; the shutdown sequence itself runs on a strand.
#include <kindred/accounts/account_store.hpp>
#include <kindred/insights/insights_store.hpp>
#include <kindred/matching/matching_store.hpp>
#include <kindred/moderation/lexicon.hpp>
#include <kindred/moderation/moderation_store.hpp>
#include <kindred/net/descriptors.hpp>
#include <kindred/relay/conversation_log.hpp>
#include <kindred/server/auth_service.hpp>
#include <kindred/server/config.hpp>
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/delivery_tracker.hpp>
#include <kindred/server/event_bus.hpp>
#include <kindred/server/http_routes.hpp>
#include <kindred/server/insights_recorder.hpp>
#include <kindred/server/instance_registry.hpp>
#include <kindred/server/listener.hpp>
#include <kindred/server/matching_service.hpp>
#include <kindred/server/metrics.hpp>
#include <kindred/server/moderation_service.hpp>
#include <kindred/server/ops_status.hpp>
#include <kindred/server/relay_service.hpp>
#include <kindred/server/server_context.hpp>
#include <kindred/server/session_store.hpp>
#include <kindred/server/staff_monitor.hpp>
#include <kindred/server/static_files.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/endpoint.hpp>
#include <kindred/store/subscriber.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/parse.hpp>

#include <sodium.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace ks = kindred::server;
namespace ka = kindred::accounts;
namespace store = kindred::store;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_bad_config = 2;

std::string random_instance_id() {
    unsigned char bytes[6];
    randombytes_buf(bytes, sizeof bytes);
    char hex[sizeof bytes * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
    return hex;
}

std::int64_t now_unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Writes "PORT\n" to path.tmp, then renames it over path, so a reader never sees half a file.
bool write_port_file(const std::string& path, std::uint16_t port) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!out) return false;
        out << port << '\n';
        out.flush();
        if (!out) return false;
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    return !ec;
}

// Reads and compiles the lexicon file; nullopt with `error` set when it cannot.
std::optional<kindred::moderation::lexicon>
load_lexicon(const std::string& path, ks::lexicon_document& doc, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read the file";
        return std::nullopt;
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    doc.bytes = std::move(bytes).str();
    auto parsed = kindred::moderation::lexicon::parse(doc.bytes, &error);
    if (parsed) doc.version = parsed->version();
    return parsed;
}

void setup_logging(const std::string& level) {
    auto logger = spdlog::stderr_logger_mt("kindred");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %L %v", spdlog::pattern_time_type::utc);
    spdlog::set_level(spdlog::level::from_str(level));
    spdlog::flush_on(spdlog::level::info);
}

// The SIGTERM/SIGINT sequence: stop accepting, hand cluster-wide duties back (`on_drain`: the
// grace lease), close every WebSocket with 1012, wait for the
// connections (and their session releases) to finish within shutdown_grace_s, delete
// inst:{id}, stop Redis, stop the io_context. A hard deadline at grace + 0.5 s stops the
// io_context whatever is still pending, so the process exits within grace + 1 s.
class shutdown_sequence : public std::enable_shared_from_this<shutdown_sequence> {
public:
    shutdown_sequence(net::io_context& io, ks::server_context& ctx, ks::listener& listener,
                      ks::instance_registry& registry, ks::session_store& sessions,
                      store::client& redis, store::subscriber& bus, std::function<void()> on_drain)
        : io_(io)
        , strand_(net::make_strand(io))
        , poll_(strand_)
        , hard_stop_(strand_)
        , ctx_(ctx)
        , listener_(listener)
        , registry_(registry)
        , sessions_(sessions)
        , redis_(redis)
        , bus_(bus)
        , on_drain_(std::move(on_drain)) {}

    void begin(int signal_number) {
        net::post(strand_, [self = shared_from_this(), signal_number] {
            if (self->started_) return;
            self->started_ = true;
            const auto grace = std::chrono::seconds(self->ctx_.cfg.timing.shutdown_grace_s);
            spdlog::info("event=shutdown_begin signal={} connections={}", signal_number,
                         self->ctx_.connections.size());
            self->ctx_.draining.store(true);
            self->ctx_.stats.set_draining();
            self->listener_.stop();
            if (self->on_drain_) self->on_drain_();
            for (auto& c : self->ctx_.connections.snapshot())
                c->close(ks::close_codes::service_restart, "server restarting");
            self->deadline_ = std::chrono::steady_clock::now() + grace;
            self->hard_stop_.expires_after(grace + std::chrono::milliseconds(500));
            self->hard_stop_.async_wait([self](boost::system::error_code ec) {
                if (ec) return;
                spdlog::warn("event=shutdown_forced connections={}", self->ctx_.connections.size());
                self->io_.stop();
            });
            self->poll();
        });
    }

private:
    void poll() {
        const bool drained = ctx_.connections.size() == 0 && sessions_.in_flight() == 0;
        if (drained || std::chrono::steady_clock::now() >= deadline_) {
            if (!drained)
                spdlog::warn("event=shutdown_grace_over connections={}", ctx_.connections.size());
            registry_.deregister([self = shared_from_this()] {
                net::post(self->strand_, [self] { self->finish(); });
            });
            return;
        }
        poll_.expires_after(std::chrono::milliseconds(20));
        poll_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (!ec) self->poll();
        });
    }

    void finish() {
        spdlog::info("event=deregistered");
        hard_stop_.cancel();
        redis_.stop();
        bus_.stop();
        io_.stop();
    }

    net::io_context& io_;
    net::strand<net::io_context::executor_type> strand_;
    net::steady_timer poll_;
    net::steady_timer hard_stop_;
    ks::server_context& ctx_;
    ks::listener& listener_;
    ks::instance_registry& registry_;
    ks::session_store& sessions_;
    store::client& redis_;
    store::subscriber& bus_;
    std::function<void()> on_drain_;
    bool started_ = false;
    std::chrono::steady_clock::time_point deadline_{};
};

int run(ks::config cfg, const std::vector<std::string>& args) {
    std::string why;
    auto endpoint = store::parse_endpoint(cfg.redis, &why);
    if (!endpoint) {
        std::cerr << "kindred-server: --redis: " << why << '\n';
        return exit_bad_config;
    }
    setup_logging(cfg.log_level);
    // Before any thread exists: the kernel then grows the descriptor table without the RCU
    // wait that otherwise stalls accept() for ~10-20 ms at 1,024, 2,048, … connections.
    const auto descriptors = kindred::net::prepare_descriptor_table();
    spdlog::info("event=descriptor_table open_files_limit={} reserved={}", descriptors.limit,
                 descriptors.reserved);
    if (sodium_init() < 0) {
        std::cerr << "kindred-server: libsodium failed to initialise\n";
        return exit_failure;
    }
    if (cfg.instance_id.empty()) cfg.instance_id = random_instance_id();
    // The lexicon: the bytes are served as they are, the compiled form triages intakes.
    // Without it the server would triage nothing, so it refuses to start. A reload (SIGHUP,
    // `kindredctl reload`) reads it again.
    ks::lexicon_document lexicon_doc;
    std::optional<kindred::moderation::lexicon> lexicon;
    {
        std::string error;
        lexicon = load_lexicon(cfg.lexicon, lexicon_doc, error);
        if (!lexicon) {
            std::cerr << "kindred-server: --lexicon " << cfg.lexicon << ": " << error << '\n';
            return exit_bad_config;
        }
        spdlog::info("event=lexicon_loaded version={}", lexicon_doc.version);
    }
    std::filesystem::path web_root;
    if (auto root = ks::canonical_web_root(cfg.web_root))
        web_root = *root;
    else
        spdlog::warn("event=web_root_missing (static files answer 404)");
    unsigned threads =
        cfg.threads ? cfg.threads : std::max(1u, std::thread::hardware_concurrency());

    // Declared first, destroyed last: every object below may hold handlers on it.
    net::io_context io(static_cast<int>(threads));
    ks::metrics stats;
    ks::connection_registry connections;

    store::client_options copts;
    copts.address = *endpoint;
    copts.command_timeout = std::chrono::milliseconds(cfg.timing.redis_command_timeout_ms);
    copts.connect_timeout = copts.command_timeout;
    copts.stall_timeout = std::chrono::milliseconds(cfg.timing.redis_stall_timeout_ms);
    // Readiness must come back within ~3 s of Redis coming back.
    copts.reconnect_max = std::chrono::milliseconds(1000);
    copts.name = "cmd";
    copts.on_latency = [&stats](std::chrono::steady_clock::duration d,
                                const boost::system::error_code& ec) {
        stats.redis_command(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
        if (ec) stats.redis_error("cmd");
    };
    copts.on_state = [](bool up) {
        spdlog::info("event=redis_connection state={}", up ? "up" : "down");
    };
    store::client redis(io, copts);

    // Argon2id runs here, never on an io_context thread (it takes ~0.1 s and 64 MiB).
    // auth_service bounds how many logins may wait for it.
    net::thread_pool hash_pool(cfg.limits.hash_threads);
    ka::account_store_options aopts;
    for (const auto& t : cfg.tags)
        aopts.catalog.tags.push_back(t.id);
    for (const auto& l : cfg.languages)
        aopts.catalog.languages.push_back(l.id);
    aopts.token_lifetime = std::chrono::seconds(cfg.timing.token_lifetime_s);
    aopts.run_blocking = [&hash_pool](std::function<void()> job) {
        net::post(hash_pool, std::move(job));
    };
    aopts.lockout = ka::lockout_policy{cfg.limits.login_failures_per_user,
                                       std::chrono::seconds(cfg.limits.login_window_s)};
    ka::account_store accounts(redis, aopts);
    ks::auth_options auth_opts;
    auth_opts.address_policy.max_failures = cfg.limits.login_failures_per_address;
    auth_opts.address_policy.window = std::chrono::seconds(cfg.limits.login_window_s);
    auth_opts.max_pending_logins =
        std::size_t{cfg.limits.hash_threads} + std::size_t{cfg.limits.hash_queue};
    ks::auth_service auth(accounts, stats, auth_opts);

    const auto grace = std::chrono::seconds(cfg.timing.seeker_grace_s);
    const auto heartbeat = std::chrono::seconds(cfg.timing.heartbeat_s);
    ks::session_store sessions(
        redis,
        ks::session_store_options{cfg.instance_id, grace, std::max(grace, 3 * heartbeat),
                                  [&connections](std::uint64_t conn, const std::string& session) {
                                      if (auto c = connections.find(conn)) c->taken_over(session);
                                  },
                                  &accounts});
    ks::instance_registry registry(io, redis, stats, connections, sessions,
                                   ks::instance_registry_options{cfg.instance_id, heartbeat});
    ks::http_routes routes(
        cfg, web_root, stats, [&registry] { return registry.ready(); }, std::move(lexicon_doc));
    ks::server_context ctx{cfg, stats, routes, connections, sessions};
    ctx.auth = &auth;
    ctx.accounts = &accounts;

    // Matching (issue #4): events reach a session wherever it is connected through the bus.
    ks::event_bus events(redis, connections, cfg.instance_id);
    kindred::matching::matching_options mopts;
    mopts.policy.relax_after = std::chrono::seconds(cfg.timing.relax_after_s);
    mopts.policy.end_window = std::chrono::seconds(cfg.timing.no_new_match_before_end_s);
    // A killed instance's waiting seekers leave the queue when their sessions expire, its
    // peers drop out of matching within the peer grace period.
    mopts.request_ttl = grace;
    mopts.presence_ttl = std::chrono::seconds(std::max<std::uint32_t>(cfg.timing.peer_grace_s, 3));
    mopts.record_ttl =
        std::chrono::seconds(cfg.timing.conversation_max_s) + std::chrono::minutes(10);
    // Set before Redis starts, so no match can be claimed before it is.
    ks::matching_service* matcher = nullptr;
    mopts.on_match = [&matcher, &stats](const kindred::matching::match_record& r) {
        stats.match_made(r.relaxed, r.seeker_tags,
                         static_cast<double>(r.matched_at_ms - r.enqueued_at_ms) / 1000.0);
        if (matcher) matcher->on_match(r);
    };
    // The conversation and the peer's reads go out right behind each claim (one round trip
    // less before `matched`); a refused claim's conversation is discarded.
    mopts.on_claim_sent = [&matcher](const std::string& conversation, const std::string& session,
                                     const std::string& peer) {
        if (matcher) matcher->claim_sent(conversation, session, peer);
    };
    mopts.on_claim_lost = [&matcher, &stats](const std::string& conversation,
                                             kindred::matching::claim_loss loss) {
        stats.match_claim_lost(loss == kindred::matching::claim_loss::refused ? "refused"
                                                                              : "unknown");
        if (matcher) matcher->claim_lost(conversation, loss);
    };
    mopts.on_pass = [&stats](const kindred::matching::pass_timing& t) {
        stats.match_pass("waited", t.waited);
        stats.match_pass("snapshots", t.snapshots);
        if (t.claims.count() > 0) stats.match_pass("claims", t.claims);
    };
    kindred::matching::matching_store matching(redis, mopts);
    kindred::relay::log_options lopts;
    lopts.hard_limit = std::chrono::seconds(cfg.timing.conversation_max_s);
    lopts.purge_after = std::chrono::seconds(cfg.timing.purge_after_end_s);
    kindred::relay::conversation_log conversations(redis, lopts);

    // Programme insights (issue #10) on their own Redis connection: an admin report reads
    // thousands of small hashes and must never queue in front of chat traffic.
    store::client_options ins_copts = copts;
    ins_copts.name = "insights";
    ins_copts.on_state = [](bool up) {
        spdlog::info("event=redis_connection lane=insights state={}", up ? "up" : "down");
    };
    store::client ins_redis(io, ins_copts);
    kindred::insights::insights_options iopts;
    iopts.retention = std::chrono::hours(24) * cfg.insights_retention_days;
    kindred::insights::insights_store insights_store(ins_redis, iopts);
    ks::insights_recorder_options iropts;
    iropts.conversation_ttl = std::chrono::seconds(cfg.timing.conversation_max_s);
    iropts.purge_after_end = std::chrono::seconds(cfg.timing.purge_after_end_s);
    iropts.min_cell = cfg.insights_min_cell;
    iropts.catalog_tags = aopts.catalog.tags;
    iropts.stats = &stats;
    ks::insights_recorder insights(insights_store, conversations, accounts, iropts);
    ctx.insights = [&insights, min_cell = cfg.insights_min_cell](
                       ks::insights_action a, std::function<void(ks::http_response_spec)> done) {
        auto q = ks::parse_insights_query(a.query, min_cell);
        if (auto* bad = std::get_if<ks::http_response_spec>(&q)) {
            bad->headers.emplace_back("Cache-Control", "no-store");
            return done(std::move(*bad));
        }
        insights.admin_report(std::move(a.token), std::get<kindred::insights::report_query>(q),
                              a.csv, std::move(done));
    };
    ks::matching_service_options msopts;
    msopts.catalog_tags = aopts.catalog.tags;
    msopts.catalog_languages = aopts.catalog.languages;
    msopts.conversations = &conversations;
    msopts.lexicon = &*lexicon;
    msopts.insights = &insights;
    msopts.on_stage = [&stats](std::string_view stage, std::chrono::microseconds d) {
        stats.match_stage(stage, d);
    };
    ks::matching_service matching_service(matching, accounts, redis, events, connections, msopts);
    matcher = &matching_service;
    // Bus recovery: live messages for local sessions go through the tracker, which reads
    // any gap (a lost publish) from the stored log; set before the bus starts.
    ks::relay_service* relay_ptr = nullptr;
    ks::delivery_tracker_deps tdeps;
    tdeps.read = [&relay_ptr](const std::string& session, const std::string& conversation,
                              std::int64_t after, ks::delivery_tracker_deps::read_done done) {
        if (!relay_ptr) return done(false, {});
        relay_ptr->read_for(session, conversation, after, std::move(done));
    };
    tdeps.push = [&events](const std::string& session, std::string event) {
        events.push_local(session, std::move(event), "message");
    };
    ks::delivery_tracker tracker(std::move(tdeps));
    events.set_tracker(&tracker);
    ks::relay_service_options rsopts;
    rsopts.on_sweep = [&matching_service](const kindred::matching::sweep_report& r) {
        matching_service.on_sweep(r);
    };
    rsopts.tracker = &tracker;
    rsopts.stats = &stats;
    rsopts.instance_id = cfg.instance_id;
    ks::moderation_service* moderator_ptr = nullptr;
    rsopts.on_ended = [&moderator_ptr, &insights](const std::string& conversation,
                                                  const std::string& peer) {
        if (moderator_ptr) moderator_ptr->on_ended(conversation, peer);
        insights.conversation_ended(conversation);
    };
    ks::relay_service relay_service(conversations, matching, redis, events, std::move(rsopts));
    relay_ptr = &relay_service;

    // Moderation (issue #5) on its own Redis connection: the escalation lane never waits
    // behind a long sync or a burst of sends on the command connection.
    store::client_options mod_copts = copts;
    mod_copts.name = "mod";
    mod_copts.on_latency = [&stats](std::chrono::steady_clock::duration d,
                                    const boost::system::error_code& ec) {
        stats.redis_command(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
        if (ec) stats.redis_error("mod");
    };
    mod_copts.on_state = [](bool up) {
        spdlog::info("event=redis_connection lane=moderation state={}", up ? "up" : "down");
    };
    store::client mod_redis(io, mod_copts);
    kindred::moderation::moderation_options modopts;
    modopts.deadlines[static_cast<int>(kindred::protocol::level::imminent)] =
        std::chrono::seconds(cfg.timing.imminent_ack_s);
    modopts.deadlines[static_cast<int>(kindred::protocol::level::high)] =
        std::chrono::seconds(cfg.timing.high_ack_s);
    modopts.presence_ttl = std::chrono::seconds(cfg.timing.moderator_presence_s);
    kindred::moderation::moderation_store moderation(mod_redis, modopts);
    ks::moderation_service_options mdsopts;
    mdsopts.peer_cooldown = std::chrono::seconds(cfg.timing.peer_cooldown_s);
    mdsopts.insights = &insights;
    // Time to acknowledge: at the acknowledgement, or at a resolve that came without one.
    mdsopts.on_transition = [&stats](const kindred::moderation::escalation_record& r,
                                     bool resolved) {
        const std::int64_t at =
            resolved ? (r.acknowledged_at ? 0 : r.resolved_at) : r.acknowledged_at;
        if (at > 0)
            stats.escalation_acknowledged(kindred::protocol::to_string(r.level),
                                          static_cast<double>(at - r.created_at) / 1000.0);
    };
    ks::moderation_service moderation_service(moderation, conversations, matching, accounts,
                                              mod_redis, events, relay_service, mdsopts);
    moderator_ptr = &moderation_service;
    matching_service.set_moderation_hooks(
        [&moderation_service](const std::string& session, kindred::protocol::level level,
                              kindred::protocol::category category) {
            moderation_service.on_triage(session, level, category);
        },
        [&moderation_service](const std::string& session, const std::string& conversation,
                              const std::string& peer) {
            moderation_service.on_matched(session, conversation, peer);
        },
        [&moderation_service](const std::string& session, const std::string& device,
                              std::function<void()> then) {
            moderation_service.before_enqueue(session, device, std::move(then));
        });
    // A ban closes the banned party's sockets (4005) on the instance that holds them.
    events.on_notice(std::string(ks::moderation_service::banned_notice),
                     [&connections](const std::string& session, const boost::json::object&) {
                         for (auto& c : connections.find_session(session))
                             c->close(ks::close_codes::banned, "banned");
                     });

    ks::service_hub services;
    services.add(matching_service);
    services.add(relay_service);
    services.add(moderation_service);
    services.add(insights);
    ctx.services = &services;
    ctx.conversations_of =
        [&conversations](
            kindred::protocol::role role, std::string party,
            std::function<void(std::vector<kindred::protocol::conversation_summary>)> done) {
            if (party.empty()) return done({});
            conversations.list_for(
                kindred::relay::member{role, std::move(party)},
                [done = std::move(done)](boost::system::error_code ec,
                                         std::vector<kindred::protocol::conversation_summary> l) {
                    done(ec ? std::vector<kindred::protocol::conversation_summary>{}
                            : std::move(l));
                });
        };

    store::subscriber_options sopts;
    sopts.address = *endpoint;
    sopts.connect_timeout = copts.command_timeout;
    sopts.reconnect_max = std::chrono::milliseconds(1000);
    sopts.name = "bus";
    store::subscriber bus(io, sopts);
    // Bus payloads are untrusted: anything but a well-formed takeover, delivery or notice is
    // ignored.
    bus.subscribe(ks::session_store::bus_channel(cfg.instance_id),
                  [&connections, &events](std::string_view, std::string_view payload) {
                      if (auto t = ks::session_store::parse_takeover(payload)) {
                          if (auto c = connections.find(t->second)) c->taken_over(t->first);
                          return;
                      }
                      events.handle(payload);
                  });
    // Dead staff tokens (ctl:revoked, periodic re-check, expiry) close their sockets with 4003.
    ks::staff_monitor monitor(
        io, accounts, connections, stats,
        ks::staff_monitor_options{std::chrono::milliseconds(cfg.timing.token_recheck_ms),
                                  std::chrono::milliseconds(cfg.timing.token_lookup_ms),
                                  {}});
    monitor.start(bus);
    // One hook for both owners (it replaces staff_monitor's): recheck staff tokens, and
    // re-read the tail of every conversation a local session follows.
    bus.on_resubscribed([&monitor, &tracker] {
        spdlog::info("event=bus_resubscribed");
        monitor.after_resubscribe();
        tracker.recover_all();
    });

    ks::listener listener(io, ctx);
    if (!cfg.tls_cert.empty()) {
        if (auto tls_error = listener.enable_tls(cfg.tls_cert, cfg.tls_key); !tls_error.empty()) {
            std::cerr << "kindred-server: " << tls_error << '\n';
            return exit_bad_config;
        }
    }
    if (auto ec = listener.open(cfg.listen_host, cfg.listen_port)) {
        std::cerr << "kindred-server: --listen: cannot listen on " << cfg.listen << ": "
                  << ec.message() << '\n';
        return ec == boost::asio::error::host_not_found ||
                       ec == boost::asio::error::host_not_found_try_again
                   ? exit_bad_config
                   : exit_failure;
    }

    auto shutdown = std::make_shared<shutdown_sequence>(
        io, ctx, listener, registry, sessions, redis, bus,
        [&relay_service] { relay_service.release_grace_lease(); });
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([shutdown](boost::system::error_code ec, int signal_number) {
        if (!ec) shutdown->begin(signal_number);
    });

    // Reload (issue #9): SIGHUP, or a `kindredctl reload` notice on ctl:reload that every
    // instance hears. The config file is loaded again exactly as at start-up (same flags and
    // environment) and the lexicon read again from the same path; only the catalog (tags,
    // languages), the crisis resources and the lexicon are taken from them — every other
    // setting needs a restart. Both files are checked before either is applied, so a bad
    // one changes nothing (the old catalog and lexicon stay, the log says why).
    auto reload_strand = net::make_strand(io);
    auto reload = [&](const char* trigger) {
        net::post(reload_strand, [&, trigger] {
            auto loaded = ks::load_config(args, ks::process_environment(), ks::read_text_file);
            if (loaded.what != ks::load_result::action::run) {
                spdlog::error("event=config_reload_failed trigger={} file=config error=\"{}\"",
                              trigger, loaded.text);
                stats.config_reloaded(false);
                return;
            }
            ks::lexicon_document doc;
            std::string error;
            auto fresh = load_lexicon(cfg.lexicon, doc, error);
            if (!fresh) {
                spdlog::error("event=config_reload_failed trigger={} file=lexicon error=\"{}\"",
                              trigger, error);
                stats.config_reloaded(false);
                return;
            }
            ks::config served = cfg;
            served.tags = loaded.cfg.tags;
            served.languages = loaded.cfg.languages;
            served.crisis_resources = loaded.cfg.crisis_resources;
            std::vector<std::string> tags, languages;
            for (const auto& t : served.tags)
                tags.push_back(t.id);
            for (const auto& l : served.languages)
                languages.push_back(l.id);
            const auto version = doc.version;
            routes.reload(served, std::move(doc));
            matching_service.reload_catalog(
                std::move(tags), std::move(languages),
                std::make_shared<const kindred::moderation::lexicon>(std::move(*fresh)));
            stats.config_reloaded(true);
            spdlog::info("event=config_reloaded trigger={} tags={} languages={} "
                         "crisis_resources={} lexicon_version={}",
                         trigger, served.tags.size(), served.languages.size(),
                         served.crisis_resources.size(), version);
        });
    };
    net::signal_set hup(io, SIGHUP);
    std::function<void()> wait_hup = [&] {
        hup.async_wait([&](boost::system::error_code ec, int) {
            if (ec) return;
            reload("sighup");
            wait_hup();
        });
    };
    wait_hup();
    // Untrusted payload: only {"type":"reload"} counts; the rest is ignored.
    bus.subscribe("ctl:reload", [&](std::string_view, std::string_view payload) {
        boost::system::error_code ec;
        auto v = boost::json::parse(payload, ec);
        if (ec || !v.is_object()) return;
        const auto* type = v.as_object().if_contains("type");
        if (type && type->is_string() && type->as_string() == "reload") reload("ctl");
    });

    // The relaxation pass every second; presence every third of its TTL.
    auto match_strand = net::make_strand(io);
    net::steady_timer relax_timer(match_strand);
    std::function<void()> relax_tick;
    int ticks = 0;
    // Every third of the shorter TTL: a waiting seeker's request lives only seeker_grace_s.
    const int presence_every = static_cast<int>(
        std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(
                                      std::min(mopts.presence_ttl, mopts.request_ttl))
                                          .count() /
                                      3));
    relax_tick = [&] {
        relax_timer.expires_after(std::chrono::seconds(1));
        relax_timer.async_wait([&](boost::system::error_code ec) {
            if (ec || ctx.draining.load()) return;
            matching_service.relax_tick();
            relay_service.grace_tick();
            tracker.retry_failed(); // gap reads that failed on Redis trouble
            if (++ticks % presence_every == 0) matching_service.presence_tick();
            if (ticks % 60 == 0) insights.tick(); // shift time, about every minute
            relax_tick();
        });
    };
    relax_tick();

    // Due re-pages four times a second: the store hands each to exactly one instance.
    net::steady_timer repage_timer(match_strand);
    std::function<void()> repage_tick;
    int repage_ticks = 0;
    const int moderator_presence_every =
        std::max(1, static_cast<int>(cfg.timing.moderator_presence_s) * 4 / 3);
    repage_tick = [&] {
        repage_timer.expires_after(std::chrono::milliseconds(250));
        repage_timer.async_wait([&](boost::system::error_code ec) {
            if (ec || ctx.draining.load()) return;
            moderation_service.repage_tick();
            if (++repage_ticks % moderator_presence_every == 0) moderation_service.presence_tick();
            repage_tick();
        });
    };
    repage_tick();

    // The cluster gauges of /metrics (queue by tag and language, shifts, escalations,
    // instances): read from Redis on a timer, never per scrape, so scrapes cost nothing.
    ks::ops_status_options status_opts;
    status_opts.matching_prefix = mopts.key_prefix;
    status_opts.moderation_prefix = modopts.key_prefix;
    status_opts.imminent_ack_s = cfg.timing.imminent_ack_s;
    status_opts.high_ack_s = cfg.timing.high_ack_s;
    net::steady_timer status_timer(match_strand);
    std::function<void()> status_tick;
    bool status_failing = false;
    status_tick = [&] {
        if (ctx.draining.load()) return;
        ks::read_cluster_status(
            redis, status_opts, now_unix_ms(),
            [&](boost::system::error_code ec, ks::cluster_status st) {
                if (ec) {
                    if (!status_failing)
                        spdlog::warn("event=status_read_failed error=\"{}\"", ec.message());
                    status_failing = true;
                } else {
                    status_failing = false;
                    stats.set_cluster(ks::gauges_of(st, status_opts));
                }
                net::post(match_strand, [&] {
                    status_timer.expires_after(std::chrono::seconds(cfg.timing.status_poll_s));
                    status_timer.async_wait([&](boost::system::error_code e) {
                        if (!e) status_tick();
                    });
                });
            });
    };
    net::post(match_strand, [&] { status_tick(); });

    redis.start();
    mod_redis.start();
    ins_redis.start();
    bus.start();
    registry.start();
    listener.start();
    if (!cfg.port_file.empty() && !write_port_file(cfg.port_file, listener.port())) {
        std::cerr << "kindred-server: --port-file: cannot write " << cfg.port_file << '\n';
        return exit_bad_config;
    }
    spdlog::info("event=listening port={} instance={} threads={} dev_mode={} tls={}",
                 listener.port(), cfg.instance_id, threads, cfg.dev_mode, !cfg.tls_cert.empty());

    std::vector<std::thread> workers;
    workers.reserve(threads - 1);
    for (unsigned i = 1; i < threads; ++i)
        workers.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : workers)
        t.join();
    // Logins still waiting for a hash are dropped; one being hashed finishes first.
    hash_pool.stop();
    hash_pool.join();
    spdlog::info("event=shutdown_complete");
    spdlog::shutdown();
    return exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    auto loaded = ks::load_config(args, ks::process_environment(), ks::read_text_file);
    switch (loaded.what) {
    case ks::load_result::action::help:
        std::cout << loaded.text;
        return exit_ok;
    case ks::load_result::action::fail:
        std::cerr << "kindred-server: " << loaded.text << '\n';
        return exit_bad_config;
    case ks::load_result::action::run:
        break;
    }
    try {
        return run(std::move(loaded.cfg), args);
    } catch (const std::exception& e) {
        std::cerr << "kindred-server: " << e.what() << '\n';
        return exit_failure;
    }
}
