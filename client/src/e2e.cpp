// e2e.cpp — libsodium calls behind e2e.hpp; client/E2E.md is the byte-level specification.
// Every buffer that holds a secret or a plaintext is wiped before it is freed (best effort: the
// caller owns the texts it passes in and gets back).
#include <kindred/client/e2e.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace kindred::client::e2e {

static_assert(key_bytes == crypto_kx_PUBLICKEYBYTES && key_bytes == crypto_kx_SECRETKEYBYTES);
static_assert(key_bytes == crypto_kx_SEEDBYTES && key_bytes == crypto_kx_SESSIONKEYBYTES);
static_assert(key_bytes == crypto_box_PUBLICKEYBYTES && key_bytes == crypto_box_SECRETKEYBYTES);
static_assert(key_bytes == crypto_sign_PUBLICKEYBYTES && key_bytes == crypto_sign_SEEDBYTES);
static_assert(ed25519_secret_bytes == crypto_sign_SECRETKEYBYTES);
static_assert(std::tuple_size_v<ed25519_signature> == crypto_sign_BYTES);
static_assert(nonce_bytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(key_bytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(aead_tag_bytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(sealed_overhead_bytes == crypto_box_SEALBYTES);
static_assert(crypto_generichash_BYTES == 32);
static_assert(max_padded_bytes % pad_block_bytes == 0);
static_assert(protocol::limits::aead_tag_bytes == aead_tag_bytes);
static_assert(protocol::limits::sealed_box_overhead_bytes == sealed_overhead_bytes);

// ---------------------------------------------------------------------------------------------
// Errors.
namespace {
constexpr std::array<std::string_view, 11> error_names{"authentication_failed",
                                                       "bad_padding",
                                                       "bad_plaintext",
                                                       "replayed",
                                                       "bad_seq",
                                                       "bad_party",
                                                       "wrong_conversation",
                                                       "bad_public_key",
                                                       "bad_signature",
                                                       "invalid_text",
                                                       "too_long"};
static_assert(static_cast<std::size_t>(error::too_long) == error_names.size());

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer); -Wnon-virtual-dtor cannot know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class e2e_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "kindred.e2e"; }
    std::string message(int value) const override {
        return std::string(to_string(static_cast<error>(value)));
    }
};
#pragma GCC diagnostic pop
} // namespace

std::string_view to_string(error e) {
    const auto i = static_cast<std::size_t>(e);
    return i >= 1 && i <= error_names.size() ? error_names[i - 1] : std::string_view{"unknown"};
}

const boost::system::error_category& e2e_category() noexcept {
    static const e2e_category_impl instance;
    return instance;
}

boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), e2e_category()};
}

void initialize() {
    // sodium_init is idempotent and thread-safe; the static makes later calls free.
    static const bool ready = sodium_init() >= 0;
    if (!ready) {
        std::fputs("kindred: libsodium failed to initialise (sodium_init)\n", stderr);
        std::abort();
    }
}

namespace detail {
void wipe(void* data, std::size_t size) noexcept {
    if (size != 0) sodium_memzero(data, size);
}
bool equal(const void* a, const void* b, std::size_t size) noexcept {
    return sodium_memcmp(a, b, size) == 0;
}
} // namespace detail

