// lexicon_parse_fuzz.cpp — libFuzzer target for the lexicon file parser and trie compiler:
// arbitrary bytes as lexicon.json must parse or be refused with a reason, never crash; what
// parses must assess a few fixed texts (short, so a hostile file's gap chains stay bounded).
#include <kindred/moderation/lexicon.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace kindred::moderation;

void check(bool ok) {
    if (!ok) std::abort(); // libFuzzer reports the input
}

constexpr std::string_view texts[] = {
    "i want to kill myself tonight",
    "not going to hurt myself, don't worry",
    "K1LL   mys3lf!!! ça ne va pas",
    "no quiero vivir mas",
    "",
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view json(reinterpret_cast<const char*>(data), size);
    std::string error;
    auto lex = lexicon::parse(json, &error);
    if (!lex) {
        check(!error.empty());
        return 0;
    }
    check(!lex->version().empty());
    check(!lex->languages().empty());
    for (auto text : texts) {
        const auto a = lex->assess_all(text);
        check((a.risk == level::none) == (a.kind == category::none));
        for (const auto& language : lex->languages())
            check(lex->assess(language, text).risk <= a.risk);
    }
    return 0;
}
