#pragma once
// The property the worker-protocol fuzzer checks, in one place so that the unit test that
// replays the seed corpus and the regressions (tests/engine/fuzz/fuzz_replay_test.cpp) checks
// exactly what the fuzzer checks. The input is treated two ways, as a parent would see it:
//   * as the byte stream of a worker's event pipe: split into lines by LineSplitter (the
//     input's first byte picks the read size, so lines are cut at varying chunk bounds), each
//     line given to decode_event();
//   * as a plan on a worker's stdin: decode_plan() on the whole input.
// For both:
//   1. the decoder returns or throws ProtocolError; nothing else escapes;
//   2. a ProtocolError message is one non-empty line (it ends up in a report's failure reason);
//   3. what decodes re-encodes to text that decodes again, to an equal event (events whose
//      free text fits the encoder's limit) and to a plan that encodes identically.
// Crashes, sanitizer reports and hangs are the fuzzer's own findings.
#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "engine/worker/line_splitter.hpp"
#include "engine/worker/plan.hpp"
#include "engine/worker/protocol.hpp"

namespace cachestress::fuzz {

namespace detail {

inline std::string check_protocol_message(const char* what, std::string_view message) {
  if (message.empty()) return std::string(what) + ": empty ProtocolError message";
  if (message.find_first_of("\n\r") != std::string_view::npos) {
    return std::string(what) + ": ProtocolError spans several lines: \"" + std::string(message.substr(0, 300)) + "\"";
  }
  return {};
}

// Whether every string of the event fits k_max_text_bytes: the encoder may cut longer ones
// (free text always, paths when the line would be too long), so only these must come back equal.
inline bool fits_text_limit(const worker::protocol::Event& event) {
  using namespace worker::protocol;
  auto fits = [](const std::string& s) { return s.size() <= k_max_text_bytes; };
  auto fits_opt = [&](const std::optional<std::string>& s) { return !s || fits(*s); };
  if (const auto* h = std::get_if<Hello>(&event)) return fits(h->root);
  if (const auto* op = std::get_if<Op>(&event)) return fits(op->file);
  if (const auto* f = std::get_if<Failed>(&event)) return fits(f->reason);
  if (const auto* c = std::get_if<Collision>(&event)) return fits(c->file) && fits_opt(c->polluter_kind);
  if (const auto* o = std::get_if<LockOverlap>(&event)) return fits(o->file) && fits_opt(o->other_kind);
  return true;
}

inline std::string check_event_line(std::string_view line) {
  using namespace worker::protocol;
  Event event;
  try {
    event = decode_event(line);
  } catch (const ProtocolError& e) {
    return check_protocol_message("decode_event", e.what());
  } catch (const std::exception& e) {
    return std::string("decode_event threw something other than ProtocolError: ") + e.what();
  }
  const std::string encoded = encode_event(event);
  if (encoded.empty() || encoded.back() != '\n' || encoded.find('\n') != encoded.size() - 1) {
    return "encode_event did not write exactly one line: " + encoded.substr(0, 300);
  }
  if (encoded.size() > k_max_line_bytes + 1) return "encode_event wrote a line over k_max_line_bytes";
  Event again;
  try {
    again = decode_event(std::string_view(encoded).substr(0, encoded.size() - 1));
  } catch (const std::exception& e) {
    return std::string("encode_event output does not decode: ") + e.what() + "\n" + encoded.substr(0, 300);
  }
  if (fits_text_limit(event) && !(again == event)) return "decode(encode(e)) != e for: " + encoded.substr(0, 300);
  return {};
}

inline std::string check_plan(std::string_view text) {
  using namespace worker;
  Plan plan;
  try {
    plan = decode_plan(text);
  } catch (const protocol::ProtocolError& e) {
    return detail::check_protocol_message("decode_plan", e.what());
  } catch (const std::exception& e) {
    return std::string("decode_plan threw something other than ProtocolError: ") + e.what();
  }
  const std::string encoded = encode_plan(plan);
  Plan again;
  try {
    again = decode_plan(encoded);
  } catch (const std::exception& e) {
    return std::string("encode_plan output does not decode: ") + e.what() + "\n" + encoded.substr(0, 300);
  }
  if (const std::string twice = encode_plan(again); twice != encoded) {
    return "encode_plan is not stable across a round trip:\n--- first ---\n" + encoded.substr(0, 2000) +
           "\n--- second ---\n" + twice.substr(0, 2000);
  }
  return {};
}

}  // namespace detail

// Empty when the property holds for `bytes`, else a description of the finding.
inline std::string check_worker_protocol(std::string_view bytes) {
  std::string finding;
  const std::size_t chunk = bytes.empty() ? 1 : 1 + static_cast<unsigned char>(bytes.front()) % 64;
  worker::LineSplitter splitter(worker::protocol::k_max_line_bytes);
  for (std::size_t pos = 0; pos < bytes.size() && finding.empty(); pos += chunk) {
    splitter.feed(bytes.substr(pos, chunk), [&](std::string_view line) {
      if (line.size() > worker::protocol::k_max_line_bytes) {
        finding = "LineSplitter passed on a line over its limit";
      } else {
        finding = detail::check_event_line(line);
      }
      return finding.empty();
    });
  }
  if (!finding.empty()) return finding;
  return detail::check_plan(bytes);
}

}  // namespace cachestress::fuzz
