// chat_load.cpp — the compiled part of chat_load.hpp: the chatter, the exactly-once checks and
// the fixture's set-up helpers, compiled once instead of in every test file that uses them.
#include "chat_load.hpp"

namespace kindred::rtest {

chatter_report run_chatter(chat_client& client, const chatter_options& o) {
    chatter_report r;
    const int expect = o.expect_from_other < 0 ? o.messages : o.expect_from_other;
    struct pending {
        std::size_t conv;
        std::int64_t seq;
        steady::time_point at;
    };
    std::deque<pending> in_flight; // sent, no answer yet (in send order)
    std::deque<std::pair<std::size_t, std::int64_t>> to_retry; // answered refusals, in order
    steady::time_point retry_not_before{};
    steady::time_point next_send = steady::now();
    int syncs_open = 0;
    bool resumed = false; // this run resumed and synced at least once
    int hello_n = 0;
    std::size_t rr = 0; // round robin over conversations

    auto send_one = [&](std::size_t ci, std::int64_t seq) {
        auto& c = client.convs[ci];
        auto s = c.crypto->make_send(seq, plaintext(c.label, seq, o.pad));
        if (!s) {
            r.errors.push_back("encrypt: " + s.error().message());
            return;
        }
        auto now = steady::now();
        c.sent_at.try_emplace(seq, now);
        in_flight.push_back({ci, seq, now});
        ++r.sends;
        client.ws.send_text(kp::encode_client_message(*s, detail::send_id(ci, seq)));
    };
    auto all_done = [&] {
        if (!in_flight.empty() || !to_retry.empty() || syncs_open) return false;
        for (auto& c : client.convs)
            if (c.next_seq <= o.messages || static_cast<int>(c.received.size()) < expect)
                return false;
        return true;
    };
    auto resume = [&]() -> bool {
        while (steady::now() < o.deadline) {
            for (auto port : o.resume_ports()) {
                ws_client fresh;
                ws_options wo;
                wo.port = port;
                wo.timeout = std::chrono::seconds(2);
                if (!fresh.connect(wo).ok()) continue;
                const std::string id = "h" + std::to_string(++hello_n);
                auto frames = fresh.request(resume_json(client.resume_token, id));
                auto f =
                    frames.empty() ? std::nullopt : kp::decode_server_frame(frames.back().text);
                if (!f || f->type != "ok" || f->re != id) continue; // e.g. unavailable: retry
                client.ws = std::move(fresh);
                client.port = port;
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    };
    auto on_drop = [&](const ws_frame& f) -> bool {
        ++r.drops;
        r.dropped_at.push_back(steady::now());
        if (!o.resume_ports) {
            if (f.is_close()) r.close_code = f.close_code;
            return false;
        }
        if (!resume()) {
            r.errors.push_back(client.name + ": could not resume before the deadline");
            return false;
        }
        r.resumed_at.push_back(steady::now());
        resumed = true;
        // Whatever was in flight may or may not be stored: send it again with the same seq
        // (a stored one answers its original offset), in order, before anything new.
        std::deque<std::pair<std::size_t, std::int64_t>> again;
        for (auto& p : in_flight)
            again.emplace_back(p.conv, p.seq);
        for (auto& p : to_retry)
            again.emplace_back(p);
        std::sort(again.begin(), again.end(), [](auto& a, auto& b) { return a.second < b.second; });
        in_flight.clear();
        to_retry = std::move(again);
        retry_not_before = {};
        syncs_open = 0;
        // What arrived while away is in the log: sync each conversation from the last point
        // up to which nothing is missing.
        for (std::size_t ci = 0; ci < client.convs.size(); ++ci) {
            auto& c = client.convs[ci];
            boost::json::object s{{"type", "sync"},
                                  {"id", "y" + std::to_string(ci)},
                                  {"conversation_id", c.conversation_id},
                                  {"after", detail::contiguous(c)}};
            client.ws.send_text(boost::json::serialize(s));
            ++syncs_open;
        }
        return true;
    };
    auto on_frame = [&](const ws_frame& f) {
        auto frame = kp::decode_server_frame(f.text);
        if (!frame) {
            r.errors.push_back("undecodable frame: " + f.text.substr(0, 200));
            return;
        }
        if (frame->type == "message") {
            auto ev = kp::decode_server_event(*frame);
            const auto* e = std::get_if<kp::server_event>(&ev);
            const auto* m = e ? std::get_if<kp::message_event>(e) : nullptr;
            if (!m) {
                r.errors.push_back("bad message event");
                return;
            }
            for (auto& c : client.convs) {
                if (c.conversation_id != m->conversation_id) continue;
                if (c.received.contains(m->offset)) {
                    // The contract lets live events overlap a sync (clients de-duplicate by
                    // offset), including a live copy still on its way when the sync ended:
                    // the server starts tracking a resumed connection at its first live
                    // message. So on a resumed connection a second copy is overlap; on one
                    // that never synced it is a duplicate.
                    if (syncs_open || resumed)
                        ++c.sync_overlap;
                    else
                        ++c.live_duplicates;
                    return;
                }
                c.received.emplace(m->offset, *m);
                c.arrived.emplace(m->offset, steady::now());
                return;
            }
            r.errors.push_back("message for an unknown conversation");
            return;
        }
        if (frame->type == "ok" && frame->re && frame->re->rfind("y", 0) == 0) {
            --syncs_open;
            if (auto rec = frame->body.if_contains("recovered");
                !rec || !rec->is_bool() || !rec->as_bool())
                r.errors.push_back(client.name + ": sync not recovered: " + f.text);
            return;
        }
        std::size_t ci = 0;
        std::int64_t seq = 0;
        if ((frame->type == "ok" || frame->type == "error") && frame->re &&
            detail::parse_send_id(*frame->re, ci, seq)) {
            auto it = std::find_if(in_flight.begin(), in_flight.end(),
                                   [&](auto& p) { return p.conv == ci && p.seq == seq; });
            if (it == in_flight.end()) {
                r.errors.push_back("an answer for nothing in flight: " + f.text);
                return;
            }
            const auto at = it->at;
            in_flight.erase(it);
            auto& c = client.convs[ci];
            if (frame->type == "ok") {
                ++r.ok;
                if (o.acked_counter) o.acked_counter->fetch_add(1);
                auto off = frame->body.if_contains("offset");
                if (!off || !off->is_int64()) {
                    r.errors.push_back("send ok without offset");
                    return;
                }
                auto [pos, fresh] = c.acked.emplace(seq, off->as_int64());
                if (!fresh && pos->second != off->as_int64())
                    r.errors.push_back("seq acknowledged at two offsets");
                r.ack_ms.push_back(ms_between(c.sent_at[seq], steady::now()));
                r.ok_at.push_back(steady::now());
                return;
            }
            auto err = kp::decode_error_frame(*frame);
            if (err && (err->code == kp::error_code::unavailable ||
                        err->code == kp::error_code::rate_limited)) {
                if (err->code == kp::error_code::unavailable)
                    r.unavailable_ms.push_back(ms_between(at, steady::now()));
                ++r.retried;
                to_retry.emplace_back(ci, seq);
                // Everything sent after it is refused too or would be stored out of order:
                // with a window > 1 only use this where refusals cannot happen.
                const auto wait = err->retry_after_ms ? *err->retry_after_ms : 50;
                retry_not_before = steady::now() + std::chrono::milliseconds(wait);
                return;
            }
            r.errors.push_back(client.name + ": send refused: " + f.text);
            return;
        }
        // Other events (shift, pong, receipts...) are not this test's business.
    };

    while (steady::now() < o.deadline) {
        const auto now = steady::now();
        // Retries first, in seq order, one window at a time.
        while (!to_retry.empty() && now >= retry_not_before &&
               static_cast<int>(in_flight.size()) < o.window) {
            auto [ci, seq] = to_retry.front();
            to_retry.pop_front();
            send_one(ci, seq);
        }
        const bool stopped = o.stop_sending && o.stop_sending->load();
        while (!stopped && to_retry.empty() && static_cast<int>(in_flight.size()) < o.window &&
               steady::now() >= next_send) {
            bool any = false;
            for (std::size_t k = 0; k < client.convs.size(); ++k) {
                auto ci = (rr + k) % client.convs.size();
                auto& c = client.convs[ci];
                if (c.next_seq > o.messages) continue;
                rr = ci + 1;
                send_one(ci, c.next_seq++);
                any = true;
                break;
            }
            if (!any) break;
            next_send = steady::now() + o.interval;
        }
        if (stopped && in_flight.empty() && to_retry.empty() && !syncs_open) break;
        if (all_done()) {
            r.finished = true;
            break;
        }
        auto f = client.ws.receive(std::chrono::milliseconds(2));
        if (f.is_timeout()) continue;
        if (f.is_text()) {
            on_frame(f);
            continue;
        }
        if (!on_drop(f)) break;
    }
    return r;
}

std::vector<chatter_report> run_chatters(std::vector<chat_client*> clients,
                                         std::vector<chatter_options> options) {
    std::vector<chatter_report> reports(clients.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < clients.size(); ++i)
        threads.emplace_back([&, i] { reports[i] = run_chatter(*clients[i], options[i]); });
    for (auto& t : threads)
        t.join();
    return reports;
}

std::vector<chatter_report>
drain_pairs(const std::vector<std::pair<chat_client*, chat_client*>>& pairs,
            std::chrono::seconds within) {
    std::vector<chat_client*> clients;
    std::vector<chatter_options> options;
    for (auto [a, b] : pairs) {
        for (auto [self, other] : {std::pair{a, b}, std::pair{b, a}}) {
            chatter_options o;
            o.messages = 0;
            o.expect_from_other = static_cast<int>(other->convs.at(0).acked.size());
            o.deadline = steady::now() + within;
            clients.push_back(self);
            options.push_back(o);
        }
    }
    return run_chatters(clients, options);
}

direction_check check_direction(const conversation_side& sender, conversation_side& receiver,
                                int messages, bool all_acked) {
    direction_check out;
    SCOPED_TRACE(sender.label + " → " + receiver.label);
    if (all_acked) {
        EXPECT_EQ(sender.acked.size(), static_cast<std::size_t>(messages));
    }
    std::map<std::int64_t, std::int64_t> offset_to_seq;
    for (auto& [seq, off] : sender.acked)
        offset_to_seq[off] = seq;
    std::int64_t last_seq = 0;
    std::size_t from_sender = 0;
    int bad = 0;
    for (auto& [offset, ev] : receiver.received) {
        auto text = receiver.crypto->decrypt(ev);
        if (!text) {
            if (++bad < 5) ADD_FAILURE() << "offset " << offset << ": " << text.error().message();
            continue;
        }
        auto p = parse_plaintext(*text);
        if (!p || p->label != sender.label) continue; // a third party's (not in these tests)
        ++from_sender;
        if (p->seq != last_seq + 1 && ++bad < 5)
            ADD_FAILURE() << "out of order or missing: seq " << p->seq << " after " << last_seq
                          << " (offset " << offset << ")";
        last_seq = p->seq;
        auto acked = offset_to_seq.find(offset);
        if (acked != offset_to_seq.end() && acked->second != p->seq && ++bad < 5)
            ADD_FAILURE() << "offset " << offset << " acknowledged for seq " << acked->second
                          << " holds seq " << p->seq;
        out.delivery_ms.push_back(ms_between(p->sent, receiver.arrived.at(offset)));
    }
    // Every acknowledged message arrived (the order check above rules out a second copy).
    for (auto& [seq, off] : sender.acked)
        if (!receiver.received.contains(off) && ++bad < 5)
            ADD_FAILURE() << "acknowledged seq " << seq << " (offset " << off << ") never arrived";
    EXPECT_EQ(from_sender, sender.acked.size());
    EXPECT_EQ(receiver.live_duplicates, 0) << "offsets delivered twice outside a sync";
    EXPECT_EQ(bad, 0);
    return out;
}

std::vector<double>
two_instance_chat::check_resumed_on_b(const std::vector<chatter_report>& reports,
                                      steady::time_point a_gone) const {
    std::vector<double> resume_ms;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        SCOPED_TRACE(clients[i]->name);
        const auto& r = reports.at(i);
        for (auto& e : r.errors)
            ADD_FAILURE() << e;
        EXPECT_TRUE(r.finished) << "did not finish before the deadline";
        if (on_a[i]) {
            // Exactly one drop (A going away), then a resume on B.
            EXPECT_EQ(r.drops, 1);
            EXPECT_EQ(r.resumed_at.size(), 1u);
            for (auto at : r.resumed_at)
                resume_ms.push_back(ms_between(a_gone, at));
        } else {
            EXPECT_EQ(r.drops, 0) << "a client on B lost its socket";
        }
        EXPECT_EQ(clients[i]->port, b_port);
    }
    return resume_ms;
}

std::vector<double> check_pair(conversation_side& seeker, conversation_side& peer, int messages) {
    auto ms = check_direction(seeker, peer, messages).delivery_ms;
    for (auto d : check_direction(peer, seeker, messages).delivery_ms)
        ms.push_back(d);
    return ms;
}

two_instance_chat::delivery two_instance_chat::check_pairs() {
    delivery out;
    for (std::size_t i = 0; i < seekers.size(); ++i) {
        auto& s = seekers[i].convs.at(0);
        auto& p = peers[i].convs.at(0);
        for (auto d : check_pair(s, p, per_side))
            out.delivery_ms.push_back(d);
        out.sync_overlap += s.sync_overlap + p.sync_overlap;
    }
    return out;
}

std::string chat_fixture::make_peer_account(const std::string& username) {
    auto pw = add_staff(username, "peer");
    auto r = kindredctl(redis_.unix_address(), server_->config_path(),
                        {"user", "certify", username, "--tags", "grief", "--until", "2099-01-01"});
    EXPECT_EQ(r.code, 0) << r.output;
    return pw;
}

chat_client chat_fixture::open_peer(const std::string& username, const std::string& password,
                                    unsigned short on_port, int capacity) {
    chat_client c;
    c.name = username;
    c.role = kp::role::peer;
    c.port = on_port;
    auto login = login_request(on_port, username, password);
    EXPECT_EQ(login.status, 200) << login.body;
    hello_result h;
    c.ws = staff_socket("peer", str(parse_object(login.body), "token"), on_port, &h);
    c.resume_token = h.resume_token;
    c.identity = e2e::generate_identity_key_pair();
    expect_ok(last(c.ws.request(R"({"type":"register_identity","id":"r","identity_key":")" +
                                kp::base64_encode(c.identity->public_key) + R"("})")),
              "r");
    kp::prekeys upload;
    for (int i = 0; i < capacity + 1; ++i) {
        auto pair = e2e::generate_kx_key_pair();
        upload.keys.push_back({pair.public_key, e2e::sign_prekey(pair.public_key, *c.identity)});
        c.prekeys.emplace(kp::base64_encode(pair.public_key), pair);
    }
    expect_ok(last(c.ws.request(kp::encode_client_message(upload, "k"))), "k");
    boost::json::object shift{{"type", "shift_start"},
                              {"id", "s"},
                              {"capacity", capacity},
                              {"tags", {"grief"}},
                              {"languages", {"en"}}};
    expect_ok(last(c.ws.request(boost::json::serialize(shift))), "s");
    return c;
}

chat_client chat_fixture::match_seeker(chat_client& peer, unsigned short on_port,
                                       const std::string& label, const std::string& host) {
    chat_client s;
    s.name = label + ".seeker";
    s.role = kp::role::seeker;
    s.port = on_port;
    ws_options wo;
    wo.host = host;
    wo.port = on_port;
    if (auto c = s.ws.connect(wo); !c.ok()) {
        ADD_FAILURE() << "seeker connect to " << host << ":" << on_port << ": " << c.ec.message();
        return s;
    }
    auto h = hello(s.ws);
    s.resume_token = h.resume_token;
    auto keys = e2e::generate_kx_key_pair();
    kp::request_match rm;
    rm.tags = {"grief"};
    rm.languages = {"en"};
    rm.pubkey = keys.public_key;
    expect_ok(last(s.ws.request(kp::encode_client_message(rm, "m"))), "m");
    auto sm = event_of<kp::seeker_matched>(next_of(s.ws, "matched"));
    auto pm = event_of<kp::peer_matched>(next_of(peer.ws, "matched"));
    EXPECT_EQ(sm.conversation_id, pm.conversation_id);
    auto sc = e2e::conversation_crypto::for_seeker(sm.conversation_id, keys, sm.peer);
    auto prekey = peer.prekeys.find(kp::base64_encode(pm.prekey));
    if (!sc || prekey == peer.prekeys.end() || sm.conversation_id.empty()) {
        ADD_FAILURE() << "match of " << label << " failed";
        return s;
    }
    auto pc = e2e::conversation_crypto::for_peer(pm.conversation_id, prekey->second,
                                                 peer.identity->public_key, pm.seeker.pubkey);
    EXPECT_TRUE(pc);
    if (!pc) return s;
    conversation_side ss;
    ss.conversation_id = sm.conversation_id;
    ss.label = label + ".seeker";
    ss.crypto = std::move(*sc);
    s.convs.push_back(std::move(ss));
    conversation_side ps;
    ps.conversation_id = sm.conversation_id;
    ps.label = label + ".peer";
    ps.crypto = std::move(*pc);
    peer.convs.push_back(std::move(ps));
    return s;
}

void chat_fixture::set_up_two_instance_chat(two_instance_chat& chat, unsigned short a_port,
                                            unsigned short b_port, int pairs, int per_side,
                                            const std::string& account_prefix,
                                            const std::string& label_prefix,
                                            std::chrono::seconds within) {
    chat.a_port = a_port;
    chat.b_port = b_port;
    chat.per_side = per_side;
    chat.peers.reserve(pairs);
    chat.seekers.reserve(pairs);
    for (int i = 0; i < pairs; ++i) {
        const unsigned short seeker_port = (i % 4 < 2) ? a_port : b_port;
        const unsigned short peer_port = (i % 4 == 0 || i % 4 == 2) ? a_port : b_port;
        const std::string name = account_prefix + std::to_string(i);
        chat.peers.push_back(open_peer(name, make_peer_account(name), peer_port, 1));
        chat.seekers.push_back(
            match_seeker(chat.peers.back(), seeker_port, label_prefix + std::to_string(i)));
        ASSERT_FALSE(HasFailure()) << "set-up of pair " << i;
    }
    const auto deadline = steady::now() + within;
    for (int i = 0; i < pairs; ++i) {
        for (auto* c : {&chat.seekers[i], &chat.peers[i]}) {
            chatter_options o;
            o.messages = per_side;
            o.window = 4;
            o.deadline = deadline;
            o.acked_counter = &chat.acked;
            o.resume_ports = [b_port] { return std::vector<unsigned short>{b_port}; };
            chat.clients.push_back(c);
            chat.options.push_back(o);
        }
    }
    for (auto* c : chat.clients)
        chat.on_a.push_back(c->port == a_port);
}

} // namespace kindred::rtest
