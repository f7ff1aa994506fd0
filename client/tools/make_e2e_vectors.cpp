// make_e2e_vectors.cpp — writes tests/vectors/e2e.json: the end-to-end encryption of
// client/E2E.md computed from fixed seeds and fixed nonces, so that every client (C++ here, the
// web client in JavaScript) can check itself against the same bytes.
// Run once by hand: kindred_make_e2e_vectors > tests/vectors/e2e.json. The output is committed
// data; regenerating it gives the same file except the sealed box (crypto_box_seal is
// randomised by design), so only regenerate when the specification changes.
// The keys in it are public test keys: never use them for anything else.
#include <kindred/client/e2e.hpp>

#include <boost/json.hpp>

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace e2e = kindred::client::e2e;
namespace json = boost::json;
using kindred::protocol::role;

namespace {

std::array<std::uint8_t, 32> seed_from(std::uint8_t first) {
    std::array<std::uint8_t, 32> s{};
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = static_cast<std::uint8_t>(first + i);
    return s;
}

e2e::xchacha_nonce nonce_from(int index) {
    e2e::xchacha_nonce n{};
    for (std::size_t i = 0; i < n.size(); ++i)
        n[i] = static_cast<std::uint8_t>(index * 24 + i);
    return n;
}

// Standard base64 with padding (libsodium's ORIGINAL variant).
template <class Bytes>
json::string b64(const Bytes& b) {
    const std::size_t n = static_cast<std::size_t>(b.size());
    std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), b.data(), n, sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1); // the terminating NUL
    return json::string(out);
}

std::vector<std::uint8_t> from_b64(std::string_view text) {
    std::vector<std::uint8_t> out(text.size() / 4 * 3 + 3);
    std::size_t length = 0;
    sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &length, nullptr,
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(length);
    return out;
}

std::string_view name(role r) {
    return kindred::protocol::to_string(r);
}

json::object key_pair_json(std::string_view kind, const std::array<std::uint8_t, 32>& seed,
                           std::span<const std::uint8_t> public_key,
                           std::span<const std::uint8_t> secret_key) {
    return {{"derivation", kind},
            {"seed", b64(seed)},
            {"public_key", b64(public_key)},
            {"secret_key", b64(secret_key)}};
}

// Pretty JSON, two-space indent, members in insertion order, strings as Boost.JSON writes them
// (raw UTF-8, so the non-ASCII vectors stay readable).
void pretty(std::string& out, const json::value& v, int indent) {
    const std::string pad(static_cast<std::size_t>(indent) * 2, ' ');
    const std::string inner(static_cast<std::size_t>(indent + 1) * 2, ' ');
    if (v.is_object()) {
        const auto& o = v.get_object();
        if (o.empty()) {
            out += "{}";
            return;
        }
        out += "{\n";
        bool first = true;
        for (const auto& [k, val] : o) {
            if (!first) out += ",\n";
            first = false;
            out += inner + json::serialize(json::string(k)) + ": ";
            pretty(out, val, indent + 1);
        }
        out += "\n" + pad + "}";
    } else if (v.is_array()) {
        const auto& a = v.get_array();
        if (a.empty()) {
            out += "[]";
            return;
        }
        out += "[\n";
        bool first = true;
        for (const auto& val : a) {
            if (!first) out += ",\n";
            first = false;
            out += inner;
            pretty(out, val, indent + 1);
        }
        out += "\n" + pad + "]";
    } else {
        out += json::serialize(v);
    }
}

struct party_keys {
    role who;
    const e2e::kx_key_pair* keys;
};

// The sender's tx key for that recipient (equal to the recipient's rx key for the sender).
e2e::session_keys keys_between(const party_keys& a, const party_keys& b) {
    auto k = e2e::derive_session_keys(a.who, *a.keys, b.who, b.keys->public_key);
    if (!k) throw std::runtime_error("derive_session_keys failed");
    return *k;
}

// Encrypts an arbitrary padded plaintext (for the decrypt cases that must fail after the AEAD).
e2e::bytes raw_encrypt(const e2e::session_key& tx, const std::string& ad,
                       const std::vector<std::uint8_t>& plain, const e2e::xchacha_nonce& nonce) {
    e2e::bytes c(plain.size() + e2e::aead_tag_bytes);
    unsigned long long n = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(c.data(), &n, plain.data(), plain.size(),
                                               reinterpret_cast<const unsigned char*>(ad.data()),
                                               ad.size(), nullptr, nonce.data(), tx.data());
    c.resize(static_cast<std::size_t>(n));
    return c;
}

