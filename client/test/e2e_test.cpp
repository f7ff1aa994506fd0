// e2e_test.cpp — the end-to-end layer against tests/vectors/e2e.json (byte for byte) and its
// behaviour: tampering, replay, three parties, wrong recipients, padding bounds, excerpts.
// Unit tests: no network, no clock (the only randomness is libsodium's nonces and keys).
#include <kindred/client/e2e.hpp>

#include <boost/json.hpp>

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace e2e = kindred::client::e2e;
namespace json = boost::json;
using kindred::protocol::role;

// ---------------------------------------------------------------------------------------------
// Reading the vectors.
const json::object& vectors() {
    static const json::value root = [] {
        std::ifstream in(KINDRED_E2E_VECTORS, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return json::parse(ss.str());
    }();
    return root.as_object();
}

std::string str(const json::value& v) {
    const auto& s = v.as_string();
    return std::string(s.data(), s.size());
}

// libsodium's own base64 (the ORIGINAL variant, with padding), as the web client uses it.
std::vector<std::uint8_t> bin(const json::value& v) {
    const std::string text = str(v);
    std::vector<std::uint8_t> out(text.size() / 4 * 3 + 3);
    std::size_t length = 0;
    const char* end = nullptr;
    if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &length, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text.data() + text.size()) {
        throw std::runtime_error("bad base64 in vectors");
    }
    out.resize(length);
    return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> fixed(const json::value& v) {
    const auto b = bin(v);
    if (b.size() != N) throw std::runtime_error("wrong size in vectors");
    std::array<std::uint8_t, N> a{};
    std::copy(b.begin(), b.end(), a.begin());
    return a;
}

std::vector<std::uint8_t> to_vec(std::span<const std::uint8_t> s) {
    return {s.begin(), s.end()};
}

role role_of(const json::value& v) {
    return *kindred::protocol::from_string<role>(str(v));
}

e2e::session_key session_key_of(const json::value& v) {
    const auto a = fixed<32>(v);
    return e2e::session_key(std::span<const std::uint8_t, 32>(a));
}

e2e::kx_key_pair kx_keys(std::string_view name) {
    const auto& k = vectors().at("keys").at(name);
    const auto sk = fixed<32>(k.at("secret_key"));
    return {fixed<32>(k.at("public_key")), e2e::x25519_secret_key(std::span(sk))};
}

e2e::ed25519_public_key identity_public() {
    return fixed<32>(vectors().at("keys").at("peer_identity").at("public_key"));
}

const std::string& conversation_id() {
    static const std::string id = str(vectors().at("messages").at(0).at("conversation_id"));
    return id;
}

kindred::protocol::matched_peer matched_peer_from_vectors() {
    kindred::protocol::matched_peer p;
    p.alias = "River";
    p.prekey = fixed<32>(vectors().at("prekey_signature").at("prekey"));
    p.identity_key = fixed<32>(vectors().at("prekey_signature").at("identity_key"));
    p.signature = fixed<64>(vectors().at("prekey_signature").at("signature"));
    return p;
}

struct three_parties {
    e2e::conversation_crypto seeker;
    e2e::conversation_crypto peer;
    e2e::conversation_crypto moderator;
};

// The three parties of the vectors' conversation, moderator joined.
three_parties vector_parties(const std::string& id) {
    const auto seeker_keys = kx_keys("seeker");
    const auto prekey = kx_keys("peer_prekey");
    const auto moderator_keys = kx_keys("moderator");
    auto seeker =
        e2e::conversation_crypto::for_seeker(id, seeker_keys, matched_peer_from_vectors());
    auto peer =
        e2e::conversation_crypto::for_peer(id, prekey, identity_public(), seeker_keys.public_key);
    auto moderator = e2e::conversation_crypto::for_moderator(
        id, moderator_keys, seeker_keys.public_key, prekey.public_key);
    if (!seeker || !peer || !moderator) throw std::runtime_error("cannot build parties");
    if (!seeker->add_moderator(moderator_keys.public_key) ||
        !peer->add_moderator(moderator_keys.public_key)) {
        throw std::runtime_error("cannot add moderator");
    }
    return {std::move(*seeker), std::move(*peer), std::move(*moderator)};
}

e2e::conversation_crypto& party(three_parties& p, role r) {
    return r == role::seeker ? p.seeker : r == role::peer ? p.peer : p.moderator;
}

std::string error_name(const boost::system::error_code& ec) {
    return ec.category() == e2e::e2e_category()
               ? std::string(e2e::to_string(static_cast<e2e::error>(ec.value())))
               : ec.message();
}

// ---------------------------------------------------------------------------------------------
// Random parties for the behaviour tests.
struct random_conversation {
    e2e::identity_key_pair identity = e2e::generate_identity_key_pair();
    e2e::prekey_store store{identity};
    e2e::kx_key_pair seeker_keys = e2e::generate_kx_key_pair();
    e2e::kx_key_pair moderator_keys = e2e::generate_kx_key_pair();
    std::string id = "c_random";

    three_parties make(bool with_moderator) {
        const auto signed_prekey = store.generate(1).at(0);
        kindred::protocol::matched_peer mp;
        mp.prekey = signed_prekey.prekey;
        mp.signature = signed_prekey.signature;
        mp.identity_key = identity.public_key;
        auto prekey = store.take(signed_prekey.prekey);
        auto s = e2e::conversation_crypto::for_seeker(id, seeker_keys, mp);
        auto p = e2e::conversation_crypto::for_peer(id, *prekey, identity.public_key,
                                                    seeker_keys.public_key);
        auto m = e2e::conversation_crypto::for_moderator(id, moderator_keys, seeker_keys.public_key,
                                                         prekey->public_key);
        if (!s || !p || !m) throw std::runtime_error("cannot build random parties");
        if (with_moderator) {
            (void)s->add_moderator(moderator_keys.public_key);
            (void)p->add_moderator(moderator_keys.public_key);
        }
        return {std::move(*s), std::move(*p), std::move(*m)};
    }
};

// =============================================================================================
// Vectors.

TEST(E2eVectors, KeyPairsReproduceFromSeeds) {
    for (const char* name : {"seeker", "peer_prekey", "moderator", "moderator_watch"}) {
        SCOPED_TRACE(name);
        const auto& k = vectors().at("keys").at(name);
        const auto seed = fixed<32>(k.at("seed"));
        const auto pair = e2e::kx_key_pair_from_seed(seed);
        EXPECT_EQ(to_vec(pair.public_key), bin(k.at("public_key")));
        EXPECT_EQ(to_vec(pair.secret_key.view()), bin(k.at("secret_key")));
    }
    const auto& id = vectors().at("keys").at("peer_identity");
    const auto pair = e2e::identity_key_pair_from_seed(fixed<32>(id.at("seed")));
    EXPECT_EQ(to_vec(pair.public_key), bin(id.at("public_key")));
    EXPECT_EQ(to_vec(pair.secret_key.view()), bin(id.at("secret_key")));
}

TEST(E2eVectors, PrekeySignatureReproducesAndVerifies) {
    const auto& v = vectors().at("prekey_signature");
    const auto identity = e2e::identity_key_pair_from_seed(
        fixed<32>(vectors().at("keys").at("peer_identity").at("seed")));
    const auto prekey = fixed<32>(v.at("prekey"));
    const auto signature = e2e::sign_prekey(prekey, identity);
    EXPECT_EQ(to_vec(signature), bin(v.at("signature")));
    EXPECT_TRUE(e2e::verify_prekey(prekey, signature, fixed<32>(v.at("identity_key"))));
}

TEST(E2eVectors, SessionKeysReproduceInBothDirections) {
    const auto& sessions = vectors().at("session_keys").as_array();
    ASSERT_EQ(sessions.size(), 3u);
    const std::map<role, std::string> key_name{
        {role::seeker, "seeker"}, {role::peer, "peer_prekey"}, {role::moderator, "moderator"}};
    for (const auto& s : sessions) {
        const role client = role_of(s.at("client"));
        const role server = role_of(s.at("server"));
        SCOPED_TRACE(std::string(to_string(client)) + "-" + std::string(to_string(server)));
        ASSERT_LT(client, server);
        const auto client_keys = kx_keys(key_name.at(client));
        const auto server_keys = kx_keys(key_name.at(server));
        EXPECT_EQ(to_vec(client_keys.public_key), bin(s.at("client_public_key")));
        EXPECT_EQ(to_vec(server_keys.public_key), bin(s.at("server_public_key")));
        const auto c =
            e2e::derive_session_keys(client, client_keys, server, server_keys.public_key);
        const auto d =
            e2e::derive_session_keys(server, server_keys, client, client_keys.public_key);
        ASSERT_TRUE(c);
        ASSERT_TRUE(d);
        EXPECT_EQ(to_vec(c->rx.view()), bin(s.at("client_rx")));
        EXPECT_EQ(to_vec(c->tx.view()), bin(s.at("client_tx")));
        EXPECT_EQ(to_vec(d->rx.view()), bin(s.at("server_rx")));
        EXPECT_EQ(to_vec(d->tx.view()), bin(s.at("server_tx")));
        EXPECT_TRUE(c->tx.equals(d->rx.view()));
        EXPECT_TRUE(c->rx.equals(d->tx.view()));
        EXPECT_FALSE(c->rx.equals(c->tx.view()));
    }
}

TEST(E2eVectors, SafetyCodeReproducesOnBothSides) {
    const auto& v = vectors().at("safety_code");
    const std::string code = str(v.at("code"));
    EXPECT_EQ(
        e2e::safety_code(fixed<32>(v.at("peer_identity_key")), fixed<32>(v.at("seeker_pubkey"))),
        code);
    ASSERT_EQ(code.size(), e2e::safety_code_chars);
    EXPECT_TRUE(std::all_of(code.begin(), code.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
    }));
    // The 12 characters are the first 60 bits of the stored hash, MSB first.
    const auto hash = bin(v.at("blake2b_256"));
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i)
        bits = (bits << 8) | hash[static_cast<std::size_t>(i)];
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    for (std::size_t i = 0; i < 12; ++i) {
        EXPECT_EQ(code[i], alphabet[(bits >> (59 - 5 * i)) & 31]) << i;
    }
    auto parties = vector_parties(conversation_id());
    EXPECT_EQ(parties.seeker.safety_code(), code);
    EXPECT_EQ(parties.peer.safety_code(), code);
    EXPECT_EQ(parties.moderator.safety_code(), std::nullopt);
}

