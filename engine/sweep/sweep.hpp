#pragma once
// The sweep/repeat driver: a scenario's [sweep] and --sweep axes as cells, each run (and
// judged) in turn, repetitions interleaved, a signal between cells noted rather than fatal.
// It sits above run/ and report/; the CLI calls it, nothing below includes it.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/metrics/expectations.hpp"
#include "engine/model/scenario.hpp"
#include "engine/report/report.hpp"
#include "engine/run/runner.hpp"

namespace cachestress::sweep {

// One cell: a value for each swept setting, in axis order.
using Cell = std::vector<std::pair<std::string, std::string>>;

// Every combination of the axes' values, in axis order (the last axis varies fastest).
std::vector<Cell> sweep_cells(const std::vector<model::SweepAxis>& axes);

// The scenario with a cell's values applied.
model::Scenario cell_scenario(const model::Scenario& scenario, const Cell& cell);

// The runs a scenario plans (cells x repeat), checked before anything runs: the repeat and
// run count in range, every cell's settings valid together. Throws InputError.
// `written`: the scenario as its file says, before flags; a setting a flag or sweep value
// changed that the backend does not apply is warned about once.
std::vector<Cell> plan_cells(const model::Scenario& scenario, const model::Scenario* written = nullptr);

// One finished run of a scenario and the verdicts of the expectations that apply to it.
struct FinishedRun {
  model::Scenario scenario;
  run::RunOutcome outcome;
  std::vector<metrics::Verdict> verdicts;
};

// Runs options.scenario and judges its applicable expectations.
std::unique_ptr<FinishedRun> run_one(run::RunOptions options);

report::RunReport run_report(const FinishedRun& done, const std::string& command_line);

// What a sweep leaves: every finished run, and a report of each (pointing into `finished`).
struct SweepResult {
  std::vector<std::unique_ptr<FinishedRun>> finished;
  std::vector<report::CellReport> reports;
  report::SweepInfo info;
};

struct SweepHooks {
  // Runs one cell's scenario; `label` is "[3/8] " for a progress line.
  std::function<std::unique_ptr<FinishedRun>(const model::Scenario& scenario, const std::string& label)> run;
  // After every cell (and once more when a signal is noted after the last one): the reports
  // so far, so an interrupted sweep still leaves a valid report of what finished.
  std::function<void(const SweepResult& so_far)> on_cell;
};

// --warmup N: runs every cell N times first and discards those runs (caches, page cache and
// CPU frequency settle), logging each. Returns the signal that stopped it, 0 when it finished.
int run_warmup(const model::Scenario& scenario, const std::vector<Cell>& cells, std::uint32_t warmup, const SweepHooks& hooks);

// Runs every cell scenario.repeat times, interleaved (all cells once, then again) so
// machine drift spreads evenly. SIGINT/SIGTERM/SIGHUP between cells stop the sweep after
// the cell in hand (info.signal).
SweepResult run_sweep(const model::Scenario& scenario, const std::vector<Cell>& cells, const std::string& command_line,
                      const SweepHooks& hooks, std::uint32_t warmup = 0);

// Exit status of finished runs: interrupted first (128+N), then any failed expectation
// (logged, naming the cell), else 0.
int exit_status(const std::vector<report::CellReport>& cells, int sweep_signal = 0);

}  // namespace cachestress::sweep