// ---------------------------------------------------------------------------------------------
// Helpers.
namespace {

// Wipes a container's bytes when the scope ends. Callers reserve the final size first, so no
// reallocation leaves an unwiped copy behind.
template <class Container>
class wipe_guard {
public:
    explicit wipe_guard(Container& c) noexcept
        : c_(c) {}
    wipe_guard(const wipe_guard&) = delete;
    wipe_guard& operator=(const wipe_guard&) = delete;
    ~wipe_guard() { detail::wipe(c_.data(), c_.size()); }

private:
    Container& c_;
};

// Boost.JSON storage that wipes every block it frees: parsed plaintext never lingers on the
// heap after parse_*_json returns.
class wiping_resource final : public boost::json::memory_resource {
    // Boost.JSON does not always pass the same alignment to allocate and deallocate (both at
    // most the default), so only over-aligned requests use the aligned operators.
    static bool over_aligned(std::size_t align) { return align > __STDCPP_DEFAULT_NEW_ALIGNMENT__; }
    void* do_allocate(std::size_t n, std::size_t align) override {
        return over_aligned(align) ? ::operator new(n, std::align_val_t(align)) : ::operator new(n);
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
        detail::wipe(p, n);
        if (over_aligned(align)) {
            ::operator delete(p, std::align_val_t(align));
        } else {
            ::operator delete(p);
        }
    }
    bool do_is_equal(const boost::json::memory_resource& other) const noexcept override {
        return this == &other;
    }
};

bool valid_seq(std::int64_t seq) {
    return seq >= 1 && seq <= max_seq;
}

bool valid_role(role r) {
    return static_cast<std::size_t>(r) < 3;
}

std::size_t index_of(role r) {
    return static_cast<std::size_t>(r);
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const unsigned char c = *p;
        std::size_t extra = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++p;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (static_cast<std::size_t>(end - p) <= extra) return false;
        for (std::size_t i = 1; i <= extra; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        p += extra + 1;
    }
    return true;
}

// A JSON string exactly as JavaScript's JSON.stringify writes it: `"` and `\` escaped, the
// five short escapes \b \f \n \r \t, every other code point below U+0020 as \u00xx (lowercase
// hex), everything else (DEL, non-ASCII, U+2028/9) as raw UTF-8.
void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0x0F];
            } else {
                out += ch;
            }
        }
    }
    out += '"';
}

// The worst case of append_json_string (every byte as \u00xx) plus the quotes.
std::size_t max_json_string_size(std::string_view s) {
    return s.size() * 6 + 2;
}

std::string_view as_chars(std::span<const std::uint8_t> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::optional<role> role_from_json(const boost::json::value& v) {
    if (!v.is_string()) return std::nullopt;
    const auto& s = v.get_string();
    return protocol::from_string<role>(std::string_view(s.data(), s.size()));
}

std::optional<std::int64_t> integer_from_json(const boost::json::value& v) {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(max_seq)) {
        return static_cast<std::int64_t>(v.get_uint64());
    }
    return std::nullopt;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Keys.
kx_key_pair generate_kx_key_pair() {
    initialize();
    kx_key_pair k;
    crypto_kx_keypair(k.public_key.data(), k.secret_key.data());
    return k;
}

kx_key_pair kx_key_pair_from_seed(std::span<const std::uint8_t, key_bytes> seed_bytes) {
    initialize();
    kx_key_pair k;
    crypto_kx_seed_keypair(k.public_key.data(), k.secret_key.data(), seed_bytes.data());
    return k;
}

identity_key_pair generate_identity_key_pair() {
    initialize();
    identity_key_pair k;
    crypto_sign_keypair(k.public_key.data(), k.secret_key.data());
    return k;
}

identity_key_pair identity_key_pair_from_seed(std::span<const std::uint8_t, key_bytes> seed_bytes) {
    initialize();
    identity_key_pair k;
    crypto_sign_seed_keypair(k.public_key.data(), k.secret_key.data(), seed_bytes.data());
    return k;
}

ed25519_signature sign_prekey(const x25519_public_key& prekey, const identity_key_pair& identity) {
    initialize();
    ed25519_signature sig{};
    crypto_sign_detached(sig.data(), nullptr, prekey.data(), prekey.size(),
                         identity.secret_key.data());
    return sig;
}

bool verify_prekey(const x25519_public_key& prekey, const ed25519_signature& signature,
                   const ed25519_public_key& identity_key) {
    initialize();
    return crypto_sign_verify_detached(signature.data(), prekey.data(), prekey.size(),
                                       identity_key.data()) == 0;
}

result<session_keys> derive_session_keys(role local, const kx_key_pair& local_keys, role remote,
                                         const x25519_public_key& remote_public_key) {
    initialize();
    if (!valid_role(local) || !valid_role(remote) || local == remote) return error::bad_party;
    session_keys k;
    // The earlier role in seeker < peer < moderator is the kx client (contract §7).
    const int rc =
        local < remote
            ? crypto_kx_client_session_keys(k.rx.data(), k.tx.data(), local_keys.public_key.data(),
                                            local_keys.secret_key.data(), remote_public_key.data())
            : crypto_kx_server_session_keys(k.rx.data(), k.tx.data(), local_keys.public_key.data(),
                                            local_keys.secret_key.data(), remote_public_key.data());
    if (rc != 0) return error::bad_public_key;
    return k;
}

std::string safety_code(const ed25519_public_key& peer_identity_key,
                        const x25519_public_key& seeker_pubkey) {
    initialize();
    std::array<std::uint8_t, 64> input{};
    std::memcpy(input.data(), peer_identity_key.data(), 32);
    std::memcpy(input.data() + 32, seeker_pubkey.data(), 32);
    std::array<std::uint8_t, crypto_generichash_BYTES> hash{};
    crypto_generichash(hash.data(), hash.size(), input.data(), input.size(), nullptr, 0);
    // The first 64 bits big-endian, then drop the low 4: bits 0..59 of the hash, MSB first.
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < 8; ++i)
        bits = (bits << 8) | hash[i];
    bits >>= 4;
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"; // RFC 4648 §6
    std::string code(safety_code_chars, '\0');
    for (std::size_t i = 0; i < safety_code_chars; ++i) {
        code[i] = alphabet[(bits >> (55 - 5 * i)) & 0x1F];
    }
    return code;
}

