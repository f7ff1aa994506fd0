// fields.hpp (private) — one field list per message, walked by a reader (JSON → struct, with
// validation) or a writer (struct → JSON). One list for both directions keeps the encoder and
// the decoder from drifting apart. Pure; safe from any thread.
#pragma once

#include <kindred/protocol/base64.hpp>
#include <kindred/protocol/messages.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace kindred::protocol::detail {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Field specs.
struct string_spec {
    std::size_t min_chars;
    std::size_t max_chars;
    bool (*shape)(std::string_view); // when set, it alone decides (it checks the length too)
};
inline constexpr string_spec id_spec{1, limits::max_id_chars, nullptr};
inline constexpr string_spec token_spec{1, limits::max_token_chars, nullptr};
inline constexpr string_spec intake_spec{0, limits::max_intake_chars, nullptr};
inline constexpr string_spec note_spec{0, limits::max_note_chars, nullptr};
inline constexpr string_spec alias_spec{1, limits::max_alias_chars, nullptr};
inline constexpr string_spec reason_spec{1, limits::max_reason_chars, &is_reason_id};
inline constexpr string_spec tag_spec{1, limits::max_tag_chars, &is_tag_id};
inline constexpr string_spec language_spec{2, limits::max_language_chars, &is_language_tag};

struct int_range {
    std::int64_t min;
    std::int64_t max;
};
inline constexpr int_range position_range{1, limits::max_safe_integer}; // seq, offset
inline constexpr int_range counter_range{0, limits::max_safe_integer};  // after, waits, times
inline constexpr int_range capacity_range{limits::min_capacity, limits::max_capacity};
inline constexpr int_range duration_range{1, limits::max_ban_s};
inline constexpr int_range timestamp_range{0, limits::max_safe_integer}; // Unix ms
inline constexpr int_range helped_range{1, 5};                           // feedback.helped

