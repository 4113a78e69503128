#include "engine/mpi/merge.hpp"

#include <algorithm>

namespace cachestress::mpi {
namespace {

std::uint64_t shifted(std::uint64_t t_us, std::int64_t shift_us) {
  const std::int64_t t = static_cast<std::int64_t>(t_us) + shift_us;
  return t < 0 ? 0 : static_cast<std::uint64_t>(t);  // a rank that started a little early
}

void merge_interference(std::vector<metrics::InterferenceCell>& total, const std::vector<metrics::InterferenceCell>& part) {
  for (const auto& cell : part) {
    auto same = std::find_if(total.begin(), total.end(), [&](const metrics::InterferenceCell& t) {
      return t.polluter_kind == cell.polluter_kind && t.victim_kind == cell.victim_kind && t.kind == cell.kind;
    });
    if (same == total.end()) {
      total.push_back(cell);
    } else {
      same->count += cell.count;  // the example stays the first rank's
    }
  }
}

void merge_failures(std::vector<metrics::FailureReason>& total, const std::vector<metrics::FailureReason>& part) {
  for (const auto& failure : part) {
    auto same = std::find_if(total.begin(), total.end(), [&](const auto& t) { return t.reason == failure.reason; });
    if (same == total.end()) {
      total.push_back(failure);
    } else {
      same->count += failure.count;
    }
  }
}

// Interval i of every rank covers the same stretch after the common start (the barrier).
void merge_intervals(std::vector<metrics::IntervalSample>& total, const std::vector<metrics::IntervalSample>& part) {
  for (std::size_t i = 0; i < part.size(); ++i) {
    if (i == total.size()) {
      total.push_back(part[i]);
      continue;
    }
    auto& t = total[i];
    const auto& p = part[i];
    t.t_s = std::max(t.t_s, p.t_s);
    t.builds_completed += p.builds_completed;
    t.steps_completed += p.steps_completed;
    t.collisions += p.collisions;
    t.lock_wait_p99_us = std::max(t.lock_wait_p99_us, p.lock_wait_p99_us);  // the worst rank's p99
    t.in_flight += p.in_flight;
    t.open_fds += p.open_fds;
    t.threads += p.threads;
    t.rss_kb += p.rss_kb;
  }
}

}  // namespace

void merge_metrics(metrics::RunMetrics& total, const metrics::RunMetrics& part, std::int64_t shift_us) {
  for (std::size_t i = 0; i < total.counters.size(); ++i) total.counters[i] += part.counters[i];
  for (std::size_t i = 0; i < total.histograms.size(); ++i) total.histograms[i].merge(part.histograms[i]);
  total.lock_waited += part.lock_waited;
  total.wait_sum_us += part.wait_sum_us;
  total.wait_sum_squares += part.wait_sum_squares;
  if (part.longest_wait_us > total.longest_wait_us) {
    total.longest_wait_us = part.longest_wait_us;
    total.longest_wait_build = part.longest_wait_build;
    total.longest_wait_kind = part.longest_wait_kind;
  }
  merge_interference(total.interference, part.interference);
  for (const auto& pair : part.double_holders) {
    if (total.double_holders.size() < metrics::k_max_double_holders) total.double_holders.push_back(pair);
  }
  merge_intervals(total.intervals, part.intervals);
  merge_failures(total.failures, part.failures);
  for (auto event : part.lock_events.events()) {
    event.wait_start_us = shifted(event.wait_start_us, shift_us);
    if (event.granted_us) event.granted_us = shifted(*event.granted_us, shift_us);
    if (event.released_us) event.released_us = shifted(*event.released_us, shift_us);
    total.lock_events.adopt(std::move(event));
  }
  for (const auto& [category, count] : part.signatures) total.signatures[category] += count;
  for (const auto& death : part.holder_deaths) {
    if (total.holder_deaths.size() < metrics::k_max_holder_deaths) total.holder_deaths.push_back(death);
  }
  total.fault_killed_builds.insert(total.fault_killed_builds.end(), part.fault_killed_builds.begin(), part.fault_killed_builds.end());
  total.cross_host_collisions += part.cross_host_collisions;
  total.cross_host_lock_overlaps += part.cross_host_lock_overlaps;
  for (const auto& c : part.cross_host_examples) {
    if (total.cross_host_examples.size() < metrics::k_max_double_holders) total.cross_host_examples.push_back(c);
  }
  total.duration_s = std::max(total.duration_s, part.duration_s);
}

}  // namespace cachestress::mpi
