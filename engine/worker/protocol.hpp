#pragma once
// The event protocol of `--backend process`: a worker (our binary run again as
// `cachestress worker`) reports what its build does as JSON lines on fd 3, one small flat
// object per line, e.g. {"ev":"granted","step":0,"mount":0,"sharing":"locked",...}.
// The parent's loop decodes them with decode_event() and feeds its Collector.
//
// The decoder is strict and total: an unknown "ev", a missing or extra key, a wrong type, a
// number out of range, invalid UTF-8 or a line over k_max_line_bytes is a ProtocolError,
// never a crash or a silently accepted value (a libFuzzer target drives it). Field by field
// reference: engine/worker/README.md.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "engine/model/scenario.hpp"

namespace cachestress::worker::protocol {

// Longest line (without its '\n') either side writes or accepts. Paths are at most
// fs::k_max_relative_path (4000) bytes; every other string is bounded by the encoder.
inline constexpr std::size_t k_max_line_bytes = 16384;
// The encoder cuts free text (failure reasons, names from a marker file) to this many bytes.
inline constexpr std::size_t k_max_text_bytes = 1024;

class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The worker started and validated its plan; `root` is the cache root it took from TMPDIR,
// relative to the workspace (differs from the plan's under --env-policy drop).
struct Hello {
  std::int64_t pid = 0;
  std::string root;
  bool operator==(const Hello&) const = default;
};

// A locked mount of a step is busy: the worker is about to block in the kernel for it. The
// parent keeps the wait graph from these and Granted (--lock-timeout, deadlock naming).
struct Waiting {
  std::uint32_t step = 0;
  std::uint32_t mount = 0;
  bool operator==(const Waiting&) const = default;
};

// A mount of a step was granted. wait_us/waited: lock wait (locked mounts; 0/false otherwise).
// instance: BuildKit instance number (0 for Buildah); created: the instance was new.
struct Granted {
  std::uint32_t step = 0;
  std::uint32_t mount = 0;
  model::Sharing sharing = model::Sharing::shared;
  std::uint64_t wait_us = 0;
  bool waited = false;
  std::uint32_t instance = 0;
  bool created = false;
  bool operator==(const Granted&) const = default;
};

// A granted mount was released after hold_us.
struct Released {
  std::uint32_t step = 0;
  std::uint32_t mount = 0;
  model::Sharing sharing = model::Sharing::shared;
  std::uint64_t hold_us = 0;
  bool operator==(const Released&) const = default;
};

// One operation completed. bytes: written (write/append) or read (read); file: the path
// relative to the workspace (empty for hold), so the parent can remember who last wrote or
// removed it and name the polluter of a later torn or missing read.
struct Op {
  std::uint32_t step = 0;
  model::OpKind kind = model::OpKind::write;
  std::string file;
  std::uint64_t bytes = 0;
  bool operator==(const Op&) const = default;
};

// A read found what it should not (the oracle's verdict). The polluter is named when the
// file's token says who wrote it; otherwise both are absent and the parent may name one.
enum class CollisionKind { foreign, missing, torn };
struct Collision {
  std::uint32_t step = 0;
  CollisionKind kind = CollisionKind::foreign;
  std::string file;
  std::optional<std::uint64_t> polluter_build;
  std::optional<std::string> polluter_kind;  // a build kind name
  bool operator==(const Collision&) const = default;
};

// The engine's cross-process lock_overlap oracle: a locked mount was granted while another
// live build's holder marker was still there (engine/worker/holder_marker.hpp).
struct LockOverlap {
  std::uint32_t step = 0;
  std::uint32_t mount = 0;
  std::string file;  // the instance directory, relative to the workspace
  std::optional<std::uint64_t> other_build;
  std::optional<std::string> other_kind;
  bool operator==(const LockOverlap&) const = default;
};

struct StepDone {
  std::uint32_t step = 0;
  std::uint64_t latency_us = 0;
  bool operator==(const StepDone&) const = default;
};

// The build failed; reason reads "category: detail" like the in-process runner's
// ("io: write EACCES", "enospc: ...", "rejected: ...", "protocol: ..."). io_error: an
// operation failed with an unexpected errno (errors.io).
struct Failed {
  std::string reason;
  bool io_error = false;
  bool operator==(const Failed&) const = default;
};

// Every step ran; the worker exits 0 next.
struct Done {
  bool operator==(const Done&) const = default;
};

using Event = std::variant<Hello, Waiting, Granted, Released, Op, Collision, LockOverlap, StepDone, Failed, Done>;

// The "ev" name of an event ("hello", "granted", ...).
const char* name_of(const Event& event);
const char* to_string(CollisionKind kind);

// Every line also carries "at_us": when the event happened on the worker's own clock,
// core::now_us() (CLOCK_MONOTONIC, microseconds: the parent's clock on one host). A grant is
// stamped when the kernel lock was held, a release before it was let go, so the parent's
// lock_events are the worker's real holds, not when the parent happened to read the line.
struct Line {
  Event event;
  std::uint64_t at_us = 0;
};

// One line of JSON, terminated by '\n', at most k_max_line_bytes + 1 bytes. Free text longer
// than k_max_text_bytes is cut; invalid UTF-8 is replaced, never thrown on.
std::string encode_event(const Event& event, std::uint64_t at_us = 0);

// Parses one line without its '\n': exactly one flat object, nothing before or after it.
// Throws ProtocolError with a one-line reason; never throws anything else except bad_alloc.
Line decode_line(std::string_view line);
inline Event decode_event(std::string_view line) { return decode_line(line).event; }

}  // namespace cachestress::worker::protocol