TEST(E2eVectors, MessagesEncryptToTheExactCiphertext) {
    const auto& messages = vectors().at("messages").as_array();
    ASSERT_GE(messages.size(), 12u);
    auto parties = vector_parties(conversation_id());
    for (const auto& m : messages) {
        SCOPED_TRACE(str(m.at("comment")));
        const role from = role_of(m.at("from"));
        const role to = role_of(m.at("to"));
        const std::int64_t seq = m.at("seq").to_number<std::int64_t>();
        const std::string id = str(m.at("conversation_id"));
        const std::string text = str(m.at("text"));
        EXPECT_EQ(e2e::associated_data(id, from, to, seq), str(m.at("associated_data")));
        const std::string pj = e2e::text_json(text);
        EXPECT_EQ(pj, str(m.at("plaintext_json")));
        EXPECT_EQ(pj.size(), m.at("plaintext_length").to_number<std::size_t>());
        EXPECT_EQ(e2e::padded_size(pj.size()), m.at("padded_length").to_number<std::size_t>());
        // The stored key is the sender's tx key for the recipient, as the conversation derives it.
        const auto* keys = party(parties, from).keys_with(to);
        ASSERT_NE(keys, nullptr);
        EXPECT_EQ(to_vec(keys->tx.view()), bin(m.at("key")));
        const auto copy = e2e::encrypt_copy(session_key_of(m.at("key")), id, from, to, seq, text,
                                            fixed<24>(m.at("nonce")));
        ASSERT_TRUE(copy) << copy.error().message();
        EXPECT_EQ(copy->to, to);
        EXPECT_EQ(copy->ciphertext, bin(m.at("ciphertext")));
        EXPECT_EQ(copy->ciphertext.size(),
                  m.at("padded_length").to_number<std::size_t>() + e2e::aead_tag_bytes);
    }
}

