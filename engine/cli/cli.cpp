#include "engine/cli/cli.hpp"
#include "engine/cli/command_line.hpp"
#include "engine/cli/compare_command.hpp"
#include "engine/cli/report_command.hpp"
#include "engine/cli/worker_command.hpp"
#include "engine/cli/progress.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/core/loop.hpp"
#include "engine/fs/output_file.hpp"
#include "engine/report/exports.hpp"
#include "engine/report/report.hpp"
#include "engine/run/runner.hpp"
#include "engine/scenario/loader.hpp"
#include "engine/scenario/run_settings.hpp"
#include "engine/sweep/sweep.hpp"

namespace cachestress::cli {
namespace {

// The front end this process runs as (cachestress, or a rank of cachestress-mpi).
const RunDriver* g_driver = nullptr;

// A word as /bin/sh reads it back unchanged: bare when it is plain, else in single quotes.
std::string shell_word(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_-+./:=,@%", c) != nullptr;
  });
  if (plain) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The command line that reproduces this run from the resolved configuration: every run
// setting and sweep axis, shell-quoted, the thread counts when they are not the defaults
// (they change throughput), and --warmup and --allow-failed-builds when given (they change
// what is measured and the verdict). It names no report file: append --out PATH.
std::string reproduce_command(const model::Scenario& s, std::uint32_t file_repeat, const RunFlags& flags) {
  const std::string ref = s.source.starts_with("builtin:") ? s.name : s.source;
  std::string cmd = g_driver->program + " run";
  for (const auto& arg : scenario::reproduce_args(s, ref, file_repeat)) cmd += " " + shell_word(arg);
  const RunFlags defaults;
  if (flags.lock_threads != defaults.lock_threads) cmd += " --lock-threads " + std::to_string(flags.lock_threads);
  if (flags.io_threads != defaults.io_threads) cmd += " --io-threads " + std::to_string(flags.io_threads);
  if (flags.warmup != defaults.warmup) cmd += " --warmup " + std::to_string(flags.warmup);
  if (flags.allow_failed_builds) cmd += " --allow-failed-builds";
  return cmd;
}

// results/ in a checkout of this repository (marked by results/.cachestress-results).
bool in_repository() {
  struct stat info {};
  return ::stat("results/.cachestress-results", &info) == 0;
}

// results/<UTC timestamp>-<scenario>[-N].json, never replacing an existing report.
std::string write_default_report(const model::Scenario& s, std::chrono::system_clock::time_point at,
                                 const std::string& text) {
  std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  const std::string base = std::string("results/") + stamp + "-" + s.name;
  std::string path = base + ".json";
  for (int n = 2; !fs::write_new_file(path, text); ++n) path = base + "-" + std::to_string(n) + ".json";
  return path;
}

// Where a command build's full output goes when it fails: beside the report, in a folder
// named like it (results/<run>/failures/, or <out without .json>/failures/). Not kept when
// there is no report file.
// The folder named like --out: r.json -> r, r -> r.d.
std::string beside_report(const std::string& out) { return out.ends_with(".json") ? out.substr(0, out.size() - 5) : out + ".d"; }

std::string failure_dir(const RunFlags& f, const model::Scenario& s) {
  if (s.run.backend != model::Backend::command) return "";
  std::string base;
  if (!f.out.empty() && fs::is_stream(f.out)) return "";  // a device or pipe, not a report file
  if (!f.out.empty()) {
    base = beside_report(f.out);
  } else if (in_repository()) {
    std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    base = std::string("results/") + stamp + "-" + s.name;
  } else {
    return "";
  }
  // A folder of an earlier run is never written into: take the next free name.
  std::string dir = base;
  struct stat info {};
  for (int n = 2; ::stat(dir.c_str(), &info) == 0; ++n) dir = base + "-" + std::to_string(n);
  return dir + "/failures";
}

// Enough descriptors for every build in flight to hold a lock file open.
void raise_fd_limit() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int driver_status(int status) { return g_driver->exit_status ? g_driver->exit_status(status) : status; }

// The live progress line of this process (inactive off a terminal, with -q or JSON output).
std::shared_ptr<ProgressLine> g_progress;

// `--out /dev/stdout` (or --junit): the report is stdout's content, so what would be printed
// there (summary, -q's failed expectations, the progress line) goes to stderr.
bool report_on_stdout(const RunFlags& f) {
  return (!f.out.empty() && fs::is_open_as(f.out, STDOUT_FILENO)) || (!f.junit.empty() && fs::is_open_as(f.junit, STDOUT_FILENO));
}
std::FILE* terminal(const RunFlags& f) { return report_on_stdout(f) ? stderr : stdout; }

// The progress line shares stdout with the terminal summary only, never with a report format.
bool stdout_is_text(const RunFlags& f) { return (f.format.empty() || f.format.front().starts_with("text")) && !report_on_stdout(f); }

void setup_logging(const RunFlags& f) {
  g_progress = std::make_shared<ProgressLine>(f.quiet || !g_driver->live_progress || !g_driver->writes_output, stdout_is_text(f));
  auto logger = std::make_shared<spdlog::logger>(g_driver->program, std::make_shared<ProgressAwareSink>(g_progress, true));
  spdlog::set_default_logger(logger);
  const std::string prefix = g_driver->log_prefix.empty() ? "" : "[" + g_driver->log_prefix + "] ";
  spdlog::set_pattern(g_driver->program + ": " + prefix + "%^%l%$: %v");
  spdlog::set_level(f.quiet ? spdlog::level::err : f.verbosity >= 2 ? spdlog::level::trace
                                                 : f.verbosity == 1  ? spdlog::level::debug
                                                 : g_driver->writes_output ? spdlog::level::info
                                                                           : spdlog::level::warn);
}

// Runs one scenario (one cell) with the flags' workspace options and the progress line.
std::unique_ptr<sweep::FinishedRun> run_scenario(const model::Scenario& scenario, const RunFlags& flags, const std::string& label) {
  run::RunOptions options;
  options.scenario = scenario;
  options.workdir = flags.workdir;
  options.keep = flags.keep;
  options.lock_threads = flags.lock_threads;
  options.io_threads = flags.io_threads;
  options.failure_dir = failure_dir(flags, scenario);
  if (g_driver->configure) g_driver->configure(options);
  if (g_progress && g_progress->active()) {
    g_progress->begin(label, scenario.run.builds, scenario.run.duration_s);
    options.on_interval = [](const metrics::Collector& collector, double elapsed_s, std::uint64_t in_flight) {
      g_progress->update(collector, elapsed_s, in_flight);
    };
  }
  auto done = sweep::run_one(std::move(options));
  if (g_progress) g_progress->finish();
  done->scenario.run.builds = scenario.run.builds;  // the run's, not a cachestress-mpi rank's share (configure)
  return done;
}

// Where reports go: --out (replaced atomically) or, in a checkout, a fresh results/ file
// chosen at the first write and replaced atomically at later writes (do_run: at most once a
// second, and after the last cell). Every file format of --format is written beside it
// (report::sibling_path) at the same moments.
class ReportSink {
 public:
  ReportSink(const RunFlags& flags, const model::Scenario& scenario, const std::vector<std::string>& formats)
      : m_flags(flags), m_scenario(scenario) {
    m_to_results = flags.out.empty() && in_repository();
    // Nothing sits beside a device or pipe: `--out /dev/null --format md` wrote /dev/null.md.
    m_beside_stream = !flags.out.empty() && fs::is_stream(flags.out);
    for (const auto& format : formats) {
      if (report::is_file_format(format) && !m_beside_stream) m_file_formats.push_back(format);
    }
    check_distinct_outputs();
    const std::string planned = !flags.out.empty() ? flags.out : m_to_results ? "results/report.json" : "";
    // The first format goes to stdout; any other file format needs a report to sit beside.
    for (std::size_t i = 1; i < formats.size() && (planned.empty() || m_beside_stream); ++i) {
      if (report::is_file_format(formats[i])) {
        throw InputError("--format " + formats[i] + ": formats after the first are written beside the JSON report; " +
                         (m_beside_stream ? "--out " + flags.out + " is not a file they can sit beside" : std::string("pass --out PATH.json")));
      }
    }
    if (!planned.empty()) fs::check_output_path(planned);
    for (const auto& format : m_file_formats) {
      if (!planned.empty()) fs::check_output_path(report::sibling_path(planned, format));
    }
    if (!flags.junit.empty()) fs::check_output_path(flags.junit);
  }
  // Writes the JSON report, then every file format beside it, each atomically.
  // `last`: the sweep's final write. A device or pipe (`--out /dev/stdout | jq`) gets only that
  // one: each rewrite of the report so far would follow the one before in the stream.
  void write(const nlohmann::json& document, std::chrono::system_clock::time_point started_at, bool last = true) {
    if (!last && m_beside_stream) return;
    const std::string json_text = document.dump(2) + "\n";
    if (!m_flags.out.empty()) {
      fs::write_atomically(m_flags.out, json_text);
      m_path = m_flags.out;
    } else if (m_to_results && m_path.empty()) {
      m_path = write_default_report(m_scenario, started_at, json_text);
    } else if (m_to_results) {
      fs::write_atomically(m_path, json_text);
    }
    if (m_path.empty()) return;
    for (const auto& format : m_file_formats) {
      fs::write_atomically(report::sibling_path(m_path, format), report::format_report(document, format));
    }
  }
  void write_junit(const std::vector<report::CellReport>& cells, bool last = true) {
    if (m_flags.junit.empty() || (!last && fs::is_stream(m_flags.junit))) return;
    fs::write_atomically(m_flags.junit, report::to_junit(cells));
  }
  // After the output: where each file went, or, when the terminal summary was all there was,
  // the one line that says how to keep the report (results/README.md "File names").
  void announce(bool stdout_is_text) const {
    if (m_path.empty() && stdout_is_text) {
      spdlog::info("report not kept: add --out FILE.json (or run inside a checkout: results/)");
    }
    if (!m_path.empty()) spdlog::info("report written to {}", m_path);
    for (const auto& format : m_file_formats) {
      if (!m_path.empty()) spdlog::info("{} written to {}", format, report::sibling_path(m_path, format));
    }
    if (!m_flags.junit.empty()) spdlog::info("JUnit report written to {}", m_flags.junit);
  }

