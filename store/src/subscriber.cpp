// subscriber.cpp — classic SUBSCRIBE over hiredis 0.14, with resubscription after reconnects
// and a heartbeat that works within hiredis 0.14's subscribed mode.
//
// Why the heartbeat is a SUBSCRIBE: in subscribed mode hiredis 0.14 routes a PING's reply
// (["pong", ""]) to the pattern table, finds nothing and drops it, leaving the PING's
// callback queued forever. Re-subscribing a private channel is answered by a "subscribe"
// confirmation that hiredis does route to our callback.
#include "connection.hpp"
#include <kindred/store/subscriber.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <random>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kindred::store {

namespace asio = boost::asio;

namespace {

std::string heartbeat_channel() {
    std::random_device rd;
    std::uniform_int_distribution<unsigned long long> dist;
    auto bits = dist(rd);
    static constexpr char hex[] = "0123456789abcdef";
    std::string name = "__kindred:sub-heartbeat:";
    for (int i = 0; i < 16; ++i)
        name += hex[(bits >> (i * 4)) & 0xF];
    return name;
}

} // namespace

class subscriber::impl final : public detail::connection {
public:
    impl(asio::io_context& io, subscriber_options options)
        : detail::connection(io, settings_from(options))
        , options_(std::move(options))
        , on_resubscribed_(options_.on_resubscribed)
        , heartbeat_(heartbeat_channel())
        , hb_timer_(strand_) {}

    void subscribe(std::string channel, message_handler on_message, done_handler on_done) {
        asio::dispatch(strand_, [self = self_as<impl>(), channel = std::move(channel),
                                 on_message = std::move(on_message),
                                 on_done = std::move(on_done)]() mutable {
            self->do_subscribe(std::move(channel), std::move(on_message), std::move(on_done));
        });
    }

    void unsubscribe(std::string channel) {
        asio::dispatch(strand_, [self = self_as<impl>(), channel = std::move(channel)] {
            self->do_unsubscribe(channel);
        });
    }

    void set_on_resubscribed(std::function<void()> callback) {
        asio::dispatch(strand_, [self = self_as<impl>(), callback = std::move(callback)]() mutable {
            self->on_resubscribed_ = std::move(callback);
        });
    }

private:
    struct channel_state {
        // shared: a handler may unsubscribe its own channel while it runs
        std::shared_ptr<message_handler> on_message;
        std::vector<done_handler> waiting; // on_done handlers until the first confirmation
        bool confirmed = false;            // on the current connection
    };

    static detail::connection_settings settings_from(const subscriber_options& o) {
        return {o.address, o.connect_timeout, o.reconnect_initial, o.reconnect_max,
                o.name,    o.on_state};
    }

    // --- on the strand from here on ---

    bool link_usable() const {
        return link_ && link_->alive() && (state_ == state::handshaking || state_ == state::ready);
    }

    void do_subscribe(std::string channel, message_handler on_message, done_handler on_done) {
        if (state_ == state::stopped) {
            if (on_done) post_done(std::move(on_done), error::stopped);
            return;
        }
        auto [it, fresh] = channels_.try_emplace(channel);
        auto& st = it->second;
        st.on_message = std::make_shared<message_handler>(std::move(on_message));
        if (on_done) {
            if (st.confirmed)
                post_done(std::move(on_done), {});
            else
                st.waiting.push_back(std::move(on_done));
        }
        // Not yet connected: on_link_up subscribes every channel in one command.
        if (fresh && link_usable()) {
            if (state_ == state::handshaking) awaiting_.insert(channel);
            send({"SUBSCRIBE", channel});
        }
    }

    void do_unsubscribe(const std::string& channel) {
        auto it = channels_.find(channel);
        if (it == channels_.end()) return;
        for (auto& d : it->second.waiting)
            post_done(std::move(d), asio::error::operation_aborted);
        channels_.erase(it);
        if (link_usable()) send({"UNSUBSCRIBE", channel});
        if (awaiting_.erase(channel) && state_ == state::handshaking && awaiting_.empty())
            handshake_done();
    }

    void post_done(done_handler h, boost::system::error_code ec) {
        asio::post(strand_, [h = std::move(h), ec] { h(ec); });
    }

    void send(const std::vector<std::string>& args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        // For (UN)SUBSCRIBE hiredis keeps the callback per channel, not in the reply FIFO.
        int rc = redisAsyncCommandArgv(link_->context(), &impl::on_reply_c, nullptr,
                                       static_cast<int>(argv.size()), argv.data(), lens.data());
        if (rc != REDIS_OK) drop("cannot queue a subscription command");
    }

    static void on_reply_c(redisAsyncContext* ac, void* r, void*) {
        if (!r) return; // the context is being freed; on_closed follows
        auto* l = static_cast<detail::link*>(ac->data);
        if (auto* owner = l->owner())
            static_cast<impl*>(static_cast<detail::connection*>(owner))
                ->on_reply(static_cast<redisReply*>(r));
    }

