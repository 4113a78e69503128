#pragma once
// The scenario model: what a run does. Loaded from TOML (engine/scenario), overridden by
// flags (engine/cli), executed by the runner (engine/run). Plain data, no behaviour.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/command.hpp"

namespace cachestress::model {

enum class Sharing { shared, private_, locked };
enum class Semantics { buildah, buildah_1_28, buildkit };
enum class IsolationKind { per_build, shared, per_group, per_host };
enum class Backend { inproc, fake, process, command };
// How a build's cache root reaches the process that runs it (process and command backends):
// in its TMPDIR (propagate), or lost on the way like podman-remote's client TMPDIR, so every
// build gets the server's (drop).
enum class EnvPolicy { propagate, drop };
enum class Arrival { together, ramp, poisson };
enum class LockKind { ofd, fcntl, flock };
// prune: remove this build's whole cache root, lock files included (`buildah prune`).
// reset: empty this mount's cache (a no-cache build resetting a shared index).
// trylock: take a non-blocking lock on a file inside the cache until the step ends (dpkg).
// extract: unpack `count` files beside the target, then rename into place unless it is
// already there (cargo's extract-then-rename).
enum class OpKind { write, read, append, remove, list, hold, prune, reset, trylock, extract };
// write, append and extract put this build's token record into a file.
constexpr bool writes_token(OpKind kind) {
  return kind == OpKind::write || kind == OpKind::append || kind == OpKind::extract;
}
// What a read expects to find: this build's own last write, any valid token, or nothing.
enum class ReadExpect { any, own, absent };
enum class Comparison { eq, ne, lt, le, gt, ge };

struct Isolation {
  IsolationKind kind = IsolationKind::per_build;
  std::uint32_t groups = 1;  // only for per_group
};

struct Mount {
  std::string target;  // absolute path inside the "container", e.g. /test
  std::string id;      // optional cache id; empty = keyed by target
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  Sharing sharing = Sharing::shared;
  // How reports name the cache: "id=<id>", or its target when it has no id.
  std::string label() const { return id.empty() ? target : "id=" + id; }
};

struct Operation {
  OpKind kind = OpKind::write;
  std::uint32_t mount = 0;     // index into the step's mounts
  std::string file;            // relative file name inside the mount
  std::string value;           // write/append: human-readable payload tag ("hello")
  std::uint32_t size = 0;      // write/append: extra payload bytes after the token
  std::uint32_t chunk = 0;     // write/append: write in chunks of this many bytes (0 = one write)
  ReadExpect expect = ReadExpect::any;  // read only
  std::uint32_t hold_ms = 0;   // hold only: simulated work inside the step
  std::uint32_t jitter_ms = 0; // hold only: plus a seeded uniform 0..jitter_ms
  std::uint32_t count = 0;     // extract only: files in the package
};

struct Step {
  std::vector<Mount> mounts;
  std::vector<Operation> ops;
  std::uint32_t gap_ms = 0;  // pause after this step, before the next (no mounts held)
  std::vector<std::string> command;  // backend command: argv template of this step (empty: [command] run)
};

struct BuildKind {
  std::string name;
  std::uint32_t weight = 1;
  std::vector<Step> steps;
};

// One `[expect]` entry: `"collisions.total" = 0` or `"lock_wait_us.p99" = "<50000"`.
// One condition on the resolved run: a choice setting = or != a value ("isolation=per-build"),
// or a numeric setting compared with a number ("concurrency>=2").
struct Condition {
  std::string key;
  std::string value;
  Comparison comparison = Comparison::eq;  // choices: == or !=; numeric settings: any
  bool operator==(const Condition&) const = default;
};

struct Expectation {
  std::string field;       // summary field path, e.g. collisions.foreign
  Comparison comparison = Comparison::eq;
  double value = 0;
  std::string text;        // as written, for reports
  // Optional conditions on the resolved run, all of which must hold ("concurrency>=2 &&
  // sharing=locked"): the expectation is judged only then, so one file states the
  // documented outcome of each variant. Empty: always applies.
  std::vector<Condition> when;
};

struct RunConfig {
  std::uint64_t builds = 100;        // stop after this many builds (0 = until duration)
  double duration_s = 0;             // stop admitting after this long (0 = no limit)
  std::uint32_t concurrency = 8;     // builds in flight at most
  std::uint64_t seed = 1;
  Semantics semantics = Semantics::buildah;
  Isolation isolation;
  Backend backend = Backend::inproc;
  Arrival arrival = Arrival::together;
  double rate_per_s = 0;             // poisson: mean arrivals per second
  double ramp_s = 0;                 // ramp: first wave spread over this many seconds
  LockKind lock_kind = LockKind::ofd;
  // Per-interval sample period. 100 ms, not 1 s: most runs (every built-in but soak) end in
  // a few seconds, and one sample is no series. soak.toml sets 1000 for its ten minutes.
  std::uint32_t interval_ms = 100;
  std::uint32_t lock_timeout_ms = 0; // a lock wait longer than this fails the build (0: wait forever)
  EnvPolicy env_policy = EnvPolicy::propagate;  // process/command backends: does TMPDIR reach the build
  std::uint32_t build_timeout_ms = 0;  // TERM (then KILL) a build's process running longer (0: never; command: overrides [command] timeout)
};

// [faults]: failures injected on purpose, to see that builds and the report survive them
// (scenarios/README.md, engine/fault/).
struct Faults {
  // Before the run, a holder that then died (a real child process) leaves its lock file at
  // every locked mount's lock path: builds must not be blocked by it.
  bool stale_lock = false;
  // Non-zero: the workspace is a tmpfs of this many KiB in a private mount namespace (needs
  // root), so writes run out of space; such failures count as failures.enospc.
  std::uint32_t enospc_tmpfs_kb = 0;
  // Process backend only: SIGKILL the first build granted a locked mount this many ms after
  // its grant, mid-step; the kernel releases its lock and the report's holder_deaths names
  // the next holder and its wait.
  std::optional<std::uint32_t> kill_lock_holder_ms;
  bool any() const { return stale_lock || enospc_tmpfs_kb > 0 || kill_lock_holder_ms.has_value(); }
};
inline constexpr std::uint32_t k_min_tmpfs_kb = 64;
inline constexpr std::uint32_t k_max_tmpfs_kb = 4 * 1024 * 1024;

// One swept setting and its values, e.g. concurrency = [1, 2, 4] (see scenario/settings).
struct SweepAxis {
  std::string key;
  std::vector<std::string> values;
};

// One sweep cell's values as logs, messages and tables name it: "concurrency=4 seed=2".
std::string sweep_values_text(const std::vector<std::pair<std::string, std::string>>& values);

// Cells of a sweep: the cartesian product of the axes, at most this many, each repeated.
inline constexpr std::size_t k_max_sweep_cells = 10000;
inline constexpr std::uint32_t k_max_repeat = 1000;

struct Scenario {
  std::string name;
  std::string description;
  std::string source;  // "builtin:NAME" or a file path
  RunConfig run;
  Faults faults;                 // [faults]: none by default
  std::vector<BuildKind> kinds;
  std::vector<Expectation> expectations;
  std::vector<SweepAxis> sweep;  // [sweep]: empty for a single run
  std::uint32_t repeat = 1;      // [sweep] repeat: runs per cell, interleaved
  std::optional<CommandSpec> command;  // [command]: what backend = "command" runs
  // --allow-failed-builds: without it, a scenario whose [expect] says nothing about failures
  // (builds.failed, builds.completed, failures.*) fails when a build fails.
  bool allow_failed_builds = false;
};

// Text forms used by the CLI, TOML files and reports (one place for each spelling).
const char* to_string(Sharing v);
const char* to_string(Semantics v);
const char* to_string(IsolationKind v);
const char* to_string(Backend v);
const char* to_string(EnvPolicy v);
const char* to_string(Arrival v);
const char* to_string(LockKind v);
const char* to_string(OpKind v);
const char* to_string(ReadExpect v);
const char* to_string(Comparison v);  // "==", "!=", "<", "<=", ">", ">="
std::string to_string(const Isolation& v);  // "per-build", "shared", "per-group:4"

std::optional<Sharing> parse_sharing(std::string_view text);
std::optional<Semantics> parse_semantics(std::string_view text);
std::optional<Backend> parse_backend(std::string_view text);
std::optional<EnvPolicy> parse_env_policy(std::string_view text);
std::optional<Arrival> parse_arrival(std::string_view text);
std::optional<LockKind> parse_lock_kind(std::string_view text);
std::optional<OpKind> parse_op_kind(std::string_view text);
std::optional<ReadExpect> parse_read_expect(std::string_view text);
std::optional<Isolation> parse_isolation(std::string_view text);

// Run fields an [expect."key=value"] table may test, and whether an expectation applies.
inline constexpr const char* k_condition_keys = "sharing, isolation, semantics, backend, arrival, lock_kind, env_policy";
bool is_condition_key(std::string_view key);
std::optional<std::string> condition_value(std::string_view key, const Scenario& scenario);
// Conditions on a choice (sharing, isolation, ...); numeric settings are judged by
// scenario::condition_holds, which knows the settings table.
bool applies(const Condition& condition, const Scenario& scenario);
// "concurrency>=2", "isolation=shared", "concurrency>=2 && sharing=locked", "" without a
// condition: as reports and `show` print it.
std::string condition_text(const Condition& condition);
std::string condition_text(const Expectation& expectation);
// Every mount's sharing mode when they agree, else "mixed" ("none" without mounts).
std::string common_sharing(const Scenario& scenario);

// Hard limits: beyond these a value is an input error (exit 2), not an allocation failure.
inline constexpr std::uint64_t k_max_builds = 100'000'000;
inline constexpr std::uint32_t k_max_concurrency = 100'000;
inline constexpr std::uint32_t k_max_groups = 100'000;
inline constexpr std::uint32_t k_max_payload = 64 * 1024 * 1024;
inline constexpr std::size_t k_max_name_bytes = 255;

}  // namespace cachestress::model