TEST(E2eVectors, MessagesDecryptForTheirRecipientInOrder) {
    auto parties = vector_parties(conversation_id());
    for (const auto& m : vectors().at("messages").as_array()) {
        SCOPED_TRACE(str(m.at("comment")));
        const role from = role_of(m.at("from"));
        const role to = role_of(m.at("to"));
        const std::int64_t seq = m.at("seq").to_number<std::int64_t>();
        const auto nonce = fixed<24>(m.at("nonce"));
        const auto ciphertext = bin(m.at("ciphertext"));
        const auto plain = e2e::decrypt_copy(session_key_of(m.at("key")), conversation_id(), from,
                                             to, seq, nonce, ciphertext);
        ASSERT_TRUE(plain) << plain.error().message();
        EXPECT_EQ(*plain, str(m.at("text")));

        kindred::protocol::message_event event;
        event.conversation_id = conversation_id();
        event.offset = 1;
        event.from = from;
        event.seq = seq;
        event.nonce = nonce;
        event.ciphertext = ciphertext;
        const auto via_conversation = party(parties, to).decrypt(event);
        ASSERT_TRUE(via_conversation) << via_conversation.error().message();
        EXPECT_EQ(*via_conversation, str(m.at("text")));
        EXPECT_EQ(party(parties, to).last_accepted_seq(from), seq);
    }
}

TEST(E2eVectors, DecryptCasesGiveTheExpectedTextOrError) {
    const auto& cases = vectors().at("decrypt_cases").as_array();
    ASSERT_GE(cases.size(), 10u);
    for (const auto& c : cases) {
        SCOPED_TRACE(str(c.at("comment")));
        const role from = role_of(c.at("from"));
        const role to = role_of(c.at("to"));
        const std::int64_t seq = c.at("seq").to_number<std::int64_t>();
        EXPECT_EQ(e2e::associated_data(str(c.at("conversation_id")), from, to, seq),
                  str(c.at("associated_data")));
        const auto plain =
            e2e::decrypt_copy(session_key_of(c.at("key")), str(c.at("conversation_id")), from, to,
                              seq, fixed<24>(c.at("nonce")), bin(c.at("ciphertext")));
        if (const auto* text = c.as_object().if_contains("expect_text")) {
            ASSERT_TRUE(plain) << plain.error().message();
            EXPECT_EQ(*plain, str(*text));
        } else {
            ASSERT_FALSE(plain);
            EXPECT_EQ(error_name(plain.error()), str(c.at("expect_error")));
        }
    }
}

