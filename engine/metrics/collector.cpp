#include "engine/metrics/collector.hpp"

#include <algorithm>

#include "engine/model/failure.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace cachestress::metrics {
namespace {

// The kernel's getdents64 record (glibc 2.36 has no getdents64 wrapper declaration here).
struct linux_dirent64_view {
  std::uint64_t ino;
  std::int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[1];
};

}  // namespace

const char* to_string(CollisionKind kind) {
  switch (kind) {
    case CollisionKind::foreign: return "foreign";
    case CollisionKind::missing: return "missing";
    case CollisionKind::torn: return "torn";
    case CollisionKind::lock_overlap: return "lock_overlap";
  }
  return "?";
}

double RunMetrics::rate(Rate r) const {
  double seconds = duration_s > 0 ? duration_s : 1e-9;
  switch (r) {
    case Rate::duration_s: return duration_s;
    case Rate::builds_per_s: return static_cast<double>(counter(Counter::builds_completed)) / seconds;
    case Rate::steps_per_s: return static_cast<double>(counter(Counter::steps_completed)) / seconds;
    case Rate::bytes_per_s:
      return static_cast<double>(counter(Counter::bytes_written) + counter(Counter::bytes_read)) / seconds;
    case Rate::count_: break;
  }
  return 0;
}

Collector::Collector() : m_metrics(std::make_unique<RunMetrics>()), m_interval_wait(std::make_unique<Histogram>()) {}

void Collector::record(Hist h, std::uint64_t value_us) noexcept {
  m_metrics->histograms[static_cast<std::size_t>(h)].record(value_us);
}

bool RunMetrics::measured(std::string_view path) const {
  constexpr std::string_view k_prefix = "summary.";
  if (path.starts_with(k_prefix)) path.remove_prefix(k_prefix.size());
  return std::none_of(not_measured.begin(), not_measured.end(), [&](const std::string& name) {
    return path == name || (path.starts_with(name) && path.size() > name.size() && path[name.size()] == '.');
  });
}

double RunMetrics::jain_index() const noexcept {
  const auto n = static_cast<double>(counters[static_cast<std::size_t>(Counter::lock_acquisitions)]);
  if (n == 0 || wait_sum_squares == 0) return 1.0;  // nobody waited: perfectly fair
  return wait_sum_us * wait_sum_us / (n * wait_sum_squares);
}

void Collector::record_lock_wait(std::uint64_t wait_us, bool waited, std::uint64_t build, int kind) noexcept {
  record(Hist::lock_wait_us, wait_us);
  // Fairness is about waiting for another holder: an acquisition that found the lock free
  // waited 0 however long taking it took, so nobody waiting reads as index 1, longest 0.
  const double x = waited ? static_cast<double>(wait_us) : 0.0;
  m_metrics->wait_sum_us += x;
  m_metrics->wait_sum_squares += x * x;
  if (waited && (m_metrics->longest_wait_kind < 0 || wait_us > m_metrics->longest_wait_us)) {
    m_metrics->longest_wait_us = wait_us;
    m_metrics->longest_wait_build = build;
    m_metrics->longest_wait_kind = kind;
  }
  m_interval_wait->record(wait_us);
  add(Counter::lock_acquisitions);
  if (waited) {
    add(Counter::lock_waited);
    ++m_metrics->lock_waited;
  }
}

void Collector::collision(const Collision& c) {
  add(Counter::collisions_total);
  switch (c.kind) {
    case CollisionKind::foreign: add(Counter::collisions_foreign); break;
    case CollisionKind::missing: add(Counter::collisions_missing); break;
    case CollisionKind::torn: add(Counter::collisions_torn); break;
    case CollisionKind::lock_overlap:
      add(Counter::collisions_lock_overlap);
      if (m_metrics->double_holders.size() < k_max_double_holders) m_metrics->double_holders.push_back(c);
      break;
  }
  if (m_host_of && c.polluter_kind != k_unknown_kind && c.polluter_build != k_unknown_build &&
      m_host_of(c.polluter_build) != m_host_of(c.victim_build)) {
    ++m_metrics->cross_host_collisions;
    if (c.kind == CollisionKind::lock_overlap) ++m_metrics->cross_host_lock_overlaps;
    if (m_metrics->cross_host_examples.size() < k_max_double_holders) m_metrics->cross_host_examples.push_back(c);
  }
  auto key = std::make_tuple(c.polluter_kind, c.victim_kind, static_cast<int>(c.kind));
  auto [it, inserted] = m_cell_index.try_emplace(key, m_metrics->interference.size());
  if (inserted) m_metrics->interference.push_back({c.polluter_kind, c.victim_kind, c.kind, 0, c});
  ++m_metrics->interference[it->second].count;
}

