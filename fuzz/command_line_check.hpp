#pragma once
// The property the command-line fuzzer checks, shared with the unit suite's replay
// (tests/engine/fuzz/fuzz_replay_test.cpp). The input is argv after the program name, one
// argument per NUL-separated piece. Only parsing runs: nothing is built, written or exited.
//   1. parse_command_line() returns; nothing escapes it (cli::main would die uncaught).
//   2. When it ends the process, it says so properly: exit 0 with text for stdout and no
//      error (--help, --version), or exit 2 with one "<program>: error: ... (see <program>
//      --help)" message and nothing for stdout.
//   3. It is a function of argv: parsing the same argv again gives the same result.
//   4. For `run`, what cli::main does with the flags before any build starts (the --format
//      list, every setting flag applied to the scenario, --sweep axes, --repeat) either works
//      or throws InputError (exit 2 naming the flag), nothing else.
// Crashes, sanitizer reports and hangs are the fuzzer's own findings.
#include <exception>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "engine/cli/command_line.hpp"
#include "engine/core/error.hpp"
#include "engine/report/exports.hpp"
#include "engine/scenario/loader.hpp"

namespace cachestress::fuzz {

inline constexpr std::string_view k_fuzz_program = "cachestress";
// More arguments than any real command line; keeps each input quick.
inline constexpr std::size_t k_max_fuzz_args = 256;

namespace detail {

// Everything parse_command_line returned, as text, to compare two parses.
inline std::string describe(const cli::CommandLine& line) {
  std::ostringstream out;
  out << "exit=" << (line.exit_code ? std::to_string(*line.exit_code) : "-") << "\nout=" << line.output
      << "\nerr=" << line.error << "\nsub=" << static_cast<int>(line.subcommand);
  const cli::RunFlags& r = line.run;
  out << "\nscenario=" << r.scenario << "\nsettings=";
  for (const auto& s : r.settings) out << (s ? "[" + *s + "]" : "-") << ",";
  out << "\nsweep=";
  for (const auto& s : r.sweep) out << "[" << s << "]";
  out << "\nrepeat=" << (r.repeat ? std::to_string(*r.repeat) : "-") << " warmup=" << r.warmup << " junit=" << r.junit
      << " workdir=" << r.workdir << " keep=" << r.keep << " out=" << r.out << " lock_threads=" << r.lock_threads
      << " verbosity=" << r.verbosity << " quiet=" << r.quiet << "\nformat=";
  for (const auto& s : r.format) out << "[" << s << "]";
  out << "\nshow=" << line.show_scenario;
  const cli::CompareFlags& c = line.compare;
  out << "\ncompare=" << c.base << "|" << c.fresh << "|" << c.alpha << "|" << c.min_effect << "|" << c.inconclusive << "|"
      << c.format << "|" << c.force << "\nreport=";
  for (const auto& s : line.report.inputs) out << "[" << s << "]";
  out << line.report.out << "\nworker=" << line.worker_event_fd;
  return out.str();
}

inline cli::CommandLine parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  argv.push_back(k_fuzz_program.data());
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return cli::parse_command_line(static_cast<int>(argv.size()), argv.data(), std::string(k_fuzz_program));
}

// Empty when a run's flags are usable or refused with an InputError, else the finding.
inline std::string check_run_flags(const cli::RunFlags& flags) {
  try {
    const auto formats = report::parse_formats(flags.format);
    if (formats.empty()) return "parse_formats returned no format";
  } catch (const InputError&) {
    return {};
  } catch (const std::exception& e) {
    return std::string("--format: threw something other than InputError: ") + e.what();
  }
  // The built-in --scenario names (a path is never read here), else a small built-in. Each is
  // parsed once: parsing every built-in per input made the fuzzer 40x slower.
  static const std::map<std::string, model::Scenario> builtins = [] {
    std::map<std::string, model::Scenario> loaded;
    for (const auto& entry : scenario::catalogue()) loaded.emplace(entry.name, scenario::load_scenario(entry.name));
    return loaded;
  }();
  const auto found = builtins.find(flags.scenario);
  model::Scenario loaded = found != builtins.end() ? found->second : builtins.at("locked");
  try {
    cli::apply_run_flags(flags, loaded);
  } catch (const InputError&) {
    return {};
  } catch (const std::exception& e) {
    return std::string("applying run flags threw something other than InputError: ") + e.what();
  }
  return {};
}

}  // namespace detail

// Splits the input on NUL into arguments (at most k_max_fuzz_args).
inline std::vector<std::string> fuzz_args(std::string_view bytes) {
  std::vector<std::string> args;
  if (bytes.empty()) return args;
  std::size_t start = 0;
  while (args.size() < k_max_fuzz_args) {
    const std::size_t nul = bytes.find('\0', start);
    args.emplace_back(bytes.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }
  return args;
}

// Empty when the property holds for these bytes, else a description of the finding.
inline std::string check_command_line(std::string_view bytes) {
  const std::vector<std::string> args = fuzz_args(bytes);
  cli::CommandLine line;
  try {
    line = detail::parse(args);
  } catch (const std::exception& e) {
    return std::string("parse_command_line threw: ") + e.what();
  } catch (...) {
    return "parse_command_line threw a non-exception";
  }
  const std::string program(k_fuzz_program);
  if (line.exit_code) {
    if (*line.exit_code == 0 && (line.output.empty() || !line.error.empty())) {
      return "exit 0 at parsing without output, or with an error: " + detail::describe(line);
    }
    if (*line.exit_code == static_cast<int>(ExitCode::input_error)) {
      if (!line.output.empty()) return "a usage error also prints to stdout: " + detail::describe(line);
      if (!line.error.starts_with(program + ": error: ") || !line.error.ends_with("(see " + program + " --help)\n")) {
        return "a usage error is not \"" + program + ": error: ... (see " + program + " --help)\": " + line.error;
      }
    } else if (*line.exit_code != 0) {
      return "parsing ends the process with exit " + std::to_string(*line.exit_code);
    }
  }
  std::string again;
  try {
    again = detail::describe(detail::parse(args));
  } catch (const std::exception& e) {
    return std::string("the second parse threw: ") + e.what();
  }
  if (again != detail::describe(line)) {
    return "two parses of the same argv differ:\n" + detail::describe(line) + "\n--- then ---\n" + again;
  }
  if (!line.exit_code && line.subcommand == cli::Subcommand::run) return detail::check_run_flags(line.run);
  return {};
}

}  // namespace cachestress::fuzz
