// lexicon_match_fuzz.cpp — libFuzzer target for the crisis lexicon's matcher: any text (a
// seeker's intake, a chat line assessed in the browser by the same rules) must normalise and be
// assessed against the shipped lexicon without a crash, sanitizer report or blow-up, and the
// results must keep the invariants SPEC.md states.
#include <kindred/moderation/lexicon.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace kindred::moderation;

void check(bool ok) {
    if (!ok) std::abort(); // libFuzzer reports the input
}

const lexicon& shipped() {
    static const lexicon lex = [] {
        std::string error;
        auto l = lexicon::load_file(KINDRED_LEXICON_FILE, &error);
        if (!l) {
            std::fprintf(stderr, "lexicon: %s\n", error.c_str());
            std::abort();
        }
        return std::move(*l);
    }();
    return lex;
}

bool token_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '@' || c == '$';
}

void check_assessment(const assessment& a) {
    // No risk ⇔ no category; a risk always names the rule(s) behind it. Never the text itself.
    check((a.risk == level::none) == (a.kind == category::none));
    if (a.risk != level::none) check(!a.rule_ids.empty());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    // SPEC §2: tokens are non-empty, made only of [a-z0-9@$], and normalisation is idempotent
    // on its own output (the browser re-normalises what it already normalised, e.g. cues).
    const auto tokens = normalise(text);
    std::string joined;
    for (const auto& t : tokens) {
        check(!t.empty());
        for (char c : t)
            check(token_char(c));
        if (!joined.empty()) joined.push_back(' ');
        joined += t;
    }
    check(normalise(joined) == tokens);

    const lexicon& lex = shipped();
    const assessment all = lex.assess_all(text);
    check_assessment(all);
    check(all.language.empty() || lex.has_language(all.language));
    // assess_all is the highest level over the languages; each one alone is at most that.
    for (const auto& language : lex.languages()) {
        const assessment one = lex.assess(language, text);
        check_assessment(one);
        check(one.risk <= all.risk);
        if (language == all.language) check(one.risk == all.risk && one.kind == all.kind);
    }
    // A language the file does not have is level none, not an error.
    check(lex.assess("zz-unknown", text).risk == level::none);
    return 0;
}
