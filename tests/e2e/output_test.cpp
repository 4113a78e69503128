// Output that does what the help says (issue 15): -q / -v / -vv levels, every subcommand's
// --help listing what it accepts, control characters escaped in everything printed, a run
// that keeps no report saying so in one line, and --repeat's aggregates on the terminal.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Every -x / --long-name token of a help text.
std::set<std::string> options_in(const std::string& help) {
  std::set<std::string> options;
  const std::regex option(R"((^|[\s,\[])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b)");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), option); it != std::sregex_iterator(); ++it) {
    options.insert((*it)[2].str());
  }
  return options;
}

// The subcommand names listed under "SUBCOMMANDS:" in `cachestress --help`.
std::vector<std::string> subcommands_in(const std::string& help) {
  std::vector<std::string> names;
  bool in_list = false;
  for (const auto& line : lines_of(help)) {
    if (line.starts_with("SUBCOMMANDS:") || line.starts_with("Subcommands:")) {
      in_list = true;
    } else if (in_list && line.starts_with("  ") && line.find_first_not_of(' ') != std::string::npos) {
      const auto start = line.find_first_not_of(' ');
      names.push_back(line.substr(start, line.find(' ', start) - start));
    } else if (in_list && !line.empty()) {
      in_list = false;
    }
  }
  return names;
}

