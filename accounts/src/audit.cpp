// audit.cpp — the audit chain: canonical form, SHA-1 (must equal redis.sha1hex in
// lua/audit_append.lua), the verifier, and the batched Redis readers.
#include <kindred/accounts/audit.hpp>
#include <kindred/store/client.hpp>
#include <kindred/store/reply.hpp>

#include <boost/uuid/detail/sha1.hpp>

#include <cstdio>
#include <memory>

namespace kindred::accounts {

namespace {

void put(std::string& out, const std::string& v) {
    out += std::to_string(v.size());
    out += ':';
    out += v;
    out += ';';
}

bool is_decimal(const std::string& s) {
    if (s.empty() || s.size() > 18) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

constexpr std::size_t batch = 1000;

} // namespace

std::string audit_canonical(const audit_entry& e) {
    std::string out;
    for (const auto* v : {&e.seq, &e.prev, &e.actor, &e.action, &e.target, &e.at, &e.detail})
        put(out, *v);
    return out;
}

std::string audit_hash(const audit_entry& e) {
    const auto text = audit_canonical(e);
    boost::uuids::detail::sha1 h;
    h.process_bytes(text.data(), text.size());
    boost::uuids::detail::sha1::digest_type d;
    h.get_digest(d);
    char hex[41];
    for (int i = 0; i < 5; ++i)
        std::snprintf(hex + 8 * i, 9, "%08x", d[i]);
    return std::string(hex, 40);
}

std::vector<audit_entry> audit_entries_from_reply(const store::reply& r) {
    std::vector<audit_entry> out;
    for (const auto& el : r.elements()) {
        if (el.size() != 2 || !el.elements()[0].is_string() || !el.elements()[1].is_array())
            continue;
        audit_entry e;
        e.id = el.elements()[0].str();
        const auto& f = el.elements()[1].elements();
        for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
            const auto& k = f[i].str();
            const auto& v = f[i + 1].str();
            if (k == "seq")
                e.seq = v;
            else if (k == "prev")
                e.prev = v;
            else if (k == "hash")
                e.hash = v;
            else if (k == "actor")
                e.actor = v;
            else if (k == "action")
                e.action = v;
            else if (k == "target")
                e.target = v;
            else if (k == "at")
                e.at = v;
            else if (k == "detail")
                e.detail = v;
        }
        e.chained = !e.seq.empty() && !e.prev.empty() && !e.hash.empty();
        out.push_back(std::move(e));
    }
    return out;
}

bool audit_verifier::add(const audit_entry& e) {
    if (!report_.ok) return false;
    ++report_.checked;
    auto bad = [&](std::string why) {
        report_.ok = false;
        report_.bad_id = e.id;
        report_.reason = std::move(why);
        return false;
    };
    if (!e.chained || !is_decimal(e.seq)) return bad("not a chained entry (no seq/prev/hash)");
    if (audit_hash(e) != e.hash) return bad("hash mismatch (the entry was changed)");
    if (last_) {
        const auto want = std::stoull(last_->seq) + 1;
        const auto got = std::stoull(e.seq);
        if (got > want)
            return bad("entries missing before it (seq " + e.seq + ", expected " +
                       std::to_string(want) + ")");
        if (got < want)
            return bad("out of order (seq " + e.seq + ", expected " + std::to_string(want) + ")");
        if (e.prev != last_->hash)
            return bad("prev mismatch (prev is not the previous entry's hash)");
    }
    last_ = e;
    return true;
}

audit_report
audit_verifier::finish(const std::optional<std::pair<std::string, std::string>>& head) {
    if (!report_.ok || !head) return report_;
    if (!last_) {
        report_.ok = false;
        report_.reason = "the stream is empty but the head says seq " + head->second;
    } else if (last_->hash != head->first || last_->seq != head->second) {
        report_.ok = false;
        report_.reason = "the newest entries are missing: the last entry " + last_->id +
                         " has seq " + last_->seq + ", the head says seq " + head->second;
    }
    return report_;
}

namespace {

struct verify_op : std::enable_shared_from_this<verify_op> {
    store::client& redis;
    std::string stream;
    std::function<void(boost::system::error_code, audit_report)> h;
    audit_verifier v;
    std::string last_id;

    verify_op(store::client& r, std::string s,
              std::function<void(boost::system::error_code, audit_report)> handler)
        : redis(r)
        , stream(std::move(s))
        , h(std::move(handler)) {}

    void next() {
        redis.command({"XRANGE", stream, last_id.empty() ? "-" : "(" + last_id, "+", "COUNT",
                       std::to_string(batch)},
                      [self = shared_from_this()](boost::system::error_code ec, store::reply r) {
                          if (ec) return self->h(ec, {});
                          auto entries = audit_entries_from_reply(r);
                          for (const auto& e : entries)
                              if (!self->v.add(e)) return self->h({}, self->v.report());
                          const auto& back = r.elements().empty() ? r : r.elements().back();
                          if (r.size() < batch || back.elements().empty()) return self->read_head();
                          self->last_id = back.elements()[0].str();
                          self->next();
                      });
    }

    void read_head() {
        redis.command({"HMGET", stream + ":head", "hash", "seq"},
                      [self = shared_from_this()](boost::system::error_code ec, store::reply r) {
                          if (ec) return self->h(ec, {});
                          std::optional<std::pair<std::string, std::string>> head;
                          if (r.size() == 2 && r.elements()[0].is_string())
                              head.emplace(r.elements()[0].str(), r.elements()[1].str());
                          self->h({}, self->v.finish(head));
                      });
    }
};

} // namespace

void verify_audit(store::client& redis, std::string stream,
                  std::function<void(boost::system::error_code, audit_report)> h) {
    std::make_shared<verify_op>(redis, std::move(stream), std::move(h))->next();
}

void tail_audit(store::client& redis, std::string stream, std::size_t n,
                std::function<void(boost::system::error_code, std::vector<audit_entry>)> h) {
    redis.command({"XREVRANGE", std::move(stream), "+", "-", "COUNT", std::to_string(n)},
                  [h = std::move(h)](boost::system::error_code ec, store::reply r) {
                      if (ec) return h(ec, {});
                      auto entries = audit_entries_from_reply(r);
                      std::vector<audit_entry> out(entries.rbegin(), entries.rend());
                      h({}, std::move(out));
                  });
}

} // namespace kindred::accounts