Counter failure_category(std::string_view reason) {
  switch (model::failure_category_of(reason)) {
    case model::FailureCategory::deadlock: return Counter::failures_deadlock;
    case model::FailureCategory::lock_timeout: return Counter::failures_lock_timeout;
    case model::FailureCategory::lock_busy: return Counter::failures_lock_busy;
    case model::FailureCategory::enospc: return Counter::failures_enospc;
    case model::FailureCategory::rejected: return Counter::failures_rejected;
    case model::FailureCategory::io: return Counter::failures_io;
    case model::FailureCategory::signal: return Counter::failures_signal;
    case model::FailureCategory::exit: return Counter::failures_exit;
    case model::FailureCategory::timeout: return Counter::failures_timeout;
    case model::FailureCategory::check: return Counter::failures_check;
    case model::FailureCategory::spawn: return Counter::failures_spawn;
    case model::FailureCategory::resources: return Counter::failures_resources;
    case model::FailureCategory::protocol:  // counted with other (results/README.md)
    case model::FailureCategory::other: return Counter::failures_other;
  }
  return Counter::failures_other;
}

void Collector::failure(const std::string& reason, std::uint64_t build, int kind) {
  add(failure_category(reason));
  auto [it, inserted] = m_failure_index.try_emplace(reason, m_metrics->failures.size());
  if (inserted) m_metrics->failures.push_back({reason, 0, build, kind, {}, {}});
  ++m_metrics->failures[it->second].count;
}

void Collector::command_failure(const std::string& reason, std::uint64_t build, int kind, const std::string& log,
                                std::vector<std::string> first_lines, const std::string& signature) {
  const bool first = !m_failure_index.contains(reason);
  failure(reason, build, kind);
  if (first) {
    auto& entry = m_metrics->failures[m_failure_index[reason]];
    entry.example_log = log;
    entry.example_lines = std::move(first_lines);
  }
  if (!signature.empty()) ++m_metrics->signatures[signature];
}

void Collector::holder_death(HolderDeath death) {
  add(Counter::holder_deaths);
  if (m_metrics->holder_deaths.size() < k_max_holder_deaths) m_metrics->holder_deaths.push_back(std::move(death));
}

HolderDeath* Collector::pending_holder_death(const std::string& lock, std::uint64_t not_build) {
  for (auto& death : m_metrics->holder_deaths) {
    if (!death.next_build && death.lock == lock && death.build != not_build) return &death;
  }
  return nullptr;
}

ProcessSample sample_process() noexcept {
  ProcessSample sample;
  if (int fd = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    alignas(8) char buffer[16384];
    for (;;) {
      const ssize_t n = ::syscall(SYS_getdents64, fd, buffer, sizeof buffer);
      if (n <= 0) break;
      for (ssize_t offset = 0; offset < n;) {
        const auto* entry = reinterpret_cast<const struct linux_dirent64_view*>(buffer + offset);
        if (entry->name[0] != '.') ++sample.open_fds;
        offset += entry->reclen;
      }
    }
    ::close(fd);
    if (sample.open_fds > 0) --sample.open_fds;  // the descriptor reading the list
  }
  char text[1024];
  if (int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC); fd >= 0) {
    const ssize_t n = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (n > 0) {
      text[n] = '\0';
      if (const char* p = std::strstr(text, "VmRSS:")) sample.rss_kb = std::strtoull(p + 6, nullptr, 10);
      if (const char* p = std::strstr(text, "Threads:")) sample.threads = std::strtoull(p + 8, nullptr, 10);
    }
  }
  return sample;
}

void Collector::close_interval(double t_s, std::uint64_t in_flight) {
  const auto builds = get(Counter::builds_completed);
  const auto steps = get(Counter::steps_completed);
  const auto collisions = get(Counter::collisions_total);
  const ProcessSample process = sample_process();
  m_metrics->intervals.push_back({t_s, builds - m_interval_builds, steps - m_interval_steps,
                                  collisions - m_interval_collisions, m_interval_wait->percentile(99), in_flight,
                                  process.open_fds, process.threads, process.rss_kb});
  m_interval_builds = builds;
  m_interval_steps = steps;
  m_interval_collisions = collisions;
  m_interval_wait->reset();
}

}  // namespace cachestress::metrics
