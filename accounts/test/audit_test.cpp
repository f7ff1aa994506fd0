// audit_test.cpp — the audit chain's canonical form, hash and verifier, without Redis.
#include <kindred/accounts/audit.hpp>

#include <gtest/gtest.h>

using namespace kindred::accounts;

namespace {

audit_entry make(int seq, const std::string& prev, std::string action = "user.create") {
    audit_entry e;
    e.id = std::to_string(1000 + seq) + "-0";
    e.seq = std::to_string(seq);
    e.prev = prev;
    e.actor = "kindredctl";
    e.action = std::move(action);
    e.target = "alice";
    e.at = "1773576000000";
    e.detail = "";
    e.chained = true;
    e.hash = audit_hash(e);
    return e;
}

std::vector<audit_entry> chain(int n) {
    std::vector<audit_entry> out;
    std::string prev(audit_genesis);
    for (int i = 1; i <= n; ++i) {
        out.push_back(make(i, prev));
        prev = out.back().hash;
    }
    return out;
}

audit_report verify(const std::vector<audit_entry>& v,
                    std::optional<std::pair<std::string, std::string>> head = std::nullopt) {
    audit_verifier ver;
    for (const auto& e : v)
        ver.add(e);
    return ver.finish(head);
}

} // namespace

TEST(AuditChain, CanonicalFormIsLengthPrefixed) {
    auto e = make(1, std::string(audit_genesis));
    EXPECT_EQ(audit_canonical(e), "1:1;40:" + std::string(audit_genesis) +
                                      ";10:kindredctl;11:user.create;5:alice;13:1773576000000;0:;");
}

TEST(AuditChain, HashIsSha1HexOfTheCanonicalForm) {
    // The same canonical text, checked against an independent SHA-1 (sha1sum).
    audit_entry e;
    e.seq = "1";
    e.prev = "p";
    EXPECT_EQ(audit_canonical(e), "1:1;1:p;0:;0:;0:;0:;0:;");
    EXPECT_EQ(audit_hash(e), "42d711941bf99d76088f7cbf0b5716b606fc5027");
}

TEST(AuditChain, AnIntactChainVerifies) {
    auto v = chain(5);
    auto r = verify(v, std::make_pair(v.back().hash, v.back().seq));
    EXPECT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.checked, 5u);
}

TEST(AuditChain, ATrimmedChainVerifiesFromItsFirstEntry) {
    auto v = chain(5);
    v.erase(v.begin(), v.begin() + 2);
    auto r = verify(v);
    EXPECT_TRUE(r.ok) << r.reason;
    EXPECT_EQ(r.checked, 3u);
}

TEST(AuditChain, AChangedFieldIsAHashMismatch) {
    auto v = chain(5);
    v[2].target = "mallory";
    auto r = verify(v);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_id, v[2].id);
    EXPECT_NE(r.reason.find("hash mismatch"), std::string::npos) << r.reason;
}

TEST(AuditChain, ADeletedEntryNamesTheNextOne) {
    auto v = chain(5);
    v.erase(v.begin() + 2);
    auto r = verify(v);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_id, v[2].id);
    EXPECT_NE(r.reason.find("missing"), std::string::npos) << r.reason;
}

TEST(AuditChain, SwappedEntriesAreOutOfOrder) {
    auto v = chain(5);
    std::swap(v[1], v[2]);
    auto r = verify(v);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.bad_id, v[1].id);
    EXPECT_NE(r.reason.find("missing"), std::string::npos) << r.reason;
}

TEST(AuditChain, AForgedPrevIsAPrevMismatch) {
    auto v = chain(3);
    v[2] = make(3, std::string(audit_genesis));
    auto r = verify(v);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.reason.find("prev mismatch"), std::string::npos) << r.reason;
}

TEST(AuditChain, UnchainedEntriesAndACutTailAreReported) {
    auto v = chain(3);
    v[1].chained = false;
    EXPECT_NE(verify(v).reason.find("not a chained"), std::string::npos);

    auto w = chain(4);
    auto head = std::make_pair(w.back().hash, w.back().seq);
    w.pop_back();
    auto r = verify(w, head);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.reason.find("newest entries are missing"), std::string::npos) << r.reason;
    EXPECT_FALSE(verify({}, head).ok);
}