// ---------------------------------------------------------------------------------------------
// One copy.
std::string associated_data(std::string_view conversation_id, role from, role to,
                            std::int64_t seq) {
    std::string ad = "kindred/v1|";
    ad += conversation_id;
    ad += '|';
    ad += protocol::to_string(from);
    ad += '|';
    ad += protocol::to_string(to);
    ad += '|';
    ad += std::to_string(seq);
    return ad;
}

std::string text_json(std::string_view text) {
    std::string json;
    json.reserve(max_json_string_size(text) + 9);
    json += "{\"text\":";
    append_json_string(json, text);
    json += '}';
    return json;
}

result<std::string> parse_text_json(std::string_view json) {
    wiping_resource storage;
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(json, ec, &storage);
    if (ec || !v.is_object()) return error::bad_plaintext;
    const auto* text = v.get_object().if_contains("text");
    if (text == nullptr || !text->is_string()) return error::bad_plaintext;
    return std::string(text->get_string().data(), text->get_string().size());
}

result<protocol::message_copy> encrypt_copy(const session_key& tx, std::string_view conversation_id,
                                            role from, role to, std::int64_t seq,
                                            std::string_view text) {
    initialize();
    xchacha_nonce nonce{};
    randombytes_buf(nonce.data(), nonce.size());
    return encrypt_copy(tx, conversation_id, from, to, seq, text, nonce);
}

result<protocol::message_copy> encrypt_copy(const session_key& tx, std::string_view conversation_id,
                                            role from, role to, std::int64_t seq,
                                            std::string_view text, const xchacha_nonce& nonce) {
    initialize();
    if (!valid_seq(seq)) return error::bad_seq;
    if (!valid_role(from) || !valid_role(to) || from == to) return error::bad_party;
    if (!is_valid_utf8(text)) return error::invalid_text;
    // {"text":""} is 11 bytes and padding adds at least one: reject before building anything.
    if (text.size() + 12 > max_padded_bytes) return error::too_long;

    std::string json = text_json(text);
    const wipe_guard json_guard(json);
    const std::size_t padded = padded_size(json.size());
    if (padded > max_padded_bytes) return error::too_long;

    std::vector<std::uint8_t> plain(padded);
    const wipe_guard plain_guard(plain);
    std::memcpy(plain.data(), json.data(), json.size());
    std::size_t padded_len = 0;
    if (sodium_pad(&padded_len, plain.data(), json.size(), pad_block_bytes, plain.size()) != 0 ||
        padded_len != padded) {
        return error::too_long; // cannot happen: plain is exactly padded_size bytes
    }

    const std::string ad = associated_data(conversation_id, from, to, seq);
    protocol::message_copy copy;
    copy.to = to;
    copy.nonce = nonce;
    copy.ciphertext.resize(padded + aead_tag_bytes);
    unsigned long long written = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(copy.ciphertext.data(), &written, plain.data(),
                                               plain.size(),
                                               reinterpret_cast<const unsigned char*>(ad.data()),
                                               ad.size(), nullptr, nonce.data(), tx.data());
    copy.ciphertext.resize(static_cast<std::size_t>(written));
    return copy;
}

