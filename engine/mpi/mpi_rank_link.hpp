#pragma once
// One rank's link to the others in a cachestress-mpi run, all through Open MPI:
//  - before each run (may block: the loop is not running yet): rank 0 makes the workspace
//    and a marker file in it, every rank must read the marker (else exit 3 naming who could
//    not), and rank 0 measures each rank's clock offset by ping-pong;
//  - during the run (on the loop, never blocking): a start barrier polled with MPI_Test,
//    heartbeats carrying each rank's counters (rank 0's progress line), and a rank that goes
//    silent ends the run everywhere in bounded time;
//  - after the run (the loop has closed): every rank sends its metrics to rank 0, which
//    merges them (engine/mpi/merge) and names lost ranks.
#include <mpi.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/loop.hpp"
#include "engine/run/outcome.hpp"
#include "engine/run/run_observer.hpp"
#include "engine/run/runner.hpp"
#include "engine/run/workspace.hpp"

namespace cachestress::mpi {

// A rank that has said nothing for this long is lost (heartbeats go every k_heartbeat_ms).
inline constexpr std::uint64_t k_heartbeat_ms = 200;
inline constexpr std::uint64_t k_lost_after_ms = 5000;

class RankLink final : public run::RunObserver {
 public:
  // After MPI_Init: learns rank, size and every rank's host name; checks that every rank runs
  // this build with the same arguments (InputError naming a rank that does not).
  RankLink(int argc, char** argv);
  int rank() const noexcept { return m_rank; }
  int size() const noexcept { return m_size; }
  const std::string& host() const noexcept { return m_hosts[static_cast<std::size_t>(m_rank)]; }
  bool lost_any() const noexcept { return m_lost_any; }
  // Rank 0 lost another rank and stopped this one: rank 0 ends the job once its report is out.
  bool stopped_by_rank0() const noexcept { return m_stopped_by_rank0; }

  // Throws InputError for a run this job cannot make (fewer builds than ranks, a rank-local
  // tmpfs): every sweep cell is checked before any runs.
  void check(const model::Scenario& scenario) const;
  // Fills a run's options: this rank's share of the builds, global ids, the joined workspace,
  // this observer and the gather after the run.
  void configure(run::RunOptions& options);

  // run::RunObserver
  void ready(core::Loop& loop, run::RunControl& control, std::function<void()> admit) override;
  void interval(const metrics::Collector& collector, double elapsed_s, std::uint64_t in_flight) override;
  void ended() override;

 private:
  struct Peer {
    std::uint64_t last_heard_us = 0;
    bool lost = false;
    bool result_in = false;
    std::uint64_t completed = 0, failed = 0, collisions = 0, in_flight = 0;  // its last heartbeat
    std::int64_t mono_offset_us = 0;  // its monotonic clock minus rank 0's
    std::int64_t real_offset_us = 0;  // its realtime clock minus rank 0's
    std::uint64_t offset_uncertainty_us = 0;
  };

  std::unique_ptr<run::Workspace> make_workspace(const std::string& workdir, bool keep, std::uint32_t tmpfs_kb);
  void check_shared_workdir(const std::string& path, const std::string& nonce);
  void measure_clocks();
  void after_run(run::RunOutcome& outcome);
  void gather_on_rank0(run::RunOutcome& outcome);
  void send_result_and_wait(const run::RunOutcome& outcome);

  void tick();  // every k_heartbeat_ms on the loop, and in the blocking waits after it
  void send(int to, int tag, std::string bytes);
  void drain();
  void reap_sends();
  void check_liveness();
  void lose(int rank, const std::string& why);

  int m_rank = 0;
  int m_size = 1;
  std::vector<std::string> m_hosts;
  std::vector<int> m_host_index;  // per rank: the first rank on the same host
  std::vector<Peer> m_peers;
  std::uint64_t m_run_seq = 0;  // runs so far (one per sweep cell): stale messages are ignored
  std::uint32_t m_concurrency = 0;
  model::Backend m_backend = model::Backend::inproc;

  // During a run.
  run::RunControl* m_control = nullptr;
  std::function<void()> m_admit;
  MPI_Request m_barrier = MPI_REQUEST_NULL;
  bool m_started = false;
  std::uint64_t m_start_mono_us = 0;
  std::unique_ptr<core::Timer> m_barrier_poll, m_heartbeat;
  std::uint64_t m_own_completed = 0, m_own_failed = 0, m_own_collisions = 0, m_own_in_flight = 0;
  std::uint64_t m_last_progress_us = 0;
  bool m_stop_sent = false;
  bool m_done = false;         // rank 0 said the run is over (other ranks)
  bool m_lost_any = false;
  bool m_stopped_by_rank0 = false;
  std::deque<std::pair<MPI_Request, std::string>> m_sends;  // Isend buffers live until sent
  // Rank 0 only: results as they arrive.
  std::vector<std::string> m_results;
};

}  // namespace cachestress::mpi
