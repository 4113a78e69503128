#pragma once
// End-to-end helpers: run the real cachestress binary as a child process, capture its
// output and exit status, optionally signal it mid-run; temporary directories; a canary
// that proves nothing outside a workdir changed.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "tests/support/temp_dir.hpp"

namespace cachestress::e2e {

struct RunSpec {
  std::vector<std::string> args;             // after the program name
  std::string cwd;                           // empty: inherit
  std::map<std::string, std::string> env;    // set on top of the inherited environment
  std::string stdin_text;                    // fed on stdin, then closed
  // Send `signal` once stderr contains `signal_when` (or after signal_after when empty).
  int signal = 0;
  std::string signal_when;
  std::chrono::milliseconds signal_after{0};
  int second_signal = 0;                     // sent right after the first, when non-zero
  std::chrono::seconds timeout{120};         // SIGKILL after this (the test then fails)
  std::string program;                       // empty: the cachestress binary under test
};

struct RunResult {
  int exit_code = -1;     // -1 when killed by a signal
  int term_signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
  bool signalled = false;  // the requested signal was sent
};

RunResult run_binary(const RunSpec& spec);
RunResult run_binary(std::vector<std::string> args);

// Parses stdout (or the given text) as JSON, failing the test with the text when invalid.
nlohmann::json parse_json(const std::string& text);
nlohmann::json read_json_file(const std::string& path);

using TempDir = test_support::TempDir;

// Runs in tmp (cwd, and TMPDIR pointed at it) so "nothing left behind" is checkable and no
// report lands in a checkout's results/.
RunResult run_in(const TempDir& tmp, std::vector<std::string> args);

// A run with `--format json -q` in a fresh temp dir (as run_in): it must end with exit 0
// or 1 (a verdict, not an error), leave that dir empty (workspace removed, no report
// written behind our back), and print a JSON report, returned parsed.
struct JsonRun {
  int exit_code = -1;
  nlohmann::json doc;
  std::string err;
};
JsonRun run_json(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(120));

// Every entry under a directory (not following symlinks) with type, size, mtime and the
// content of regular files: equal snapshots mean nothing was written, removed or touched.
std::map<std::string, std::string> snapshot(const std::string& dir);
std::vector<std::string> list_dir(const std::string& dir);
void write_text(const std::string& path, const std::string& text);
// Writes handoff.toml into `dir` and returns its path: one Buildah locked step, no hold (a
// one-hop section), one shared cache: the locked handoff, run with the caller's flags.
std::string write_handoff_scenario(const TempDir& dir);
std::string read_text(const std::string& path);
std::string source_path(const std::string& relative);
// Number of direct children of the current process still alive or unreaped.
int live_children_of(int pid);

}  // namespace cachestress::e2e

namespace cachestress::e2e {

// Soak verdict on a report's intervals: after warm_up_s, the mean of the last quarter of
// samples of open_fds / threads / rss_kb stays within `tolerance` (plus `fd_slack`
// descriptors, which builds in flight open and close) of the mean right after warm-up.
void check_flat_resources(const nlohmann::json& report, double warm_up_s, double tolerance, double fd_slack, bool check_rss);

}  // namespace cachestress::e2e