TEST(E2eVectors, ReplaySequenceIsRejectedExactlyAsListed) {
    const auto& r = vectors().at("replay_sequence");
    const auto seeker_keys = kx_keys("seeker");
    auto peer =
        e2e::conversation_crypto::for_peer(str(r.at("conversation_id")), kx_keys("peer_prekey"),
                                           identity_public(), seeker_keys.public_key);
    ASSERT_TRUE(peer);
    EXPECT_EQ(to_vec(peer->keys_with(role::seeker)->rx.view()), bin(r.at("key")));
    for (const auto& d : r.at("deliveries").as_array()) {
        SCOPED_TRACE(str(d.at("comment")));
        const auto plain = peer->decrypt(role::seeker, d.at("seq").to_number<std::int64_t>(),
                                         fixed<24>(d.at("nonce")), bin(d.at("ciphertext")));
        if (const auto* text = d.as_object().if_contains("expect_text")) {
            ASSERT_TRUE(plain) << plain.error().message();
            EXPECT_EQ(*plain, str(*text));
        } else {
            ASSERT_FALSE(plain);
            EXPECT_EQ(error_name(plain.error()), str(d.at("expect_error")));
        }
    }
    EXPECT_EQ(peer->last_accepted_seq(role::seeker), 6);
}

TEST(E2eVectors, SealedExcerptOpensToTheExactJson) {
    const auto& v = vectors().at("sealed_excerpt");
    const auto sk = fixed<32>(v.at("recipient_secret_key"));
    const e2e::kx_key_pair recipient{fixed<32>(v.at("recipient_public_key")),
                                     e2e::x25519_secret_key(std::span(sk))};
    EXPECT_EQ(to_vec(recipient.public_key),
              bin(vectors().at("keys").at("moderator_watch").at("public_key")));
    const auto opened = e2e::open_excerpt(recipient, bin(v.at("sealed")));
    ASSERT_TRUE(opened) << opened.error().message();

    // The structured form in the file, built independently.
    e2e::excerpt_content expected;
    expected.conversation_id = str(v.at("excerpt").at("conversation_id"));
    for (const auto& m : v.at("excerpt").at("messages").as_array()) {
        expected.messages.push_back(
            {m.at("offset").to_number<std::int64_t>(), role_of(m.at("from")), str(m.at("text"))});
    }
    EXPECT_EQ(*opened, expected);
    EXPECT_EQ(e2e::excerpt_json(expected), str(v.at("plaintext_json")));
    EXPECT_EQ(bin(v.at("sealed")).size(),
              str(v.at("plaintext_json")).size() + e2e::sealed_overhead_bytes);
}

// =============================================================================================
// Behaviour.

TEST(E2eCopy, RoundTripsAndUsesAFreshNonceEachTime) {
    random_conversation rc;
    auto p = rc.make(false);
    const auto& tx = p.seeker.keys_with(role::peer)->tx;
    const auto a = e2e::encrypt_copy(tx, rc.id, role::seeker, role::peer, 1, "same text");
    const auto b = e2e::encrypt_copy(tx, rc.id, role::seeker, role::peer, 1, "same text");
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_NE(a->nonce, b->nonce);
    EXPECT_NE(a->ciphertext, b->ciphertext);
    const auto& rx = p.peer.keys_with(role::seeker)->rx;
    EXPECT_EQ(
        e2e::decrypt_copy(rx, rc.id, role::seeker, role::peer, 1, a->nonce, a->ciphertext).value(),
        "same text");
}

TEST(E2eCopy, TamperingWithAnyBoundValueFailsAuthentication) {
    random_conversation rc;
    auto p = rc.make(false);
    const auto& tx = p.seeker.keys_with(role::peer)->tx;
    const auto& rx = p.peer.keys_with(role::seeker)->rx;
    const auto copy = e2e::encrypt_copy(tx, rc.id, role::seeker, role::peer, 7, "bound").value();
    auto fails = [&](std::string_view id, role from, role to, std::int64_t seq,
                     const e2e::xchacha_nonce& nonce, const e2e::bytes& ciphertext) {
        const auto r = e2e::decrypt_copy(rx, id, from, to, seq, nonce, ciphertext);
        return !r && r.error() == e2e::error::authentication_failed;
    };
    ASSERT_FALSE(fails(rc.id, role::seeker, role::peer, 7, copy.nonce, copy.ciphertext));
    for (const std::size_t i :
         {std::size_t{0}, copy.ciphertext.size() / 2, copy.ciphertext.size() - 1}) {
        auto c = copy.ciphertext;
        c[i] ^= 0x80;
        EXPECT_TRUE(fails(rc.id, role::seeker, role::peer, 7, copy.nonce, c)) << "byte " << i;
    }
    auto truncated = copy.ciphertext;
    truncated.pop_back();
    EXPECT_TRUE(fails(rc.id, role::seeker, role::peer, 7, copy.nonce, truncated));
    EXPECT_TRUE(fails(rc.id, role::seeker, role::peer, 7, copy.nonce, e2e::bytes(15, 0)));
    auto nonce = copy.nonce;
    nonce[23] ^= 0x01;
    EXPECT_TRUE(fails(rc.id, role::seeker, role::peer, 7, nonce, copy.ciphertext));
    EXPECT_TRUE(fails("c_randoM", role::seeker, role::peer, 7, copy.nonce, copy.ciphertext));
    EXPECT_TRUE(fails("", role::seeker, role::peer, 7, copy.nonce, copy.ciphertext));
    EXPECT_TRUE(fails(rc.id, role::moderator, role::peer, 7, copy.nonce, copy.ciphertext));
    EXPECT_TRUE(fails(rc.id, role::seeker, role::moderator, 7, copy.nonce, copy.ciphertext));
    EXPECT_TRUE(fails(rc.id, role::seeker, role::peer, 8, copy.nonce, copy.ciphertext));
    EXPECT_TRUE(fails(rc.id, role::seeker, role::peer, 6, copy.nonce, copy.ciphertext));
}