result<std::string> decrypt_copy(const session_key& rx, std::string_view conversation_id, role from,
                                 role to, std::int64_t seq, const xchacha_nonce& nonce,
                                 std::span<const std::uint8_t> ciphertext) {
    initialize();
    if (!valid_seq(seq)) return error::bad_seq;
    if (!valid_role(from) || !valid_role(to) || from == to) return error::bad_party;
    if (ciphertext.size() < aead_tag_bytes) return error::authentication_failed;

    const std::string ad = associated_data(conversation_id, from, to, seq);
    std::vector<std::uint8_t> plain(ciphertext.size() - aead_tag_bytes);
    const wipe_guard plain_guard(plain);
    unsigned long long plain_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain.data(), &plain_len, nullptr, ciphertext.data(), ciphertext.size(),
            reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nonce.data(),
            rx.data()) != 0) {
        return error::authentication_failed;
    }
    // sodium_unpad alone only looks at the last block; the contract says "a multiple of 256".
    if (plain_len == 0 || plain_len % pad_block_bytes != 0) return error::bad_padding;
    std::size_t unpadded = 0;
    if (sodium_unpad(&unpadded, plain.data(), static_cast<std::size_t>(plain_len),
                     pad_block_bytes) != 0) {
        return error::bad_padding;
    }
    return parse_text_json(as_chars(std::span(plain.data(), unpadded)));
}

// ---------------------------------------------------------------------------------------------
// conversation_crypto.
conversation_crypto::conversation_crypto(std::string conversation_id, role local,
                                         const kx_key_pair& own)
    : conversation_id_(std::move(conversation_id))
    , local_(local)
    , own_(own) {
    auto& me = parties_[index_of(local)];
    me.present = true;
    me.public_key = own.public_key;
}

result<void> conversation_crypto::add_party(role party, const x25519_public_key& public_key) {
    auto keys = derive_session_keys(local_, own_, party, public_key);
    if (!keys) return keys.error();
    auto& state = parties_[index_of(party)];
    state.present = true;
    state.public_key = public_key;
    state.keys = *keys; // last_seq is kept: a re-joined moderator continues its seq
    return {};
}

result<conversation_crypto> conversation_crypto::for_seeker(std::string conversation_id,
                                                            const kx_key_pair& own,
                                                            const protocol::matched_peer& peer) {
    if (!verify_prekey(peer.prekey, peer.signature, peer.identity_key)) {
        return error::bad_signature;
    }
    conversation_crypto c(std::move(conversation_id), role::seeker, own);
    if (auto r = c.add_party(role::peer, peer.prekey); !r) return r.error();
    c.peer_identity_ = peer.identity_key;
    return c;
}

result<conversation_crypto> conversation_crypto::for_peer(std::string conversation_id,
                                                          const kx_key_pair& prekey,
                                                          const ed25519_public_key& own_identity,
                                                          const x25519_public_key& seeker_pubkey) {
    conversation_crypto c(std::move(conversation_id), role::peer, prekey);
    if (auto r = c.add_party(role::seeker, seeker_pubkey); !r) return r.error();
    c.peer_identity_ = own_identity;
    return c;
}

result<conversation_crypto>
conversation_crypto::for_moderator(std::string conversation_id, const kx_key_pair& own,
                                   const x25519_public_key& seeker_pubkey,
                                   const x25519_public_key& peer_prekey) {
    conversation_crypto c(std::move(conversation_id), role::moderator, own);
    if (auto r = c.add_party(role::seeker, seeker_pubkey); !r) return r.error();
    if (auto r = c.add_party(role::peer, peer_prekey); !r) return r.error();
    return c;
}

