// e2e.hpp — the clients' end-to-end encryption (protocol.md §7) and sealed excerpts (§8), as
// specified byte for byte in client/E2E.md; tests/vectors/e2e.json pins it for other clients.
// Lifetime: every secret (secret keys, session keys, seeds) lives in secret_bytes, which wipes
// itself with sodium_memzero on destruction; plaintext buffers are wiped after use. Nothing
// here logs anything.
// Threading: free functions are safe from any thread. A conversation_crypto or prekey_store is
// a plain value: use one object from one thread at a time.
// Asio-free; libsodium is included only by src/e2e.cpp.
#pragma once

#include <kindred/protocol/messages.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace kindred::client::e2e {

// The parties, in the contract's order seeker < peer < moderator (the enum's order).
using protocol::role;
using x25519_public_key = protocol::x25519_public_key;
using ed25519_public_key = protocol::ed25519_public_key;
using ed25519_signature = protocol::ed25519_signature;
using xchacha_nonce = protocol::xchacha_nonce;
using bytes = protocol::bytes;

// Sizes (src/e2e.cpp checks them against libsodium's constants).
inline constexpr std::size_t key_bytes = 32;            // X25519 keys, session keys, seeds
inline constexpr std::size_t ed25519_secret_bytes = 64; // libsodium's seed || public key
inline constexpr std::size_t nonce_bytes = 24;
inline constexpr std::size_t aead_tag_bytes = 16;
inline constexpr std::size_t sealed_overhead_bytes = 48; // crypto_box_SEALBYTES
inline constexpr std::size_t pad_block_bytes = 256;
// Our bound (the contract is silent): the padded plaintext of a message is at most 16 KiB, so
// a `send` with two copies stays well under the 65,536-byte frame limit. A sealed excerpt must
// fit the 65,536-character base64 field: at most 49,152 sealed bytes.
inline constexpr std::size_t max_padded_bytes = 16384;
inline constexpr std::size_t max_sealed_bytes = 49152;
inline constexpr std::size_t safety_code_chars = 12;
inline constexpr std::int64_t max_seq = protocol::limits::max_safe_integer;

// sodium_pad always adds 1..256 bytes: the padded length of an n-byte plaintext.
constexpr std::size_t padded_size(std::size_t n) {
    return (n / pad_block_bytes + 1) * pad_block_bytes;
}

// ---------------------------------------------------------------------------------------------
// Errors. The names (to_string) are stable and used by tests/vectors/e2e.json.
enum class error {
    authentication_failed = 1, // AEAD or sealed box did not open: wrong key, tampered bytes/AD
    bad_padding,               // decrypted length not a non-zero multiple of 256, or no 0x80 mark
    bad_plaintext,             // not UTF-8 JSON, not an object, no "text" string (excerpt: shape)
    replayed,                  // seq not above the last accepted from that sender
    bad_seq,                   // seq outside 1..2^53-1
    bad_party,                 // from == to, a party not (yet) in the conversation, wrong role
    wrong_conversation,        // a message event for another conversation
    bad_public_key,            // libsodium refused the other party's X25519 key (low order)
    bad_signature,             // the prekey signature does not verify with the identity key
    invalid_text,              // text to encrypt is not valid UTF-8
    too_long,                  // over max_padded_bytes / max_sealed_bytes
};
} // namespace kindred::client::e2e

namespace boost::system {
template <>
struct is_error_code_enum<kindred::client::e2e::error> : std::true_type {};
} // namespace boost::system

namespace kindred::client::e2e {

const boost::system::error_category& e2e_category() noexcept;
boost::system::error_code make_error_code(error e) noexcept;
std::string_view to_string(error e);

template <class T>
using result = boost::system::result<T>;

// Fails fast (abort with a message) if libsodium cannot initialise; every function here calls
// it, so calling it at start-up only moves that failure earlier.
void initialize();

namespace detail {
void wipe(void* data, std::size_t size) noexcept;                    // sodium_memzero
bool equal(const void* a, const void* b, std::size_t size) noexcept; // sodium_memcmp
} // namespace detail

// Secret key material: wiped on destruction; compared in constant time.
template <std::size_t N>
class secret_bytes {
public:
    secret_bytes() noexcept = default;
    explicit secret_bytes(std::span<const std::uint8_t, N> source) noexcept {
        std::copy(source.begin(), source.end(), bytes_.begin());
    }
    secret_bytes(const secret_bytes&) = default;
    secret_bytes& operator=(const secret_bytes&) = default;
    ~secret_bytes() { detail::wipe(bytes_.data(), N); }