// A control character other than a line end ("\n", or csv's "\r\n").
bool has_raw_control(const std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool line_end = c == '\n' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n');
    if ((c < 0x20 && !line_end) || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("verbosity: -v adds debug lines to the default output and -vv adds every build's start and end", "[e2e][cli][output]") {
  TempDir tmp;
  auto level = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--scenario", "locked", "--builds", "4", "--concurrency", "2", "--out", tmp / "r.json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto result = run_in(tmp, args);
    INFO(result.err);
    CHECK(result.exit_code == 0);
    return result.err;
  };
  const std::string normal = level({}), verbose = level({"-v"}), trace = level({"-vv"}), quiet = level({"-q"});
  CHECK_THAT(normal, Catch::Contains("report written to"));
  CHECK_THAT(normal, !Catch::Contains("debug:"));
  // -v: the run's settings, workspace and end, none of them in the default output.
  CHECK_THAT(verbose, Catch::Contains("debug: scenario locked: 4 builds, concurrency 2"));
  CHECK_THAT(verbose, Catch::Contains("debug: run ended after"));
  CHECK_THAT(verbose, !Catch::Contains("trace:"));
  CHECK(lines_of(verbose).size() > lines_of(normal).size());
  // -vv: a line per build start and end (4 builds), which -v does not print.
  CHECK(count_of(trace, "trace: build ") == 8);
  CHECK_THAT(trace, Catch::Contains("trace: build 0 (builder) started"));
  CHECK_THAT(trace, Catch::Contains("trace: build 3 completed after"));
  CHECK(lines_of(trace).size() == lines_of(verbose).size() + 8);
  CHECK(quiet.empty());
}

TEST_CASE("the -vv trace at --concurrency 1: by its own times, each build starts after the one before ended", "[e2e][cli][output]") {
  // One-hop builds at concurrency 1 are started by the waiter thread as the one before lets
  // go, and the loop hears of them a few at a time: the lines may come in a different order,
  // but the times they carry must show one build at a time.
  TempDir tmp;
  auto result = run_in(tmp, {"--scenario", write_handoff_scenario(tmp), "--builds", "60", "--concurrency", "1", "-vv", "--out", tmp / "r.json"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const std::regex started(R"(trace: build (\d+) \(handoff\) started at \+([0-9.]+) ms)");
  const std::regex ended(R"(trace: build (\d+) completed after [0-9.]+ ms, at \+([0-9.]+) ms)");
  std::map<int, double> start_ms, end_ms;
  std::smatch m;
  for (const auto& line : lines_of(result.err)) {
    if (std::regex_search(line, m, started)) start_ms[std::stoi(m[1])] = std::stod(m[2]);
    if (std::regex_search(line, m, ended)) end_ms[std::stoi(m[1])] = std::stod(m[2]);
  }
  REQUIRE(start_ms.size() == 60);
  REQUIRE(end_ms.size() == 60);
  for (int id = 1; id < 60; ++id) {
    INFO("build " << id << " started at +" << start_ms[id] << " ms, build " << id - 1 << " ended at +" << end_ms[id - 1]);
    CHECK(start_ms[id] >= end_ms[id - 1]);
    CHECK(end_ms[id] >= start_ms[id]);
  }
}

TEST_CASE("every subcommand's --help lists every option it accepts", "[e2e][cli][output]") {
  TempDir tmp;
  const auto top = run_in(tmp, {"--help"});
  REQUIRE(top.exit_code == 0);
  std::vector<std::string> subcommands = subcommands_in(top.out);
  for (const char* expected : {"run", "list", "show", "report", "compare"}) {
    CHECK(std::find(subcommands.begin(), subcommands.end(), expected) != subcommands.end());
  }
  subcommands.push_back("worker");  // hidden from --help, but it parses options too
  std::map<std::string, std::string> help;
  std::set<std::string> candidates = options_in(top.out);
  for (const auto& name : subcommands) {
    const auto result = run_in(tmp, {name, "--help"});
    INFO(name << " --help:\n" << result.out << result.err);
    REQUIRE(result.exit_code == 0);
    CHECK_THAT(result.out, Catch::Contains("cachestress " + name));  // its own usage, not the top level's
    help[name] = result.out;
    for (const auto& option : options_in(result.out)) candidates.insert(option);
  }
  REQUIRE(candidates.size() > 30);  // the run flags alone are more
  for (const auto& name : subcommands) {
    for (const auto& option : candidates) {
      if (option == "-h" || option == "--help") continue;
      // Positionals first, so "is required" does not hide whether the option was taken.
      static const std::map<std::string, std::vector<std::string>> k_positionals{
          {"show", {"locked"}}, {"report", {"a.json", "-o", "a.html"}}, {"compare", {"a.json", "b.json"}}};
      RunSpec spec;
      spec.args = {name};
      if (auto found = k_positionals.find(name); found != k_positionals.end()) {
        spec.args.insert(spec.args.end(), found->second.begin(), found->second.end());
      }
      spec.args.push_back(option);
      spec.env["TMPDIR"] = tmp.path();
      spec.cwd = tmp.path();
      spec.timeout = std::chrono::seconds(20);
      const auto result = run_binary(spec);
      // CLI11 names an option a subcommand does not take as "not expected".
      const bool accepted = result.err.find("not expected") == std::string::npos;
      if (!accepted) continue;
      INFO(name << " accepts " << option << " (exit " << result.exit_code << ": " << result.err << ")");
      CHECK(options_in(help[name]).count(option) == 1);
    }
  }
}

TEST_CASE("control characters from a scenario file are printed escaped: no cleared screen, no forged PASS line",
          "[e2e][cli][output][hostile]") {
  TempDir tmp;
  // The file name is the scenario name, printed in the summary's first line; a newline in it
  // would start a line with "PASS". (Build names and ids with control characters are refused
  // at load time, with the name escaped in the error.)
  const std::string file = tmp / "evil\x1b[2J\nPASS.toml";
  write_text(file, "description = \"hostile\"\n[run]\nbuilds = 6\nconcurrency = 3\n[[build]]\nname = \"w\"\n[[build.step]]\n"
                   "mount = { target = \"/c\", id = \"c\", sharing = \"locked\" }\n"
                   "ops = [ { op = \"write\", file = \"f\" }, { op = \"hold\", ms = 5 } ]\n"
                   "[expect]\n\"builds.failed\" = 0\n");
  const std::string bad_name = tmp / "bad\x1b]0;title\x07.toml";
  write_text(bad_name, "description = \"hostile\"\n[run]\nbuilds = 6\n[[build]]\nname = \"w\\u001b[2J\\n    PASS forged\"\n"
                       "[[build.step]]\nops = [ { op = \"hold\", ms = 1 } ]\n");
  auto forged = [](const std::string& text) {
    for (const auto& line : lines_of(text)) {
      if (line.find("PASS forged") != std::string::npos && line.find("\\n") == std::string::npos) return true;
      if (line.starts_with("PASS")) return true;
    }
    return false;
  };
  auto check_clean = [&](const RunResult& result) {
    INFO("stdout:\n" << result.out << "\nstderr:\n" << result.err);
    CHECK_FALSE(has_raw_control(result.out));
    CHECK_FALSE(has_raw_control(result.err));
    CHECK(result.out.find("\xc2\x9b") == std::string::npos);
    CHECK_FALSE(forged(result.out));
    CHECK_FALSE(forged(result.err));
  };

  const auto text = run_in(tmp, {"--scenario", file, "--out", tmp / "a.json"});
  check_clean(text);
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("scenario evil\\x1b[2J\\nPASS |"));
  CHECK_THAT(text.err, Catch::Contains("report written to"));

  check_clean(run_in(tmp, {"--scenario", file, "--out", tmp / "b.json", "--sweep", "concurrency=1,3"}));
  check_clean(run_in(tmp, {"--scenario", file, "--out", tmp / "c.json", "--format", "md"}));
  check_clean(run_in(tmp, {"--scenario", file, "--out", tmp / "d.json", "--format", "csv"}));
  const auto refused = run_in(tmp, {"--scenario", bad_name});  // an error naming the file and the name
  check_clean(refused);
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::Contains("bad\\x1b]0;title\\x07.toml:5:"));
  CHECK_THAT(refused.err, Catch::Contains("w\\x1b[2J\\n    PASS forged"));
  check_clean(run_in(tmp, {"compare", tmp / "a.json", tmp / "a.json"}));
  check_clean(run_in(tmp, {"--scenario", file + "x"}));  // no such file: the error names it, escaped
  const auto md = run_in(tmp, {"--scenario", file, "--out", tmp / "f.json", "--format", "md"});
  CHECK_THAT(md.out, Catch::Contains("\\x1b"));
}

TEST_CASE("a run with no --out outside a checkout says in one line how to keep the report", "[e2e][cli][output]") {
  TempDir tmp;
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--repeat", "2"}, std::vector<std::string>{"--sweep", "concurrency=1,2"}}) {
    std::vector<std::string> args{"--scenario", "locked", "--builds", "4"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto result = run_in(tmp, args);
    INFO(result.err);
    CHECK(result.exit_code == 0);
    CHECK(count_of(result.err, "report not kept: add --out FILE.json (or run inside a checkout: results/)\n") == 1);
    if (extra.empty()) CHECK(lines_of(result.err).size() == 1);  // a sweep also says "run i/N"
    // Nothing was written anywhere.
    CHECK(list_dir(tmp.path()).empty());
    // -q: a passing run prints nothing, this line included.
    args.push_back("-q");
    const auto quiet = run_in(tmp, args);
    CHECK(quiet.out.empty());
    CHECK(quiet.err.empty());
    // --out: the report is kept and said so, no hint.
    args.pop_back();
    args.insert(args.end(), {"--out", tmp / "kept.json"});
    const auto kept = run_in(tmp, args);
    CHECK_THAT(kept.err, Catch::Contains("report written to " + tmp / "kept.json"));
    CHECK_THAT(kept.err, !Catch::Contains("not kept"));
    ::unlink((tmp / "kept.json").c_str());
  }
  // A format on stdout is the kept output: no hint.
  const auto json = run_in(tmp, {"--scenario", "locked", "--builds", "4", "--format", "json"});
  CHECK_THAT(json.err, !Catch::Contains("not kept"));
  // Inside a checkout the report goes to results/, as results/README.md says.
  REQUIRE(::mkdir((tmp / "results").c_str(), 0755) == 0);
  write_text(tmp / "results/.cachestress-results", "");
  const auto sweep = run_in(tmp, {"--scenario", "locked", "--builds", "4", "--sweep", "concurrency=1,2"});
  CHECK_THAT(sweep.err, Catch::Contains("report written to results/"));
  CHECK_THAT(sweep.err, !Catch::Contains("not kept"));
  CHECK(list_dir(tmp / "results").size() == 2);
}

TEST_CASE("repeat: --repeat prints each combination's median, MAD and range after the repetitions", "[e2e][cli][output]") {
  TempDir tmp;
  const auto result = run_in(tmp, {"--scenario", "locked", "--builds", "6", "--sweep", "concurrency=1,2", "--repeat", "3",
                                   "--out", tmp / "r.json"});
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  const auto lines = lines_of(result.out);
  const auto header = std::find(lines.begin(), lines.end(), "  over repetitions: median ±MAD [min..max]");
  REQUIRE(header != lines.end());
  REQUIRE(lines.end() - header == 3);  // one line per combination, after the table
  CHECK_THAT(header[1], Catch::StartsWith("  concurrency=1, 3 reps:  builds/s "));
  CHECK_THAT(header[2], Catch::StartsWith("  concurrency=2, 3 reps:  builds/s "));
  CHECK_THAT(header[2], Catch::Contains("wait p99 "));
  CHECK_THAT(header[2], Catch::Contains("collisions 0 ±0 [0..0]"));
  // The same medians as the report's aggregates.
  const auto doc = read_json_file(tmp / "r.json");
  const double median = doc["aggregates"][1]["metrics"]["builds_per_s"]["median"].get<double>();
  char text[32];
  std::snprintf(text, sizeof text, "builds/s %.1f ±", median);
  CHECK_THAT(header[2], Catch::Contains(text));
  // Each run's log line names its values and repetition; without a sweep, the repetition alone
  // (it read "run 2/3:  (repeat 2)").
  CHECK_THAT(result.err, Catch::Contains("run 4/6: concurrency=2 (repeat 2)"));
  const auto plain = run_in(tmp, {"--scenario", "locked", "--builds", "2", "--repeat", "3", "--out", tmp / "p.json"});
  CHECK_THAT(plain.err, Catch::Contains("run 2/3: repeat 2\n"));
}

TEST_CASE("an output path that is a symlink to a file is replaced, not written through", "[e2e][output][safety]") {
  // Each output a link planted to a file elsewhere: the files were truncated and overwritten
  // in place. The link itself is replaced now, as --out's "atomically" says.
  TempDir tmp;
  std::filesystem::create_directories(tmp / "out");
  std::filesystem::create_directories(tmp / "outside");
  for (const char* name : {"r.json", "r.md", "junit.xml"}) {
    write_text(tmp / ("outside/" + std::string(name)), "keep");
    std::filesystem::create_symlink(tmp / ("outside/" + std::string(name)), tmp / ("out/" + std::string(name)));
  }
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "2", "--out", tmp / "out/r.json", "--format", "text,md", "--junit", tmp / "out/junit.xml", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  for (const char* name : {"r.json", "r.md", "junit.xml"}) {
    INFO(name);
    CHECK(read_text(tmp / ("outside/" + std::string(name))) == "keep");
    CHECK_FALSE(std::filesystem::is_symlink(tmp / ("out/" + std::string(name))));
  }
  CHECK(read_json_file(tmp / "out/r.json")["cells"][0]["summary"]["builds"]["completed"] == 2);
}

TEST_CASE("a report to /dev/stdout: stdout holds the JSON report alone, once, and nothing is made beside it", "[e2e][output][safety]") {
  // With stdout redirected to a file, the report was written by opening /dev/stdout again at
  // offset 0 and -q's FAIL line then overwrote its start; a command run's failure logs went
  // to /dev/stdout.d/failures/; a sweep through a pipe printed one report per rewrite.
  TempDir tmp;
  write_text(tmp / "fail.toml", "description = \"fails\"\n[run]\nbuilds = 2\nbackend = \"command\"\n"
                                "[command]\nrun = [\"sh\", \"-c\", \"exit 3\"]\n[[build]]\nname = \"b\"\n");
  const bool had_beside = std::filesystem::exists("/dev/stdout.d");
  RunSpec spec;
  spec.program = "/bin/sh";
  spec.args = {"-c", "exec \"$0\" \"$@\" > \"$TMPDIR/o.json\"", CACHESTRESS_BINARY, "--scenario", tmp / "fail.toml", "--out", "/dev/stdout", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  CHECK(result.exit_code == 1);
  const auto report = read_json_file(tmp / "o.json");  // fails the test unless it is JSON, whole
  CHECK(report["cells"][0]["summary"]["builds"]["failed"] == 2);
  CHECK_THAT(result.err, Catch::Contains("FAIL builds.failed == 0"));  // the terminal's line, on stderr
  CHECK(std::filesystem::exists("/dev/stdout.d") == had_beside);

  RunSpec sweep;
  sweep.args = {"--scenario", "locked", "--builds", "4", "--sweep", "concurrency=1,2", "--repeat", "2", "--out", "/dev/stdout", "-q"};
  sweep.env["TMPDIR"] = tmp.path();
  auto piped = run_binary(sweep);  // stdout is a pipe here
  INFO(piped.err);
  CHECK(piped.exit_code == 0);
  CHECK(parse_json(piped.out)["cells"].size() == 4);
}

}  // namespace cachestress::e2e
