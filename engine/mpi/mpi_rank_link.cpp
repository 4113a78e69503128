#include "engine/mpi/mpi_rank_link.hpp"

#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string_view>
#include <thread>

#include "engine/core/error.hpp"
#include "engine/mpi/merge.hpp"
#include "engine/mpi/metrics_wire.hpp"
#include "engine/mpi/multi_host.hpp"
#include "engine/run/environment.hpp"

namespace cachestress::mpi {
namespace {

enum Tag : int { k_heartbeat = 1, k_stop = 2, k_result = 3, k_done = 4, k_clock = 5 };
constexpr const char* k_marker = ".cachestress-mpi-marker";
constexpr int k_clock_rounds = 8;
constexpr std::size_t k_text = 256;

std::int64_t realtime_us() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

std::array<char, k_text> fixed(const std::string& text) {
  std::array<char, k_text> out{};
  std::strncpy(out.data(), text.c_str(), k_text - 1);
  return out;
}

void bcast_string(std::string& text, int root) {
  unsigned long long size = text.size();
  MPI_Bcast(&size, 1, MPI_UNSIGNED_LONG_LONG, root, MPI_COMM_WORLD);
  text.resize(size);
  MPI_Bcast(text.data(), static_cast<int>(size), MPI_CHAR, root, MPI_COMM_WORLD);
}

// The command line as a short text to compare across ranks (FNV-1a over every argument but
// --workdir's value).
std::string arguments_digest(int argc, char** argv) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  auto add = [&](std::string_view text) {
    for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    hash = (hash ^ 0xffU) * 0x100000001b3ULL;  // an argument's end: "a b" is not "ab"
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--workdir" && i + 1 < argc) {
      ++i;
      continue;
    }
    if (arg.starts_with("--workdir=")) continue;
    add(arg);
  }
  return std::to_string(argc) + ":" + std::to_string(hash);
}

std::string random_nonce() {
  std::random_device device;
  std::ostringstream out;
  out << std::hex << device() << device() << ::getpid();
  return out.str();
}

}  // namespace

RankLink::RankLink(int argc, char** argv) {
  MPI_Comm_rank(MPI_COMM_WORLD, &m_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &m_size);
  // Errors come back as codes: a lost peer must not abort the ranks that are left.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  const std::string own = run::host_name();
  const auto name = fixed(own.empty() ? "unknown" : own);
  std::vector<char> names(k_text * static_cast<std::size_t>(m_size));
  MPI_Allgather(name.data(), k_text, MPI_CHAR, names.data(), k_text, MPI_CHAR, MPI_COMM_WORLD);
  for (int r = 0; r < m_size; ++r) m_hosts.emplace_back(names.data() + k_text * static_cast<std::size_t>(r));
  for (const auto& rank_host : m_hosts) {
    m_host_index.push_back(static_cast<int>(std::find(m_hosts.begin(), m_hosts.end(), rank_host) - m_hosts.begin()));
  }
  // Ranks exchange raw histograms: they must all run this very build.
  const auto build = fixed(std::string(CACHESTRESS_VERSION) + " " + std::to_string(sizeof(metrics::RunMetrics)));
  std::vector<char> builds(k_text * static_cast<std::size_t>(m_size));
  MPI_Allgather(build.data(), k_text, MPI_CHAR, builds.data(), k_text, MPI_CHAR, MPI_COMM_WORLD);
  for (int r = 0; r < m_size; ++r) {
    if (std::strcmp(builds.data() + k_text * static_cast<std::size_t>(r), build.data()) != 0) {
      throw EnvironmentError("rank " + std::to_string(r) + " on " + m_hosts[static_cast<std::size_t>(r)] +
                             " runs another cachestress-mpi build (" + (builds.data() + k_text * static_cast<std::size_t>(r)) +
                             "): every rank must run the same one");
    }
  }
  // One run, one command line: ranks started with others (mpirun's MPMD "a : b") were merged
  // into one report under rank 0's title. Only --workdir may differ: one shared filesystem
  // may be mounted at another path on each host.
  const auto own_args = fixed(arguments_digest(argc, argv));
  std::vector<char> args(k_text * static_cast<std::size_t>(m_size));
  MPI_Allgather(own_args.data(), k_text, MPI_CHAR, args.data(), k_text, MPI_CHAR, MPI_COMM_WORLD);
  for (int r = 1; r < m_size; ++r) {
    if (std::strcmp(args.data() + k_text * static_cast<std::size_t>(r), args.data()) != 0) {
      throw InputError("rank " + std::to_string(r) + " on " + m_hosts[static_cast<std::size_t>(r)] +
                       " was started with other arguments than rank 0: every rank must run the same command line "
                       "(only --workdir may differ)");
    }
  }
  m_peers.resize(static_cast<std::size_t>(m_size));
}

