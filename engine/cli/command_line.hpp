#pragma once
// The command line, parsed into plain structs and nothing else: parse_command_line runs no
// build, writes no file, prints nothing and never exits the process. cli::main acts on what
// it returns; fuzz/command_line_check.hpp holds what must be true of any argv.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/scenario.hpp"
#include "engine/worker/worker.hpp"

namespace cachestress::cli {

// Every flag of `run`; an unset optional keeps the scenario file's value.
struct RunFlags {
  std::string scenario;
  // One per row of scenario::run_settings(), in table order: the flag's text as typed.
  std::vector<std::optional<std::string>> settings;
  std::vector<std::string> sweep;
  std::optional<std::uint32_t> repeat;
  std::uint32_t warmup = 0;
  std::string junit;
  std::string workdir;
  bool keep = false;
  bool allow_failed_builds = false;
  std::string out;
  std::vector<std::string> format;  // --format values; report::parse_formats splits the comma lists
  unsigned lock_threads = 8;
  unsigned io_threads = 8;
  int verbosity = 0;
  bool quiet = false;
};

// `cachestress compare BASE.json NEW.json ...` (engine/cli/compare_command).
struct CompareFlags {
  std::string base, fresh;
  double alpha = 0.05;
  std::string min_effect = "10";  // percent, "10" or "10%"
  std::string inconclusive;       // "", "pass" or "fail"
  std::string format = "text";
  bool force = false;
};

// `cachestress report RUN.json [MORE.json...] -o report.html` (engine/cli/report_command).
struct ReportFlags {
  std::vector<std::string> inputs;
  std::string out;
};

enum class Subcommand { run, list, show, report, compare, worker };

struct CommandLine {
  // Set when the process ends at parsing: 0 after --help or --version (`output` goes to
  // stdout), 2 on a usage error (`error`, one message, goes to stderr).
  std::optional<int> exit_code;
  std::string output;
  std::string error;
  Subcommand subcommand = Subcommand::run;  // `run` is the default command
  RunFlags run;                             // run's flags are also the top level's
  std::string show_scenario;
  CompareFlags compare;
  ReportFlags report;
  int worker_event_fd = worker::k_event_fd;
  int worker_workspace_fd = -1;  // `worker --workspace-fd`: the workspace, inherited (-1: by path)
  bool worker_serve = false;  // `worker --serve`: the run's fork server (--backend process)
};

// Applies run's flags over a loaded scenario: each setting checked by its row of the settings
// table, then the rules that join settings, then --sweep axes (replacing the file's axis of
// the same name) and --repeat. Bad values throw InputError naming the flag.
void apply_run_flags(const RunFlags& flags, model::Scenario& scenario);

// Parses argv (argv[0] is the program path). program names the front end in help and
// errors ("cachestress", "cachestress-mpi").
CommandLine parse_command_line(int argc, const char* const* argv, const std::string& program);

}  // namespace cachestress::cli