 private:
  // The report, its exports and the JUnit file are different files, none of them the
  // scenario file being run, and --out is not named like an export it asks for (`--format csv
  // --out r.csv` put the JSON in r.csv and the CSV in r.csv.csv).
  void check_distinct_outputs() const {
    std::vector<fs::NamedPath> outputs{{"--out", m_flags.out}, {"--junit", m_flags.junit}};
    for (const auto& format : m_file_formats) {
      if (m_flags.out.empty()) break;
      const std::string extension = report::sibling_path("r.json", format).substr(1);
      if (m_flags.out.ends_with(extension)) {
        const std::string stem = m_flags.out.substr(0, m_flags.out.size() - extension.size());
        throw InputError("--out " + m_flags.out + ": names the JSON report, and the " + format +
                         " is written beside it: --out " + stem + ".json writes both (" + m_flags.out + " the " + format + ")");
      }
      outputs.push_back({"--format " + format, report::sibling_path(m_flags.out, format)});
    }
    std::vector<fs::NamedPath> inputs;
    if (!m_scenario.source.starts_with("builtin:")) inputs.push_back({"--scenario", m_scenario.source});
    fs::check_distinct(outputs, inputs);
    if (m_scenario.run.backend == model::Backend::command && !m_flags.out.empty()) {
      outputs.push_back({"the failure logs of --out", beside_report(m_flags.out)});
    }
    fs::check_outside(outputs, {"--workdir", m_flags.workdir});
  }