// ---- Before the run ----------------------------------------------------------------------

void RankLink::check(const model::Scenario& scenario) const {
  if (scenario.faults.enospc_tmpfs_kb > 0) {
    throw InputError("[faults] enospc_tmpfs_kb: the tmpfs would be mounted where only one rank sees it; "
                     "run this scenario with cachestress, not cachestress-mpi");
  }
  if (scenario.run.builds != 0 && scenario.run.builds < static_cast<std::uint64_t>(m_size)) {
    throw InputError("--builds " + std::to_string(scenario.run.builds) + " is fewer than the " + std::to_string(m_size) +
                     " ranks: every rank needs at least one build");
  }
}

void RankLink::configure(run::RunOptions& options) {
  auto& run = options.scenario.run;
  check(options.scenario);
  if (run.builds != 0) {
    const auto ranks = static_cast<std::uint64_t>(m_size);
    const auto mine = static_cast<std::uint64_t>(m_rank);
    run.builds = run.builds / ranks + (mine < run.builds % ranks ? 1 : 0);  // ids rank, rank+size, ...
  }
  m_concurrency = run.concurrency;
  m_backend = run.backend;
  options.first_build_id = static_cast<std::uint64_t>(m_rank);
  options.build_id_stride = static_cast<std::uint64_t>(m_size);
  options.host = host();
  options.host_of = [this](std::uint64_t build) { return m_host_index[build % m_hosts.size()]; };
  options.leave_stale_locks = m_rank == 0;
  options.observer = this;
  options.make_workspace = [this](const std::string& workdir, bool keep, std::uint32_t tmpfs_kb) {
    return make_workspace(workdir, keep, tmpfs_kb);
  };
  options.after_run = [this](run::RunOutcome& outcome) { after_run(outcome); };
  options.on_interval = nullptr;  // rank 0's progress comes from the heartbeats
  ++m_run_seq;
  m_started = false;
  m_done = false;
  m_stop_sent = false;
  m_results.assign(static_cast<std::size_t>(m_size), std::string());
  for (auto& peer : m_peers) {
    peer.last_heard_us = core::now_us();
    peer.result_in = false;
  }
}

