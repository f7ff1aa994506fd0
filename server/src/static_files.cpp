// static_files.cpp — see static_files.hpp. Every refusal is "not found": a client learns
// nothing about what exists outside web_root.
#include <kindred/server/static_files.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace kindred::server {

namespace fs = std::filesystem;

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool inside(const fs::path& root, const fs::path& p) {
    auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
    return r == root.end();
}

} // namespace

std::optional<std::string> percent_decode(std::string_view s, bool& decoded_slash) {
    std::string out;
    out.reserve(s.size());
    decoded_slash = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        int hi = hex_value(s[i + 1]);
        int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        char c = static_cast<char>(hi * 16 + lo);
        if (c == '/' || c == '\\') decoded_slash = true;
        out += c;
        i += 2;
    }
    return out;
}

std::optional<fs::path> canonical_web_root(const fs::path& configured) {
    std::error_code ec;
    auto p = fs::canonical(configured, ec);
    if (ec || !fs::is_directory(p, ec)) return std::nullopt;
    return p;
}

std::optional<static_file> resolve_static(const fs::path& web_root, std::string_view target) {
    // The query and fragment are not part of the path.
    target = target.substr(0, target.find_first_of("?#"));
    if (target.empty() || target.front() != '/' || web_root.empty()) return std::nullopt;
    bool decoded_slash = false;
    auto decoded = percent_decode(target, decoded_slash);
    if (!decoded || decoded_slash) return std::nullopt;
    if (decoded->find('\0') != std::string::npos || decoded->find('\\') != std::string::npos)
        return std::nullopt;

    fs::path rel;
    std::string_view rest(*decoded);
    bool wants_index = rest.back() == '/';
    while (!rest.empty()) {
        auto slash = rest.find('/');
        auto seg = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (seg.empty()) continue;
        // "..", "." and dot-files (.git, .env) are never served.
        if (seg.front() == '.') return std::nullopt;
        rel /= fs::path(std::string(seg));
    }
    if (wants_index || rel.empty()) rel /= "index.html";

    std::error_code ec;
    fs::path candidate = web_root / rel;
    if (fs::is_directory(candidate, ec)) candidate /= "index.html";
    auto real = fs::canonical(candidate, ec);
    if (ec || !inside(web_root, real) || !fs::is_regular_file(real, ec) || ec) return std::nullopt;
    return static_file{real, content_type_for(real)};
}

std::string_view content_type_for(const fs::path& p) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 20> types{{
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".txt", "text/plain; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".wasm", "application/wasm"},
        {".xml", "application/xml"},
    }};
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& [e, t] : types)
        if (e == ext) return t;
    return "application/octet-stream";
}

} // namespace kindred::server
