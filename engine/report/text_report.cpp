// The terminal summary: what a build-host operator reads first.
#include <fmt/format.h>

#include "engine/core/printable.hpp"
#include "engine/model/scenario.hpp"
#include "engine/metrics/summary_fields.hpp"
#include "engine/report/hosts_text.hpp"
#include "engine/report/report.hpp"

#include <algorithm>

namespace cachestress::report {
namespace {

std::string kind_name(const run::RunOutcome& outcome, int kind) {
  if (kind < 0 || static_cast<std::size_t>(kind) >= outcome.kind_names.size()) return "unknown";
  return core::printable(outcome.kind_names[static_cast<std::size_t>(kind)]);
}

}  // namespace

std::string duration_text(double us) {
  if (us < 1000) return fmt::format("{:.0f} us", us);
  if (us < 1e6) return fmt::format("{:.1f} ms", us / 1000);
  return fmt::format("{:.2f} s", us / 1e6);
}

std::string to_text(const RunReport& report) {
  const auto& s = *report.scenario;
  const auto& outcome = *report.outcome;
  const auto& m = *outcome.metrics;
  auto value = [&](const char* path) { return metrics::summary_value(m, path); };
  std::string out;
  auto line = [&](const std::string& text) { out += text + "\n"; };

  line(fmt::format("cachestress {} | scenario {} | semantics {} | sharing {} | isolation {} | backend {} | seed {}",
                   CACHESTRESS_VERSION, core::printable(s.name), model::to_string(s.run.semantics), sharing_summary(s),
                   model::to_string(s.run.isolation), model::to_string(s.run.backend), s.run.seed));
  if (s.run.backend == model::Backend::process) {
    line(fmt::format("  process     env-policy {}, worker start p50 {}  p99 {} (per-build overhead)", model::to_string(s.run.env_policy),
                     duration_text(value("worker_start_us.p50")), duration_text(value("worker_start_us.p99"))));
  }
  if (outcome.interrupted && !outcome.stop_reason.empty()) {
    line(fmt::format("STOPPED: {}: partial results", core::printable(outcome.stop_reason)));
  } else if (outcome.interrupted) {
    line(fmt::format("INTERRUPTED by signal {}: partial results", outcome.signal));
  }
  line(fmt::format("  builds      {:.0f} started, {:.0f} completed, {:.0f} failed, {:.0f} interrupted (concurrency {})",
                   value("builds.started"), value("builds.completed"), value("builds.failed"),
                   value("builds.interrupted"), s.run.concurrency));
  if (outcome.multi_host) out += hosts_text(*outcome.multi_host, m);
  // Rates and build times count completed builds only; a handful is not a distribution.
  constexpr double k_few = 5;
  const double completed = value("builds.completed");
  line(fmt::format("  throughput  {:.1f} completed builds/s, {:.1f} steps/s over {}{}", value("builds_per_s"),
                   value("steps_per_s"), duration_text(value("duration_s") * 1e6),
                   completed < k_few ? fmt::format(" (from {:.0f} completed build{}: too few for a rate)", completed, completed == 1 ? "" : "s") : ""));
  for (const char* name : {"lock_wait_us", "lock_hold_us", "build_latency_us", "failed_build_latency_us"}) {
    std::string n = name;
    const double count = value((n + ".count").c_str());
    if (count == 0 || !m.measured(n)) continue;
    std::string label = n == "lock_wait_us"       ? "lock wait"
                        : n == "lock_hold_us"     ? "lock hold"
                        : n == "build_latency_us" ? "build time"
                                                  : "failed time";
    std::string extra;
    if (n == "lock_wait_us") {
      const double waited = value("lock_wait_us.waited");
      // A wait that gave up acquired nothing, so it is in neither figure: say it happened.
      const double gave_up = m.measured("failures.lock_timeout") ? value("failures.lock_timeout") : 0;
      extra = fmt::format("  ({:.0f} of {:.0f} acquisitions waited{}{})", waited, count,
                          waited == 0 ? ": the times are the cost of taking a free lock" : "",
                          gave_up > 0 ? fmt::format("; {:.0f} more waits gave up (lock-timeout)", gave_up) : "");
    } else if (n == "build_latency_us" || n == "failed_build_latency_us") {
      extra = fmt::format("  ({} builds only{})", n == "build_latency_us" ? "completed" : "failed",
                          count < k_few ? fmt::format(", {:.0f}: too few for percentiles", count) : "");
    }
    line(fmt::format("  {:<11} p50 {}  p99 {}  max {}{}", label, duration_text(value((n + ".p50").c_str())),
                     duration_text(value((n + ".p99").c_str())), duration_text(value((n + ".max").c_str())), extra));
  }
  if (value("locks.waited") > 0) {
    line(fmt::format("  fairness    Jain index {:.2f} (1 = all waited alike); longest wait {} by build {} ({})",
                     value("lock_fairness.jain_index"), duration_text(value("lock_fairness.longest_wait_us")),
                     m.longest_wait_build, kind_name(outcome, m.longest_wait_kind)));
  }
  if (value("races.rename") > 0) line(fmt::format("  races       {:.0f} renames found the destination already there", value("races.rename")));
  auto counted = [&](const char* path) { return m.measured(path) ? fmt::format("{:.0f}", value(path)) : std::string("not measured"); };
  line(fmt::format("  collisions  {}: foreign {}, missing {}, torn {}, lock_overlap {}",
                   m.measured("collisions.total") ? counted("collisions.total") + " total" : std::string("total not measured"),
                   counted("collisions.foreign"), counted("collisions.missing"), counted("collisions.torn"),
                   counted("collisions.lock_overlap")));
  // inproc lacks only worker_start_us, which nobody expects of it: no line for that.
  if (!m.not_measured.empty() && s.run.backend != model::Backend::inproc) {
    std::string names;
    for (const auto& name : m.not_measured) names += (names.empty() ? "" : ", ") + name;
    line(fmt::format("  not measured by the {} backend: {}", model::to_string(s.run.backend), names));
  }
  if (!m.interference.empty()) {
    line("  interference (polluter kind -> victim kind):");
    for (const auto& cell : m.interference) {
      std::string example = cell.polluter_kind == metrics::k_unknown_kind || cell.example.polluter_build == metrics::k_unknown_build
                                ? fmt::format("build {} step {} {}", cell.example.victim_build, cell.example.step, core::printable(cell.example.file))
                                : fmt::format("build {} step {} saw build {} in {}", cell.example.victim_build,
                                              cell.example.step, cell.example.polluter_build, core::printable(cell.example.file));
      line(fmt::format("    {:>12} -> {:<12} {:<12} {:>8}   e.g. {}", kind_name(outcome, cell.polluter_kind),
                       kind_name(outcome, cell.victim_kind), metrics::to_string(cell.kind), cell.count, example));
    }
  }
  if (!m.double_holders.empty()) {
    // Named pair by pair (the JSON lists up to metrics::k_max_double_holders).
    constexpr std::size_t k_shown = 3;
    std::string pairs;
    for (std::size_t i = 0; i < m.double_holders.size() && i < k_shown; ++i) {
      const auto& c = m.double_holders[i];
      pairs += fmt::format("{}build {} ({}) + build {} ({})", i ? "; " : "", c.polluter_build, kind_name(outcome, c.polluter_kind),
                           c.victim_build, kind_name(outcome, c.victim_kind));
    }
    if (m.double_holders.size() > k_shown) pairs += fmt::format("; {} more in the JSON report", m.double_holders.size() - k_shown);
    line(fmt::format("  double holders of a locked cache: {}", pairs));
  }
  if (const auto& stale = outcome.stale_lock) {
    if (stale->files == 0) {
      // BuildKit's locked mounts and shared ones take no lock file: there was nothing to leave.
      line("  fault       stale_lock: no lock file to leave stale (this run's mounts take no lock file)");
    } else {
      line(fmt::format("  fault       stale_lock: {} lock files left by dead holder pid {} ({}; {})", stale->files, stale->holder_pid,
                       stale->holder_locked_all ? "it held them all when it died" : "it could NOT lock them all",
                       stale->freed_by_kernel ? "the kernel freed the locks" : "a lock was NOT freed"));
    }
  }
  if (outcome.enospc_tmpfs_kb > 0) {
    line(fmt::format("  fault       enospc: workspace on a {} KiB tmpfs; {}", outcome.enospc_tmpfs_kb,
                     m.measured("failures.enospc")
                         ? fmt::format("{:.0f} builds failed for lack of space", value("failures.enospc"))
                         : fmt::format("the {} backend does not tell lack of space from other failures", model::to_string(s.run.backend))));
  }
  if (const auto delay = s.faults.kill_lock_holder_ms) {
    const auto& killed = m.fault_killed_builds;
    std::string whom = !killed.empty()                 ? ""
                       : value("locks.acquired") == 0 ? "no build: no lock was taken"
                                                       : "no build: every holder let go of its lock first";
    for (std::size_t i = 0; i < killed.size(); ++i) whom += fmt::format("{}build {}", i ? ", " : "", killed[i]);
    line(fmt::format("  fault       kill_lock_holder: SIGKILL {} after its lock grant: {}", duration_text(static_cast<double>(*delay) * 1000),
                     whom));
  }
  if (!m.failures.empty()) {
    // The biggest groups; the JSON report has every group, each with one example.
    constexpr std::size_t k_groups_shown = 5;
    std::vector<const metrics::FailureReason*> biggest;
    for (const auto& f : m.failures) biggest.push_back(&f);
    std::stable_sort(biggest.begin(), biggest.end(), [](const auto* a, const auto* b) { return a->count > b->count; });
    line(biggest.size() > k_groups_shown ? fmt::format("  failures ({} groups):", biggest.size()) : std::string("  failures:"));
    for (std::size_t i = 0; i < biggest.size() && i < k_groups_shown; ++i) {
      const auto& f = *biggest[i];
      line(fmt::format("    {:>8} x {} (e.g. build {}, kind {})", f.count, core::printable(f.reason), f.example_build, kind_name(outcome, f.example_kind)));
      if (!f.example_log.empty()) line(fmt::format("             full output: {}", core::printable(f.example_log)));
      for (const auto& first : f.example_lines) line(fmt::format("             | {}", core::printable(first)));
    }
    if (biggest.size() > k_groups_shown) line(fmt::format("    {} more groups in the report", biggest.size() - k_groups_shown));
  }
  if (!m.signatures.empty()) {
    std::string counts;
    for (const auto& [category, count] : m.signatures) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", core::printable(category), count);
    line("  signatures  " + counts);
  }
  if (!m.holder_deaths.empty()) {
    line(fmt::format("  holder deaths ({:.0f}; the kernel released each lock):", value("locks.holder_deaths")));
    for (const auto& d : m.holder_deaths) {
      const std::string next = d.next_build ? fmt::format("next holder build {} ({}) after waiting {}", *d.next_build,
                                                          kind_name(outcome, d.next_kind),
                                                          duration_text(static_cast<double>(d.next_wait_us)))
                                            : std::string("no later holder");
      line(fmt::format("    build {} ({}) {} holding {}: {}", d.build, kind_name(outcome, d.kind), core::printable(d.reason), core::printable(d.lock), next));
    }
  }
  if (!report.verdicts.empty()) {
    line("  expectations:");
    for (const auto& v : report.verdicts) {
      const std::string shown = !v.skipped.empty() ? v.skipped
                                : v.implicit      ? fmt::format("value {}; {}", v.value, metrics::k_implicit_reason)
                                                  : fmt::format("value {}", v.value);
      line(fmt::format("    {} {} {} {} ({})", !v.skipped.empty() ? "SKIP" : v.passed ? "PASS" : "FAIL", core::printable(v.expectation.field),
                       model::to_string(v.expectation.comparison), v.expectation.value, shown));
    }
  }
  return out;
}

std::string failed_expectations_text(const std::vector<CellReport>& cells) {
  std::string out;
  for (const auto& cell : cells) {
    std::string where = core::printable(model::sweep_values_text(cell.values));
    if (cells.size() > 1 && std::any_of(cells.begin(), cells.end(), [](const CellReport& c) { return c.repeat > 0; })) {
      where += (where.empty() ? "" : " ") + fmt::format("rep {}", cell.repeat + 1);
    }
    for (const auto& v : cell.run.verdicts) {
      if (!v.failed()) continue;
      out += fmt::format("FAIL {}{} {} {} (value {}{})\n", where.empty() ? "" : "[" + where + "] ", core::printable(v.expectation.field),
                         model::to_string(v.expectation.comparison), v.expectation.value, v.value,
                         v.implicit ? std::string("; ") + metrics::k_implicit_reason : "");
    }
  }
  return out;
}

}  // namespace cachestress::report