struct count_spec {
    std::size_t min;
    std::size_t max;
};
inline constexpr count_spec seeker_tags_count{1, limits::max_seeker_tags};
inline constexpr count_spec shift_tags_count{1, limits::max_shift_tags};
inline constexpr count_spec event_tags_count{0, limits::max_shift_tags};
inline constexpr count_spec wont_take_count{0, limits::max_wont_take};
inline constexpr count_spec languages_count{1, limits::max_languages};
inline constexpr count_spec prekeys_count{1, limits::max_prekeys};
inline constexpr count_spec copies_count{1, limits::max_copies};
inline constexpr count_spec excerpts_count{0, limits::max_excerpts};
inline constexpr count_spec consult_copies_count{1, limits::max_consult_copies};
inline constexpr count_spec any_count{0, 10'000}; // lists the server builds (ok bodies)

struct bytes_spec {
    std::size_t min_bytes;
    std::size_t max_chars;
};
inline constexpr bytes_spec ciphertext_spec{limits::aead_tag_bytes,
                                            limits::max_binary_base64_chars};
inline constexpr bytes_spec sealed_spec{limits::sealed_box_overhead_bytes,
                                        limits::max_binary_base64_chars};

// ---------------------------------------------------------------------------------------------
// The reader: validates and fills. Stops at the first error; `error` then holds
// "<path>: <what>". Never echoes an input value.
class reader {
public:
    static constexpr bool writes = false;

    reader(const json::object& in, std::string& error)
        : in_(in)
        , error_(error) {}

    bool failed() const { return !error_.empty(); }

    void fail(std::string_view key, std::string_view what) { fail_at(key, std::nullopt, what); }

    // `key[index]: what`, prefixed by the path of the enclosing objects.
    void fail_at(std::string_view key, std::optional<std::size_t> index, std::string_view what) {
        if (failed()) return;
        append_path(error_);
        append_key(error_, key, index);
        error_.append(": ").append(what);
    }

    void version(std::string_view key, int& out) {
        const json::value* v = required(key);
        if (!v) return;
        if (!v->is_int64() && !v->is_uint64()) return fail(key, "must be an integer");
        if (!v->is_int64() || v->get_int64() != limits::protocol_version) {
            return fail(key, "unsupported version; this server speaks version 1");
        }
        out = limits::protocol_version;
    }

    void text(std::string_view key, std::string& out, const string_spec& spec) {
        const json::value* v = required(key);
        if (v) read_text(key, *v, out, spec);
    }

    // Absent or null → nullopt.
    void optional_text(std::string_view key, std::optional<std::string>& out,
                       const string_spec& spec) {
        const json::value* v = optional(key);
        if (!v) return;
        std::string s;
        if (read_text(key, *v, s, spec)) out = std::move(s);
    }
    void nullable_text(std::string_view key, std::optional<std::string>& out,
                       const string_spec& spec) {
        optional_text(key, out, spec);
    }

    // Absent or null → nullopt (on the wire the server writes null: "not known").
    void nullable_integer(std::string_view key, std::optional<std::int64_t>& out,
                          const int_range& range) {
        const json::value* v = optional(key);
        if (!v) return;
        std::int64_t n = 0;
        if (read_integer(key, *v, n, range)) out = n;
    }

    // Absent or null → nullopt; the writer omits it when unset.
    void optional_integer(std::string_view key, std::optional<std::int64_t>& out,
                          const int_range& range) {
        nullable_integer(key, out, range);
    }

    // Absent or null → empty (count.min must be 0); the writer omits it when empty.
    void optional_text_list(std::string_view key, std::vector<std::string>& out,
                            const count_spec& count, const string_spec& spec) {
        text_list(key, out, count, spec);
    }

    void integer(std::string_view key, std::int64_t& out, const int_range& range) {
        const json::value* v = required(key);
        if (v) read_integer(key, *v, out, range);
    }

    bool read_integer(std::string_view key, const json::value& v, std::int64_t& out,
                      const int_range& range) {
        if (v.is_int64()) {
            const std::int64_t n = v.get_int64();
            if (n >= range.min && n <= range.max) {
                out = n;
                return true;
            }
        } else if (!v.is_uint64()) { // a uint64 here is above INT64_MAX: out of range
            fail(key, "must be an integer");
            return false;
        }
        fail(key, "must be " + std::to_string(range.min) + ".." + std::to_string(range.max));
        return false;
    }

    void boolean(std::string_view key, bool& out) {
        const json::value* v = required(key);
        if (!v) return;
        if (!v->is_bool()) return fail(key, "must be true or false");
        out = v->get_bool();
    }

    template <wire_enum E>
    void enumeration(std::string_view key, E& out) {
        const json::value* v = required(key);
        if (!v) return;
        std::optional<E> e;
        if (v->is_string()) e = from_string<E>(std::string_view(v->get_string()));
        if (!e) {
            std::string what = "must be one of ";
            for (std::size_t i = 0; i < enum_traits<E>::names.size(); ++i) {
                if (i > 0) what += ", ";
                what += enum_traits<E>::names[i];
            }
            return fail(key, what);
        }
        out = *e;
    }

    // Absent or null → nullopt.
    template <wire_enum E>
    void optional_enumeration(std::string_view key, std::optional<E>& out) {
        if (!optional(key)) return;
        E e{};
        enumeration(key, e);
        if (!failed()) out = e;
    }
    // Absent or null → nullopt (the writer writes null).
    template <wire_enum E>
    void nullable_enumeration(std::string_view key, std::optional<E>& out) {
        optional_enumeration(key, out);
    }

    template <std::size_t N>
    void fixed_bytes(std::string_view key, std::array<std::uint8_t, N>& out) {
        const json::value* v = required(key);
        if (!v) return;
        auto bad = [&] { fail(key, "must be " + std::to_string(N) + " bytes of base64"); };
        if (!v->is_string() || v->get_string().size() != base64_encoded_size(N)) return bad();
        // Straight into `out` (no temporary vector); `out` is left as is on failure.
        std::array<std::uint8_t, N> decoded;
        if (!base64_decode_exact(std::string_view(v->get_string()), decoded)) return bad();
        out = decoded;
    }

    // Absent or null → nullopt; the writer omits it when unset.
    template <std::size_t N>
    void optional_fixed_bytes(std::string_view key,
                              std::optional<std::array<std::uint8_t, N>>& out) {
        if (!optional(key)) return;
        std::array<std::uint8_t, N> a{};
        fixed_bytes(key, a);
        if (!failed()) out = a;
    }

    void var_bytes(std::string_view key, bytes& out, const bytes_spec& spec) {
        const json::value* v = required(key);
        if (!v) return;
        if (!v->is_string()) return fail(key, "must be a base64 string");
        const std::string_view s(v->get_string());
        if (s.size() > spec.max_chars) {
            return fail(key, "at most " + std::to_string(spec.max_chars) + " characters");
        }
        auto decoded = base64_decode(s);
        if (!decoded) return fail(key, "must be base64");
        if (decoded->size() < spec.min_bytes) {
            return fail(key, "must be at least " + std::to_string(spec.min_bytes) + " bytes");
        }
        out = std::move(*decoded);
    }

    // A list of short strings, each of `spec`, no duplicates.
    void text_list(std::string_view key, std::vector<std::string>& out, const count_spec& count,
                   const string_spec& spec) {
        const json::array* a = array(key, count);
        if (!a) return;
        out.clear();
        out.reserve(a->size());
        for (std::size_t i = 0; i < a->size() && !failed(); ++i) {
            std::string s;
            if (!read_text(key, i, (*a)[i], s, spec)) return;
            for (const auto& earlier : out) {
                if (earlier == s) return fail_at(key, i, "duplicate");
            }
            out.push_back(std::move(s));
        }
    }

    // A list of objects; absent or null is an empty list when count.min is 0.
    template <class T>
    void objects(std::string_view key, std::vector<T>& out, const count_spec& count) {
        const json::array* a = array(key, count);
        if (!a) return;
        out.clear();
        out.reserve(a->size());
        for (std::size_t i = 0; i < a->size() && !failed(); ++i) {
            const json::object* o = (*a)[i].if_object();
            if (!o) return fail_at(key, i, "must be an object");
            T item{};
            reader sub(*o, *this, key, i);
            fields(sub, item);
            if (!failed()) out.push_back(std::move(item));
        }
    }

    template <class T>
    void object(std::string_view key, T& out) {
        const json::value* v = required(key);
        if (!v) return;
        const json::object* o = v->if_object();
        if (!o) return fail(key, "must be an object");
        reader sub(*o, *this, key, std::nullopt);
        fields(sub, out);
    }

private:
    const json::value* required(std::string_view key) {
        if (failed()) return nullptr;
        const json::value* v = in_.if_contains(key);
        if (!v) fail(key, "required");
        return v;
    }

    const json::value* optional(std::string_view key) {
        if (failed()) return nullptr;
        const json::value* v = in_.if_contains(key);
        return v && !v->is_null() ? v : nullptr;
    }

    const json::array* array(std::string_view key, const count_spec& count) {
        const json::value* v = count.min == 0 ? optional(key) : required(key);
        if (!v) return nullptr;
        const json::array* a = v->if_array();
        if (!a) {
            fail(key, "must be an array");
            return nullptr;
        }
        if (a->size() < count.min || a->size() > count.max) {
            fail(key, "must have " + std::to_string(count.min) + ".." + std::to_string(count.max) +
                          " items");
            return nullptr;
        }
        return a;
    }

    // A reader for an object nested in `parent` at `key` (and `index` in that array).
    reader(const json::object& in, const reader& parent, std::string_view key,
           std::optional<std::size_t> index)
        : in_(in)
        , error_(parent.error_)
        , parent_(&parent)
        , key_in_parent_(key)
        , index_in_parent_(index) {}

    // Paths are built only when something failed: decoding a valid message allocates nothing
    // for them.
    void append_path(std::string& out) const {
        if (!parent_) return;
        parent_->append_path(out);
        append_key(out, key_in_parent_, index_in_parent_);
        out.push_back('.');
    }

    static void append_key(std::string& out, std::string_view key,
                           std::optional<std::size_t> index) {
        out.append(key);
        if (index) out.append("[").append(std::to_string(*index)).append("]");
    }

    bool read_text(std::string_view key, const json::value& v, std::string& out,
                   const string_spec& spec) {
        return read_text(key, std::nullopt, v, out, spec);
    }

    bool read_text(std::string_view key, std::optional<std::size_t> index, const json::value& v,
                   std::string& out, const string_spec& spec) {
        if (!v.is_string()) {
            fail_at(key, index, "must be a string");
            return false;
        }
        const std::string_view s(v.get_string());
        if (spec.shape) {
            if (!spec.shape(s)) {
                fail_at(key, index, "unknown format");
                return false;
            }
        } else {
            // Bytes bound code points from above: skip the count for short strings.
            const std::size_t chars = s.size() <= spec.max_chars ? 0 : count_code_points(s);
            if (chars > spec.max_chars) {
                fail_at(key, index, "at most " + std::to_string(spec.max_chars) + " characters");
                return false;
            }
            if (s.size() < spec.min_chars) {
                fail_at(key, index, "must not be empty");
                return false;
            }
        }
        out.assign(s);
        return true;
    }

    const json::object& in_;
    std::string& error_;
    const reader* parent_ = nullptr;
    std::string_view key_in_parent_;
    std::optional<std::size_t> index_in_parent_;
};

// ---------------------------------------------------------------------------------------------
// The writer: the same calls, producing JSON. Optional fields are omitted when empty; nullable
// ones are written as null.
class writer {
public:
    static constexpr bool writes = true;

    explicit writer(json::object& out)
        : out_(out) {}

    void version(std::string_view key, int v) { out_[key] = v; }
    void text(std::string_view key, const std::string& v, const string_spec&) { out_[key] = v; }
    void optional_text(std::string_view key, const std::optional<std::string>& v,
                       const string_spec&) {
        if (v) out_[key] = *v;
    }
    void nullable_text(std::string_view key, const std::optional<std::string>& v,
                       const string_spec&) {
        if (v) {
            out_[key] = *v;
        } else {
            out_[key] = nullptr;
        }
    }
    void integer(std::string_view key, std::int64_t v, const int_range&) { out_[key] = v; }
    void nullable_integer(std::string_view key, const std::optional<std::int64_t>& v,
                          const int_range&) {
        if (v) {
            out_[key] = *v;
        } else {
            out_[key] = nullptr;
        }
    }
    void optional_integer(std::string_view key, const std::optional<std::int64_t>& v,
                          const int_range&) {
        if (v) out_[key] = *v;
    }
    void boolean(std::string_view key, bool v) { out_[key] = v; }
    template <wire_enum E>
    void enumeration(std::string_view key, E v) {
        out_[key] = to_string(v);
    }
    template <wire_enum E>
    void optional_enumeration(std::string_view key, const std::optional<E>& v) {
        if (v) out_[key] = to_string(*v);
    }
    template <wire_enum E>
    void nullable_enumeration(std::string_view key, const std::optional<E>& v) {
        if (v) {
            out_[key] = to_string(*v);
        } else {
            out_[key] = nullptr;
        }
    }
    template <std::size_t N>
    void fixed_bytes(std::string_view key, const std::array<std::uint8_t, N>& v) {
        out_[key] = base64_encode(v);
    }
    template <std::size_t N>
    void optional_fixed_bytes(std::string_view key,
                              const std::optional<std::array<std::uint8_t, N>>& v) {
        if (v) out_[key] = base64_encode(*v);
    }
    void var_bytes(std::string_view key, const bytes& v, const bytes_spec&) {
        out_[key] = base64_encode(v);
    }
    void text_list(std::string_view key, const std::vector<std::string>& v, const count_spec&,
                   const string_spec&) {
        json::array a;
        a.reserve(v.size());
        for (const auto& s : v)
            a.emplace_back(s);
        out_[key] = std::move(a);
    }
    void optional_text_list(std::string_view key, const std::vector<std::string>& v,
                            const count_spec& count, const string_spec& spec) {
        if (!v.empty()) text_list(key, v, count, spec);
    }
    template <class T>
    void objects(std::string_view key, const std::vector<T>& v, const count_spec&) {
        json::array a;
        a.reserve(v.size());
        for (const auto& item : v) {
            json::object o;
            writer sub(o);
            fields(sub, item);
            a.emplace_back(std::move(o));
        }
        out_[key] = std::move(a);
    }
    template <class T>
    void object(std::string_view key, const T& v) {
        json::object o;
        writer sub(o);
        fields(sub, v);
        out_[key] = std::move(o);
    }

private:
    json::object& out_;
};

// `T&` for the reader, `const T&` for the writer.
template <class IO, class T>
using ref = std::conditional_t<IO::writes, const T&, T&>;

// ---------------------------------------------------------------------------------------------
// Field lists. Declared first so the nested ones (objects, object) find each other.
#define KINDRED_FIELDS(T)                                                                          \
    template <class IO>                                                                            \
    void fields([[maybe_unused]] IO& io, [[maybe_unused]] ref<IO, T> m)
KINDRED_FIELDS(signed_prekey);
KINDRED_FIELDS(message_copy);
KINDRED_FIELDS(excerpt);
KINDRED_FIELDS(conversation_summary);
KINDRED_FIELDS(moderator_key);
KINDRED_FIELDS(matched_peer);
KINDRED_FIELDS(matched_seeker);
KINDRED_FIELDS(joined_moderator);
KINDRED_FIELDS(escalation_info);
KINDRED_FIELDS(summary_period);

// Parts.
KINDRED_FIELDS(signed_prekey) {
    io.fixed_bytes("prekey", m.prekey);
    io.fixed_bytes("signature", m.signature);
}
KINDRED_FIELDS(message_copy) {
    io.enumeration("to", m.to);
    io.fixed_bytes("nonce", m.nonce);
    io.var_bytes("ciphertext", m.ciphertext, ciphertext_spec);
}
KINDRED_FIELDS(excerpt) {
    io.text("moderator_id", m.moderator_id, id_spec);
    io.var_bytes("sealed", m.sealed, sealed_spec);
}

// Client → server.
KINDRED_FIELDS(hello) {
    // Which of role / token / resume_token are required depends on the others: cross_check.
    io.version("v", m.v);
    io.optional_enumeration("role", m.role);
    io.optional_text("token", m.token, token_spec);
    io.optional_text("resume_token", m.resume_token, token_spec);
    io.optional_fixed_bytes("device", m.device);
}
KINDRED_FIELDS(ping) {}
KINDRED_FIELDS(request_match) {
    io.text_list("tags", m.tags, seeker_tags_count, tag_spec);
    io.text_list("languages", m.languages, languages_count, language_spec);
    io.fixed_bytes("pubkey", m.pubkey);
    io.optional_text("intake", m.intake, intake_spec);
}
KINDRED_FIELDS(cancel_match) {}
KINDRED_FIELDS(prekeys) {
    io.objects("keys", m.keys, prekeys_count);
}
KINDRED_FIELDS(register_identity) {
    io.fixed_bytes("identity_key", m.identity_key);
}
KINDRED_FIELDS(shift_start) {
    io.integer("capacity", m.capacity, capacity_range);
    io.text_list("tags", m.tags, shift_tags_count, tag_spec);
    io.text_list("languages", m.languages, languages_count, language_spec);
    io.optional_text_list("wont_take", m.wont_take, wont_take_count, tag_spec);
    io.optional_integer("planned_end_at", m.planned_end_at, timestamp_range);
}
KINDRED_FIELDS(shift_pause) {}
KINDRED_FIELDS(shift_resume) {}
KINDRED_FIELDS(shift_end) {}
KINDRED_FIELDS(send) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.integer("seq", m.seq, position_range);
    io.objects("copies", m.copies, copies_count);
}
KINDRED_FIELDS(receipt) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.integer("offset", m.offset, position_range);
}
KINDRED_FIELDS(typing) {
    io.text("conversation_id", m.conversation_id, id_spec);
}
KINDRED_FIELDS(sync) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.integer("after", m.after, counter_range);
}
KINDRED_FIELDS(end) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.optional_text("reason", m.reason, reason_spec);
}
KINDRED_FIELDS(transfer) {
    io.text("conversation_id", m.conversation_id, id_spec);
}
KINDRED_FIELDS(escalate) {
    io.nullable_text("conversation_id", m.conversation_id, id_spec);
    io.enumeration("level", m.level);
    io.enumeration("category", m.category);
    io.optional_text("note", m.note, note_spec);
    io.objects("excerpts", m.excerpts, excerpts_count);
}
KINDRED_FIELDS(moderator_keys) {}
KINDRED_FIELDS(report) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.enumeration("reason", m.reason);
    io.objects("excerpts", m.excerpts, excerpts_count);
}
KINDRED_FIELDS(block) {
    io.text("conversation_id", m.conversation_id, id_spec);
}
KINDRED_FIELDS(watch) {
    io.fixed_bytes("pubkey", m.pubkey);
}
KINDRED_FIELDS(acknowledge) {
    io.text("escalation_id", m.escalation_id, id_spec);
}
KINDRED_FIELDS(resolve) {
    io.text("escalation_id", m.escalation_id, id_spec);
    io.enumeration("outcome", m.outcome);
}
KINDRED_FIELDS(join) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.fixed_bytes("pubkey", m.pubkey);
}
KINDRED_FIELDS(ban) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.enumeration("party", m.party);
    io.integer("duration_s", m.duration_s, duration_range);
}
KINDRED_FIELDS(unwatch) {}
KINDRED_FIELDS(consult) {
    io.nullable_text("conversation_id", m.conversation_id, id_spec);
    io.fixed_bytes("pubkey", m.pubkey);
    io.objects("copies", m.copies, consult_copies_count);
}
KINDRED_FIELDS(consult_reply) {
    io.text("consult_id", m.consult_id, id_spec);
    io.var_bytes("sealed", m.sealed, sealed_spec);
}
KINDRED_FIELDS(feedback) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.optional_integer("helped", m.helped, helped_range);
    io.optional_enumeration("feeling", m.feeling);
    if constexpr (!IO::writes) {
        if (!m.helped && !m.feeling) io.fail("helped", "helped or feeling required");
    }
}
KINDRED_FIELDS(my_summary) {}

