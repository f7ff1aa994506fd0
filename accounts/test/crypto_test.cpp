// crypto_test.cpp — passwords, tokens, identity keys and prekey signatures, key names and
// the revocation notice (label: unit; libsodium only, no network, no clock).
#include <kindred/accounts/identity.hpp>
#include <kindred/accounts/keys.hpp>
#include <kindred/accounts/password.hpp>
#include <kindred/accounts/token.hpp>
#include <kindred/protocol/base64.hpp>

#include <gtest/gtest.h>
#include <sodium.h>

#include <set>

using namespace kindred::accounts;

namespace {

struct signing_pair {
    identity_key pk{};
    std::array<unsigned char, crypto_sign_SECRETKEYBYTES> sk{};
    signing_pair() {
        EXPECT_GE(sodium_init(), 0);
        crypto_sign_keypair(pk.data(), sk.data());
    }
    signature_bytes sign(const prekey_bytes& prekey) const {
        signature_bytes sig{};
        crypto_sign_detached(sig.data(), nullptr, prekey.data(), prekey.size(), sk.data());
        return sig;
    }
};

prekey_bytes fresh_prekey() {
    prekey_bytes pk{};
    std::array<unsigned char, crypto_kx_SECRETKEYBYTES> sk{};
    crypto_kx_keypair(pk.data(), sk.data());
    return pk;
}

} // namespace

TEST(PasswordHash, VerifiesTheRightPasswordOnly) {
    auto h = hash_password("correct horse battery", password_limits::test_only_minimum());
    ASSERT_TRUE(h);
    EXPECT_EQ(h->rfind("$argon2id$", 0), 0u) << *h;
    EXPECT_EQ(h->find("correct horse"), std::string::npos);
    EXPECT_TRUE(verify_password(*h, "correct horse battery"));
    EXPECT_FALSE(verify_password(*h, "correct horse batterx"));
    EXPECT_FALSE(verify_password(*h, ""));
}

TEST(PasswordHash, SaltsEveryHash) {
    auto a = hash_password("same password here", password_limits::test_only_minimum());
    auto b = hash_password("same password here", password_limits::test_only_minimum());
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
    EXPECT_TRUE(verify_password(*b, "same password here"));
}

TEST(PasswordHash, MalformedHashesNeverVerify) {
    EXPECT_FALSE(verify_password("", "whatever password"));
    EXPECT_FALSE(verify_password("$argon2id$garbage", "whatever password"));
    EXPECT_FALSE(verify_password(std::string(200, 'x'), "whatever password"));
    EXPECT_FALSE(verify_password(std::string("$argon2id\0$", 11), "whatever password"));
}

TEST(PasswordHash, InteractiveIsTheFloorAndEncodedInTheHash) {
    auto i = password_limits::interactive();
    EXPECT_EQ(i.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    EXPECT_EQ(i.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    EXPECT_GT(password_limits::moderate().memlimit, i.memlimit);
    EXPECT_LT(password_limits::test_only_minimum().memlimit, i.memlimit);
    // A hash records its own parameters: one made with the test limits is weaker than
    // interactive and libsodium says it needs a rehash.
    auto weak = hash_password("some long password", password_limits::test_only_minimum());
    ASSERT_TRUE(weak);
    EXPECT_EQ(crypto_pwhash_str_needs_rehash(weak->c_str(), i.opslimit, i.memlimit), 1);
}

TEST(PasswordHash, DummyHashIsAValidHashOfAnUnknownPassword) {
    auto d = make_dummy_hash(password_limits::test_only_minimum());
    ASSERT_TRUE(d);
    EXPECT_EQ(d->rfind("$argon2id$", 0), 0u);
    EXPECT_FALSE(verify_password(*d, ""));
    EXPECT_FALSE(verify_password(*d, "password1234"));
}

TEST(GeneratedPassword, LengthAlphabetAndUniqueness) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto p = generate_password();
        EXPECT_EQ(p.size(), generated_password_chars);
        EXPECT_EQ(p.find_first_not_of(generated_password_alphabet), std::string::npos) << p;
        EXPECT_TRUE(valid_password(p));
        seen.insert(p);
    }
    EXPECT_EQ(seen.size(), 200u);
    for (char ambiguous : std::string("0O1lI"))
        EXPECT_EQ(generated_password_alphabet.find(ambiguous), std::string_view::npos);
    EXPECT_EQ(generate_password(7).size(), 7u);
}

TEST(Token, Is256RandomBitsInBase64Url) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto t = generate_token();
        ASSERT_EQ(t.size(), token_chars);
        EXPECT_TRUE(looks_like_token(t)) << t;
        std::array<unsigned char, 64> raw{};
        std::size_t len = 0;
        ASSERT_EQ(sodium_base642bin(raw.data(), raw.size(), t.data(), t.size(), nullptr, &len,
                                    nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  0);
        EXPECT_EQ(len, token_bytes);
        EXPECT_GE(len * 8, 256u);
        seen.insert(t);
    }
    EXPECT_EQ(seen.size(), 200u);
}