    std::uint8_t* data() noexcept { return bytes_.data(); }
    const std::uint8_t* data() const noexcept { return bytes_.data(); }
    static constexpr std::size_t size() noexcept { return N; }
    std::span<const std::uint8_t, N> view() const noexcept { return bytes_; }
    bool equals(std::span<const std::uint8_t, N> other) const noexcept {
        return detail::equal(bytes_.data(), other.data(), N);
    }

private:
    std::array<std::uint8_t, N> bytes_{};
};

using seed = secret_bytes<key_bytes>;
using x25519_secret_key = secret_bytes<key_bytes>;
using ed25519_secret_key = secret_bytes<ed25519_secret_bytes>;
using session_key = secret_bytes<key_bytes>;

// ---------------------------------------------------------------------------------------------
// Keys.

// An X25519 key pair: crypto_kx (seeker per conversation, peer prekeys, moderator per join) and
// also crypto_box (a moderator's `watch` key for sealed excerpts) — both are plain X25519.
struct kx_key_pair {
    x25519_public_key public_key{};
    x25519_secret_key secret_key;
};
kx_key_pair generate_kx_key_pair(); // crypto_kx_keypair
kx_key_pair kx_key_pair_from_seed(std::span<const std::uint8_t, key_bytes> seed); // _seed_keypair

// A peer's Ed25519 identity.
struct identity_key_pair {
    ed25519_public_key public_key{};
    ed25519_secret_key secret_key;
};
identity_key_pair generate_identity_key_pair(); // crypto_sign_keypair
identity_key_pair identity_key_pair_from_seed(std::span<const std::uint8_t, key_bytes> seed);

// The prekey signature: crypto_sign_detached over the 32 raw bytes of the prekey's public key.
ed25519_signature sign_prekey(const x25519_public_key& prekey, const identity_key_pair& identity);
bool verify_prekey(const x25519_public_key& prekey, const ed25519_signature& signature,
                   const ed25519_public_key& identity_key);

// The two directions between two parties.
struct session_keys {
    session_key rx; // decrypts what the other party sends to us
    session_key tx; // encrypts what we send to the other party
};
// crypto_kx between `local` and `remote`: the earlier role is the kx client, the later the kx
// server. Errors: bad_party (same role), bad_public_key.
result<session_keys> derive_session_keys(role local, const kx_key_pair& local_keys, role remote,
                                         const x25519_public_key& remote_public_key);

// 12 characters of RFC 4648 base32 (A–Z, 2–7): the first 60 bits, most significant bit first,
// of BLAKE2b-256 (crypto_generichash, unkeyed, 32-byte output) over
// identity_key_of_peer (32 bytes) || seeker_pubkey (32 bytes).
std::string safety_code(const ed25519_public_key& peer_identity_key,
                        const x25519_public_key& seeker_pubkey);

// ---------------------------------------------------------------------------------------------
// One copy of a message (the primitives under conversation_crypto).

// "kindred/v1|<conversation_id>|<from>|<to>|<seq>", seq in decimal without padding.
std::string associated_data(std::string_view conversation_id, role from, role to, std::int64_t seq);
// {"text":"..."} exactly as JavaScript's JSON.stringify({text}) writes it. `text` must be UTF-8.
std::string text_json(std::string_view text);
// The "text" of a received plaintext: any JSON object whose "text" is a string (other members
// ignored; for a repeated key the last wins). Error: bad_plaintext.
result<std::string> parse_text_json(std::string_view json);

// Encrypts `text` from `from` to `to` with the sender's tx key for that recipient. The first
// form draws a random nonce (randombytes_buf); the second takes one (test vectors only: a
// nonce must never be reused with the same key). Errors: bad_seq, bad_party, invalid_text,
// too_long.
result<protocol::message_copy> encrypt_copy(const session_key& tx, std::string_view conversation_id,
                                            role from, role to, std::int64_t seq,
                                            std::string_view text);
result<protocol::message_copy> encrypt_copy(const session_key& tx, std::string_view conversation_id,
                                            role from, role to, std::int64_t seq,
                                            std::string_view text, const xchacha_nonce& nonce);
// Decrypts one copy with the receiver's rx key for that sender. Errors: bad_seq, bad_party,
// authentication_failed, bad_padding, bad_plaintext. (No replay check: conversation_crypto.)
result<std::string> decrypt_copy(const session_key& rx, std::string_view conversation_id, role from,
                                 role to, std::int64_t seq, const xchacha_nonce& nonce,
                                 std::span<const std::uint8_t> ciphertext);

// ---------------------------------------------------------------------------------------------
// The keys of one conversation as seen by one local party, and its replay state.
class conversation_crypto {
public:
    // Seeker, on `matched`: `own` is the fresh key pair whose public part went in
    // request_match. Verifies the prekey signature first (bad_signature).
    static result<conversation_crypto> for_seeker(std::string conversation_id,
                                                  const kx_key_pair& own,
                                                  const protocol::matched_peer& peer);
    // Peer, on `matched`: `prekey` is the key pair the event's `prekey` names (prekey_store).
    // `own_identity` is only used for the safety code.
    static result<conversation_crypto> for_peer(std::string conversation_id,
                                                const kx_key_pair& prekey,
                                                const ed25519_public_key& own_identity,
                                                const x25519_public_key& seeker_pubkey);
    // Moderator, on the `join` ok: `own` is the fresh key pair sent in `join`.
    static result<conversation_crypto> for_moderator(std::string conversation_id,
                                                     const kx_key_pair& own,
                                                     const x25519_public_key& seeker_pubkey,
                                                     const x25519_public_key& peer_prekey);