// ok results.
KINDRED_FIELDS(conversation_summary) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.text("state", m.state, reason_spec);
    io.integer("last_offset", m.last_offset, counter_range);
}
KINDRED_FIELDS(hello_ok) {
    io.text("session", m.session, id_spec);
    io.enumeration("role", m.role);
    io.text("resume_token", m.resume_token, token_spec);
    io.objects("conversations", m.conversations, any_count);
}
KINDRED_FIELDS(send_ok) {
    io.integer("offset", m.offset, position_range);
}
KINDRED_FIELDS(sync_ok) {
    io.integer("offset", m.offset, counter_range);
    io.boolean("recovered", m.recovered);
}
KINDRED_FIELDS(moderator_key) {
    io.text("moderator_id", m.moderator_id, id_spec);
    io.fixed_bytes("pubkey", m.pubkey);
}
KINDRED_FIELDS(moderator_keys_ok) {
    io.objects("keys", m.keys, any_count);
}
KINDRED_FIELDS(join_ok) {
    io.fixed_bytes("seeker_pubkey", m.seeker_pubkey);
    io.fixed_bytes("peer_prekey", m.peer_prekey);
}
KINDRED_FIELDS(escalate_ok) {
    io.text("escalation_id", m.escalation_id, id_spec);
}
KINDRED_FIELDS(consult_ok) {
    io.text("consult_id", m.consult_id, id_spec);
}
KINDRED_FIELDS(summary_period) {
    io.integer("chats", m.chats, counter_range);
    io.integer("seconds_on_shift", m.seconds_on_shift, counter_range);
}
KINDRED_FIELDS(my_summary_ok) {
    io.object("today", m.today);
    io.object("week", m.week);
}