result<void> conversation_crypto::add_moderator(const x25519_public_key& moderator_pubkey) {
    if (local_ == role::moderator) return error::bad_party;
    return add_party(role::moderator, moderator_pubkey);
}

bool conversation_crypto::has_party(role party) const noexcept {
    return valid_role(party) && parties_[index_of(party)].present;
}

std::vector<role> conversation_crypto::recipients() const {
    std::vector<role> out;
    for (const role r : {role::seeker, role::peer, role::moderator}) {
        if (r != local_ && parties_[index_of(r)].present) out.push_back(r);
    }
    return out;
}

const session_keys* conversation_crypto::keys_with(role party) const noexcept {
    if (!valid_role(party) || party == local_ || !parties_[index_of(party)].present) {
        return nullptr;
    }
    return &parties_[index_of(party)].keys;
}

std::optional<std::string> conversation_crypto::safety_code() const {
    if (!peer_identity_) return std::nullopt;
    return e2e::safety_code(*peer_identity_, parties_[index_of(role::seeker)].public_key);
}

result<std::vector<protocol::message_copy>>
conversation_crypto::encrypt(std::int64_t seq, std::string_view text) const {
    std::vector<protocol::message_copy> copies;
    for (const role to : recipients()) {
        auto copy =
            encrypt_copy(parties_[index_of(to)].keys.tx, conversation_id_, local_, to, seq, text);
        if (!copy) return copy.error();
        copies.push_back(std::move(*copy));
    }
    return copies;
}

result<protocol::send> conversation_crypto::make_send(std::int64_t seq,
                                                      std::string_view text) const {
    auto copies = encrypt(seq, text);
    if (!copies) return copies.error();
    protocol::send s;
    s.conversation_id = conversation_id_;
    s.seq = seq;
    s.copies = std::move(*copies);
    return s;
}

result<std::string> conversation_crypto::decrypt(const protocol::message_event& event) {
    if (event.conversation_id != conversation_id_) return error::wrong_conversation;
    return decrypt(event.from, event.seq, event.nonce, event.ciphertext);
}

result<std::string> conversation_crypto::decrypt(role from, std::int64_t seq,
                                                 const xchacha_nonce& nonce,
                                                 std::span<const std::uint8_t> ciphertext) {
    if (!valid_role(from) || from == local_ || !parties_[index_of(from)].present) {
        return error::bad_party;
    }
    if (!valid_seq(seq)) return error::bad_seq;
    auto& sender = parties_[index_of(from)];
    if (seq <= sender.last_seq) return error::replayed;
    auto text =
        decrypt_copy(sender.keys.rx, conversation_id_, from, local_, seq, nonce, ciphertext);
    if (text) sender.last_seq = seq; // only an authenticated copy moves the replay window
    return text;
}

std::int64_t conversation_crypto::last_accepted_seq(role from) const noexcept {
    return valid_role(from) ? parties_[index_of(from)].last_seq : 0;
}

// ---------------------------------------------------------------------------------------------
// prekey_store.
prekey_store::prekey_store(identity_key_pair identity)
    : identity_(std::move(identity)) {}

std::vector<protocol::signed_prekey> prekey_store::generate(std::size_t count) {
    std::vector<protocol::signed_prekey> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
        out.push_back(add(generate_kx_key_pair()));
    return out;
}

protocol::signed_prekey prekey_store::add(const kx_key_pair& prekey) {
    prekeys_.insert_or_assign(prekey.public_key, prekey.secret_key);
    return {prekey.public_key, sign_prekey(prekey.public_key, identity_)};
}

std::optional<kx_key_pair> prekey_store::take(const x25519_public_key& prekey) {
    const auto it = prekeys_.find(prekey);
    if (it == prekeys_.end()) return std::nullopt;
    kx_key_pair k{prekey, it->second};
    prekeys_.erase(it);
    return k;
}

