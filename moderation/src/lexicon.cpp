// lexicon.cpp — normalisation (SPEC.md §2), lexicon parsing and the token-trie matcher (§3–§4).
// Everything here is pure; a compiled lexicon is read-only after parse().
#include <kindred/moderation/lexicon.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>

namespace kindred::moderation {

namespace json = boost::json;

std::string_view to_string(level l) {
    switch (l) {
    case level::none:
        return "none";
    case level::low:
        return "low";
    case level::medium:
        return "medium";
    case level::high:
        return "high";
    case level::imminent:
        return "imminent";
    }
    return "none";
}

std::string_view to_string(category c) {
    switch (c) {
    case category::none:
        return "none";
    case category::suicide_risk:
        return "suicide_risk";
    case category::self_harm:
        return "self_harm";
    case category::harm_to_others:
        return "harm_to_others";
    case category::abuse:
        return "abuse";
    case category::medical:
        return "medical";
    case category::other:
        return "other";
    }
    return "none";
}

std::optional<level> parse_level(std::string_view s) {
    for (auto l : {level::none, level::low, level::medium, level::high, level::imminent})
        if (to_string(l) == s) return l;
    return std::nullopt;
}

std::optional<category> parse_category(std::string_view s) {
    for (auto c : {category::none, category::suicide_risk, category::self_harm,
                   category::harm_to_others, category::abuse, category::medical, category::other})
        if (to_string(c) == s) return c;
    return std::nullopt;
}

namespace {

constexpr char32_t bad = 0xFFFD;

// Decodes one UTF-8 sequence at s[i]; advances i. Malformed input yields U+FFFD for one byte,
// which normalisation treats as a separator (SPEC §2.1).
char32_t next_code_point(std::string_view s, std::size_t& i) {
    auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    int len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
        ++i;
        return bad;
    }
    if (i + static_cast<std::size_t>(len) > s.size()) {
        ++i;
        return bad;
    }
    for (int k = 1; k < len; ++k) {
        auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
        if ((b & 0xC0) != 0x80) {
            ++i;
            return bad;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        ++i;
        return bad;
    }
    i += static_cast<std::size_t>(len);
    return cp;
}

// SPEC §2.2: the fixed folding table for U+00C0..U+00FF ("" = separator).
const char* latin1_fold(char32_t cp) {
    static constexpr std::array<const char*, 64> table = {
        "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",  // C0-CF
        "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "",  "ss", // D0-DF
        "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",  // E0-EF
        "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "",  "y",  // F0-FF
    };
    return table[cp - 0xC0];
}

bool is_apostrophe(char32_t cp) {
    return cp == 0x27 || cp == 0x60 || cp == 0xB4 || cp == 0x2018 || cp == 0x2019 || cp == 0x02BC;
}

bool is_letter(char c) {
    return c >= 'a' && c <= 'z';
}

char leet(char c) {
    switch (c) {
    case '0':
        return 'o';
    case '1':
        return 'i';
    case '3':
        return 'e';
    case '4':
        return 'a';
    case '5':
        return 's';
    case '7':
        return 't';
    case '@':
        return 'a';
    case '$':
        return 's';
    default:
        return c;
    }
}

// SPEC §2.3–2.5 on one raw token.
std::string finish_token(const std::string& raw) {
    bool has_letter = std::any_of(raw.begin(), raw.end(), is_letter);
    std::string out;
    out.reserve(raw.size());
    for (char c : raw) {
        char m = has_letter ? leet(c) : c;
        if (is_letter(m) && !out.empty() && out.back() == m) continue; // squeeze letter runs
        out.push_back(m);
    }
    return out;
}

} // namespace

std::vector<std::string> normalise(std::string_view text) {
    std::vector<std::string> tokens;
    std::string raw;
    auto flush = [&] {
        if (!raw.empty()) tokens.push_back(finish_token(raw));
        raw.clear();
    };
    std::size_t i = 0;
    while (i < text.size()) {
        char32_t cp = next_code_point(text, i);
        if (cp >= 'A' && cp <= 'Z') {
            raw.push_back(static_cast<char>(cp - 'A' + 'a'));
        } else if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '@' || cp == '$') {
            raw.push_back(static_cast<char>(cp));
        } else if (is_apostrophe(cp) || (cp >= 0x300 && cp <= 0x36F)) {
            // Deleted without separating: "don't" → "dont"; NFD combining marks vanish.
        } else if (cp >= 0xC0 && cp <= 0xFF) {
            const char* f = latin1_fold(cp);
            if (*f == '\0')
                flush();
            else
                raw += f;
        } else {
            flush();
        }
    }
    flush();
    return tokens;
}

