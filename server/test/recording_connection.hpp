// recording_connection.hpp — the server tests' connection_handle: it records the closes,
// takeovers and deliveries it is given, and does nothing else.
// Threading: every member may be called from any thread (the Redis tests call it from the
// client's I/O thread); the accessors return copies.
#pragma once

#include <kindred/server/connection_registry.hpp>

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace kindred::server::testing {

class recording_connection final : public connection_handle {
public:
    void close(std::uint16_t code, std::string reason) override {
        std::lock_guard lock(mutex_);
        closes_.emplace_back(code, std::move(reason));
    }
    void taken_over(const std::string& session_id) override {
        std::lock_guard lock(mutex_);
        takeovers_.push_back(session_id);
    }
    // "<session>|<type>|<text>" per delivery.
    void deliver(const std::string& session_id, std::string text, std::string type) override {
        std::lock_guard lock(mutex_);
        delivered_.push_back(session_id + "|" + type + "|" + text);
    }

    std::vector<std::pair<std::uint16_t, std::string>> closes() const {
        std::lock_guard lock(mutex_);
        return closes_;
    }
    std::vector<std::uint16_t> close_codes() const {
        std::lock_guard lock(mutex_);
        std::vector<std::uint16_t> codes;
        for (const auto& c : closes_)
            codes.push_back(c.first);
        return codes;
    }
    std::vector<std::string> takeovers() const {
        std::lock_guard lock(mutex_);
        return takeovers_;
    }
    std::vector<std::string> delivered() const {
        std::lock_guard lock(mutex_);
        return delivered_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<std::uint16_t, std::string>> closes_;
    std::vector<std::string> takeovers_;
    std::vector<std::string> delivered_;
};

} // namespace kindred::server::testing