TEST(E2eCopy, AssociatedDataIsTheContractString) {
    EXPECT_EQ(e2e::associated_data("c1", role::seeker, role::peer, 1),
              "kindred/v1|c1|seeker|peer|1");
    EXPECT_EQ(e2e::associated_data("x|y", role::moderator, role::seeker, 9007199254740991),
              "kindred/v1|x|y|moderator|seeker|9007199254740991");
}

TEST(E2eCopy, TextJsonEscapesLikeJsonStringify) {
    EXPECT_EQ(e2e::text_json(""), R"({"text":""})");
    EXPECT_EQ(e2e::text_json("a\"b\\c/d"), R"({"text":"a\"b\\c/d"})");
    EXPECT_EQ(e2e::text_json("\b\f\n\r\t"), R"({"text":"\b\f\n\r\t"})");
    EXPECT_EQ(e2e::text_json(std::string("\0\x01\x1f\x7f", 4)),
              "{\"text\":\"\\u0000\\u0001\\u001f\x7f\"}");
    EXPECT_EQ(e2e::text_json("é💙\u2028"), "{\"text\":\"é💙\u2028\"}");
}

TEST(E2eCopy, PaddingBoundaries) {
    EXPECT_EQ(e2e::padded_size(0), 256u);
    EXPECT_EQ(e2e::padded_size(255), 256u);
    EXPECT_EQ(e2e::padded_size(256), 512u);
    EXPECT_EQ(e2e::padded_size(511), 512u);
    EXPECT_EQ(e2e::padded_size(512), 768u);
    random_conversation rc;
    auto p = rc.make(false);
    const auto& tx = p.seeker.keys_with(role::peer)->tx;
    const auto& rx = p.peer.keys_with(role::seeker)->rx;
    // JSON length = text length + 11 for ASCII text without escapes.
    for (const auto& [json_length, padded] : std::vector<std::pair<std::size_t, std::size_t>>{
             {11, 256}, {255, 256}, {256, 512}, {511, 512}, {512, 768}, {16383, 16384}}) {
        const std::string text(json_length - 11, 'x');
        const auto copy = e2e::encrypt_copy(tx, rc.id, role::seeker, role::peer, 1, text);
        ASSERT_TRUE(copy) << json_length;
        EXPECT_EQ(copy->ciphertext.size(), padded + e2e::aead_tag_bytes) << json_length;
        EXPECT_EQ(
            e2e::decrypt_copy(rx, rc.id, role::seeker, role::peer, 1, copy->nonce, copy->ciphertext)
                .value(),
            text);
    }
    // One byte more than fits in 16 KiB padded.
    const auto too_long =
        e2e::encrypt_copy(tx, rc.id, role::seeker, role::peer, 1, std::string(16384 - 11, 'x'));
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error(), e2e::error::too_long);
    // Escapes count: 3000 newlines are 6000 JSON bytes.
    const auto escaped =
        e2e::encrypt_copy(tx, rc.id, role::seeker, role::peer, 1, std::string(3000, '\n'));
    ASSERT_TRUE(escaped);
    EXPECT_EQ(escaped->ciphertext.size(), e2e::padded_size(6011) + e2e::aead_tag_bytes);
}

TEST(E2eCopy, RejectsBadInputsWithTheirError) {
    random_conversation rc;
    auto p = rc.make(false);
    const auto& tx = p.seeker.keys_with(role::peer)->tx;
    auto err = [&](std::int64_t seq, role from, role to, std::string_view text) {
        const auto r = e2e::encrypt_copy(tx, rc.id, from, to, seq, text);
        return r ? std::string("ok") : error_name(r.error());
    };
    EXPECT_EQ(err(1, role::seeker, role::peer, "fine"), "ok");
    EXPECT_EQ(err(0, role::seeker, role::peer, "x"), "bad_seq");
    EXPECT_EQ(err(-1, role::seeker, role::peer, "x"), "bad_seq");
    EXPECT_EQ(err(e2e::max_seq + 1, role::seeker, role::peer, "x"), "bad_seq");
    EXPECT_EQ(err(e2e::max_seq, role::seeker, role::peer, "x"), "ok");
    EXPECT_EQ(err(1, role::peer, role::peer, "x"), "bad_party");
    EXPECT_EQ(err(1, static_cast<role>(7), role::peer, "x"), "bad_party");
    EXPECT_EQ(err(1, role::seeker, role::peer, "\xff"), "invalid_text");
    EXPECT_EQ(err(1, role::seeker, role::peer, "\xc0\x80"), "invalid_text");         // overlong NUL
    EXPECT_EQ(err(1, role::seeker, role::peer, "\xed\xa0\x80"), "invalid_text");     // surrogate
    EXPECT_EQ(err(1, role::seeker, role::peer, "\xf4\x90\x80\x80"), "invalid_text"); // > U+10FFFF
    EXPECT_EQ(err(1, role::seeker, role::peer, "caf\xc3"), "invalid_text");          // truncated
}

