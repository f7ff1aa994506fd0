// static_files.hpp — maps a request target to a file under web_root, or to "not found".
// Pure apart from reading file metadata: percent-decoding, traversal rejection ("..", encoded
// "/" or ".", NUL, backslash, dot-files) and canonicalisation, so a symlink that resolves
// outside web_root is never served.
// Threading: free functions, safe from any thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace kindred::server {

struct static_file {
    std::filesystem::path path;    // canonical, inside web_root
    std::string_view content_type; // static storage
};

// Percent-decodes a path (no '+' handling: that is for query strings). nullopt on a bad
// escape. Encoded '/' stays rejected by the caller through decoded_slash.
std::optional<std::string> percent_decode(std::string_view s, bool& decoded_slash);

// web_root must be canonical (see canonical_web_root). target is the raw request target.
// "/" and any path ending in "/" mean that folder's index.html.
std::optional<static_file> resolve_static(const std::filesystem::path& web_root,
                                          std::string_view target);

// The canonical form of the configured folder, or nullopt when it is not a directory.
std::optional<std::filesystem::path> canonical_web_root(const std::filesystem::path& configured);

// Content-Type by extension; application/octet-stream when unknown.
std::string_view content_type_for(const std::filesystem::path& p);

} // namespace kindred::server
