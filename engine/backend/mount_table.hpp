#pragma once
// Loop-thread bookkeeping of every cache in use: which instances exist (BuildKit's private
// pool), who holds them, and the per-key gate that queues in-process users of a Buildah
// locked cache (Buildah's per-process mutex per lock path: at most one in-process build
// waits in the kernel for a key, two while one-hop sections hand on, so lock waits never
// pin more than two threads per key).
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/backend/standby_chain.hpp"
#include "engine/model/scenario.hpp"

namespace cachestress::backend {

struct InprocBuild;
class KernelLockJob;

struct CacheInstance {
  std::uint32_t shared_holders = 0;
  bool exclusive = false;  // held by a locked or private user
};

// CacheState::standby: the loop parks up to k_standby_depth started builds (beyond them
// builds wait in the gate queue, and none is staged into the chain, so a build never waits
// behind one that started after it); a thread that leaves fewer than k_standby_low started
// (or k_staged_low staged, backend.hpp) builds there wakes the loop to park (or the runner
// to stage) more; above those its notices wait for a wake.
inline constexpr std::size_t k_standby_depth = 256;
inline constexpr std::size_t k_standby_low = 2;

struct CacheState {
  std::vector<CacheInstance> instances;  // instance 0 is the one shared and locked users meet on
  bool gate_busy = false;                // kernel_gate: one build is waiting for or holding the lock
  std::deque<InprocBuild*> gate_queue;         // kernel_gate: in-process builds queued behind it (FIFO)
  InprocBuild* gate_owner = nullptr;           // kernel_gate: the build the gate was last handed to
  // kernel_gate, one-hop steps: the builds in line whose sections are prepared and whose
  // jobs wait in `standby` (see StandbyChain), taken off the gate queue. A waiter thread of
  // the key takes the oldest and queues it itself when it holds (OFD, flock) or lets go of
  // (fcntl) the lock, so the next build blocks on the real lock without a loop round trip;
  // the loop learns of it from held() (the adopt notice). standby_builds is the loop's
  // record of the started builds parked there or taken and not yet adopted.
  std::deque<InprocBuild*> standby_builds;
  StandbyChain<KernelLockJob> standby;
  // One-hop jobs of this key queued to a waiter thread and not yet past their acquire: the
  // builds of ours that wait (or are about to wait) in the kernel. A waiter thread hands the
  // parked job on only while this is small, so at most two wait in the kernel per key.
  std::atomic<int> kernel_waiters{0};
  // One-hop jobs prepared for this key whose done() has not come back (loop thread): their
  // waiter threads may still touch standby and kernel_waiters, so the state stays.
  std::size_t section_jobs = 0;
  bool idle() const;
};

// BuildKit's grant rules (see domain.md). Returns the instance granted, or nothing when a
// locked request must keep polling. `created` tells whether a new instance was made.
std::optional<std::uint32_t> grant_instance(CacheState& state, model::Sharing sharing, bool& created);
void release_instance(CacheState& state, std::uint32_t instance, model::Sharing sharing);

class MountTable {
 public:
  CacheState& state(const std::string& root, const std::string& key) { return m_roots[root][key]; }
  // The cache's state if it is in use, without making one.
  CacheState* find(const std::string& root, const std::string& key);
  // Forgets a cache with no holders, no queue and no persistent instances.
  void forget_if_idle(const std::string& root, const std::string& key, bool keep_instances);
  // Forgets every cache of a root that was removed from disk.
  void drop_root(const std::string& root) { m_roots.erase(root); }
  std::size_t roots() const noexcept { return m_roots.size(); }

 private:
  std::unordered_map<std::string, std::unordered_map<std::string, CacheState>> m_roots;
};

// The engine's own lock_overlap oracle, independent of the grant logic above: it records
// who is inside each cache instance directory and reports a second holder of a locked one.
// Thread-safe: a locked step run in one hop enters and leaves it from the waiter thread
// while it really holds the kernel lock, so overlap is judged at the same moments as for
// builds that enter and leave on the loop thread.
class HolderRegistry {
 public:
  struct Holder {
    std::uint64_t build = 0;
    int kind = 0;
    model::Sharing sharing = model::Sharing::shared;
  };
  struct Entry {
    bool overlapped = false;          // another build was already inside
    std::optional<Holder> conflict;   // ...and both are locked users: never allowed
  };
  Entry enter(const std::string& dir, const Holder& holder);
  void leave(const std::string& dir, std::uint64_t build);
  std::size_t dirs() const {
    std::lock_guard lock(m_mutex);
    return m_holders.size();
  }

 private:
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, std::vector<Holder>> m_holders;
};

}  // namespace cachestress::backend