TEST(E2eKeys, AllZeroPublicKeyIsRefused) {
    const auto mine = e2e::generate_kx_key_pair();
    const auto r = e2e::derive_session_keys(role::seeker, mine, role::peer, {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), e2e::error::bad_public_key);
    EXPECT_EQ(e2e::derive_session_keys(role::peer, mine, role::peer, mine.public_key).error(),
              e2e::error::bad_party);
}

TEST(E2eKeys, PrekeySignatureRejectsOtherKeysAndIdentities) {
    const auto identity = e2e::generate_identity_key_pair();
    const auto other = e2e::generate_identity_key_pair();
    const auto prekey = e2e::generate_kx_key_pair();
    const auto sig = e2e::sign_prekey(prekey.public_key, identity);
    EXPECT_TRUE(e2e::verify_prekey(prekey.public_key, sig, identity.public_key));
    EXPECT_FALSE(e2e::verify_prekey(prekey.public_key, sig, other.public_key));
    EXPECT_FALSE(
        e2e::verify_prekey(e2e::generate_kx_key_pair().public_key, sig, identity.public_key));
    auto bad = sig;
    bad[10] ^= 0x04;
    EXPECT_FALSE(e2e::verify_prekey(prekey.public_key, bad, identity.public_key));
}

TEST(E2eKeys, SeekerRefusesAPrekeyWithABadSignature) {
    random_conversation rc;
    const auto signed_prekey = rc.store.generate(1).at(0);
    kindred::protocol::matched_peer mp;
    mp.prekey = signed_prekey.prekey;
    mp.signature = signed_prekey.signature;
    mp.identity_key = e2e::generate_identity_key_pair().public_key; // not the signer
    const auto r = e2e::conversation_crypto::for_seeker("c", rc.seeker_keys, mp);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), e2e::error::bad_signature);
}

TEST(E2eKeys, PrekeyStoreSignsAndHandsEachPrekeyOutOnce) {
    const auto identity = e2e::generate_identity_key_pair();
    e2e::prekey_store store(identity);
    const auto uploaded = store.generate(5);
    ASSERT_EQ(uploaded.size(), 5u);
    EXPECT_EQ(store.size(), 5u);
    EXPECT_EQ(store.identity_key(), identity.public_key);
    for (const auto& p : uploaded) {
        EXPECT_TRUE(e2e::verify_prekey(p.prekey, p.signature, identity.public_key));
    }
    const auto taken = store.take(uploaded[2].prekey);
    ASSERT_TRUE(taken);
    EXPECT_EQ(taken->public_key, uploaded[2].prekey);
    EXPECT_FALSE(store.take(uploaded[2].prekey));
    EXPECT_FALSE(store.take(e2e::x25519_public_key{}));
    EXPECT_EQ(store.size(), 4u);
    // The secret matches the public key: crypto_kx with it agrees with the other side.
    const auto seeker = e2e::generate_kx_key_pair();
    const auto a = e2e::derive_session_keys(role::peer, *taken, role::seeker, seeker.public_key);
    const auto b = e2e::derive_session_keys(role::seeker, seeker, role::peer, taken->public_key);
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(a->tx.equals(b->rx.view()));
}

TEST(E2eConversation, ThreePartiesExchangeCopiesAndEachReadsOnlyItsOwn) {
    random_conversation rc;
    auto p = rc.make(true);
    EXPECT_EQ(p.seeker.recipients(), (std::vector<role>{role::peer, role::moderator}));
    EXPECT_EQ(p.peer.recipients(), (std::vector<role>{role::seeker, role::moderator}));
    EXPECT_EQ(p.moderator.recipients(), (std::vector<role>{role::seeker, role::peer}));

    std::int64_t seq[3] = {0, 0, 0};
    for (int round = 0; round < 3; ++round) {
        for (const role from : {role::seeker, role::peer, role::moderator}) {
            const std::int64_t s = ++seq[static_cast<int>(from)];
            const std::string text = std::string(to_string(from)) + " says " + std::to_string(s);
            const auto send = party(p, from).make_send(s, text);
            ASSERT_TRUE(send);
            EXPECT_EQ(send->conversation_id, rc.id);
            EXPECT_EQ(send->seq, s);
            ASSERT_EQ(send->copies.size(), 2u);
            // Before anyone accepts seq s: each copy fails for the party it is not meant for.
            for (const auto& copy : send->copies) {
                EXPECT_NE(copy.to, from);
                for (const role other : {role::seeker, role::peer, role::moderator}) {
                    if (other == from || other == copy.to) continue;
                    const auto wrong =
                        party(p, other).decrypt(from, s, copy.nonce, copy.ciphertext);
                    ASSERT_FALSE(wrong);
                    EXPECT_EQ(wrong.error(), e2e::error::authentication_failed);
                }
            }
            for (const auto& copy : send->copies) {
                kindred::protocol::message_event event{};
                event.conversation_id = rc.id;
                event.from = from;
                event.seq = s;
                event.nonce = copy.nonce;
                event.ciphertext = copy.ciphertext;
                const auto got = party(p, copy.to).decrypt(event);
                ASSERT_TRUE(got) << got.error().message();
                EXPECT_EQ(*got, text);
            }
        }
    }
    EXPECT_EQ(p.moderator.last_accepted_seq(role::seeker), 3);
    EXPECT_EQ(p.seeker.last_accepted_seq(role::moderator), 3);
}