namespace {

constexpr int gap_max = 3; // SPEC §3: a "*" token stands for 0..3 arbitrary tokens

struct node {
    std::map<std::string, int, std::less<>> exact;
    std::vector<std::pair<std::string, int>> prefix; // "word*" children
    int gap = -1;                                    // "*" child
    std::vector<int> terminals;                      // rule indexes (or -1 for benign)
};

struct trie {
    std::vector<node> nodes{1};

    int child(int from, const std::string& piece, int kind) { // kind 0 exact, 1 prefix, 2 gap
        node& n = nodes[static_cast<std::size_t>(from)];
        int found = -1;
        if (kind == 0) {
            auto it = n.exact.find(piece);
            if (it != n.exact.end()) found = it->second;
        } else if (kind == 1) {
            for (auto& [p, idx] : n.prefix)
                if (p == piece) found = idx;
        } else {
            found = n.gap;
        }
        if (found >= 0) return found;
        int idx = static_cast<int>(nodes.size());
        nodes.emplace_back();
        node& m = nodes[static_cast<std::size_t>(from)];
        if (kind == 0)
            m.exact.emplace(piece, idx);
        else if (kind == 1)
            m.prefix.emplace_back(piece, idx);
        else
            m.gap = idx;
        return idx;
    }
};

struct rule {
    std::string id;
    category kind;
    level risk;
};

struct match {
    int rule;
    std::size_t begin, end; // token span [begin, end)
};

// SPEC §3: walks the trie from node `at` with the next text token at `pos`.
void walk(const trie& t, const std::vector<std::string>& tokens, int at, std::size_t begin,
          std::size_t pos, std::vector<match>& out) {
    const node& n = t.nodes[static_cast<std::size_t>(at)];
    for (int r : n.terminals)
        out.push_back({r, begin, pos});
    if (n.gap >= 0) {
        for (int k = 0; k <= gap_max && pos + static_cast<std::size_t>(k) <= tokens.size(); ++k)
            walk(t, tokens, n.gap, begin, pos + static_cast<std::size_t>(k), out);
    }
    if (pos >= tokens.size()) return;
    const std::string& tok = tokens[pos];
    if (auto it = n.exact.find(tok); it != n.exact.end())
        walk(t, tokens, it->second, begin, pos + 1, out);
    for (auto& [p, idx] : n.prefix)
        if (tok.size() >= p.size() && tok.compare(0, p.size(), p) == 0)
            walk(t, tokens, idx, begin, pos + 1, out);
}

struct language_rules {
    std::string code;
    std::vector<rule> rules;
    trie rules_trie;
    trie benign_trie;
    std::vector<std::string> cues; // sorted
    int window = 0;
};

// SPEC §1: compiles one phrase into the trie; false (with *error) if it is malformed.
bool add_phrase(trie& t, std::string_view phrase, int terminal, std::string& error) {
    std::vector<std::pair<std::string, int>> pieces; // (text, kind)
    std::size_t i = 0;
    while (i <= phrase.size()) {
        std::size_t j = phrase.find(' ', i);
        if (j == std::string_view::npos) j = phrase.size();
        std::string_view word = phrase.substr(i, j - i);
        i = j + 1;
        if (word.empty()) continue;
        if (word == "*") {
            if (pieces.empty() || pieces.back().second == 2) {
                error = "gap at start or doubled";
                return false;
            }
            pieces.emplace_back("", 2);
        } else if (word.back() == '*') {
            auto toks = normalise(word.substr(0, word.size() - 1));
            if (toks.size() != 1) {
                error = "prefix must normalise to one token";
                return false;
            }
            pieces.emplace_back(toks[0], 1);
        } else {
            for (auto& tok : normalise(word))
                pieces.emplace_back(tok, 0);
        }
    }
    if (pieces.empty() || pieces.back().second == 2) {
        error = "empty phrase or gap at end";
        return false;
    }
    int at = 0;
    for (auto& [text, kind] : pieces)
        at = t.child(at, text, kind);
    t.nodes[static_cast<std::size_t>(at)].terminals.push_back(terminal);
    return true;
}

std::vector<match> find_all(const trie& t, const std::vector<std::string>& tokens) {
    std::vector<match> out;
    for (std::size_t b = 0; b < tokens.size(); ++b)
        walk(t, tokens, 0, b, b, out);
    return out;
}

assessment assess_one(const language_rules& lang, std::string_view text) {
    assessment a;
    auto tokens = normalise(text);
    // SPEC §4.2: tokens covered by a benign phrase cannot be part of a rule match.
    std::vector<bool> masked(tokens.size(), false);
    for (auto& m : find_all(lang.benign_trie, tokens))
        for (auto k = m.begin; k < m.end; ++k)
            masked[k] = true;

    std::vector<match> found;
    for (auto& m : find_all(lang.rules_trie, tokens))
        if (std::none_of(masked.begin() + static_cast<std::ptrdiff_t>(m.begin),
                         masked.begin() + static_cast<std::ptrdiff_t>(m.end),
                         [](bool b) { return b; }))
            found.push_back(m);
    // SPEC §4.3: a cue among the `window` tokens before a match negates it, and a match lying
    // inside a negated match is negated too ("not going to kill myself" covers "kill myself").
    std::vector<bool> negated(found.size(), false);
    for (std::size_t i = 0; i < found.size(); ++i) {
        auto b = found[i].begin;
        auto w = static_cast<std::size_t>(lang.window);
        // A phrase that opens with a cue carries its own negation ("no quiero vivir"); a cue
        // before it is emphasis ("no, no quiero vivir"), not a reversal.
        if (std::binary_search(lang.cues.begin(), lang.cues.end(), tokens[b])) continue;
        for (auto k = b >= w ? b - w : 0; k < b && !negated[i]; ++k)
            negated[i] = std::binary_search(lang.cues.begin(), lang.cues.end(), tokens[k]);
    }
    // reach[b] = furthest end of a directly negated match beginning at or before b; linear, so
    // a hostile text full of repeated phrases cannot make this quadratic.
    std::vector<std::size_t> reach(tokens.size() + 1, 0);
    for (std::size_t i = 0; i < found.size(); ++i)
        if (negated[i]) reach[found[i].begin] = std::max(reach[found[i].begin], found[i].end);
    for (std::size_t k = 1; k < reach.size(); ++k)
        reach[k] = std::max(reach[k], reach[k - 1]);
    std::vector<bool> inherited(found.size(), false);
    for (std::size_t i = 0; i < found.size(); ++i)
        inherited[i] = reach[found[i].begin] >= found[i].end;

    std::vector<bool> hit(lang.rules.size(), false);
    int best = -1;
    level best_level = level::none;
    std::size_t best_len = 0;
    for (std::size_t i = 0; i < found.size(); ++i) {
        const match& m = found[i];
        const rule& r = lang.rules[static_cast<std::size_t>(m.rule)];
        // A negated match still counts, lowered to low: the topic came up (SPEC §4.4).
        level eff = inherited[i] ? std::min(r.risk, level::low) : r.risk;
        hit[static_cast<std::size_t>(m.rule)] = true;
        // SPEC §4.5: highest level, then the longest match (more context), then file order.
        std::size_t len = m.end - m.begin;
        if (eff > best_level ||
            (eff == best_level && (len > best_len || (len == best_len && m.rule < best)))) {
            best_level = eff;
            best = m.rule;
            best_len = len;
        }
    }
    for (std::size_t k = 0; k < hit.size(); ++k)
        if (hit[k]) a.rule_ids.push_back(lang.rules[k].id);
    if (best >= 0 && best_level != level::none) {
        a.risk = best_level;
        a.kind = lang.rules[static_cast<std::size_t>(best)].kind;
    }
    a.language = lang.code;
    return a;
}

const json::array* get_array(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_array() ? &it->value().get_array() : nullptr;
}

const json::string* get_string(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_string() ? &it->value().get_string() : nullptr;
}

} // namespace