  const RunFlags& m_flags;
  const model::Scenario& m_scenario;
  bool m_beside_stream = false;  // --out is a device or pipe: no file formats beside it
  bool m_to_results = false;
  std::string m_path;
  std::vector<std::string> m_file_formats;
};

int do_run(const RunFlags& flags, const std::string& scenario_arg) {
  const std::vector<std::string> formats = report::parse_formats(flags.format);
  model::Scenario scenario = scenario::load_scenario(scenario_arg);
  const model::Scenario written = scenario;
  const std::uint32_t file_repeat = scenario.repeat;
  apply_run_flags(flags, scenario);
  scenario.allow_failed_builds = flags.allow_failed_builds;
  // Every cell's settings are checked before anything runs.
  const auto cells = sweep::plan_cells(scenario, &written);
  if (g_driver->check_cell) {
    for (const auto& cell : cells) g_driver->check_cell(sweep::cell_scenario(scenario, cell));
  }
  const std::size_t planned = cells.size() * scenario.repeat;
  ReportSink sink(flags, scenario, formats);
  raise_fd_limit();
  const std::string command_line = reproduce_command(scenario, file_repeat, flags);

  sweep::SweepHooks hooks;
  hooks.run = [&](const model::Scenario& cell, const std::string& label) { return run_scenario(cell, flags, label); };
  if (planned == 1) {
    if (const int signum = sweep::run_warmup(scenario, cells, flags.warmup, hooks); signum != 0) {
      spdlog::warn("warm-up interrupted: no run was kept");
      return 128 + signum;
    }
    // A sweep of one value per axis is one run, with those values (they were dropped).
    const model::Scenario only = sweep::cell_scenario(scenario, cells.front());
    spdlog::debug("scenario {}: {} builds, concurrency {}, seed {}", only.name, only.run.builds, only.run.concurrency,
                  only.run.seed);
    auto done = run_scenario(only, flags, "");
    std::vector<report::CellReport> one{{sweep::run_report(*done, command_line), cells.front(), 0, 0}};
    const auto& rr = one.front().run;
    if (!g_driver->writes_output) return driver_status(sweep::exit_status(one));
    // The same shape as a sweep (one cell), so `jq .cells[0].summary` never depends on flags.
    report::SweepInfo info;
    info.cells_planned = 1;
    info.command_line = command_line;
    for (const auto& axis : scenario.sweep) info.keys.push_back(axis.key);
    const nlohmann::json document = report::sweep_to_json(one, info);
    sink.write(document, done->outcome.started_at);
    sink.write_junit(one);
    // -q keeps an asked-for format (JSON on stdout is the output, not chatter); the text
    // summary shrinks to what failed, so a passing run prints nothing.
    const std::string text = formats.front() != "text" ? report::format_report(document, formats.front())
                             : flags.quiet             ? report::failed_expectations_text(one)
                                                       : report::to_text(rr);
    std::fwrite(text.data(), 1, text.size(), terminal(flags));
    std::fflush(terminal(flags));
    sink.announce(stdout_is_text(flags));
    return driver_status(sweep::exit_status(one));
  }

  // The report so far is replaced after a cell at most once a second, and after the last: a
  // rewrite per cell made a sweep quadratic (600 cells of 5 builds: 109 s, most of it writing).
  std::size_t cells_written = 0;
  std::uint64_t written_at_us = 0;
  const auto write_so_far = [&](const sweep::SweepResult& so_far, bool last) {
    sink.write(report::sweep_to_json(so_far.reports, so_far.info), so_far.finished.front()->outcome.started_at, last);
    sink.write_junit(so_far.reports, last);
    cells_written = last ? so_far.reports.size() : cells_written;
    written_at_us = core::now_us();
  };
  hooks.on_cell = [&](const sweep::SweepResult& so_far) {
    if (!g_driver->writes_output || core::now_us() - written_at_us < 1'000'000) return;
    write_so_far(so_far, so_far.reports.size() == planned);
  };
  const sweep::SweepResult result = sweep::run_sweep(scenario, cells, command_line, hooks, flags.warmup);
  if (result.reports.empty()) return 128 + result.info.signal;
  if (g_driver->writes_output && cells_written != result.reports.size()) write_so_far(result, true);
  if (!g_driver->writes_output) return driver_status(sweep::exit_status(result.reports, result.info.signal));
  const std::string text = formats.front() != "text"
                               ? report::format_report(report::sweep_to_json(result.reports, result.info), formats.front())
                           : flags.quiet ? report::failed_expectations_text(result.reports)
                                         : report::sweep_to_text(result.reports, result.info);
  std::fwrite(text.data(), 1, text.size(), terminal(flags));
  std::fflush(terminal(flags));
  sink.announce(stdout_is_text(flags));
  return driver_status(sweep::exit_status(result.reports, result.info.signal));
}

}  // namespace

