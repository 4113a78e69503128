#pragma once
// The formatting layer: serialises a finished run. Reporters only read; they measure nothing.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/metrics/expectations.hpp"
#include "engine/model/scenario.hpp"
#include "engine/run/environment.hpp"
#include "engine/run/runner.hpp"

namespace cachestress::report {

inline constexpr int k_schema_version = 1;

// Everything a reporter needs, gathered once by the CLI.
struct RunReport {
  const model::Scenario* scenario = nullptr;
  const run::RunOutcome* outcome = nullptr;
  run::Environment environment;
  std::vector<metrics::Verdict> verdicts;
  std::string command_line;  // the exact command that reproduces the run
};

nlohmann::json to_json(const RunReport& report);
std::string to_text(const RunReport& report);

// Writes text to path atomically (temp file in the same directory + rename); never leaves
// a half-written file. Throws EnvironmentError on failure.
void write_atomically(const std::string& path, const std::string& text);
// Same, but never replaces an existing file: returns false when path already exists.
bool write_new_file(const std::string& path, const std::string& text);
// Checked before a run starts, so a report that cannot be written costs no run: the
// directory of path must exist and be writable and path must not be a directory.
// Throws EnvironmentError naming the path.
void check_output_path(const std::string& path);

// The sharing mode of a scenario as one word: the common mode, or "mixed".
std::string sharing_summary(const model::Scenario& scenario);

}  // namespace cachestress::report
