#pragma once
// A bounded sample of lock acquisitions (who waited for which cache lock, when it was
// granted and released) for the HTML report's timeline. Loop thread only, like the
// collector; the JSON report writes it as lock_events.
//
// The sample is the first k_capacity acquisitions of the run, every one followed to its
// release. Why the start: it is where builds that arrive together pile onto a lock (the
// convoy the timeline exists to show, and the moment parallel CI jobs collide); the window
// [0, last sampled wait start] is complete, with no holder whose wait began before the
// window opened; and it needs no knowledge of how long the run will be (a run ends on a
// build count, a duration or a signal). Steady state is what the per-interval series show.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachestress::metrics {

// A LockEvent's key: the cache's path in the workspace (its root, then its directory).
std::string lock_event_key(std::string_view root, std::string_view cache_dir);

struct LockEvent {
  std::string key;  // the cache's path in the workspace: one lock per cache (lock_event_key)
  std::uint64_t build = 0;
  int kind = -1;  // index into the scenario's build kinds
  std::uint64_t wait_start_us = 0;  // since the start of the run
  std::optional<std::uint64_t> granted_us;   // never granted: timed out, interrupted, or the run ended first
  std::optional<std::uint64_t> released_us;  // never released: still held when the run ended
};

class LockEventSample {
 public:
  static constexpr std::size_t k_capacity = 2000;

  // The key is root + "/" + cache_dir, joined only when the event is kept.
  void waiting(std::string_view root, std::string_view cache_dir, std::uint64_t build, int kind, std::uint64_t t_us);
  void granted(std::string_view root, std::string_view cache_dir, std::uint64_t build, std::uint64_t t_us);
  void released(std::string_view root, std::string_view cache_dir, std::uint64_t build, std::uint64_t t_us);

  const std::vector<LockEvent>& events() const noexcept { return m_events; }
  // A finished event sampled elsewhere (another rank of cachestress-mpi), kept as it is:
  // a merged sample holds each rank's first k_capacity acquisitions.
  void adopt(LockEvent event) { m_events.push_back(std::move(event)); }

 private:
  std::vector<LockEvent> m_events;
  // Sampled acquisitions not yet released: (build, key) -> index in m_events. A build
  // takes a given cache at most once at a time.
  std::map<std::pair<std::uint64_t, std::string>, std::size_t, std::less<>> m_open;
  LockEvent* open_event(std::string_view root, std::string_view cache_dir, std::uint64_t build);
};

}  // namespace cachestress::metrics