int main(int argc, char** argv) {
  static const RunDriver single_host;
  return main(argc, argv, single_host);
}

int main(int argc, char** argv, const RunDriver& driver) {
  g_driver = &driver;
  const CommandLine line = parse_command_line(argc, argv, driver.program);
  if (line.exit_code) {
    std::fwrite(line.output.data(), 1, line.output.size(), stdout);
    std::fwrite(line.error.data(), 1, line.error.size(), stderr);
    return *line.exit_code;
  }
  const RunFlags& flags = line.run;
  setup_logging(flags);
  try {
    switch (line.subcommand) {
      case Subcommand::list:
        for (const auto& entry : scenario::catalogue()) std::printf("%-18s %s\n", entry.name.c_str(), entry.description.c_str());
        return 0;
      case Subcommand::show: {
        std::string text = scenario::to_toml(scenario::load_scenario(line.show_scenario));
        std::fwrite(text.data(), 1, text.size(), stdout);
        return 0;
      }
      case Subcommand::report: return run_report_command(line.report);
      case Subcommand::compare: return run_compare_command(line.compare);
      case Subcommand::worker: return run_worker_command(line.worker_event_fd, line.worker_workspace_fd, line.worker_serve);
      case Subcommand::run: break;
    }
    if (flags.scenario.empty()) throw InputError("--scenario is required (try: cachestress list)");
    return do_run(flags, flags.scenario);
  } catch (const InputError& e) {
    spdlog::error("{}", e.what());
    return static_cast<int>(ExitCode::input_error);
  } catch (const EnvironmentError& e) {
    spdlog::error("{}", e.what());
    return static_cast<int>(ExitCode::environment_error);
  } catch (const std::bad_alloc&) {
    spdlog::error("out of memory");
    return static_cast<int>(ExitCode::environment_error);
  }
}

}  // namespace cachestress::cli
