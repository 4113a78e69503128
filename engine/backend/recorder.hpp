#pragma once
// The one vocabulary in which every backend reports what happens inside a build: a wait for
// a locked cache, its grant and release, an operation, a collision, a step done. The
// worker protocol's events (engine/worker/protocol.hpp) map one to one onto these calls;
// the in-process state machine makes the same calls. The Recorder turns them into metrics,
// and names the polluter of a torn or missing read from its record of who last wrote or
// removed each path (the file itself cannot say): attribution lives here and nowhere else.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "engine/metrics/collector.hpp"
#include "engine/model/scenario.hpp"

namespace cachestress::backend {

// A build as events name it: id, kind index, and the cache root it really uses.
struct BuildRef {
  std::uint64_t id = 0;
  int kind = 0;
  std::string_view root;
};

class Recorder {
 public:
  Recorder(metrics::Collector& collector, const model::Scenario& scenario);

  // A locked mount's wait began / it was granted / released (at: the run's clock, us).
  void waiting(const BuildRef& build, std::string_view cache_dir, std::uint64_t at_us);
  void granted(const BuildRef& build, std::string_view cache_dir, std::uint64_t wait_us, bool waited, std::uint64_t at_us);
  void released(const BuildRef& build, std::string_view cache_dir, std::uint64_t hold_us, std::uint64_t at_us);
  void instance_created();
  // A mount directory already had another build inside (overlap is not yet a collision).
  void mount_overlapped();

  // A write (write, append, extract) to `path` is under way / a remove happened: the
  // record that names the polluter of a later torn or missing read.
  void will_write(const std::string& path, const BuildRef& build);
  void removed(const std::string& path, const BuildRef& build);
  // An operation completed (hold included).
  void op_done(std::uint64_t bytes_written, std::uint64_t bytes_read);
  // A read found what it should not. polluter: from the file's token (build, kind name),
  // when it names one; otherwise the last writer (torn) or remover (missing) is named.
  void collision(const BuildRef& victim, metrics::CollisionKind kind, const std::string& file, std::uint32_t step,
                 std::optional<std::pair<std::uint64_t, std::string_view>> polluter);
  // Two locked holders inside one cache at once (the engine's own oracle saw it).
  void lock_overlap(const BuildRef& victim, const std::string& dir, std::uint32_t step,
                    std::optional<std::pair<std::uint64_t, int>> other);
  void step_done(std::uint64_t latency_us);
  void io_error();

  // The index of a build kind named in an event, or metrics::k_unknown_kind.
  int kind_index(std::string_view name) const;

 private:
  using LastActor = std::unordered_map<std::string, std::pair<std::uint64_t, int>>;
  static void remember(LastActor& actors, const std::string& path, const BuildRef& build);

  metrics::Collector& m_collector;
  std::unordered_map<std::string, int> m_kind_by_name;
  // Bounded; cleared when full.
  LastActor m_last_writer;
  LastActor m_last_deleter;
};

}  // namespace cachestress::backend