    // Inside hiredis: only bookkeeping and posts here, no calls back into hiredis.
    void on_reply(const redisReply* r) {
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
        const redisReply* kind = r->element[0];
        const redisReply* name = r->element[1];
        if (kind->type != REDIS_REPLY_STRING || name->type != REDIS_REPLY_STRING) return;
        std::string_view k(kind->str, kind->len);
        std::string channel(name->str, name->len);
        if (k == "message") {
            const redisReply* payload = r->element[2];
            if (payload->type != REDIS_REPLY_STRING || channel == heartbeat_) return;
            asio::post(strand_, [self = self_as<impl>(), channel = std::move(channel),
                                 data = std::string(payload->str, payload->len)] {
                self->deliver(channel, data);
            });
        } else if (k == "subscribe") {
            confirmed(channel);
        }
    }

    void deliver(const std::string& channel, const std::string& payload) {
        if (state_ == state::stopped) return;
        auto it = channels_.find(channel);
        if (it == channels_.end() || !it->second.on_message || !*it->second.on_message)
            return; // unsubscribed meanwhile
        auto h = it->second.on_message;
        (*h)(channel, payload);
    }

    void confirmed(const std::string& channel) {
        if (channel == heartbeat_ && hb_outstanding_) {
            hb_outstanding_ = false;
            arm_heartbeat();
        }
        awaiting_.erase(channel);
        if (auto it = channels_.find(channel); it != channels_.end()) {
            it->second.confirmed = true;
            for (auto& d : it->second.waiting)
                post_done(std::move(d), {});
            it->second.waiting.clear();
        }
        if (state_ == state::handshaking && awaiting_.empty()) handshake_done();
    }

    void on_link_up() override {
        std::vector<std::string> argv{"SUBSCRIBE", heartbeat_};
        awaiting_ = {heartbeat_};
        for (auto& [name, st] : channels_) {
            st.confirmed = false;
            argv.push_back(name);
            awaiting_.insert(name);
        }
        send(argv);
    }

    void on_ready() override {
        if (ever_ready_ && on_resubscribed_)
            asio::post(strand_, [self = self_as<impl>()] {
                if (self->on_resubscribed_ && self->state_ != state::stopped)
                    self->on_resubscribed_();
            });
        ever_ready_ = true;
        arm_heartbeat();
    }

    // Two phases on one timer: wait ping_interval, send the heartbeat SUBSCRIBE, wait
    // ping_timeout for its confirmation. A generation number retires stale waits.
    void arm_heartbeat() {
        if (options_.ping_interval.count() <= 0) return;
        auto gen = ++hb_gen_;
        hb_timer_.expires_after(options_.ping_interval);
        hb_timer_.async_wait(
            [self = self_as<impl>(), gen, l = link_](const boost::system::error_code& ec) {
                if (ec || gen != self->hb_gen_ || self->link_ != l ||
                    self->state_ != state::ready || !l->alive())
                    return;
                self->send_heartbeat();
            });
    }

    void send_heartbeat() {
        hb_outstanding_ = true;
        send({"SUBSCRIBE", heartbeat_});
        auto gen = ++hb_gen_;
        hb_timer_.expires_after(options_.ping_timeout);
        hb_timer_.async_wait(
            [self = self_as<impl>(), gen, l = link_](const boost::system::error_code& ec) {
                if (ec || gen != self->hb_gen_ || self->link_ != l) return;
                if (self->hb_outstanding_) self->drop("heartbeat not confirmed in time");
            });
    }

    void on_link_down() override {
        hb_outstanding_ = false;
        ++hb_gen_;
        awaiting_.clear();
        for (auto& [name, st] : channels_)
            st.confirmed = false;
    }

    void on_stop() override {
        hb_timer_.cancel();
        ++hb_gen_;
        for (auto& [name, st] : channels_) {
            for (auto& d : st.waiting)
                post_done(std::move(d), error::stopped);
            st.waiting.clear();
        }
    }

    subscriber_options options_;
    std::function<void()> on_resubscribed_;
    std::string heartbeat_;
    std::unordered_map<std::string, channel_state> channels_;
    std::unordered_set<std::string> awaiting_; // not yet confirmed during the handshake
    asio::steady_timer hb_timer_;
    std::uint64_t hb_gen_ = 0;
    bool hb_outstanding_ = false;
    bool ever_ready_ = false;
};

subscriber::subscriber(asio::io_context& io, subscriber_options options)
    : impl_(std::make_shared<impl>(io, std::move(options))) {}

subscriber::~subscriber() {
    if (impl_) impl_->stop();
}

void subscriber::start() {
    impl_->start();
}
void subscriber::stop() {
    impl_->stop();
}
bool subscriber::connected() const noexcept {
    return impl_->connected();
}

void subscriber::subscribe(std::string channel, message_handler on_message, done_handler on_done) {
    impl_->subscribe(std::move(channel), std::move(on_message), std::move(on_done));
}

void subscriber::unsubscribe(std::string channel) {
    impl_->unsubscribe(std::move(channel));
}

void subscriber::on_resubscribed(std::function<void()> callback) {
    impl_->set_on_resubscribed(std::move(callback));
}

} // namespace kindred::store
