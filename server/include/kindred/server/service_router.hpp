// service_router.hpp — where authenticated messages of service types (matching, relay) go: the
// WebSocket session hands a service_request to handle() and applies the answer on its strand.
// Implementations are Asio-free (matching_service).
// Threading: serves() from any thread (immutable); handle() from any thread, the handler may
// run on any thread (the caller posts back to its strand) and runs exactly once.
#pragma once

#include <kindred/server/connection_logic.hpp>

#include <functional>
#include <string_view>
#include <vector>

namespace kindred::server {

class service_router {
public:
    using answer_handler = std::function<void(service_answer)>;
    virtual ~service_router() = default;
    // Whether handle() serves this message type (see logic_options::served).
    virtual bool serves(std::string_view type) const = 0;
    virtual void handle(service_request request, answer_handler h) = 0;
    // The connection holding `session_id` ended (its session lives on for the grace period).
    virtual void connection_closed(const std::string& session_id) { (void)session_id; }
    // A connection now holds `session_id` (hello or resume succeeded).
    virtual void session_opened(const std::string& session_id, protocol::role role,
                                const std::optional<staff_identity>& staff) {
        (void)session_id;
        (void)role;
        (void)staff;
    }
};

} // namespace kindred::server

namespace kindred::server {

// Several routers as one: each message goes to the first that serves its type.
class service_hub final : public service_router {
public:
    void add(service_router& r) { routers_.push_back(&r); }
    bool serves(std::string_view type) const override {
        for (auto* r : routers_)
            if (r->serves(type)) return true;
        return false;
    }
    void handle(service_request request, answer_handler h) override {
        const auto type = protocol::type_name(request.message);
        for (auto* r : routers_)
            if (r->serves(type)) return r->handle(std::move(request), std::move(h));
        service_answer a;
        a.frames.push_back(
            make_error_frame(request.id, protocol::error_code::unavailable, "not implemented yet"));
        h(std::move(a));
    }
    void connection_closed(const std::string& session_id) override {
        for (auto* r : routers_)
            r->connection_closed(session_id);
    }
    void session_opened(const std::string& session_id, protocol::role role,
                        const std::optional<staff_identity>& staff) override {
        for (auto* r : routers_)
            r->session_opened(session_id, role, staff);
    }

private:
    std::vector<service_router*> routers_;
};

} // namespace kindred::server
