#include "engine/cli/command_line.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>

#include "engine/core/error.hpp"
#include "engine/model/scenario.hpp"
#include "engine/report/exports.hpp"
#include "engine/scenario/run_settings.hpp"

namespace cachestress::cli {
namespace {

// A count option: a whole number in [low, high], said so when it is not ("-1", "abc", "2.5"),
// before CLI11's own conversion would say only "Could not convert".
CLI::Validator whole_number(unsigned long low, unsigned long high) {
  const std::string range = std::to_string(low) + ".." + std::to_string(high);
  return CLI::Validator(
      [low, high, range](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos;
        if (digits) {
          const unsigned long value = std::stoul(text);
          if (value >= low && value <= high) return {};
        }
        return "must be a whole number in " + range + ", not '" + text + "'";
      },
      range);
}

// A path option given as "" names no file: refused (exit 2), not read as "not given" (--out
// "" kept no report) nor tried as a path (report -o "" said "cannot write :", exit 3).
CLI::Validator non_empty_path() {
  return CLI::Validator([](std::string& text) { return text.empty() ? std::string("an empty path names no file") : std::string(); },
                        "");  // nothing added to --help's TEXT
}

void add_run_options(CLI::App& app, RunFlags& f) {
  app.add_option("--scenario", f.scenario, "built-in scenario NAME (see `cachestress list`) or PATH.toml")->check(non_empty_path());
  const auto table = scenario::run_settings();
  f.settings.assign(table.size(), std::nullopt);  // sized once: the options point into it
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& setting = table[i];
    const char* type = setting.type == scenario::SettingType::integer   ? "INT"
                       : setting.type == scenario::SettingType::choice  ? "CHOICE"
                       : setting.type == scenario::SettingType::duration ? "DURATION"
                       : setting.unit == "s"                             ? "SECONDS"
                                                                         : "NUMBER";
    app.add_option(std::string(setting.flag), f.settings[i], scenario::flag_help(setting))->type_name(type);
  }
  app.add_option("--lock-threads", f.lock_threads, "dedicated kernel-lock waiter threads (default 8)")
      ->check(whole_number(1, 1024));
  app.add_option("--io-threads", f.io_threads, "threads that run in-process builds' file operations (default 8)")
      ->check(whole_number(1, 1024));
  app.add_option("--workdir", f.workdir, "workspace directory (must be empty or absent; default: fresh under $TMPDIR)")
      ->check(non_empty_path());
  app.add_flag("--keep", f.keep, "keep the workspace after the run");
  app.add_flag("--allow-failed-builds", f.allow_failed_builds,
               "failed builds do not fail a scenario whose [expect] says nothing about failures (default: exit 1)");
  app.add_option("--out", f.out, "write the JSON report to PATH (default in a checkout: results/<UTC>-<scenario>.json)")
      ->check(non_empty_path());
  app.add_option("--format", f.format,
                 "FORMAT[,FORMAT...] (repeatable): the first goes to stdout, file formats are also written beside "
                 "the JSON report (REPORT.csv, .md, .bmf.json, .gbench.json):\n" + report::formats_help())
      ->expected(1)
      ->take_all();
  app.add_option("--sweep", f.sweep, "KEY=V1,V2,...: run every combination (repeatable), e.g. concurrency=1,2,4,8")
      ->take_all();
  app.add_option("--repeat", f.repeat, "run each sweep cell K times, interleaved; the report and terminal give median, MAD, min, max")
      ->check(whole_number(1, model::k_max_repeat));
  app.add_option("--warmup", f.warmup, "run each sweep cell N times first and discard those runs (default 0)")
      ->check(whole_number(0, model::k_max_repeat));
  app.add_option("--junit", f.junit, "also write JUnit XML to PATH: one test case per expectation")->check(non_empty_path());
  app.add_flag("-v,--verbose", f.verbosity,
               "-v: debug (settings, workspace, command setup, each run's end); -vv: trace (also every build's start and "
               "end, with its failure)");
  auto* quiet = app.add_flag("-q,--quiet", f.quiet, "errors and failed expectations only (a passing text run prints nothing)");
  quiet->excludes("--verbose");  // which of the two was meant is not ours to guess
}

CLI::App* add_report_subcommand(CLI::App& app, ReportFlags& f) {
  auto* command = app.add_subcommand("report", "render reports (a run, a sweep, or several runs) as one HTML page");
  command->add_option("reports", f.inputs, "JSON reports written by cachestress (--out or results/)")->required()->check(non_empty_path());
  command->add_option("-o,--out", f.out, "the HTML file to write (replaced atomically)")->required()->check(non_empty_path());
  command->footer("Exit codes: 0 written, 2 a report is missing or invalid, 3 the output cannot be written.");
  return command;
}

CLI::App* add_compare_subcommand(CLI::App& app, CompareFlags& f) {
  auto* cmd = app.add_subcommand("compare", "compare two reports: per-metric verdicts; exit 1 on a regression, 4 inconclusive");
  cmd->add_option("base", f.base, "baseline report (JSON written by cachestress)")->required()->check(non_empty_path());
  cmd->add_option("new", f.fresh, "new report to judge against the baseline")->required()->check(non_empty_path());
  cmd->add_option("--alpha", f.alpha, "significance level after Holm correction; the effect interval is 1 - alpha (default 0.05)");
  cmd->add_option("--min-effect,--threshold", f.min_effect,
                  "smallest shift that counts, in percent of the base median: 10 or 10% (default 10; --threshold is the old name)");
  cmd->add_option("--inconclusive", f.inconclusive, "pass|fail: exit 0 or 1 instead of 4 when a metric cannot be decided")
      ->check(CLI::IsMember({"pass", "fail"}));
  cmd->add_option("--format", f.format, "output: text|md|json (default text)")->check(CLI::IsMember({"text", "md", "json"}));
  cmd->add_flag("--force", f.force, "compare reports of different scenarios");
  cmd->footer(
      "Runs are matched by sweep values; repetitions (--repeat) are tested with the smaller p of Mann-Whitney U\n"
      "and Kolmogorov-Smirnov, Holm-corrected, and a Hodges-Lehmann shift with its interval. Each metric is a\n"
      "regression, an improvement, no change, or inconclusive (too few repetitions or too much noise).\n"
      "Exit codes: 0 no regression, 1 regression (or inconclusive with --inconclusive fail), 2 input error\n"
      "(missing file, not a report of schema_version 1 or 2, different scenarios without --force, no run in\n"
      "common), 4 inconclusive (no regression found, but not every metric could be decided).");
  return cmd;
}

// Hidden from --help: the parent runs it for --backend process, a user never needs to.
CLI::App* add_worker_subcommand(CLI::App& app, int& event_fd, int& workspace_fd, bool& serve) {
  auto* command = app.add_subcommand("worker", "internal: run one build of --backend process (plan on stdin)");
  command->group("");  // an empty group hides it from --help
  command->add_option("--event-fd", event_fd, "write event lines to this fd (default 3)");
  command->add_option("--workspace-fd", workspace_fd,
                      "the workspace is this inherited directory fd (the runner passes 4; without it the plan's path)")
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--serve", serve, "be the run's fork server: fork a build per request on fd 0 (a socket)");
  return command;
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv, const std::string& program) {
  CommandLine line;
  CLI::App app{program + ": concurrency stress tester for shared build-cache mounts (Buildah, BuildKit)"};
  app.set_version_flag("--version", program + " " + CACHESTRESS_VERSION);
  app.footer(
      "Exit codes: 0 ok, 1 an expectation failed, 2 usage or input error, 3 environment error,\n"
      "128+N interrupted by signal N (130 SIGINT, 143 SIGTERM).");
  add_run_options(app, line.run);
  auto* run_cmd = app.add_subcommand("run", "run a scenario (the default command)");
  run_cmd->fallthrough();
  auto* list_cmd = app.add_subcommand("list", "list the built-in scenarios");
  auto* show_cmd = app.add_subcommand("show", "print a scenario, resolved, as TOML");
  show_cmd->add_option("scenario", line.show_scenario, "built-in NAME or PATH.toml")->required();
  // The extra subcommands, each run by engine/cli/<name>_command.
  auto* report_cmd = add_report_subcommand(app, line.report);
  auto* compare_cmd = add_compare_subcommand(app, line.compare);
  auto* worker_cmd = add_worker_subcommand(app, line.worker_event_fd, line.worker_workspace_fd, line.worker_serve);
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    // `run` takes the top level's options (it is the default command): its help lists them.
    line.output = run_cmd->parsed() ? app.get_formatter()->make_help(&app, program + " run", CLI::AppFormatMode::Normal)
                                    : app.help();
    line.exit_code = static_cast<int>(ExitCode::ok);
    return line;
  } catch (const CLI::CallForAllHelp&) {
    line.output = app.help("", CLI::AppFormatMode::All);
    line.exit_code = static_cast<int>(ExitCode::ok);
    return line;
  } catch (const CLI::CallForVersion&) {
    line.output = program + " " + CACHESTRESS_VERSION + "\n";
    line.exit_code = static_cast<int>(ExitCode::ok);
    return line;
  } catch (const CLI::ParseError& e) {
    line.error = program + ": error: " + e.what() + " (see " + program + " --help)\n";
    line.exit_code = static_cast<int>(ExitCode::input_error);
    return line;
  }
  line.subcommand = list_cmd->parsed()      ? Subcommand::list
                    : show_cmd->parsed()    ? Subcommand::show
                    : report_cmd->parsed()  ? Subcommand::report
                    : compare_cmd->parsed() ? Subcommand::compare
                    : worker_cmd->parsed()  ? Subcommand::worker
                                            : Subcommand::run;
  return line;
}