TEST(E2eConversation, AnOutsiderWithItsOwnKeysCannotDecrypt) {
    random_conversation rc;
    auto p = rc.make(false);
    const auto copies = p.seeker.encrypt(1, "private").value();
    ASSERT_EQ(copies.size(), 1u);
    // An outsider that got the seeker's public key and made up its own "prekey".
    const auto outsider_keys = e2e::generate_kx_key_pair();
    auto outsider = e2e::conversation_crypto::for_peer(rc.id, outsider_keys,
                                                       e2e::generate_identity_key_pair().public_key,
                                                       rc.seeker_keys.public_key);
    ASSERT_TRUE(outsider);
    const auto r = outsider->decrypt(role::seeker, 1, copies[0].nonce, copies[0].ciphertext);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), e2e::error::authentication_failed);
    EXPECT_EQ(outsider->last_accepted_seq(role::seeker), 0);
}

TEST(E2eConversation, ReplayedAndLowerSeqAreRejectedAndFailuresChangeNothing) {
    random_conversation rc;
    auto p = rc.make(false);
    auto copy_of = [&](std::int64_t seq) {
        return p.seeker.encrypt(seq, "m" + std::to_string(seq)).value().at(0);
    };
    const auto c1 = copy_of(1), c2 = copy_of(2), c3 = copy_of(3), c4 = copy_of(4);
    auto deliver = [&](std::int64_t seq, const kindred::protocol::message_copy& c) {
        return p.peer.decrypt(role::seeker, seq, c.nonce, c.ciphertext);
    };
    EXPECT_EQ(deliver(1, c1).value(), "m1");
    EXPECT_EQ(deliver(1, c1).error(), e2e::error::replayed);
    EXPECT_EQ(deliver(3, c3).value(), "m3");
    EXPECT_EQ(deliver(2, c2).error(), e2e::error::replayed);
    // A forged copy with a high seq does not move the window.
    auto forged = c4;
    forged.ciphertext[3] ^= 1;
    EXPECT_EQ(deliver(4, forged).error(), e2e::error::authentication_failed);
    EXPECT_EQ(p.peer.last_accepted_seq(role::seeker), 3);
    // Nor does the right ciphertext claimed under another seq (the seq is authenticated).
    EXPECT_EQ(deliver(9, c4).error(), e2e::error::authentication_failed);
    EXPECT_EQ(p.peer.last_accepted_seq(role::seeker), 3);
    EXPECT_EQ(deliver(4, c4).value(), "m4");
    EXPECT_EQ(deliver(0, c4).error(), e2e::error::bad_seq);
    // The peer's own counter towards the seeker is independent.
    EXPECT_EQ(p.peer.last_accepted_seq(role::moderator), 0);
}

TEST(E2eConversation, PartiesAndConversationAreChecked) {
    random_conversation rc;
    auto p = rc.make(false);
    const auto c = p.seeker.encrypt(1, "x").value().at(0);
    // The moderator has not joined yet: no copy for it, and nothing accepted from it.
    EXPECT_FALSE(p.seeker.has_party(role::moderator));
    EXPECT_EQ(p.peer.decrypt(role::moderator, 1, c.nonce, c.ciphertext).error(),
              e2e::error::bad_party);
    EXPECT_EQ(p.peer.decrypt(role::peer, 1, c.nonce, c.ciphertext).error(), e2e::error::bad_party);
    kindred::protocol::message_event event{};
    event.conversation_id = "another";
    event.from = role::seeker;
    event.seq = 1;
    event.nonce = c.nonce;
    event.ciphertext = c.ciphertext;
    EXPECT_EQ(p.peer.decrypt(event).error(), e2e::error::wrong_conversation);
    EXPECT_EQ(p.moderator.add_moderator(rc.moderator_keys.public_key).error(),
              e2e::error::bad_party);
    EXPECT_EQ(p.seeker.add_moderator({}).error(), e2e::error::bad_public_key);
    EXPECT_FALSE(p.seeker.has_party(role::moderator));
    EXPECT_EQ(p.seeker.keys_with(role::seeker), nullptr);
    EXPECT_EQ(p.seeker.keys_with(role::moderator), nullptr);
}

