#include "engine/report/hosts_text.hpp"

#include <fmt/format.h>

#include <set>

#include "engine/core/printable.hpp"
#include "engine/report/report.hpp"

namespace cachestress::report {

// Host names come from other machines (gethostname): escaped like every printed field.
std::string hosts_text(const run::MultiHost& multi, const metrics::RunMetrics& merged) {
  const std::set<std::string> hosts(multi.rank_hosts.begin(), multi.rank_hosts.end());
  std::string out = fmt::format("  ranks       {} on {} host{} (concurrency {} per rank; the figures add every rank)\n",
                                multi.ranks, hosts.size(), hosts.size() == 1 ? "" : "s", multi.concurrency_per_rank);
  for (const auto& lost : multi.lost) {
    out += fmt::format("  LOST        rank {} on {}: nothing heard after {:.1f} s; its builds are missing from every figure\n",
                       lost.rank, core::printable(lost.host), lost.last_heard_s);
  }
  if (hosts.size() > 1) {
    out += fmt::format("  between hosts {} collisions", merged.cross_host_collisions);
    if (!merged.cross_host_examples.empty()) {
      const auto& c = merged.cross_host_examples.front();
      out += fmt::format(" (e.g. build {} on {} saw build {} on {} in {})", c.victim_build, core::printable(multi.host_of(c.victim_build)),
                         c.polluter_build, core::printable(multi.host_of(c.polluter_build)), core::printable(c.file));
    }
    out += multi.cross_host_lock_overlap_measured
               ? fmt::format("; lock_overlap between hosts: {}\n", merged.cross_host_lock_overlaps)
               : std::string("; lock_overlap between hosts: not measured (use --backend process)\n");
  }
  for (const auto& f : multi.per_rank) {
    out += fmt::format("    rank {:<3} {:<16} {:>6} builds  {:>8.1f} builds/s  wait p50 {:>9}  p99 {:>9}  {:>5} collisions  clock {:+} us (+-{})\n",
                       f.rank, core::printable(f.host), f.builds_completed,
                       f.duration_s > 0 ? static_cast<double>(f.builds_completed) / f.duration_s : 0.0,
                       // No lock taken on that rank: its percentiles are no measurement.
                       f.lock_acquisitions > 0 ? duration_text(static_cast<double>(f.lock_wait_p50_us)) : std::string("none"),
                       f.lock_acquisitions > 0 ? duration_text(static_cast<double>(f.lock_wait_p99_us)) : std::string("none"),
                       f.collisions, f.clock_offset_us, f.clock_uncertainty_us);
  }
  return out;
}

}  // namespace cachestress::report