void apply_run_flags(const RunFlags& f, model::Scenario& s) {
  const auto table = scenario::run_settings();
  for (std::size_t i = 0; i < f.settings.size() && i < table.size(); ++i) {
    if (f.settings[i]) scenario::apply_text(s, table[i], *f.settings[i], scenario::Origin::flag);
  }
  // Rules that join two settings (--builds 0 needs a --duration) are checked per sweep cell,
  // once its values apply (sweep::plan_cells): --builds 0 --sweep duration=1,2 is valid.
  std::vector<std::string> flag_keys;
  for (const auto& text : f.sweep) {
    // A --sweep replaces the file's axis of the same name, else adds one.
    auto axis = scenario::parse_sweep_flag(text, s);
    // A second --sweep of one key replaced the first without a word.
    if (std::find(flag_keys.begin(), flag_keys.end(), axis.key) != flag_keys.end()) {
      throw InputError("--sweep " + axis.key + ": given twice (list every value in one --sweep " + axis.key + "=V1,V2,...)");
    }
    flag_keys.push_back(axis.key);
    std::erase_if(s.sweep, [&](const model::SweepAxis& a) { return a.key == axis.key; });
    s.sweep.push_back(std::move(axis));
  }
  if (f.repeat) s.repeat = *f.repeat;
}

}  // namespace cachestress::cli
