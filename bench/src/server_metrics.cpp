// server_metrics.cpp — see server_metrics.hpp.
#include "server_metrics.hpp"

#include "measure.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace kindred::bench {

namespace {

bool wait_for(int fd, short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, 2000) == 1;
}

std::optional<double> number(std::string_view s) {
    if (s == "+Inf") return std::numeric_limits<double>::infinity();
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// `key="value"` inside a label set.
std::optional<std::string> label_value(std::string_view labels, std::string_view key) {
    const std::string needle = std::string(key) + "=\"";
    auto at = labels.find(needle);
    if (at == std::string_view::npos) return std::nullopt;
    at += needle.size();
    auto end = labels.find('"', at);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(labels.substr(at, end - at));
}

} // namespace

std::optional<std::string> http_get_body(const sockaddr* server, socklen_t size,
                                         std::string_view host_header, std::string_view path) {
    const int fd = ::socket(server->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    if (::connect(fd, server, size) != 0) {
        ::close(fd);
        return std::nullopt;
    }
    const std::string request = "GET " + std::string(path) +
                                " HTTP/1.0\r\nHost: " + std::string(host_header) +
                                "\r\nConnection: close\r\n\r\n";
    std::string answer;
    bool ok = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(request.size());
    char buf[16384];
    while (ok && wait_for(fd, POLLIN)) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        answer.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (!ok || answer.rfind("HTTP/1.", 0) != 0 || answer.find(" 200 ") == std::string::npos)
        return std::nullopt;
    auto body = answer.find("\r\n\r\n");
    if (body == std::string::npos) return std::nullopt;
    return answer.substr(body + 4);
}

std::map<std::string, bucketed_histogram>
parse_histograms(std::string_view text, std::string_view family, std::string_view label) {
    std::map<std::string, bucketed_histogram> out;
    const std::string bucket = std::string(family) + "_bucket{";
    const std::string count = std::string(family) + "_count{";
    const std::string sum = std::string(family) + "_sum{";
    while (!text.empty()) {
        auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        const std::string* kind = nullptr;
        for (const auto* k : {&bucket, &count, &sum})
            if (line.rfind(*k, 0) == 0) kind = k;
        if (!kind) continue;
        auto close = line.find("} ");
        if (close == std::string_view::npos) continue;
        auto labels = line.substr(kind->size(), close - kind->size());
        auto value = number(line.substr(close + 2));
        auto name = label_value(labels, label);
        if (!value || !name) continue;
        auto& h = out[*name];
        if (kind == &bucket) {
            auto le = label_value(labels, "le");
            auto bound = le ? number(*le) : std::nullopt;
            if (!bound) continue;
            h.cumulative.emplace_back(*bound, static_cast<std::uint64_t>(*value));
        } else if (kind == &count) {
            h.count = static_cast<std::uint64_t>(*value);
        } else {
            h.sum_seconds = *value;
        }
    }
    for (auto& [name, h] : out)
        std::sort(h.cumulative.begin(), h.cumulative.end());
    return out;
}

double bucket_quantile(const bucketed_histogram& h, double q) {
    if (h.count == 0) return 0;
    const double need = q * static_cast<double>(h.count);
    for (const auto& [bound, n] : h.cumulative)
        if (static_cast<double>(n) >= need) return bound;
    return std::numeric_limits<double>::infinity();
}

boost::json::object histograms_json(const std::map<std::string, bucketed_histogram>& hs) {
    boost::json::object o;
    for (const auto& [name, h] : hs) {
        boost::json::object e;
        e["count"] = h.count;
        e["mean_ms"] = h.count ? rounded(h.sum_seconds * 1000 / static_cast<double>(h.count)) : 0.0;
        // JSON has no infinity: null means "only the +Inf bucket".
        for (auto [key, q] :
             {std::pair{"p50_at_most_ms", 0.5}, std::pair{"p99_at_most_ms", 0.99}}) {
            const double b = bucket_quantile(h, q);
            if (std::isinf(b))
                e[key] = nullptr;
            else
                e[key] = rounded(b * 1000);
        }
        o[name] = std::move(e);
    }
    return o;
}

std::vector<std::string> describe_histograms(const std::map<std::string, bucketed_histogram>& hs,
                                             const std::vector<std::string>& order) {
    std::vector<std::string> names = order;
    for (const auto& [name, h] : hs)
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    std::vector<std::string> lines;
    for (const auto& name : names) {
        auto it = hs.find(name);
        if (it == hs.end() || it->second.count == 0) continue;
        const auto& h = it->second;
        auto ms = [](double s) {
            char b[32];
            if (std::isinf(s))
                std::snprintf(b, sizeof b, "  > last");
            else
                std::snprintf(b, sizeof b, "%8.1f", s * 1000);
            return std::string(b);
        };
        char line[160];
        std::snprintf(line, sizeof line, "  %-10s n %7llu  mean %7.2f ms  p50 <=%s ms  p99 <=%s ms",
                      name.c_str(), static_cast<unsigned long long>(h.count),
                      h.sum_seconds * 1000 / static_cast<double>(h.count),
                      ms(bucket_quantile(h, 0.5)).c_str(), ms(bucket_quantile(h, 0.99)).c_str());
        lines.emplace_back(line);
    }
    return lines;
}

} // namespace kindred::bench
