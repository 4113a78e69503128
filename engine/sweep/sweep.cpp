#include "engine/sweep/sweep.hpp"

#include <spdlog/spdlog.h>
#include <signal.h>

#include <algorithm>
#include <csignal>
#include <cstring>

#include "engine/backend/registry.hpp"
#include "engine/core/error.hpp"
#include "engine/model/scenario.hpp"
#include "engine/metrics/summary_fields.hpp"
#include "engine/scenario/run_settings.hpp"

namespace cachestress::sweep {
namespace {

// Between a sweep's cells no runner owns SIGINT/SIGTERM/SIGHUP (libuv restores the default
// action when a run ends), so a signal there would kill the process mid-way through writing
// the report. The sweep notes it instead and stops after the cell in hand: an interrupt
// always leaves the report of the finished cells and exits 128+N.
volatile std::sig_atomic_t g_sweep_signal = 0;
void note_sweep_signal(int signum) { g_sweep_signal = signum; }
void catch_signals_between_cells() {
  struct sigaction action {};
  action.sa_handler = note_sweep_signal;
  sigemptyset(&action.sa_mask);
  for (int signum : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signum, &action, nullptr);
}

}  // namespace

std::vector<Cell> sweep_cells(const std::vector<model::SweepAxis>& axes) {
  std::vector<Cell> cells{{}};
  for (const auto& axis : axes) {
    std::vector<Cell> next;
    for (const auto& cell : cells) {
      for (const auto& value : axis.values) {
        auto extended = cell;
        extended.emplace_back(axis.key, value);
        next.push_back(std::move(extended));
      }
    }
    cells = std::move(next);
  }
  return cells;
}

model::Scenario cell_scenario(const model::Scenario& scenario, const Cell& cell) {
  model::Scenario result = scenario;
  for (const auto& [key, value] : cell) scenario::apply_setting(result, key, value);
  return result;
}

namespace {

// Settings the command backend never applies: its command runs the real tool as the tool's
// own files say (a Containerfile's sharing=, the daemon's own locks). A flag or sweep value
// that changed one from the file would show in the header and the report, and change
// nothing that ran.
void note_unapplied(const model::Scenario& written, const model::Scenario& resolved, std::vector<std::string>& out) {
  if (resolved.run.backend != model::Backend::command) return;
  for (const std::string_view key : {"semantics", "sharing", "lock_kind", "lock_timeout"}) {
    const auto* row = scenario::find_setting(key);
    const auto now = row->get(resolved);
    if (now == row->get(written)) continue;
    std::string text = std::string(key) + " " + (now ? scenario::value_text(*row, *now) : std::string("(mixed)")) + " (" +
                       std::string(row->flag) + ") is not applied by backend command: its command runs the real tool as "
                       "the tool's own files say; the simulation (--backend inproc) applies it";
    if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(std::move(text));
  }
}

}  // namespace

std::vector<Cell> plan_cells(const model::Scenario& scenario, const model::Scenario* written) {
  if (scenario.repeat < 1 || scenario.repeat > model::k_max_repeat) {
    throw InputError("--repeat: must be between 1 and " + std::to_string(model::k_max_repeat));
  }
  auto cells = sweep_cells(scenario.sweep);
  const std::size_t planned = cells.size() * scenario.repeat;
  if (planned > model::k_max_sweep_cells) {
    throw InputError("--sweep: " + std::to_string(planned) + " runs (at most " + std::to_string(model::k_max_sweep_cells) + ")");
  }
  // Every cell can run, before any does: an error found at cell 2 replaced the report with
  // cell 1's and exited 2.
  std::vector<std::string> ignored;  // once each, however many cells share it
  for (const auto& cell : cells) {
    const model::Scenario resolved = cell_scenario(scenario, cell);
    try {
      scenario::check_joined_settings(resolved);
    } catch (const InputError& e) {
      if (cell.empty()) throw;
      throw InputError("sweep cell " + model::sweep_values_text(cell) + ": " + e.what());  // which values joined badly
    }
    backend::validate(resolved);
    for (auto& text : backend::ignored_settings(resolved)) {
      if (std::find(ignored.begin(), ignored.end(), text) == ignored.end()) ignored.push_back(std::move(text));
    }
    if (written != nullptr) note_unapplied(*written, resolved, ignored);
  }
  for (const auto& text : ignored) spdlog::warn("{}", text);
  return cells;
}

bool says_what_failures_to_expect(const model::Scenario& scenario) {
  return std::any_of(scenario.expectations.begin(), scenario.expectations.end(), [](const model::Expectation& e) {
    return e.field == "builds.failed" || e.field == "builds.completed" || e.field.starts_with("failures.");
  });
}

std::unique_ptr<FinishedRun> run_one(run::RunOptions options) {
  auto done = std::make_unique<FinishedRun>();
  done->scenario = options.scenario;
  run::Runner runner(std::move(options));
  done->outcome = runner.run();
  // In the scenario's order; one whose condition this run does not meet is listed as not
  // judged, so a smaller run (--builds 1) or another variant says what it could not show.
  // `builds` in a condition is what ran: the builds that started (a run cut short by
  // --duration or a signal, one under --builds 0, and under cachestress-mpi every rank's, where
  // this rank's scenario holds only its share).
  model::Scenario ran = done->scenario;
  ran.run.builds = done->outcome.metrics->counter(metrics::Counter::builds_started);
  const std::string backend = model::to_string(done->scenario.run.backend);
  for (const auto& e : done->scenario.expectations) {
    if (scenario::condition_holds(e, ran)) {
      done->verdicts.push_back(metrics::judge({e}, *done->outcome.metrics, backend).front());
    } else {
      done->verdicts.push_back({e, 0, false, "not judged: this run does not meet " + model::condition_text(e), false});
    }
  }
  if (!done->scenario.allow_failed_builds && !says_what_failures_to_expect(done->scenario)) {
    // Silence about failures means none: a run whose every build failed must not pass.
    model::Expectation none_failed;
    none_failed.field = "builds.failed";
    none_failed.text = "0";
    const double failed = metrics::summary_value(*done->outcome.metrics, "builds.failed");
    done->verdicts.push_back({none_failed, failed, failed == 0, {}, true});
  }
  if (done->outcome.workdir_kept) spdlog::info("workspace kept at {}", done->outcome.workdir);
  return done;
}

report::RunReport run_report(const FinishedRun& done, const std::string& command_line) {
  report::RunReport rr;
  rr.scenario = &done.scenario;
  rr.outcome = &done.outcome;
  rr.environment = done.outcome.environment;
  rr.verdicts = done.verdicts;
  rr.command_line = command_line;
  return rr;
}

int run_warmup(const model::Scenario& scenario, const std::vector<Cell>& cells, std::uint32_t warmup, const SweepHooks& hooks) {
  catch_signals_between_cells();
  for (std::uint32_t rep = 0; rep < warmup; ++rep) {
    for (const auto& cell : cells) {
      if (g_sweep_signal != 0) return g_sweep_signal;
      spdlog::info("warm-up {}/{}: {} (discarded)", rep + 1, warmup, model::sweep_values_text(cell));
      const auto discarded = hooks.run(cell_scenario(scenario, cell), "[warm-up] ");
      catch_signals_between_cells();
      if (discarded->outcome.interrupted) {
        g_sweep_signal = discarded->outcome.signal;
        return g_sweep_signal;
      }
    }
  }
  return g_sweep_signal;
}

SweepResult run_sweep(const model::Scenario& scenario, const std::vector<Cell>& cells, const std::string& command_line,
                      const SweepHooks& hooks, std::uint32_t warmup) {
  SweepResult result;
  auto& info = result.info;
  info.warmup = warmup;
  for (const auto& axis : scenario.sweep) info.keys.push_back(axis.key);
  info.repeat = scenario.repeat;
  info.cells_planned = cells.size() * scenario.repeat;
  info.command_line = command_line;
  const std::size_t planned = info.cells_planned;
  if (run_warmup(scenario, cells, warmup, hooks) != 0) {
    info.signal = g_sweep_signal;
    spdlog::warn("warm-up interrupted: no run was kept");
    return result;
  }
  for (std::uint32_t rep = 0; rep < scenario.repeat && g_sweep_signal == 0; ++rep) {
    for (std::size_t index = 0; index < cells.size() && g_sweep_signal == 0; ++index) {
      // "run 2/6: concurrency=4 (repeat 1)", or "run 2/3: repeat 2" without sweep values.
      const std::string values = model::sweep_values_text(cells[index]);
      const std::string repeat = scenario.repeat > 1 ? "repeat " + std::to_string(rep + 1) : "";
      spdlog::info("run {}/{}: {}", result.reports.size() + 1, planned,
                   values.empty() ? repeat : repeat.empty() ? values : values + " (" + repeat + ")");
      const std::string progress = "[" + std::to_string(result.reports.size() + 1) + "/" + std::to_string(planned) + "] ";
      result.finished.push_back(hooks.run(cell_scenario(scenario, cells[index]), progress));
      catch_signals_between_cells();
      result.reports.push_back({run_report(*result.finished.back(), command_line), cells[index], rep, index});
      info.signal = g_sweep_signal;
      hooks.on_cell(result);
      if (result.finished.back()->outcome.interrupted) break;
    }
    if (!result.finished.empty() && result.finished.back()->outcome.interrupted) break;
  }
  if (result.reports.empty()) {
    info.signal = g_sweep_signal;
    spdlog::warn("{}: sweep stopped before its first run", strsignal(g_sweep_signal));
    return result;
  }
  if (g_sweep_signal != 0 && info.signal == 0) {
    // Noted after the last report was written: say so in the report too.
    info.signal = g_sweep_signal;
    hooks.on_cell(result);
  }
  if (info.signal != 0) spdlog::warn("{}: sweep stopped after {} of {} runs", strsignal(info.signal), result.reports.size(), planned);
  return result;
}

int exit_status(const std::vector<report::CellReport>& cells, int sweep_signal) {
  if (sweep_signal != 0) return 128 + sweep_signal;
  for (const auto& cell : cells) {
    if (cell.run.outcome->interrupted && cell.run.outcome->signal != 0) return 128 + cell.run.outcome->signal;
    // Stopped without a signal (the fork server died; cachestress-mpi: a rank was lost).
    if (cell.run.outcome->interrupted) return static_cast<int>(ExitCode::environment_error);
  }
  bool failed = false;
  for (const auto& cell : cells) {
    for (const auto& v : cell.run.verdicts) {
      if (!v.failed()) continue;
      failed = true;
      std::string where;
      for (const auto& [key, value] : cell.values) where += (where.empty() ? " [" : ", ") + key + "=" + value;
      if (!where.empty()) where += "]";
      spdlog::error("expectation failed{}: {} {} {} (value {}){}", where, v.expectation.field,
                    model::to_string(v.expectation.comparison), v.expectation.value, v.value,
                    v.implicit ? std::string("; ") + metrics::k_implicit_reason : "");
    }
  }
  // A build that failed for want of descriptors, processes or memory measured the machine's
  // limits, not the cache: the run is no verdict either way (failures.resources).
  std::uint64_t starved = 0;
  for (const auto& cell : cells) starved += cell.run.outcome->metrics->counter(metrics::Counter::failures_resources);
  if (starved > 0) {
    spdlog::error("{} build{} failed for want of descriptors, processes or memory (failures.resources; the reasons above "
                  "say which limit): the run measured this machine's limits, not the cache, and is no verdict",
                  starved, starved == 1 ? "" : "s");
    return static_cast<int>(ExitCode::environment_error);
  }
  return static_cast<int>(failed ? ExitCode::expectation_failed : ExitCode::ok);
}

}  // namespace cachestress::sweep