std::vector<std::uint8_t> pad(std::string_view json_text, std::size_t padded) {
    std::vector<std::uint8_t> p(padded, 0);
    std::copy(json_text.begin(), json_text.end(), p.begin());
    if (json_text.size() < padded) p[json_text.size()] = 0x80;
    return p;
}

} // namespace

int main() {
    e2e::initialize();
    const std::string conversation_id = "c_4Yq9TzkR2mWb";

    const auto seeker_seed = seed_from(0x00);
    const auto prekey_seed = seed_from(0x20);
    const auto moderator_seed = seed_from(0x40);
    const auto identity_seed = seed_from(0x60);
    const auto watch_seed = seed_from(0x80);
    const auto seeker = e2e::kx_key_pair_from_seed(seeker_seed);
    const auto prekey = e2e::kx_key_pair_from_seed(prekey_seed);
    const auto moderator = e2e::kx_key_pair_from_seed(moderator_seed);
    const auto identity = e2e::identity_key_pair_from_seed(identity_seed);
    const auto watch = e2e::kx_key_pair_from_seed(watch_seed);

    json::object root;
    root["description"] =
        "Kindred end-to-end encryption test vectors (protocol.md section 7 and sealed excerpts "
        "of section 8), specified in client/E2E.md. Generated once by "
        "client/tools/make_e2e_vectors.cpp from fixed seeds and nonces; the C++ client "
        "(client/test/e2e_test.cpp) and the web client must reproduce every value. Public test "
        "keys: never use them for real.";
    root["version"] = 1;
    root["conventions"] = {
        {"binary", "standard base64 with padding (RFC 4648 section 4)"},
        {"text", "UTF-8 strings"},
        {"kx_roles", "for each pair of parties, the earlier in the order seeker < peer < "
                     "moderator is the crypto_kx client, the later the crypto_kx server"},
        {"plaintext", "UTF-8 JSON {\"text\":...} exactly as JavaScript JSON.stringify({text}) "
                      "writes it, then sodium_pad to a multiple of 256 bytes (0x80 then zero "
                      "bytes, always at least one byte added)"},
        {"aead", "crypto_aead_xchacha20poly1305_ietf_encrypt(padded plaintext, associated_data, "
                 "nonce, key); ciphertext = encrypted bytes followed by the 16-byte tag"},
        {"associated_data", "kindred/v1|<conversation_id>|<from>|<to>|<seq> (UTF-8, seq in "
                            "decimal without leading zeros)"},
        {"key", "in messages and decrypt_cases: the sender's tx key for the recipient, which "
                "is also the recipient's rx key for the sender"}};

    // Keys.
    json::object keys;
    keys["seeker"] =
        key_pair_json("crypto_kx_seed_keypair(seed); the seeker's fresh key pair for this "
                      "conversation (its public key goes in request_match.pubkey)",
                      seeker_seed, seeker.public_key, seeker.secret_key.view());
    keys["peer_prekey"] =
        key_pair_json("crypto_kx_seed_keypair(seed); the peer's one-time prekey named in matched",
                      prekey_seed, prekey.public_key, prekey.secret_key.view());
    keys["moderator"] =
        key_pair_json("crypto_kx_seed_keypair(seed); the moderator's fresh key pair for this join",
                      moderator_seed, moderator.public_key, moderator.secret_key.view());
    keys["peer_identity"] =
        key_pair_json("crypto_sign_seed_keypair(seed); the peer's Ed25519 identity key "
                      "(secret_key is libsodium's 64-byte seed || public key form)",
                      identity_seed, identity.public_key, identity.secret_key.view());
    keys["moderator_watch"] =
        key_pair_json("crypto_kx_seed_keypair(seed); the X25519 key pair of a moderator console "
                      "(watch.pubkey) that sealed excerpts are sealed to",
                      watch_seed, watch.public_key, watch.secret_key.view());
    root["keys"] = std::move(keys);

    const auto signature = e2e::sign_prekey(prekey.public_key, identity);
    root["prekey_signature"] = {
        {"comment", "crypto_sign_detached(message = the 32 raw bytes of the prekey public key, "
                    "peer_identity secret key); Ed25519 is deterministic"},
        {"prekey", b64(prekey.public_key)},
        {"identity_key", b64(identity.public_key)},
        {"signature", b64(signature)}};

    // Session keys for each pair.
    const party_keys parties[] = {
        {role::seeker, &seeker}, {role::peer, &prekey}, {role::moderator, &moderator}};
    json::array sessions;
    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t j = i + 1; j < 3; ++j) {
            const auto client = keys_between(parties[i], parties[j]);
            const auto server = keys_between(parties[j], parties[i]);
            sessions.push_back(json::object{
                {"client", name(parties[i].who)},
                {"server", name(parties[j].who)},
                {"client_public_key", b64(parties[i].keys->public_key)},
                {"server_public_key", b64(parties[j].keys->public_key)},
                {"client_rx", b64(client.rx.view())},
                {"client_tx", b64(client.tx.view())},
                {"server_rx", b64(server.rx.view())},
                {"server_tx", b64(server.tx.view())},
                {"comment", "crypto_kx_client_session_keys(client pk, client sk, server pk) -> "
                            "(client_rx, client_tx); crypto_kx_server_session_keys(server pk, "
                            "server sk, client pk) -> (server_rx, server_tx); client_tx == "
                            "server_rx and client_rx == server_tx"}});
        }
    }
    root["session_keys"] = std::move(sessions);

    // Safety code.
    {
        std::array<std::uint8_t, 64> input{};
        std::copy(identity.public_key.begin(), identity.public_key.end(), input.begin());
        std::copy(seeker.public_key.begin(), seeker.public_key.end(), input.begin() + 32);
        std::array<std::uint8_t, 32> hash{};
        crypto_generichash(hash.data(), hash.size(), input.data(), input.size(), nullptr, 0);
        root["safety_code"] = {
            {"comment", "BLAKE2b-256 (crypto_generichash, unkeyed, 32-byte output) of "
                        "peer_identity_key || seeker_pubkey; its first 60 bits, most significant "
                        "bit first, as 12 RFC 4648 base32 characters (A-Z, 2-7)"},
            {"peer_identity_key", b64(identity.public_key)},
            {"seeker_pubkey", b64(seeker.public_key)},
            {"blake2b_256", b64(hash)},
            {"code", e2e::safety_code(identity.public_key, seeker.public_key)}};
    }

    // Messages.
    struct message_spec {
        role from;
        role to;
        std::int64_t seq;
        std::string text;
        std::string comment;
    };
    const std::vector<message_spec> specs = {
        {role::seeker, role::peer, 1, "Hi. I don't really know where to start.", "seeker to peer"},
        {role::seeker, role::peer, 2, "It has been a hard week.", "seeker to peer"},
        {role::peer, role::seeker, 1, "Hi, I'm River. Take your time, I'm here to listen.",
         "peer to seeker"},
        {role::peer, role::seeker, 2, "What happened this week?", "peer to seeker"},
        {role::seeker, role::moderator, 3, "Thank you for joining.", "seeker to moderator"},
        {role::seeker, role::moderator, 4, "Yes, I am safe right now.", "seeker to moderator"},
        {role::moderator, role::seeker, 1, "Hello, I'm a moderator. Are you safe right now?",
         "moderator to seeker"},
        {role::moderator, role::seeker, 2, "Good. We are both here with you.",
         "moderator to seeker"},
        {role::peer, role::moderator, 3, "Thanks for stepping in.", "peer to moderator"},
        {role::peer, role::moderator, 4, "I'll stay in the conversation.", "peer to moderator"},
        {role::moderator, role::peer, 1, "Noted, carry on.", "moderator to peer"},
        {role::moderator, role::peer, 2, "I'll watch for a few minutes.", "moderator to peer"},
        {role::seeker, role::peer, 5,
         "Ça va mieux, merci 💙 — ¿qué tal? Grüße, 日本語, naïve café "
         "👩🏽‍⚕️",
         "non-ASCII: accents, emoji (4-byte UTF-8 and a ZWJ sequence), CJK; written raw, not "
         "\\u-escaped"},
        {role::peer, role::seeker, 5,
         std::string("Quotes \" backslash \\ slash / newline\nCR\rtab\tBS\bFF\f NUL") +
             std::string(1, '\0') + " US\x1f DEL\x7f end",
         "JSON escapes as JSON.stringify writes them: \\\" \\\\ \\n \\r \\t \\b \\f, other "
         "controls as lowercase \\u00xx, '/' and DEL unescaped"},
        {role::seeker, role::peer, 6, "", "empty text"},
        {role::seeker, role::peer, 7, std::string(244, 'a'),
         "plaintext_json is 255 bytes: padded to 256 (one 0x80 byte added)"},
        {role::seeker, role::peer, 8, std::string(245, 'b'),
         "plaintext_json is 256 bytes: padded to 512 (a whole block added)"},
        {role::peer, role::seeker, 9007199254740991, "seq at its maximum, 2^53 - 1",
         "largest seq: associated data carries 9007199254740991"},
    };

    json::array messages;
    int nonce_index = 1;
    for (const auto& s : specs) {
        const party_keys& from = parties[static_cast<std::size_t>(s.from)];
        const party_keys& to = parties[static_cast<std::size_t>(s.to)];
        const auto k = keys_between(from, to);
        const auto nonce = nonce_from(nonce_index++);
        auto copy = e2e::encrypt_copy(k.tx, conversation_id, s.from, s.to, s.seq, s.text, nonce);
        if (!copy) {
            std::cerr << "encrypt failed: " << copy.error().message() << "\n";
            return 1;
        }
        const std::string pj = e2e::text_json(s.text);
        messages.push_back(json::object{
            {"comment", s.comment},
            {"conversation_id", conversation_id},
            {"from", name(s.from)},
            {"to", name(s.to)},
            {"seq", s.seq},
            {"key", b64(k.tx.view())},
            {"associated_data", e2e::associated_data(conversation_id, s.from, s.to, s.seq)},
            {"text", s.text},
            {"plaintext_json", pj},
            {"plaintext_length", pj.size()},
            {"padded_length", e2e::padded_size(pj.size())},
            {"nonce", b64(copy->nonce)},
            {"ciphertext", b64(copy->ciphertext)}});
    }
    root["messages"] = std::move(messages);

    // Decrypt cases: padded plaintexts built by hand and encrypted from the seeker to the peer
    // (seq 100 + i). Each must give exactly the expected text or error.
    {
        const auto k = keys_between(parties[0], parties[1]);
        struct decrypt_spec {
            std::string comment;
            std::vector<std::uint8_t> padded;
            std::string expect_text;
            std::string expect_error;
        };
        auto padded_json = [](std::string_view j) { return pad(j, e2e::padded_size(j.size())); };
        const std::vector<decrypt_spec> cases = {
            {"other members are ignored", padded_json(R"({"text":"hi","lang":"en","v":2})"), "hi",
             ""},
            {"whitespace and member order are free; \\u escapes decode",
             padded_json(" {\"x\":[1,{}] , \"text\" : \"caf\\u00e9 \\ud83d\\udc99\"}\n"), "café 💙",
             ""},
            {"a repeated key: the last one wins (as JSON.parse does)",
             padded_json(R"({"text":"first","text":"second"})"), "second", ""},
            {"no 0x80 marker: all zero bytes", std::vector<std::uint8_t>(256, 0), "",
             "bad_padding"},
            {"length not a multiple of 256 (200 bytes, marker present)",
             pad(R"({"text":"short"})", 200), "", "bad_padding"},
            {"empty plaintext (only the tag)", {}, "", "bad_padding"},
            {"marker followed by a non-zero byte",
             [] {
                 auto p = pad(R"({"text":"x"})", 256);
                 p[255] = 0x01;
                 return p;
             }(),
             "", "bad_padding"},
            {"not JSON", padded_json("hello there"), "", "bad_plaintext"},
            {"JSON but not an object", padded_json(R"(["text","hi"])"), "", "bad_plaintext"},
            {"no text member", padded_json(R"({"message":"hi"})"), "", "bad_plaintext"},
            {"text is not a string", padded_json(R"({"text":42})"), "", "bad_plaintext"},
            {"invalid UTF-8 inside the JSON", padded_json("{\"text\":\"\xff\xfe\"}"), "",
             "bad_plaintext"},
            {"a lone surrogate escape (not valid Unicode)", padded_json(R"({"text":"\ud800"})"), "",
             "bad_plaintext"},
            {"trailing garbage after the object", padded_json(R"({"text":"hi"} x)"), "",
             "bad_plaintext"},
        };
        json::array out;
        std::int64_t seq = 100;
        for (const auto& c : cases) {
            const auto nonce = nonce_from(nonce_index++);
            const std::string ad =
                e2e::associated_data(conversation_id, role::seeker, role::peer, seq);
            json::object o{{"comment", c.comment},
                           {"conversation_id", conversation_id},
                           {"from", "seeker"},
                           {"to", "peer"},
                           {"seq", seq},
                           {"key", b64(k.tx.view())},
                           {"associated_data", ad},
                           {"padded_plaintext", b64(c.padded)},
                           {"nonce", b64(nonce)},
                           {"ciphertext", b64(raw_encrypt(k.tx, ad, c.padded, nonce))}};
            if (c.expect_error.empty()) {
                o["expect_text"] = c.expect_text;
            } else {
                o["expect_error"] = c.expect_error;
            }
            out.push_back(std::move(o));
            ++seq;
        }
        root["decrypt_cases"] = std::move(out);
    }

    // Replay: copies from the seeker delivered to the peer in this order, on a fresh receiver.
    {
        const auto k = keys_between(parties[0], parties[1]);
        const std::string replay_conversation = "c_replay_01";
        std::vector<std::pair<std::int64_t, std::string>> sent = {
            {1, "one"}, {2, "two"}, {3, "three"}, {5, "five"}, {6, "six"}};
        std::vector<json::object> copies;
        for (const auto& [seq, text] : sent) {
            const auto nonce = nonce_from(nonce_index++);
            auto c = e2e::encrypt_copy(k.tx, replay_conversation, role::seeker, role::peer, seq,
                                       text, nonce);
            copies.push_back({{"seq", seq},
                              {"text", text},
                              {"nonce", b64(c->nonce)},
                              {"ciphertext", b64(c->ciphertext)}});
        }
        auto delivery = [&](std::size_t i, std::string_view expect_error,
                            std::string_view comment) {
            json::object d{{"comment", comment},
                           {"seq", copies[i].at("seq")},
                           {"nonce", copies[i].at("nonce")},
                           {"ciphertext", copies[i].at("ciphertext")}};
            if (expect_error.empty()) {
                d["expect_text"] = copies[i].at("text");
            } else {
                d["expect_error"] = expect_error;
            }
            return d;
        };
        json::object forged = delivery(4, "authentication_failed",
                                       "seq 6 with one ciphertext bit flipped: rejected, and the "
                                       "replay window does not move");
        {
            const auto& text = forged.at("ciphertext").get_string();
            auto raw = from_b64(std::string_view(text.data(), text.size()));
            raw[0] ^= 0x01;
            forged["ciphertext"] = b64(raw);
        }
        json::array deliveries{
            delivery(1, "", "seq 2 first: accepted (a gap is the transport's business: sync)"),
            delivery(0, "replayed", "seq 1 after seq 2: not above the last accepted"),
            delivery(1, "replayed", "seq 2 again: a duplicate"),
            delivery(3, "", "seq 5: accepted"),
            delivery(2, "replayed", "seq 3 after seq 5: rejected even though never seen"),
            forged,
            delivery(4, "", "the genuine seq 6: accepted"),
            delivery(4, "replayed", "seq 6 again"),
        };
        root["replay_sequence"] = {
            {"comment", "A fresh receiver (peer) takes these copies from the seeker in this "
                        "order. It keeps the last seq it accepted from each sender and rejects "
                        "a copy whose seq is not above it; only a copy that decrypts moves it. "
                        "Key: the seeker's tx key for the peer."},
            {"conversation_id", replay_conversation},
            {"from", "seeker"},
            {"to", "peer"},
            {"key", b64(k.tx.view())},
            {"deliveries", std::move(deliveries)}};
    }

    // Sealed excerpt.
    {
        e2e::excerpt_content content{
            conversation_id,
            {{4, role::seeker, "I don't think I can keep going."},
             {5, role::peer, "I'm really glad you told me. Are you safe right now?"},
             {6, role::seeker, "Je ne sais pas… 😔"}}};
        auto sealed = e2e::seal_excerpt(watch.public_key, content);
        if (!sealed) {
            std::cerr << "seal failed\n";
            return 1;
        }
        json::array msgs;
        for (const auto& m : content.messages) {
            msgs.push_back(
                json::object{{"offset", m.offset}, {"from", name(m.from)}, {"text", m.text}});
        }
        root["sealed_excerpt"] = {
            {"comment",
             "crypto_box_seal(plaintext_json, moderator_watch public key). Sealed boxes are "
             "randomised (an ephemeral key each time), so a new seal never equals this one: check "
             "that crypto_box_seal_open with the recipient keys gives plaintext_json exactly, and "
             "that your own excerpt_json of `excerpt` equals plaintext_json. No padding."},
            {"recipient_public_key", b64(watch.public_key)},
            {"recipient_secret_key", b64(watch.secret_key.view())},
            {"excerpt",
             json::object{{"conversation_id", content.conversation_id}, {"messages", msgs}}},
            {"plaintext_json", e2e::excerpt_json(content)},
            {"sealed", b64(*sealed)}};
    }

    std::string out;
    pretty(out, root, 0);
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}
