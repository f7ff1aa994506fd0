// event_bus.cpp — see event_bus.hpp.
#include <kindred/server/connection_registry.hpp>
#include <kindred/server/delivery_tracker.hpp>
#include <kindred/server/event_bus.hpp>
#include <kindred/server/session_store.hpp>
#include <kindred/store/client.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <spdlog/spdlog.h>

namespace kindred::server {

namespace json = boost::json;

namespace {

const json::string* string_field(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return nullptr;
    return &it->value().get_string();
}

} // namespace

event_bus::event_bus(store::client& redis, connection_registry& connections,
                     std::string instance_id)
    : redis_(redis)
    , connections_(connections)
    , instance_id_(std::move(instance_id)) {}

void event_bus::on_notice(std::string kind, notice_handler h) {
    notices_[std::move(kind)] = std::move(h);
}

std::string event_bus::deliver_message(std::string_view session, std::string_view type,
                                       std::string_view text) {
    json::object o;
    o["type"] = "deliver";
    o["session"] = session;
    o["event_type"] = type;
    o["event"] = text;
    return json::serialize(o);
}

std::string event_bus::notice_message(std::string_view session, std::string_view kind,
                                      const json::object& body) {
    json::object o;
    o["type"] = "notice";
    o["session"] = session;
    o["kind"] = kind;
    o["body"] = body;
    return json::serialize(o);
}

void event_bus::deliver(std::string session, std::string type, std::string text,
                        reached_handler done) {
    json::object o;
    o["type"] = "deliver";
    o["session"] = session;
    o["event_type"] = type;
    o["event"] = text;
    route(std::move(session), std::move(o), std::move(done));
}

void event_bus::notify(std::string session, std::string kind, json::object body,
                       reached_handler done) {
    json::object o;
    o["type"] = "notice";
    o["session"] = session;
    o["kind"] = kind;
    o["body"] = std::move(body);
    route(std::move(session), std::move(o), std::move(done));
}

void event_bus::deliver_live(std::string session, std::string conversation, std::int64_t offset,
                             std::string text, reached_handler done) {
    if (!done) done = [](bool) {};
    if (session.empty()) {
        done(false);
        return;
    }
    // Fast path, as dispatch_local would do it but without building the bus message and
    // parsing the event again to learn its conversation and offset (callgrind: about a tenth
    // of a relayed message's server instructions went there).
    if (tracker_) {
        if (!connections_.find_session(session).empty()) {
            tracker_->on_live(session, conversation, offset, std::move(text));
            done(true);
            return;
        }
    } else if (push_local(session, text, "message")) {
        done(true);
        return;
    }
    json::object o;
    o["type"] = "deliver";
    o["session"] = session;
    o["event_type"] = "message";
    o["event"] = std::move(text);
    route_remote(std::move(session), std::move(o), std::move(done));
}

bool event_bus::push_local(const std::string& session, std::string text, std::string_view type) {
    auto holders = connections_.find_session(session);
    for (auto& h : holders)
        h->deliver(session, text, std::string(type));
    return !holders.empty();
}

bool event_bus::dispatch_local(const std::string& session, const json::object& message) {
    const auto* type = string_field(message, "type");
    if (!type) return false;
    if (*type == "deliver") {
        const auto* event_type = string_field(message, "event_type");
        const auto* event = string_field(message, "event");
        if (!event_type || !event) return false;
        if (tracker_ && *event_type == "message") {
            if (connections_.find_session(session).empty()) return false;
            if (auto ref = delivery_tracker::message_ref(*event)) {
                tracker_->on_live(session, ref->first, ref->second, std::string(*event));
                return true;
            }
        }
        if (!push_local(session, std::string(*event), *event_type)) return false;
        // A new conversation reached a session held here: its messages are tracked from the
        // first (once per match, so parsing the event again costs nothing that matters; a live
        // message that got in first has already started tracking, which this leaves alone).
        if (tracker_ && *event_type == "matched") {
            json::error_code ec;
            auto parsed = json::parse(*event, ec);
            if (!ec && parsed.is_object())
                if (const auto* conv = string_field(parsed.get_object(), "conversation_id"))
                    tracker_->on_matched(session, std::string(*conv));
        }
        return true;
    }
    if (*type == "notice") {
        const auto* kind = string_field(message, "kind");
        auto body = message.find("body");
        if (!kind || body == message.end() || !body->value().is_object()) return false;
        auto it = notices_.find(std::string_view(*kind));
        if (it == notices_.end()) return false;
        if (connections_.find_session(session).empty()) return false;
        it->second(session, body->value().get_object());
        return true;
    }
    return false;
}

void event_bus::route(std::string session, json::object message, reached_handler done) {
    if (!done) done = [](bool) {};
    if (session.empty()) {
        done(false);
        return;
    }
    // Fast path: the session is held here.
    if (dispatch_local(session, message)) {
        done(true);
        return;
    }
    route_remote(std::move(session), std::move(message), std::move(done));
}

void event_bus::route_remote(std::string session, json::object message, reached_handler done) {
    redis_.command(
        {"HMGET", session_store::session_key(session), "instance", "conn"},
        [this, session, message = std::move(message),
         done = std::move(done)](boost::system::error_code ec, store::reply r) mutable {
            if (ec || !r.is_array() || !r.at(0).is_string() || !r.at(1).is_string() ||
                r.at(1).str().empty()) {
                done(false); // no live holder (or Redis down): the stored log is the truth
                return;
            }
            const std::string instance = r.at(0).str();
            if (instance == instance_id_) {
                // Resumed here between the local check and the read: try once more.
                done(dispatch_local(session, message));
                return;
            }
            redis_.command(
                {"PUBLISH", session_store::bus_channel(instance), json::serialize(message)},
                [done = std::move(done)](boost::system::error_code pec, store::reply pr) {
                    done(!pec && pr.is_integer() && pr.integer() > 0);
                });
        });
}

bool event_bus::handle(std::string_view payload) {
    json::error_code ec;
    auto v = json::parse(payload, ec);
    if (ec || !v.is_object()) return false;
    const auto& o = v.get_object();
    const auto* type = string_field(o, "type");
    if (!type || (*type != "deliver" && *type != "notice")) return false;
    const auto* session = string_field(o, "session");
    if (!session) return false;
    if (!dispatch_local(std::string(*session), o))
        spdlog::debug("event=bus_undeliverable kind={}", std::string_view(*type));
    return true;
}

} // namespace kindred::server
