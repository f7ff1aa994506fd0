// connection_frames_fuzz.cpp — libFuzzer target for the per-connection state machine
// (connection_logic), driven the way websocket_session drives it. The input's first byte picks
// how the session, account and service lookups answer (role, success or which failure); the
// rest is text frames, one a line. Each answer is fed back before the next frame is read, as
// the I/O layer does. Every frame the logic sends must be a JSON object of its stated type, a
// service request only ever leaves an authenticated connection, and after a close nothing more
// is read.
#include <kindred/server/connection_logic.hpp>

#include <boost/json/parse.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace kindred::server;
namespace protocol = kindred::protocol;
using phase = connection_logic::phase;

void check(bool ok) {
    if (!ok) std::abort(); // libFuzzer reports the input
}

void check_frames(const logic_output& out) {
    for (const auto& f : out.frames) {
        boost::system::error_code ec;
        auto v = boost::json::parse(f.text, ec);
        check(!ec && v.is_object());
        const auto* type = v.as_object().if_contains("type");
        check(type && type->is_string() && type->as_string() == f.type);
        check((f.type == "error") == f.error_code.has_value());
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t mode = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);

    logic_options options = make_logic_options(limits_config{});
    // Services serve what the server's router serves; bit 7 turns them off (answers
    // `unavailable`), as when no service is configured.
    options.served = [mode](std::string_view) { return (mode & 0x80) == 0; };
    auto now = token_bucket::clock::time_point{};
    connection_logic logic(options, now);

    const protocol::role roles[] = {protocol::role::seeker, protocol::role::peer,
                                    protocol::role::moderator};
    const session_result::status failures[] = {
        session_result::status::not_found, session_result::status::not_authenticated,
        session_result::status::forbidden, session_result::status::unavailable,
        session_result::status::internal,  session_result::status::banned,
    };

    bool closed = false;
    while (!rest.empty() && !closed) {
        const auto nl = rest.find('\n');
        const std::string_view frame = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        now += std::chrono::milliseconds(1 + (mode & 0x0f) * 10);

        const phase before = logic.current();
        logic_output out = logic.on_text(frame, now);
        check_frames(out);
        if (out.service) check(before == phase::authenticated);
        if (out.account) check(before == phase::authenticated);
        if (out.session) check(before == phase::awaiting_hello);
        // The I/O layer answers what the logic asked for before it reads the next frame.
        while (!out.close && out.waits()) {
            if (out.session) {
                session_result r;
                if ((mode & 0x30) == 0x30) {
                    r.what = failures[(mode >> 4) % std::size(failures)];
                } else {
                    r.what = session_result::status::ok;
                    r.session_id = "S1";
                    r.resume_token = "S1.secret";
                    r.role = out.session->what == session_request::kind::create
                                 ? out.session->role
                                 : roles[(mode >> 4) % 3];
                    if (r.role != protocol::role::seeker)
                        r.staff = staff_identity{"river", "hash", 4102444800000};
                }
                out = logic.on_session_result(r);
            } else if (out.account) {
                account_result r;
                r.what = (mode & 0x40) ? account_result::status::ok
                                       : account_result::status::unavailable;
                out = logic.on_account_result(r);
            } else {
                service_answer a;
                a.frames.push_back(make_ok_frame(out.service->id));
                out = logic.on_service_result(std::move(a));
            }
            check_frames(out);
        }
        if (out.close) {
            check(logic.current() == phase::closing);
            closed = true;
        }
    }
    return 0;
}