    // Seeker or peer, on `joined`. A later `joined` (the moderator re-joined with a fresh key
    // pair) replaces the keys but keeps the moderator's last accepted seq: seq counts per
    // sender per conversation. Errors: bad_party (called by the moderator), bad_public_key.
    result<void> add_moderator(const x25519_public_key& moderator_pubkey);

    role local_role() const noexcept { return local_; }
    const std::string& conversation_id() const noexcept { return conversation_id_; }
    const x25519_public_key& local_public_key() const noexcept { return own_.public_key; }
    bool has_party(role party) const noexcept;
    // The other parties present, in role order: the `to` of each copy of a send.
    std::vector<role> recipients() const;
    // The session keys with another party; nullptr when it is absent or the local party.
    const session_keys* keys_with(role party) const noexcept;
    // Seeker and peer; nullopt for a moderator (it is never told the identity key).
    std::optional<std::string> safety_code() const;

    // One copy per recipient, each under a fresh random nonce. The caller owns seq (from 1,
    // strictly increasing; a retry re-sends the same copies).
    result<std::vector<protocol::message_copy>> encrypt(std::int64_t seq,
                                                        std::string_view text) const;
    // The same, wrapped in a `send` for this conversation.
    result<protocol::send> make_send(std::int64_t seq, std::string_view text) const;

    // Decrypts our copy and then raises the sender's last accepted seq. Errors:
    // wrong_conversation, bad_party (from ourselves or an absent party), bad_seq, replayed (seq
    // ≤ last accepted), then those of decrypt_copy. A failed copy changes no state.
    result<std::string> decrypt(const protocol::message_event& event);
    result<std::string> decrypt(role from, std::int64_t seq, const xchacha_nonce& nonce,
                                std::span<const std::uint8_t> ciphertext);
    // 0 until a copy from that sender was accepted.
    std::int64_t last_accepted_seq(role from) const noexcept;

private:
    struct party_state {
        bool present = false;
        x25519_public_key public_key{};
        session_keys keys;
        std::int64_t last_seq = 0;
    };
    conversation_crypto(std::string conversation_id, role local, const kx_key_pair& own);
    result<void> add_party(role party, const x25519_public_key& public_key);

    std::string conversation_id_;
    role local_;
    kx_key_pair own_;
    std::optional<ed25519_public_key> peer_identity_;
    std::array<party_state, 3> parties_{}; // indexed by role
};

// A peer's one-time prekeys: generated and signed here, uploaded with `prekeys`, taken (and
// forgotten) when `matched` names one.
class prekey_store {
public:
    explicit prekey_store(identity_key_pair identity);

    const ed25519_public_key& identity_key() const noexcept { return identity_.public_key; }
    // `count` fresh prekeys, signed; their secrets are kept here.
    std::vector<protocol::signed_prekey> generate(std::size_t count);
    // Keeps a given key pair (deterministic tests) and returns it signed.
    protocol::signed_prekey add(const kx_key_pair& prekey);
    // The key pair of that prekey, removed from the store (each prekey serves one conversation).
    std::optional<kx_key_pair> take(const x25519_public_key& prekey);
    std::size_t size() const noexcept { return prekeys_.size(); }

private:
    identity_key_pair identity_;
    std::map<x25519_public_key, x25519_secret_key> prekeys_;
};

// ---------------------------------------------------------------------------------------------
// Sealed excerpts (§8): the chosen messages in clear, crypto_box_seal'ed to each moderator.
struct excerpt_message {
    std::int64_t offset = 1; // the server's offset of that message
    role from = role::seeker;
    std::string text;
    bool operator==(const excerpt_message&) const = default;
};
struct excerpt_content {
    std::string conversation_id;
    std::vector<excerpt_message> messages; // in offset order
    bool operator==(const excerpt_content&) const = default;
};
// {"conversation_id":"…","messages":[{"offset":5,"from":"seeker","text":"…"},…]} as
// JSON.stringify writes it.
std::string excerpt_json(const excerpt_content& content);
// Any JSON object with those members (others ignored). Error: bad_plaintext.
result<excerpt_content> parse_excerpt_json(std::string_view json);
// crypto_box_seal of excerpt_json (not padded). Errors: invalid_text, too_long, bad_public_key.
result<bytes> seal_excerpt(const x25519_public_key& moderator_key, const excerpt_content& content);
// One sealed copy per moderator of `moderator_keys`, ready for escalate/report.
result<std::vector<protocol::excerpt>>
seal_excerpts(std::span<const protocol::moderator_key> moderators, const excerpt_content& content);
// crypto_box_seal_open with the moderator's `watch` key pair. Errors: authentication_failed,
// bad_plaintext.
result<excerpt_content> open_excerpt(const kx_key_pair& moderator_keys,
                                     std::span<const std::uint8_t> sealed);

} // namespace kindred::client::e2e
