#pragma once
// The command backend: runs the scenario's command template once per build or once per
// step (engine/model/command.hpp), each in its own process with a per-build environment
// (TMPDIR by isolation and env policy), working directory and timeout, then judges it:
// exit code, output checks, failure signature. The Runner drives admission and steps;
// this class only turns one step into one child and its verdict. Loop thread only.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/command/child.hpp"
#include "engine/command/output_check.hpp"
#include "engine/command/output_scan.hpp"
#include "engine/command/signatures.hpp"
#include "engine/command/template.hpp"
#include "engine/core/loop.hpp"
#include "engine/fs/safe_fs.hpp"
#include "engine/model/scenario.hpp"

namespace cachestress::command {

struct StepVerdict {
  bool interrupted = false;
  bool ok = true;
  std::string failure;    // "exit: status 100", "check: stdout does not contain \"hello\"", ...
  std::string signature;  // the failure signature category that matched, if any
  std::optional<Polluter> polluter;  // a failed check's evidence of who wrote what it saw
  std::string log_path;   // where the failed build's full output was written ("" if not kept)
  std::vector<std::string> first_lines;
};

class CommandRunner {
 public:
  static constexpr std::size_t k_first_lines = 10;

  // failure_dir: where failed builds' output goes (<dir>/<build>.log), created on the first
  // failure; empty: not written. Commands never get the workspace's original path: their
  // cwd, {workdir} and {tmpdir} lead through the run's own descriptor (workspace.proc_path(),
  // /proc/<pid>/fd/<n>), so a parent renamed or replaced by a symlink mid-run cannot
  // redirect them. TMPDIR and {realworkdir} are plain paths read from that descriptor at
  // spawn (where it is now), for tools that bind-mount them inside their own mount namespace
  // (buildah), where a /proc/<pid>/fd path does not resolve; a parent swapped between the
  // spawn and the tool's use could still redirect those, and the run then exits 3.
  CommandRunner(core::Loop& loop, const model::Scenario& scenario, const fs::Root& workspace, std::string failure_dir);
  ~CommandRunner();
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;

  // Steps a build of this kind runs: 1 per build, else one per step of the kind (at least 1).
  std::uint32_t steps_of(int kind) const;

  // Runs [command] setup (if any) and makes the shared roots; `done` gets "" or an error.
  void prepare(std::function<void(std::string error)> done);

  // Runs [command] teardown (if any) once the last build has ended, before the workspace
  // goes; `done` follows once it has exited (a failure is a warning, it never fails the
  // run) or at once when there is none, or setup was never started (nothing to stop).
  // Its bound is [command] timeout, else model::k_teardown_timeout_ms.
  void teardown(std::function<void()> done);

  // Runs one step of a build whose cache root is `root` (relative to the workspace).
  // `cancelled` is read before spawning. `done` is called once, on the loop thread.
  void start_step(std::uint64_t build, int kind, std::uint32_t step, const std::string& root, const bool& cancelled,
                  std::function<void(StepVerdict)> done);

  // An interrupt: signals the running command of a build (or every command, setup included)
  // and what it started, and SIGKILLs them after k_kill_grace_ms if they have not exited.
  void stop(std::uint64_t build, int signum) noexcept;
  void stop_all(int signum) noexcept;
  // Signals every command (teardown included) and what it started, now and nothing more (a
  // second signal's SIGKILL).
  void kill_all(int signum) noexcept;

 private:
  void spawn(std::uint64_t build, int kind, std::uint32_t step, const std::string& root, const bool& cancelled,
             std::function<void(StepVerdict)> done);
  // One step's command while it runs: what judging it needs.
  struct InFlight {
    std::unique_ptr<Child> child;
    Values values;
    std::vector<std::string> argv;
    std::string program;  // argv[0] as written ({build}, not 17): a spawn failure's reason groups by it
    std::unique_ptr<OutputScan> scan;  // made when a stream outgrows what is kept
  };
  void scan_past_limit(InFlight& step, model::OutputStream stream, std::string_view kept, std::string_view chunk);
  StepVerdict judge(InFlight& step, ChildResult& result);
  void keep_log(std::uint64_t build, std::string text, StepVerdict& verdict);
  std::string tmpdir_for(const std::string& root) const;
  // setup's and teardown's child: the workspace's values, the server root as TMPDIR.
  Child::Spec hook_spec(const std::vector<std::string>& argv, const char* kind, std::uint32_t timeout_ms) const;
  static std::string hook_failure(const ChildResult& r);
  static std::string brief_command(const std::vector<std::string>& argv);

  core::Loop& m_loop;
  const model::Scenario& m_scenario;
  const model::CommandSpec& m_spec;
  const fs::Root& m_workspace;
  std::string m_workspace_path;  // workspace.proc_path()
  std::string m_real_path;       // workspace.current_path(), refreshed before every spawn
  // Refreshes m_real_path; false (and an error text) when the workspace is gone.
  bool refresh_workspace_path(std::string& error);
  std::string m_failure_dir;
  std::vector<CompiledCheck> m_checks;
  Signatures m_signatures;
  std::vector<std::string> m_base_env;  // our environment without TMPDIR and CACHESTRESS_*
  std::unordered_map<std::uint64_t, InFlight> m_children;
  std::unique_ptr<Child> m_setup;
  std::unique_ptr<Child> m_teardown;
  bool m_teardown_due = false;  // setup was started (or there is none): teardown runs
  std::unordered_set<std::string> m_made_roots;  // shared and per-group roots made so far (few)
};

// The environment policy's server root: under `drop` every command gets this TMPDIR.
inline constexpr const char* k_server_root = "roots/server";

}  // namespace cachestress::command
