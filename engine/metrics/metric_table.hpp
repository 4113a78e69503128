#pragma once
// Every figure cachestress reports is declared once here: name (also its JSON path under
// "summary"), unit, how it merges across workers/intervals, and what it means. Reports,
// expectations and results/README.md are derived from this table.
#include <array>
#include <cstddef>

namespace cachestress::metrics {

enum class Merge { sum, max, recompute, buckets };

struct MetricInfo {
  const char* name;
  const char* unit;
  Merge merge;
  const char* description;
};

// Counters: plain event counts, recorded on the loop thread.
enum class Counter : std::size_t {
  builds_started,
  builds_completed,
  builds_failed,
  builds_interrupted,
  steps_completed,
  ops_completed,
  bytes_written,
  bytes_read,
  lock_acquisitions,
  lock_waited,
  collisions_total,
  collisions_foreign,
  collisions_missing,
  collisions_torn,
  collisions_lock_overlap,
  instances_created,
  mounts_overlapped,
  io_errors,
  failures_deadlock,
  failures_lock_timeout,
  failures_lock_busy,
  failures_enospc,
  failures_rejected,
  failures_io,
  failures_signal,
  failures_other,
  failures_exit,
  failures_timeout,
  failures_check,
  failures_spawn,
  failures_resources,
  races_rename,
  holder_deaths,
  count_,
};

inline constexpr std::array<MetricInfo, static_cast<std::size_t>(Counter::count_)> k_counters{{
    {"builds.started", "builds", Merge::sum, "builds admitted by the runner"},
    {"builds.completed", "builds", Merge::sum, "builds that ran every step (with or without collisions)"},
    {"builds.failed", "builds", Merge::sum, "builds that stopped on an error (I/O error, rejected mount)"},
    {"builds.interrupted", "builds", Merge::sum, "builds cut short by SIGINT/SIGTERM"},
    {"steps.completed", "steps", Merge::sum, "steps that mounted, ran their operations and released"},
    {"ops.completed", "operations", Merge::sum, "file operations and holds completed"},
    {"bytes.written", "bytes", Merge::sum, "bytes written into cache directories"},
    {"bytes.read", "bytes", Merge::sum, "bytes read back from cache directories"},
    {"locks.acquired", "acquisitions", Merge::sum, "locked mounts acquired"},
    {"locks.waited", "acquisitions", Merge::sum, "locked mounts whose acquisition had to wait for another holder"},
    {"collisions.total", "collisions", Merge::sum, "all collisions: foreign + missing + torn + lock_overlap"},
    {"collisions.foreign", "collisions", Merge::sum, "a read found a valid token written by another build than expected"},
    {"collisions.missing", "collisions", Merge::sum, "a read expected a file that was gone"},
    {"collisions.torn", "collisions", Merge::sum, "a read found mixed, partial or corrupt content"},
    {"collisions.lock_overlap", "collisions", Merge::sum, "two holders of one locked mount at the same time (engine check)"},
    {"cache.instances_created", "instances", Merge::sum, "cache instances created (buildkit private pool and forked shared instances)"},
    {"cache.mounts_overlapped", "mounts", Merge::sum, "mounts granted while another build was inside the same cache instance"},
    {"errors.io", "errors", Merge::sum, "file operations that failed with an unexpected errno"},
    {"failures.deadlock", "builds", Merge::sum, "failed: a lock wait timed out in a cycle of builds waiting for each other"},
    {"failures.lock_timeout", "builds", Merge::sum, "failed: a lock wait exceeded --lock-timeout (no cycle found)"},
    {"failures.lock_busy", "builds", Merge::sum, "failed: the workload's own non-blocking lock was busy (apt's \"Could not get lock\")"},
    {"failures.enospc", "builds", Merge::sum, "failed: an operation ran out of space (ENOSPC, EDQUOT)"},
    {"failures.rejected", "builds", Merge::sum, "failed: the semantics profile rejected a mount (Buildah: sharing=private)"},
    {"failures.io", "builds", Merge::sum, "failed: any other unexpected errno"},
    {"failures.signal", "builds", Merge::sum, "failed: the build's process was killed by a signal (process backend)"},
    {"failures.other", "builds", Merge::sum, "failed for a reason outside the categories above"},
    {"failures.exit", "builds", Merge::sum, "failed: the build's command exited non-zero (command backend)"},
    {"failures.timeout", "builds", Merge::sum, "failed: the build's process or command ran past its timeout (--build-timeout, [command] timeout) and was killed"},
    {"failures.check", "builds", Merge::sum, "failed: the command exited 0 but an output check did not hold (command backend)"},
    {"failures.spawn", "builds", Merge::sum, "failed: the command could not be started (not found, not executable; command backend)"},
    {"failures.resources", "builds", Merge::sum, "failed: the machine ran out of descriptors, processes or memory (EMFILE, ENFILE, ENOMEM; EAGAIN at a spawn): its limit, not the cache's. Any such build makes the run exit 3"},
    {"races.rename", "renames", Merge::sum, "extract-then-rename found the destination already there (EEXIST/ENOTEMPTY)"},
    {"locks.holder_deaths", "builds", Merge::sum, "process backend: builds that died holding a locked mount (the kernel released the lock)"},
}};

// Rates and durations derived from counters and the wall clock at the end of a run.
enum class Rate : std::size_t { duration_s, builds_per_s, steps_per_s, bytes_per_s, count_ };

inline constexpr std::array<MetricInfo, static_cast<std::size_t>(Rate::count_)> k_rates{{
    {"duration_s", "s", Merge::max, "wall time from the first admission to the last build's end"},
    {"builds_per_s", "builds/s", Merge::recompute, "completed builds only: builds.completed / duration_s"},
    {"steps_per_s", "steps/s", Merge::recompute, "steps.completed / duration_s"},
    {"bytes_per_s", "bytes/s", Merge::recompute, "(bytes.written + bytes.read) / duration_s"},
}};

// Latency distributions: log-linear histograms (engine/metrics/histogram.hpp), merged by
// adding bucket counts; percentiles are within 1% of exact.
enum class Hist : std::size_t {
  lock_wait_us,
  lock_hold_us,
  step_latency_us,
  build_latency_us,
  worker_start_us,
  failed_build_latency_us,
  count_
};

inline constexpr std::array<MetricInfo, static_cast<std::size_t>(Hist::count_)> k_histograms{{
    {"lock_wait_us", "us", Merge::buckets, "time from asking for a locked mount to holding it"},
    {"lock_hold_us", "us", Merge::buckets, "time a locked mount was held"},
    {"step_latency_us", "us", Merge::buckets, "time from a step's start (before mounting) to its release"},
    {"build_latency_us", "us", Merge::buckets, "completed builds only: time from a build's admission to its end"},
    {"worker_start_us", "us", Merge::buckets, "process backend: from spawning a build's worker to its hello (fork, exec, plan): per-build overhead"},
    {"failed_build_latency_us", "us", Merge::buckets, "failed builds only: time from a build's admission to its failure"},
}};

// Statistics reported for every histogram. "waited" (acquisitions with a nonzero wait) is
// reported for lock_wait_us only.
inline constexpr std::array<const char*, 7> k_histogram_stats{"count", "mean", "p50", "p90", "p99", "p999", "max"};

constexpr const MetricInfo& info(Counter c) { return k_counters[static_cast<std::size_t>(c)]; }
constexpr const MetricInfo& info(Rate r) { return k_rates[static_cast<std::size_t>(r)]; }
constexpr const MetricInfo& info(Hist h) { return k_histograms[static_cast<std::size_t>(h)]; }

}  // namespace cachestress::metrics