// ---------------------------------------------------------------------------------------------
// Sealed excerpts.
namespace {
bool excerpt_is_utf8(const excerpt_content& content) {
    if (!is_valid_utf8(content.conversation_id)) return false;
    for (const auto& m : content.messages) {
        if (!is_valid_utf8(m.text)) return false;
    }
    return true;
}
} // namespace

std::string excerpt_json(const excerpt_content& content) {
    std::size_t size = max_json_string_size(content.conversation_id) + 40;
    for (const auto& m : content.messages)
        size += max_json_string_size(m.text) + 64;
    std::string json;
    json.reserve(size);
    json += "{\"conversation_id\":";
    append_json_string(json, content.conversation_id);
    json += ",\"messages\":[";
    bool first = true;
    for (const auto& m : content.messages) {
        if (!first) json += ',';
        first = false;
        json += "{\"offset\":";
        json += std::to_string(m.offset);
        json += ",\"from\":";
        append_json_string(json, protocol::to_string(m.from));
        json += ",\"text\":";
        append_json_string(json, m.text);
        json += '}';
    }
    json += "]}";
    return json;
}

result<excerpt_content> parse_excerpt_json(std::string_view json) {
    wiping_resource storage;
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(json, ec, &storage);
    if (ec || !v.is_object()) return error::bad_plaintext;
    const auto& obj = v.get_object();
    const auto* id = obj.if_contains("conversation_id");
    const auto* messages = obj.if_contains("messages");
    if (id == nullptr || !id->is_string() || messages == nullptr || !messages->is_array()) {
        return error::bad_plaintext;
    }
    excerpt_content out;
    out.conversation_id.assign(id->get_string().data(), id->get_string().size());
    for (const auto& item : messages->get_array()) {
        if (!item.is_object()) return error::bad_plaintext;
        const auto& m = item.get_object();
        const auto* offset = m.if_contains("offset");
        const auto* from = m.if_contains("from");
        const auto* text = m.if_contains("text");
        if (offset == nullptr || from == nullptr || text == nullptr || !text->is_string()) {
            return error::bad_plaintext;
        }
        const auto off = integer_from_json(*offset);
        const auto sender = role_from_json(*from);
        if (!off || !valid_seq(*off) || !sender) return error::bad_plaintext;
        out.messages.push_back(
            {*off, *sender, std::string(text->get_string().data(), text->get_string().size())});
    }
    return out;
}

result<bytes> seal_excerpt(const x25519_public_key& moderator_key, const excerpt_content& content) {
    initialize();
    if (!excerpt_is_utf8(content)) return error::invalid_text;
    std::string json = excerpt_json(content);
    const wipe_guard json_guard(json);
    if (json.size() + sealed_overhead_bytes > max_sealed_bytes) return error::too_long;
    bytes sealed(json.size() + sealed_overhead_bytes);
    if (crypto_box_seal(sealed.data(), reinterpret_cast<const unsigned char*>(json.data()),
                        json.size(), moderator_key.data()) != 0) {
        return error::bad_public_key;
    }
    return sealed;
}

result<std::vector<protocol::excerpt>>
seal_excerpts(std::span<const protocol::moderator_key> moderators, const excerpt_content& content) {
    std::vector<protocol::excerpt> out;
    out.reserve(moderators.size());
    for (const auto& m : moderators) {
        auto sealed = seal_excerpt(m.pubkey, content);
        if (!sealed) return sealed.error();
        out.push_back({m.moderator_id, std::move(*sealed)});
    }
    return out;
}

result<excerpt_content> open_excerpt(const kx_key_pair& moderator_keys,
                                     std::span<const std::uint8_t> sealed) {
    initialize();
    if (sealed.size() < sealed_overhead_bytes) return error::authentication_failed;
    std::vector<std::uint8_t> plain(sealed.size() - sealed_overhead_bytes);
    const wipe_guard plain_guard(plain);
    if (crypto_box_seal_open(plain.data(), sealed.data(), sealed.size(),
                             moderator_keys.public_key.data(),
                             moderator_keys.secret_key.data()) != 0) {
        return error::authentication_failed;
    }
    return parse_excerpt_json(as_chars(plain));
}

} // namespace kindred::client::e2e