struct lexicon::impl {
    std::string version;
    std::vector<language_rules> languages;
};

lexicon::lexicon(std::unique_ptr<impl> p)
    : impl_(std::move(p)) {}
lexicon::lexicon(lexicon&&) noexcept = default;
lexicon& lexicon::operator=(lexicon&&) noexcept = default;
lexicon::~lexicon() = default;

std::optional<lexicon> lexicon::parse(std::string_view text, std::string* error) {
    auto fail = [&](std::string why) -> std::optional<lexicon> {
        if (error) *error = std::move(why);
        return std::nullopt;
    };
    boost::system::error_code ec;
    json::value doc = json::parse(text, ec);
    if (ec || !doc.is_object()) return fail("not a JSON object");
    const auto& root = doc.get_object();
    // SPEC §1: a format this reader does not know is refused, never half-understood.
    if (auto f = root.find("format");
        f != root.end() && !(f->value().is_int64() && f->value().get_int64() == 1))
        return fail("unknown format");
    auto p = std::make_unique<impl>();
    auto* version = get_string(root, "version");
    if (!version || version->empty()) return fail("missing version");
    p->version = std::string(*version);
    auto* langs = get_array(root, "languages");
    if (!langs || langs->empty()) return fail("missing languages");
    for (const auto& lv : *langs) {
        if (!lv.is_object()) return fail("language is not an object");
        const auto& lo = lv.get_object();
        language_rules lang;
        auto* code = get_string(lo, "code");
        if (!code || code->empty()) return fail("language without code");
        lang.code = std::string(*code);
        std::string why;
        if (auto it = lo.find("negation"); it != lo.end()) {
            if (!it->value().is_object()) return fail(lang.code + ": negation not an object");
            const auto& neg = it->value().get_object();
            auto* cues = get_array(neg, "cues");
            auto w = neg.find("window");
            if (!cues || w == neg.end() || !w->value().is_int64() || w->value().get_int64() < 0 ||
                w->value().get_int64() > 10)
                return fail(lang.code + ": negation needs cues and window 0..10");
            lang.window = static_cast<int>(w->value().get_int64());
            for (const auto& c : *cues) {
                if (!c.is_string()) return fail(lang.code + ": cue not a string");
                auto toks = normalise(c.get_string());
                if (toks.size() != 1) return fail(lang.code + ": cue must be one token");
                lang.cues.push_back(toks[0]);
            }
            std::sort(lang.cues.begin(), lang.cues.end());
        }
        if (auto* benign = get_array(lo, "benign")) {
            for (const auto& b : *benign)
                if (!b.is_string() || !add_phrase(lang.benign_trie, b.get_string(), -1, why))
                    return fail(lang.code + ": bad benign phrase: " + why);
        }
        auto* rules = get_array(lo, "rules");
        if (!rules) return fail(lang.code + ": missing rules");
        for (const auto& rv : *rules) {
            if (!rv.is_object()) return fail(lang.code + ": rule not an object");
            const auto& ro = rv.get_object();
            auto* id = get_string(ro, "id");
            auto* cat = get_string(ro, "category");
            auto* lvl = get_string(ro, "level");
            auto* phrases = get_array(ro, "phrases");
            if (!id || !cat || !lvl || !phrases || phrases->empty())
                return fail(lang.code + ": rule needs id, category, level, phrases");
            auto c = parse_category(*cat);
            auto l = parse_level(*lvl);
            if (!c || *c == category::none || !l || *l == level::none)
                return fail(std::string(*id) + ": bad category or level");
            if (std::any_of(lang.rules.begin(), lang.rules.end(),
                            [&](const rule& r) { return r.id == *id; }))
                return fail(std::string(*id) + ": duplicate rule id");
            int index = static_cast<int>(lang.rules.size());
            lang.rules.push_back({std::string(*id), *c, *l});
            for (const auto& ph : *phrases)
                if (!ph.is_string() || !add_phrase(lang.rules_trie, ph.get_string(), index, why))
                    return fail(std::string(*id) + ": bad phrase: " + why);
        }
        p->languages.push_back(std::move(lang));
    }
    return lexicon(std::move(p));
}

std::optional<lexicon> lexicon::load_file(const std::string& path, std::string* error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (error) *error = "cannot open " + path;
        return std::nullopt;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    return parse(buf.str(), error);
}

const std::string& lexicon::version() const {
    return impl_->version;
}

std::vector<std::string> lexicon::languages() const {
    std::vector<std::string> out;
    for (auto& l : impl_->languages)
        out.push_back(l.code);
    return out;
}

bool lexicon::has_language(std::string_view language) const {
    return std::any_of(impl_->languages.begin(), impl_->languages.end(),
                       [&](const language_rules& l) { return l.code == language; });
}

assessment lexicon::assess(std::string_view language, std::string_view text) const {
    for (auto& l : impl_->languages)
        if (l.code == language) return assess_one(l, text);
    assessment none;
    none.language = std::string(language);
    return none;
}

assessment lexicon::assess_all(std::string_view text) const {
    assessment best;
    for (auto& l : impl_->languages) {
        auto a = assess_one(l, text);
        if (a.risk > best.risk || best.language.empty()) best = std::move(a);
    }
    return best;
}

} // namespace kindred::moderation