// Server → client.
KINDRED_FIELDS(pong) {}
KINDRED_FIELDS(queued) {
    io.integer("position", m.position, position_range);
    io.nullable_integer("estimated_wait_s", m.estimated_wait_s, counter_range);
}
KINDRED_FIELDS(matched_peer) {
    io.text("alias", m.alias, alias_spec);
    io.text_list("tags", m.tags, event_tags_count, tag_spec);
    io.text_list("shared_tags", m.shared_tags, event_tags_count, tag_spec);
    io.fixed_bytes("prekey", m.prekey);
    io.fixed_bytes("identity_key", m.identity_key);
    io.fixed_bytes("signature", m.signature);
}
KINDRED_FIELDS(seeker_matched) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.boolean("relaxed", m.relaxed);
    io.object("peer", m.peer);
}
KINDRED_FIELDS(matched_seeker) {
    io.fixed_bytes("pubkey", m.pubkey);
    io.text_list("tags", m.tags, event_tags_count, tag_spec);
    io.text_list("shared_tags", m.shared_tags, event_tags_count, tag_spec);
    io.integer("waited_s", m.waited_s, counter_range);
    io.enumeration("risk", m.risk);
}
KINDRED_FIELDS(peer_matched) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.fixed_bytes("prekey", m.prekey);
    io.object("seeker", m.seeker);
    io.optional_text("intake", m.intake, intake_spec);
}
KINDRED_FIELDS(shift_state) {
    io.enumeration("state", m.state);
    io.integer("active", m.active, counter_range);
    io.integer("capacity", m.capacity, counter_range);
}
KINDRED_FIELDS(prekeys_low) {
    io.integer("remaining", m.remaining, counter_range);
}
KINDRED_FIELDS(message_event) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.integer("offset", m.offset, position_range);
    io.enumeration("from", m.from);
    io.integer("seq", m.seq, position_range);
    io.fixed_bytes("nonce", m.nonce);
    io.var_bytes("ciphertext", m.ciphertext, ciphertext_spec);
    io.integer("sent_at", m.sent_at, counter_range);
}
KINDRED_FIELDS(receipt_event) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.integer("offset", m.offset, position_range);
    io.enumeration("from", m.from);
}
KINDRED_FIELDS(typing_event) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.enumeration("from", m.from);
}
KINDRED_FIELDS(ended) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.enumeration("by", m.by);
    io.text("reason", m.reason, reason_spec);
}
KINDRED_FIELDS(joined_moderator) {
    io.text("alias", m.alias, alias_spec);
    io.fixed_bytes("pubkey", m.pubkey);
}
KINDRED_FIELDS(joined) {
    io.text("conversation_id", m.conversation_id, id_spec);
    io.object("moderator", m.moderator);
}
KINDRED_FIELDS(escalation_info) {
    io.text("id", m.id, id_spec);
    io.nullable_text("conversation_id", m.conversation_id, id_spec);
    io.enumeration("level", m.level);
    io.enumeration("category", m.category);
    io.enumeration("source", m.source);
    io.enumeration("state", m.state);
    io.integer("created_at", m.created_at, counter_range);
    io.nullable_text("acknowledged_by", m.acknowledged_by, id_spec);
    io.integer("repaged", m.repaged, counter_range);
    io.objects("excerpts", m.excerpts, excerpts_count);
    io.nullable_text("note", m.note, note_spec);
    io.nullable_enumeration("reason", m.reason);
    io.nullable_text("resolved_by", m.resolved_by, id_spec);
    io.nullable_enumeration("outcome", m.outcome);
    io.nullable_integer("next_page_at", m.next_page_at, timestamp_range);
    io.nullable_text("peer", m.peer, id_spec);
}
KINDRED_FIELDS(escalation_event) {
    io.object("escalation", m.escalation);
}
KINDRED_FIELDS(consult_event) {
    io.text("consult_id", m.consult_id, id_spec);
    io.nullable_text("conversation_id", m.conversation_id, id_spec);
    io.text("peer", m.peer, id_spec);
    io.fixed_bytes("pubkey", m.pubkey);
    io.var_bytes("sealed", m.sealed, sealed_spec);
    io.integer("sent_at", m.sent_at, timestamp_range);
}
KINDRED_FIELDS(consult_reply_event) {
    io.text("consult_id", m.consult_id, id_spec);
    io.text("moderator", m.moderator, id_spec);
    io.var_bytes("sealed", m.sealed, sealed_spec);
    io.integer("sent_at", m.sent_at, timestamp_range);
}
#undef KINDRED_FIELDS

// ---------------------------------------------------------------------------------------------
// Checks across fields, run by the reader after the field list succeeded. They return the
// error ("<path>: <what>") or an empty string.
template <class T>
std::string cross_check(const T&) {
    return {};
}
std::string cross_check(const hello& m);
std::string cross_check(const send& m);

} // namespace kindred::protocol::detail