TEST(Token, ShapeCheckRejectsNonTokens) {
    auto t = generate_token();
    EXPECT_FALSE(looks_like_token(""));
    EXPECT_FALSE(looks_like_token(t.substr(1)));
    EXPECT_FALSE(looks_like_token(t + "A"));
    std::string plus = t;
    plus[5] = '+'; // standard base64, not base64url
    EXPECT_FALSE(looks_like_token(plus));
    std::string nul = t;
    nul[5] = '\0';
    EXPECT_FALSE(looks_like_token(nul));
}

TEST(TokenHash, DeterministicHexBlake2b) {
    auto t = generate_token();
    auto h = token_hash(t);
    EXPECT_EQ(h.size(), token_hash_chars);
    EXPECT_TRUE(looks_like_token_hash(h));
    EXPECT_EQ(h, token_hash(t));
    EXPECT_NE(h, token_hash(generate_token()));
    EXPECT_EQ(h.find(t), std::string::npos);
    // Known answer: BLAKE2b-256 of "abc".
    EXPECT_EQ(token_hash("abc"),
              "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
    EXPECT_FALSE(looks_like_token_hash(std::string(64, 'A')));
    EXPECT_FALSE(looks_like_token_hash(std::string(63, 'a')));
}

TEST(IdentityKey, ParsesRealKeysAndRejectsJunk) {
    signing_pair p;
    auto b64 = identity_key_to_base64(p.pk);
    auto parsed = parse_identity_key(b64);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, p.pk);

    EXPECT_EQ(parse_identity_key("").error(), error::invalid_identity_key);
    EXPECT_EQ(parse_identity_key("not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!!").error(),
              error::invalid_identity_key);
    identity_key zero{};
    EXPECT_FALSE(valid_identity_key(zero));
    EXPECT_EQ(parse_identity_key(identity_key_to_base64(zero)).error(),
              error::invalid_identity_key);
    std::vector<std::uint8_t> short_key(31, 7);
    EXPECT_EQ(parse_identity_key(kindred::protocol::base64_encode(short_key)).error(),
              error::invalid_identity_key);
    // Base64 without padding is not the contract's encoding.
    EXPECT_FALSE(parse_identity_key(b64.substr(0, b64.size() - 1)));
}

TEST(Prekey, SignatureByTheIdentityKeyVerifies) {
    signing_pair p;
    auto prekey = fresh_prekey();
    auto sig = p.sign(prekey);
    EXPECT_TRUE(verify_prekey(p.pk, prekey, sig));
}

TEST(Prekey, AnyOtherSignatureFails) {
    signing_pair p, other;
    auto prekey = fresh_prekey();
    auto sig = p.sign(prekey);
    EXPECT_FALSE(verify_prekey(other.pk, prekey, sig)); // signed by someone else
    auto tampered = sig;
    tampered[10] ^= 1;
    EXPECT_FALSE(verify_prekey(p.pk, prekey, tampered));
    auto other_prekey = fresh_prekey();
    EXPECT_FALSE(verify_prekey(p.pk, other_prekey, sig)); // signature of another prekey
    EXPECT_FALSE(verify_prekey(p.pk, prekey, signature_bytes{}));
    EXPECT_FALSE(verify_prekey(identity_key{}, prekey, sig));
}

TEST(Keys, NamesAndNoSecretsInThem) {
    EXPECT_EQ(keys::user("river"), "user:{river}");
    EXPECT_EQ(keys::user_tokens("river"), "user:{river}:tokens");
    auto h = token_hash(generate_token());
    EXPECT_EQ(keys::token(h), "token:{" + h + "}");
    // A password typed into the name field must not end up in a key.
    auto k = keys::login_fail("MySecretPassw0rd!");
    EXPECT_EQ(k.find("MySecret"), std::string::npos);
    EXPECT_EQ(k.rfind("login_fail:{", 0), 0u);
    EXPECT_EQ(k, keys::login_fail("MySecretPassw0rd!"));
    EXPECT_NE(k, keys::login_fail("river"));
}

TEST(Revocation, FormatParseRoundTrip) {
    auto h = token_hash("x");
    auto one = parse_revocation(format_revocation({h, "", "logout"}));
    ASSERT_TRUE(one);
    EXPECT_EQ(one->token_hash, h);
    EXPECT_TRUE(one->user.empty());
    EXPECT_EQ(one->reason, "logout");

    auto all = parse_revocation(R"({"reason":"disabled","user":"river"})");
    ASSERT_TRUE(all);
    EXPECT_EQ(all->user, "river");
    EXPECT_TRUE(all->token_hash.empty());
}

TEST(Revocation, UntrustedPayloadsAreRejected) {
    EXPECT_FALSE(parse_revocation(""));
    EXPECT_FALSE(parse_revocation("not json"));
    EXPECT_FALSE(parse_revocation("[]"));
    EXPECT_FALSE(parse_revocation("{}"));
    EXPECT_FALSE(parse_revocation(R"({"user":"Not A Name"})"));
    EXPECT_FALSE(parse_revocation(R"({"token_hash":"abc"})"));
    EXPECT_FALSE(parse_revocation(R"({"user":42})"));
}
