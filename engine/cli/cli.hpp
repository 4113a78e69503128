#pragma once
#include <functional>
#include <string>

#include "engine/run/runner.hpp"

namespace cachestress::cli {

// How another front end takes part in every run the command line makes: cachestress-mpi
// parses the same flags and scenario files, and joins each run to the other ranks.
struct RunDriver {
  std::string program = "cachestress";
  std::string log_prefix;                           // e.g. "rank 1@host-b" in every log line
  std::function<void(run::RunOptions&)> configure;  // before each run (one per sweep cell)
  // Throws InputError for a cell this driver cannot run (cachestress-mpi: fewer builds than
  // ranks), for every cell before any runs.
  std::function<void(const model::Scenario&)> check_cell;
  bool writes_output = true;
  bool live_progress = true;  // the progress line on a terminal  // false: no report file, no summary, info logs off (all ranks but the first)
  // Exit status of a process that does not write the output (its verdicts are rank 0's).
  std::function<int(int status)> exit_status;
};

// The whole command line: parses, runs, reports; returns the process exit code.
int main(int argc, char** argv);
int main(int argc, char** argv, const RunDriver& driver);

}  // namespace cachestress::cli
