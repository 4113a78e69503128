#pragma once
// The formatting layer: serialises a finished run. Reporters only read; they measure nothing.
#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/metrics/expectations.hpp"
#include "engine/metrics/spread.hpp"
#include "engine/model/scenario.hpp"
#include "engine/run/environment.hpp"
#include "engine/run/outcome.hpp"

namespace cachestress::report {

// 2: every report has cells[] (a single run is one cell), see results/README.md "Migration".
inline constexpr int k_schema_version = 2;
// The oldest version compare and report still read (1: a single run at the top level).
inline constexpr int k_oldest_schema_version = 1;

// Everything a reporter needs, gathered once by the CLI.
struct RunReport {
  const model::Scenario* scenario = nullptr;
  const run::RunOutcome* outcome = nullptr;
  run::Environment environment;
  std::vector<metrics::Verdict> verdicts;
  std::string command_line;  // the exact command that reproduces the run
};

// The run's own part (config, interrupted, signal, summary, interference, failures,
// expectations, intervals): the whole report of a single run minus its header.
nlohmann::json run_json(const RunReport& report);

// A sweep or repeated run: one cell per (values, repetition), in the order they ran.
struct CellReport {
  RunReport run;
  std::vector<std::pair<std::string, std::string>> values;  // swept setting -> value
  std::uint32_t repeat = 0;
  std::size_t index = 0;  // the cell's position in the product (same for its repetitions)
};
struct SweepInfo {
  std::vector<std::string> keys;
  std::uint32_t repeat = 1;
  std::uint32_t warmup = 0;       // discarded repetitions of each cell run first (--warmup)
  std::size_t cells_planned = 0;  // cells x repeat; fewer in the report when interrupted
  std::string command_line;
  int signal = 0;  // a signal that stopped the sweep between two cells (0: none)
};
// The one report shape (schema_version 2) of a single run, a repeat and a sweep: a header,
// "sweep" (keys [] for a single run), "cells" (one per run), "aggregates" (one per
// combination: median and spread over its repetitions).
nlohmann::json sweep_to_json(const std::vector<CellReport>& cells, const SweepInfo& sweep);
// The summary paths the report's "aggregates" give median, MAD, min and max of.
const std::vector<std::string>& aggregated_paths();
// One combination's repetitions folded, computed once for the JSON "aggregates" and the
// terminal's repeat lines (engine/report/aggregates.cpp). Interrupted repetitions are left
// out (metrics::finished_runs); when every one was interrupted they are kept, as partial.
struct Aggregate {
  std::size_t index = 0;
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<const CellReport*> runs;  // the repetitions the figures are over, in order
  std::size_t interrupted_left_out = 0;
  bool partial = false;  // every repetition was interrupted: `runs` holds them all
  // Each of aggregated_paths() that every run of `runs` measured (no median of placeholders).
  std::vector<std::pair<std::string, metrics::Spread>> figures;
  const metrics::Spread* figure(std::string_view path) const;
};
// One per combination, in the order combinations first ran.
std::vector<Aggregate> aggregates(const std::vector<CellReport>& cells);
// Side by side: a row per cell, the sweep keys as columns, then builds/s, p99 wait, collisions.
std::string sweep_to_text(const std::vector<CellReport>& cells, const SweepInfo& sweep);
// JUnit XML: a test case per expectation of each run (name, value, verdict).
std::string to_junit(const std::vector<CellReport>& cells);
std::string to_text(const RunReport& report);
// -q: only the expectations that failed, one line each ("FAIL [concurrency=1] locks.waited > 0
// (value 0)"); empty when every expectation passed.
std::string failed_expectations_text(const std::vector<CellReport>& cells);
// "850 us", "26.1 ms", "2.50 s": how every terminal view prints a duration in microseconds.
std::string duration_text(double us);

// The sharing mode of a scenario as one word: the common mode, or "mixed".
std::string sharing_summary(const model::Scenario& scenario);

}  // namespace cachestress::report