TEST(E2eConversation, ModeratorRejoinUsesNewKeysButKeepsItsSeq) {
    random_conversation rc;
    auto p = rc.make(true);
    const auto first = p.moderator.encrypt(1, "first").value();
    EXPECT_EQ(p.seeker.decrypt(role::moderator, 1, first[0].nonce, first[0].ciphertext).value(),
              "first");
    // The moderator joins again with a fresh key pair.
    const auto fresh = e2e::generate_kx_key_pair();
    auto again = e2e::conversation_crypto::for_moderator(rc.id, fresh, rc.seeker_keys.public_key,
                                                         p.peer.local_public_key());
    ASSERT_TRUE(again);
    ASSERT_TRUE(p.seeker.add_moderator(fresh.public_key));
    const auto old_key_copy = p.moderator.encrypt(2, "old key").value();
    EXPECT_EQ(
        p.seeker.decrypt(role::moderator, 2, old_key_copy[0].nonce, old_key_copy[0].ciphertext)
            .error(),
        e2e::error::authentication_failed);
    const auto replay = again->encrypt(1, "seq restarted").value();
    EXPECT_EQ(p.seeker.decrypt(role::moderator, 1, replay[0].nonce, replay[0].ciphertext).error(),
              e2e::error::replayed);
    const auto next = again->encrypt(2, "second").value();
    EXPECT_EQ(p.seeker.decrypt(role::moderator, 2, next[0].nonce, next[0].ciphertext).value(),
              "second");
}

TEST(E2eConversation, EncryptFailsWholeWhenTheTextIsBad) {
    random_conversation rc;
    auto p = rc.make(true);
    const auto r = p.seeker.make_send(1, "bad \xff");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), e2e::error::invalid_text);
}

TEST(E2eExcerpt, EachModeratorOpensOnlyItsOwnCopy) {
    const auto a = e2e::generate_kx_key_pair();
    const auto b = e2e::generate_kx_key_pair();
    const std::vector<kindred::protocol::moderator_key> moderators{{"mod-a", a.public_key},
                                                                   {"mod-b", b.public_key}};
    const e2e::excerpt_content content{
        "c9", {{3, role::peer, "are you safe?"}, {4, role::seeker, "no \"really\"\n😔"}}};
    const auto sealed = e2e::seal_excerpts(moderators, content);
    ASSERT_TRUE(sealed);
    ASSERT_EQ(sealed->size(), 2u);
    EXPECT_EQ((*sealed)[0].moderator_id, "mod-a");
    EXPECT_EQ((*sealed)[1].moderator_id, "mod-b");
    EXPECT_EQ(e2e::open_excerpt(a, (*sealed)[0].sealed).value(), content);
    EXPECT_EQ(e2e::open_excerpt(b, (*sealed)[1].sealed).value(), content);
    EXPECT_EQ(e2e::open_excerpt(a, (*sealed)[1].sealed).error(), e2e::error::authentication_failed);
    auto tampered = (*sealed)[0].sealed;
    tampered.back() ^= 1;
    EXPECT_EQ(e2e::open_excerpt(a, tampered).error(), e2e::error::authentication_failed);
    EXPECT_EQ(e2e::open_excerpt(a, e2e::bytes(47, 0)).error(), e2e::error::authentication_failed);
}

TEST(E2eExcerpt, JsonShapeIsCheckedAndBoundsApply) {
    EXPECT_EQ(e2e::excerpt_json({"c", {{5, role::seeker, "hi"}}}),
              R"({"conversation_id":"c","messages":[{"offset":5,"from":"seeker","text":"hi"}]})");
    EXPECT_EQ(e2e::excerpt_json({"c", {}}), R"({"conversation_id":"c","messages":[]})");
    EXPECT_TRUE(e2e::parse_excerpt_json(
        R"({"messages":[{"text":"t","from":"moderator","offset":9,"x":1}],"conversation_id":"c","v":2})"));
    for (const char* bad : {
             "nope",
             "[]",
             R"({"messages":[]})",
             R"({"conversation_id":"c"})",
             R"({"conversation_id":"c","messages":[{"offset":0,"from":"seeker","text":"t"}]})",
             R"({"conversation_id":"c","messages":[{"offset":1.5,"from":"seeker","text":"t"}]})",
             R"({"conversation_id":"c","messages":[{"offset":1,"from":"system","text":"t"}]})",
             R"({"conversation_id":"c","messages":[{"offset":1,"from":"seeker"}]})",
             R"({"conversation_id":"c","messages":[{"offset":1,"from":"seeker","text":1}]})",
         }) {
        const auto r = e2e::parse_excerpt_json(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error(), e2e::error::bad_plaintext) << bad;
    }
    const auto key = e2e::generate_kx_key_pair().public_key;
    EXPECT_EQ(e2e::seal_excerpt(key, {"c", {{1, role::seeker, "\xff"}}}).error(),
              e2e::error::invalid_text);
    EXPECT_EQ(e2e::seal_excerpt(key, {"c", {{1, role::seeker, std::string(50000, 'x')}}}).error(),
              e2e::error::too_long);
    EXPECT_EQ(e2e::seal_excerpt({}, {"c", {}}).error(), e2e::error::bad_public_key);
}

TEST(E2eErrors, AreRegisteredAsErrorCodesWithStableNames) {
    const boost::system::error_code ec = e2e::error::replayed;
    EXPECT_EQ(ec.category().name(), std::string("kindred.e2e"));
    EXPECT_EQ(ec.message(), "replayed");
    EXPECT_EQ(e2e::to_string(e2e::error::authentication_failed), "authentication_failed");
    EXPECT_EQ(e2e::to_string(e2e::error::too_long), "too_long");
}

} // namespace
