// lexicon.hpp — the crisis lexicon (data, see moderation/lexicon/SPEC.md) compiled into a token
// trie; assess() is a pure function of (lexicon, language, text). A compiled lexicon is
// immutable: share one instance between threads freely.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kindred::moderation {

enum class level { none, low, medium, high, imminent };
enum class category { none, suicide_risk, self_harm, harm_to_others, abuse, medical, other };

std::string_view to_string(level l);
std::string_view to_string(category c);
std::optional<level> parse_level(std::string_view s);       // "none" is accepted
std::optional<category> parse_category(std::string_view s); // "none" is accepted

// The result of one assessment. Never contains the text, only rule ids.
struct assessment {
    level risk = level::none;
    category kind = category::none;    // category of the winning match; none when risk is none
    std::vector<std::string> rule_ids; // every rule that matched (negated or not), file order
    std::string language;              // the language whose rules produced `risk`
};

// SPEC.md §2: UTF-8 text → normalised tokens. Never throws; invalid UTF-8 bytes separate tokens.
std::vector<std::string> normalise(std::string_view text);

class lexicon {
public:
    // Parses and compiles lexicon.json. On failure returns nullopt and sets *error (if given).
    static std::optional<lexicon> parse(std::string_view json, std::string* error = nullptr);
    static std::optional<lexicon> load_file(const std::string& path, std::string* error = nullptr);

    lexicon(lexicon&&) noexcept;
    lexicon& operator=(lexicon&&) noexcept;
    ~lexicon();

    const std::string& version() const;
    std::vector<std::string> languages() const;
    bool has_language(std::string_view language) const;

    // Rules of one language; an unknown language gives level none.
    assessment assess(std::string_view language, std::string_view text) const;
    // Every language; the highest level wins, ties go to the language listed first in the file.
    assessment assess_all(std::string_view text) const;

private:
    struct impl;
    explicit lexicon(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

} // namespace kindred::moderation
