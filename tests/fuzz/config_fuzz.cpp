// config_fuzz.cpp — libFuzzer target for the configuration loader. The input is the config
// file's text (JSON with comments: limits, timing, languages, tags, crisis resources); an input
// that starts with a "#!args" line instead carries command-line arguments and KINDRED_*
// variables, one a line, up to a "#!file" line, and the file after it. Whatever the bytes, the
// loader must answer run, help or one error message — never crash, throw or hang.
#include <kindred/server/config.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace kindred::server;

void check(bool ok) {
    if (!ok) std::abort(); // libFuzzer reports the input
}

constexpr std::string_view args_marker = "#!args\n";
constexpr std::string_view file_marker = "#!file\n";
constexpr std::string_view file_name = "fuzz.json";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> args;
    env_map env;
    std::string_view file = input;
    bool config_given = false;
    if (input.substr(0, args_marker.size()) == args_marker) {
        std::string_view head = input.substr(args_marker.size());
        const auto end = head.find(file_marker);
        file = end == std::string_view::npos ? std::string_view{}
                                             : head.substr(end + file_marker.size());
        head = head.substr(0, end);
        while (!head.empty()) {
            const auto nl = head.find('\n');
            const std::string_view line = head.substr(0, nl);
            head = nl == std::string_view::npos ? std::string_view{} : head.substr(nl + 1);
            const auto eq = line.find('=');
            if (line.substr(0, 8) == "KINDRED_" && eq != std::string_view::npos)
                env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
            else
                args.emplace_back(line);
        }
        const auto it = env.find("KINDRED_CONFIG");
        config_given = it != env.end() && !it->second.empty(); // empty: no file (config.cpp)
    }
    if (!config_given) {
        args.insert(args.begin(), std::string(file_name));
        args.insert(args.begin(), "--config");
    }
    const std::string contents(file);
    // Every path names the same text: the loader only reads through this.
    const file_reader reader = [&](const std::string&) -> std::optional<std::string> {
        return contents;
    };
    const load_result r = load_config(args, env, reader);
    switch (r.what) {
    case load_result::action::run:
        // The listen address was validated, so it has a port; the file given was read.
        check(r.cfg.listen.find(':') != std::string::npos);
        if (!config_given) check(r.cfg.config_file == file_name);
        break;
    case load_result::action::help:
        check(!r.text.empty());
        break;
    case load_result::action::fail:
        check(!r.text.empty());
        break;
    }
    return 0;
}
