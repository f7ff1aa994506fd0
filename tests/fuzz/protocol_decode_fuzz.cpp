// protocol_decode_fuzz.cpp — libFuzzer target for the wire decoders. Any input must decode
// without a crash or sanitizer report; what decodes must survive encode → decode unchanged,
// and encoding must be canonical. Also feeds the client-side decoders the same bytes.
#include <kindred/protocol/codec.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace kindred::protocol;

void check(bool ok) {
    if (!ok) std::abort(); // libFuzzer reports the input
}

void client_messages(std::string_view text) {
    const decoded d = decode_client_message(text);
    if (const auto* m = std::get_if<client_message>(&d.result)) {
        check(d.type == type_name(*m));
        const std::string again = encode_client_message(*m, d.id);
        const decoded d2 = decode_client_message(again);
        const auto* m2 = std::get_if<client_message>(&d2.result);
        check(m2 != nullptr && *m2 == *m && d2.id == d.id && d2.type == d.type);
        check(encode_client_message(*m2, d2.id) == again);
        return;
    }
    const auto& failure = std::get<decode_failure>(d.result);
    check(!failure.message.empty());
    check(failure.code == error_code::bad_json || failure.code == error_code::bad_message ||
          failure.code == error_code::unknown_type);
    // The error answer must itself be a well-formed frame carrying the id back.
    const auto frame = decode_server_frame(encode_error(d.id, failure));
    check(frame.has_value() && frame->type == "error" && frame->re == d.id);
    const auto error = decode_error_frame(*frame);
    check(error.has_value() && error->code == failure.code && error->message == failure.message);
}

void server_frames(std::string_view text) {
    const auto frame = decode_server_frame(text);
    if (!frame) return;
    (void)decode_error_frame(*frame);
    (void)decode_ok<hello_ok>(frame->body);
    (void)decode_ok<sync_ok>(frame->body);
    (void)decode_ok<moderator_keys_ok>(frame->body);
    (void)decode_ok<escalate_ok>(frame->body);
    (void)decode_ok<consult_ok>(frame->body);
    const auto event = decode_server_event(*frame);
    if (const auto* e = std::get_if<server_event>(&event)) {
        const auto again = decode_server_frame(encode_event(*e));
        check(again.has_value());
        const auto e2 = decode_server_event(*again);
        check(std::holds_alternative<server_event>(e2) && std::get<server_event>(e2) == *e);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    client_messages(text);
    server_frames(text);
    return 0;
}
