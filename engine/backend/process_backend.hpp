#pragma once
// --backend process: each build is a child process running our own `cachestress worker`
// build (engine/worker/). A fork server started once per run (worker_server.hpp) forks it
// and hands it the workspace as an inherited directory fd; where pidfds are missing (Linux
// < 5.4) each build is spawned as `cachestress worker --workspace-fd 4` instead, and gets
// the same directory as its fd 4: never the workspace's path. The backend turns the child's
// event lines into the same Recorder calls the in-process state machine makes; the child
// takes the locks, so they contend across real processes. The cache root travels as the
// child's TMPDIR: under --env-policy drop every child gets the "server's" one root.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/backend/process_build.hpp"
#include "engine/backend/recorder.hpp"
#include "engine/backend/wait_graph.hpp"
#include "engine/backend/worker_server.hpp"
#include "engine/ops/rng.hpp"
#include "engine/worker/protocol.hpp"

namespace cachestress::backend {

class ProcessBackend final : public Backend {
 public:
  explicit ProcessBackend(Context& context);
  ~ProcessBackend() override;

  void prepare(std::function<void(std::string error)> ready) override;
  void interrupt_prepare(int signum) override;
  void start_build(const BuildTicket& ticket) override;
  void interrupt(std::uint64_t build, int signum) override;
  void kill_all_now() noexcept override;
  void run_ended() override;

 private:
  struct Worker;  // one build's child and what it said so far
  void on_event(Worker& build, const worker::protocol::Event& event, std::uint64_t at_us);
  void on_exit(Worker& build, std::int64_t exit_status, int term_signal);
  void on_timer(Worker& build);
  void waiting(Worker& build, const worker::protocol::Waiting& waiting, std::uint64_t at_us);
  void granted(Worker& build, const worker::protocol::Granted& granted, std::uint64_t at_us);
  void released(Worker& build, const worker::protocol::Released& released, std::uint64_t at_us);
  void end_wait(Worker& build);
  void lock_timeout(Worker& build);
  bool waits_on_dying_worker(const Worker& build) const;
  const Worker* blocking(const Worker& waiter) const;
  std::string lock_reason(const Worker& build, std::string fallback) const;
  std::string deadlock_reason(const Worker& build, const std::string& kernel_reason) const;
  // The edges of the workers' wait graph, for backend/wait_graph.hpp's walks.
  std::function<std::optional<WaitEdge<const Worker*>>(const Worker*)> wait_edges() const;
  void fire_kill_lock_holder();
  std::string lock_name(const Worker& build, std::uint32_t step, std::uint32_t mount) const;
  std::string mount_label(const Worker& build, std::uint32_t step, std::uint32_t mount) const;
  std::string cache_dir(const Worker& build, std::uint32_t step, std::uint32_t mount) const;
  BuildRef ref(const Worker& build) const;
  void finish(Worker& build, BuildEnd end, std::string failure = {});

  Context& m_ctx;
  const model::Scenario& m_scenario;
  Recorder& m_recorder;
  LockOrder m_lock_order;
  std::string m_worker_exe;  // our own binary, run as `cachestress worker` (--serve)
  std::unique_ptr<WorkerServer> m_server;  // null: each build spawned (no pidfds here)
  std::unordered_map<std::uint64_t, std::unique_ptr<Worker>> m_builds;
  std::unordered_map<int, std::string> m_plan_steps;  // kind -> its plan's "steps" (worker::plan_steps)
  // The latest grant of each locked cache still held (lock name -> build, kind, wait), so a
  // holder's death can name the build that got the lock next.
  struct LastGrant {
    std::uint64_t build = 0;
    int kind = 0;
    std::uint64_t wait_us = 0;
  };
  std::unordered_map<std::string, LastGrant> m_last_grant;
  // [faults] kill_lock_holder: fires once, kill_lock_holder_ms after the chosen build's grant.
  std::unique_ptr<core::Timer> m_fault_timer;
  bool m_fault_armed = false;
  std::uint64_t m_fault_build = 0;
};

}  // namespace cachestress::backend