std::unique_ptr<run::Workspace> RankLink::make_workspace(const std::string& workdir, bool keep, std::uint32_t tmpfs_kb) {
  std::unique_ptr<run::Workspace> workspace;
  std::string path, nonce, error;
  if (m_rank == 0) {
    try {
      workspace = std::make_unique<run::Workspace>(workdir, keep, tmpfs_kb);
      path = workspace->path();
      nonce = random_nonce();
      std::ofstream marker(path + "/" + k_marker);
      marker << nonce << "\n";
      if (!marker.flush()) error = "cannot write " + path + "/" + k_marker;
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  bcast_string(error, 0);
  if (!error.empty()) throw EnvironmentError(error);  // every rank stops with rank 0's reason
  bcast_string(path, 0);
  bcast_string(nonce, 0);
  if (m_rank != 0) {
    try {
      workspace = run::Workspace::join(path);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  check_shared_workdir(path, error.empty() ? nonce : "");
  if (m_rank == 0) ::unlink((path + "/" + k_marker).c_str());
  measure_clocks();
  return workspace;
}

// Rank 0 wrote the marker; every rank must read it back, or the run would be one cache per
// host pretending to be a shared one.
void RankLink::check_shared_workdir(const std::string& path, const std::string& nonce) {
  std::string problem;
  if (nonce.empty()) {
    problem = "cannot open " + path;
  } else {
    std::ifstream marker(path + "/" + k_marker);
    std::string seen;
    if (!(marker >> seen)) {
      problem = "cannot read " + path + "/" + k_marker + ": " + (errno != 0 ? std::strerror(errno) : "missing");
    } else if (seen != nonce) {
      problem = "found another run's marker in " + path;
    }
  }
  const auto mine = fixed(problem);
  std::vector<char> all(k_text * static_cast<std::size_t>(m_size));
  MPI_Allgather(mine.data(), k_text, MPI_CHAR, all.data(), k_text, MPI_CHAR, MPI_COMM_WORLD);
  for (int r = 0; r < m_size; ++r) {
    const char* text = all.data() + k_text * static_cast<std::size_t>(r);
    if (text[0] == '\0') continue;
    throw EnvironmentError("--workdir " + path + " must be one filesystem that every rank sees: rank " + std::to_string(r) +
                           " on " + m_hosts[static_cast<std::size_t>(r)] + " " + text);
  }
}

// As IOR's time deviation: rank 0 pings each rank and keeps the round with the shortest
// round trip; the offset is good to +- half of it.
void RankLink::measure_clocks() {
  if (m_rank == 0) {
    for (int r = 1; r < m_size; ++r) {
      Peer& peer = m_peers[static_cast<std::size_t>(r)];
      std::uint64_t best_rtt = UINT64_MAX;
      for (int round = 0; round < k_clock_rounds; ++round) {
        const std::uint64_t t0 = core::now_us();
        const std::int64_t r0 = realtime_us();
        std::int64_t reply[2] = {};
        MPI_Send(&round, 1, MPI_INT, r, k_clock, MPI_COMM_WORLD);
        MPI_Recv(reply, 2, MPI_INT64_T, r, k_clock, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        const std::uint64_t t1 = core::now_us();
        const std::int64_t r1 = realtime_us();
        if (t1 - t0 >= best_rtt) continue;
        best_rtt = t1 - t0;
        peer.mono_offset_us = reply[0] - static_cast<std::int64_t>(t0 + (t1 - t0) / 2);
        peer.real_offset_us = reply[1] - (r0 + (r1 - r0) / 2);
        peer.offset_uncertainty_us = best_rtt / 2;
      }
    }
  } else {
    for (int round = 0; round < k_clock_rounds; ++round) {
      int ping = 0;
      MPI_Recv(&ping, 1, MPI_INT, 0, k_clock, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      std::int64_t reply[2] = {static_cast<std::int64_t>(core::now_us()), realtime_us()};
      MPI_Send(reply, 2, MPI_INT64_T, 0, k_clock, MPI_COMM_WORLD);
    }
  }
}

// ---- During the run (loop thread) --------------------------------------------------------

void RankLink::ready(core::Loop& loop, run::RunControl& control, std::function<void()> admit) {
  m_control = &control;
  m_admit = std::move(admit);
  m_heartbeat = std::make_unique<core::Timer>(loop, [this] { tick(); });
  m_heartbeat->start(k_heartbeat_ms, k_heartbeat_ms);
  m_heartbeat->unref();  // heartbeats alone never keep the run going
  MPI_Ibarrier(MPI_COMM_WORLD, &m_barrier);
  m_barrier_poll = std::make_unique<core::Timer>(loop, [this] {
    int arrived = 0;
    MPI_Test(&m_barrier, &arrived, MPI_STATUS_IGNORE);
    if (!arrived || m_started) return;
    m_barrier_poll->stop();
    m_started = true;
    m_start_mono_us = core::now_us();
    m_last_progress_us = m_start_mono_us;
    for (auto& peer : m_peers) peer.last_heard_us = m_start_mono_us;
    m_admit();
  });
  m_barrier_poll->start(1, 1);
}

void RankLink::interval(const metrics::Collector& collector, double, std::uint64_t in_flight) {
  m_own_completed = collector.get(metrics::Counter::builds_completed);
  m_own_failed = collector.get(metrics::Counter::builds_failed);
  m_own_collisions = collector.get(metrics::Counter::collisions_total);
  m_own_in_flight = in_flight;
}

void RankLink::ended() { m_own_in_flight = 0; }

void RankLink::tick() {
  drain();
  reap_sends();
  const std::string seq = std::to_string(m_run_seq);
  if (m_rank != 0) {
    send(0, k_heartbeat,
         seq + " " + std::to_string(m_own_completed) + " " + std::to_string(m_own_failed) + " " +
             std::to_string(m_own_collisions) + " " + std::to_string(m_own_in_flight));
  } else {
    for (int r = 1; r < m_size; ++r) {
      if (!m_peers[static_cast<std::size_t>(r)].lost) send(r, k_heartbeat, seq);
    }
  }
  if (m_started) check_liveness();
  // Rank 0's progress: the sum of every rank's last heartbeat (a non-blocking reduction).
  const std::uint64_t now = core::now_us();
  if (m_rank == 0 && m_started && m_control != nullptr && now - m_last_progress_us >= 2000000) {
    m_last_progress_us = now;
    std::uint64_t completed = m_own_completed, failed = m_own_failed, collisions = m_own_collisions, in_flight = m_own_in_flight;
    for (int r = 1; r < m_size; ++r) {
      const Peer& p = m_peers[static_cast<std::size_t>(r)];
      completed += p.completed;
      failed += p.failed;
      collisions += p.collisions;
      in_flight += p.in_flight;
    }
    spdlog::info("progress over {} ranks: {} builds completed, {} failed, {} collisions, {} in flight", m_size, completed,
                 failed, collisions, in_flight);
  }
}

void RankLink::send(int to, int tag, std::string bytes) {
  m_sends.emplace_back(MPI_REQUEST_NULL, std::move(bytes));
  auto& [request, buffer] = m_sends.back();
  if (MPI_Isend(buffer.data(), static_cast<int>(buffer.size()), MPI_CHAR, to, tag, MPI_COMM_WORLD, &request) != MPI_SUCCESS) {
    m_sends.pop_back();  // a peer that is gone: liveness will say so
  }
}

void RankLink::reap_sends() {
  while (!m_sends.empty()) {
    int done = 0;
    MPI_Test(&m_sends.front().first, &done, MPI_STATUS_IGNORE);
    if (!done) return;
    m_sends.pop_front();
  }
}

void RankLink::drain() {
  for (;;) {
    int waiting = 0;
    MPI_Status status{};
    if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &waiting, &status) != MPI_SUCCESS || !waiting) return;
    if (status.MPI_TAG == k_clock) return;  // only ever received in measure_clocks
    int size = 0;
    MPI_Get_count(&status, MPI_CHAR, &size);
    std::string bytes(static_cast<std::size_t>(size), '\0');
    MPI_Recv(bytes.data(), size, MPI_CHAR, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    Peer& from = m_peers[static_cast<std::size_t>(status.MPI_SOURCE)];
    from.last_heard_us = core::now_us();
    std::istringstream in(bytes);
    std::uint64_t seq = 0;
    in >> seq;
    if (seq != m_run_seq) continue;  // a message of an earlier run (sweep cell)
    switch (status.MPI_TAG) {
      case k_heartbeat:
        if (m_rank == 0) in >> from.completed >> from.failed >> from.collisions >> from.in_flight;
        break;
      case k_stop: {
        std::string reason;
        std::getline(in >> std::ws, reason);
        m_stopped_by_rank0 = true;
        if (m_control != nullptr) m_control->stop_run(reason);
        if (!m_started && m_admit) {
          m_started = true;  // the barrier will never complete: admit nothing, end
          if (m_barrier_poll) m_barrier_poll->stop();
          m_admit();
        }
        break;
      }
      case k_result:
        m_results[static_cast<std::size_t>(status.MPI_SOURCE)] = std::move(bytes);
        from.result_in = true;
        break;
      case k_done: m_done = true; break;
      default: break;
    }
  }
}

void RankLink::check_liveness() {
  const std::uint64_t now = core::now_us();
  for (int r = 0; r < m_size; ++r) {
    if (r == m_rank || (m_rank != 0 && r != 0)) continue;  // rank 0 watches all; the others watch rank 0
    const Peer& peer = m_peers[static_cast<std::size_t>(r)];
    if (peer.lost || peer.result_in || now - peer.last_heard_us <= k_lost_after_ms * 1000) continue;
    lose(r, "nothing from it for " + std::to_string((now - peer.last_heard_us) / 1000) + " ms");
  }
}

void RankLink::lose(int rank, const std::string& why) {
  m_peers[static_cast<std::size_t>(rank)].lost = true;
  m_lost_any = true;
  const std::string reason = "rank " + std::to_string(rank) + " on " + m_hosts[static_cast<std::size_t>(rank)] + " was lost (" + why + ")";
  spdlog::error("{}", reason);
  if (m_control != nullptr) m_control->stop_run(reason);
  if (m_rank == 0 && !m_stop_sent) {
    m_stop_sent = true;
    for (int r = 1; r < m_size; ++r) {
      if (!m_peers[static_cast<std::size_t>(r)].lost) send(r, k_stop, std::to_string(m_run_seq) + " " + reason);
    }
  }
}

// ---- After the run (the loop has closed: blocking is fine) -------------------------------

void RankLink::after_run(run::RunOutcome& outcome) {
  m_barrier_poll.reset();
  m_heartbeat.reset();
  m_control = nullptr;
  if (m_rank == 0) {
    gather_on_rank0(outcome);
  } else {
    send_result_and_wait(outcome);
  }
}

void RankLink::send_result_and_wait(const run::RunOutcome& outcome) {
  send(0, k_result, std::to_string(m_run_seq) + " " + std::to_string(m_start_mono_us) + "\n" + encode_metrics(*outcome.metrics));
  m_started = true;  // watch rank 0 from now on, whatever happened before
  while (!m_done && !m_lost_any) {
    tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void RankLink::gather_on_rank0(run::RunOutcome& outcome) {
  m_started = true;
  auto pending = [this] {
    for (int r = 1; r < m_size; ++r) {
      const Peer& peer = m_peers[static_cast<std::size_t>(r)];
      if (!peer.result_in && !peer.lost) return true;
    }
    return false;
  };
  while (pending()) {
    tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run::MultiHost multi;
  multi.ranks = m_size;
  multi.concurrency_per_rank = m_concurrency;
  multi.rank_hosts = m_hosts;
  multi.cross_host_lock_overlap_measured = m_backend == model::Backend::process;
  multi.per_rank.push_back(rank_figures(*outcome.metrics, 0, m_hosts[0]));
  for (int r = 1; r < m_size; ++r) {
    const Peer& peer = m_peers[static_cast<std::size_t>(r)];
    if (!peer.result_in) {
      const double heard = peer.last_heard_us > m_start_mono_us ? static_cast<double>(peer.last_heard_us - m_start_mono_us) / 1e6 : 0;
      multi.lost.push_back({r, m_hosts[static_cast<std::size_t>(r)], heard});
      continue;
    }
    const std::string& bytes = m_results[static_cast<std::size_t>(r)];
    const auto newline = bytes.find('\n');
    std::istringstream header(bytes.substr(0, newline));
    std::uint64_t seq = 0, start_us = 0;
    header >> seq >> start_us;
    auto part = decode_metrics(std::string_view(bytes).substr(newline + 1));
    auto figures = rank_figures(*part, r, m_hosts[static_cast<std::size_t>(r)]);
    figures.clock_offset_us = peer.real_offset_us;
    figures.clock_uncertainty_us = peer.offset_uncertainty_us;
    multi.per_rank.push_back(figures);
    // Its start on rank 0's clock, minus rank 0's start.
    const std::int64_t shift = static_cast<std::int64_t>(start_us) - peer.mono_offset_us - static_cast<std::int64_t>(m_start_mono_us);
    merge_metrics(*outcome.metrics, *part, shift);
  }
  for (int r = 1; r < m_size; ++r) {
    if (!m_peers[static_cast<std::size_t>(r)].lost) send(r, k_done, std::to_string(m_run_seq));
  }
  if (!multi.lost.empty()) {
    outcome.interrupted = true;
    if (outcome.stop_reason.empty()) outcome.stop_reason = "rank " + std::to_string(multi.lost.front().rank) + " on " + multi.lost.front().host + " was lost";
  }
  outcome.multi_host = std::move(multi);
  // Let the DONE messages go before this rank moves on.
  for (int spins = 0; spins < 100 && !m_sends.empty(); ++spins) {
    reap_sends();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace cachestress::mpi
