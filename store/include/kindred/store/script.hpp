// script.hpp — a Lua script with its SHA1, computed locally once, so that client::eval() can
// call it by EVALSHA and send the source only when Redis does not know it (NOSCRIPT).
// Immutable after construction; copies share one buffer; safe to share between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace kindred::store {

class script {
public:
    explicit script(std::string source);

    const std::string& source() const noexcept { return data_->source; }
    // Lower-case hex SHA1 of the source: the name Redis gives the script in EVALSHA.
    const std::string& sha1() const noexcept { return data_->sha1; }

private:
    struct data {
        std::string source;
        std::string sha1;
    };
    std::shared_ptr<const data> data_;
};

// Lower-case hex SHA1 of arbitrary bytes (exposed for tests).
std::string sha1_hex(std::string_view bytes);

} // namespace kindred::store
