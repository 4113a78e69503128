// The command line as users and CI scripts see it: exit codes, one-line errors, nothing
// left behind on bad input.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {
namespace {

std::size_t line_count(const std::string& text) {
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

// What the bash completion the build generated (and `cmake --install` installs) offers when
// the cursor is on the last of `words` (the command line so far, "cachestress" first).
std::string completions(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) line += " '" + w + "'";
  RunSpec spec;
  spec.program = "/bin/bash";
  spec.args = {"-c", std::string("source '") + CACHESTRESS_COMPLETION + "'; COMP_WORDS=(" + line + "); COMP_CWORD=" +
                         std::to_string(words.size() - 1) + "; _cachestress; printf '%s\\n' \"${COMPREPLY[@]}\""};
  const auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

}  // namespace

TEST_CASE("version and help flags exit 0 and say what the tool is", "[e2e][cli]") {
  auto version = run_binary({"--version"});
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.out, Catch::Contains("cachestress"));
  auto help = run_binary({"--help"});
  CHECK(help.exit_code == 0);
  for (const char* flag : {"--scenario", "--builds", "--concurrency", "--duration", "--sharing", "--isolation",
                           "--semantics", "--seed", "--workdir", "--keep", "--out", "--format"}) {
    CHECK_THAT(help.out, Catch::Contains(flag));
  }
}

TEST_CASE("list names every built-in scenario with its description", "[e2e][cli]") {
  auto list = run_binary({"list"});
  REQUIRE(list.exit_code == 0);
  for (const char* name : {"shared", "locked", "private", "isolated", "remote-tmpdir"}) {
    CHECK_THAT(list.out, Catch::Contains(name));
  }
  CHECK_THAT(list.out, Catch::Contains("podman#25414"));
}

TEST_CASE("built-in scenarios run from any directory", "[e2e][cli]") {
  TempDir tmp;
  auto result = run_in(tmp, {"--scenario", "isolated", "--builds", "10", "--format", "json", "-q"});
  REQUIRE(result.exit_code == 0);
  auto doc = parse_json(result.out);
  CHECK(doc["cells"][0]["summary"]["builds"]["completed"] == 10);
  CHECK(list_dir(tmp.path()).empty());  // workspace removed, no report file outside a repository
}

TEST_CASE("usage and input errors exit 2 with one line and leave nothing behind", "[e2e][cli]") {
  TempDir tmp;
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Case> cases{
      {{"--scenario", "no-such-scenario"}, "no-such-scenario"},
      {{"--scenario", "locked", "--concurrency", "0"}, "--concurrency"},
      {{"--scenario", "locked", "--builds", "-5"}, "--builds"},
      {{"--scenario", "locked", "--sharing", "exclusive"}, "--sharing"},
      {{"--scenario", "locked", "--isolation", "per-group:0"}, "--isolation"},
      {{"--scenario", "locked", "--semantics", "docker"}, "--semantics"},
      {{"--scenario", "locked", "--format", "xml"}, "--format"},
      {{"--no-such-flag"}, "--no-such-flag"},
      // A count says what it takes, not "Could not convert" or "not in range" for a word.
      {{"--scenario", "locked", "--lock-threads", "-1"}, "--lock-threads: must be a whole number in 1..1024, not '-1'"},
      {{"--scenario", "locked", "--warmup", "abc"}, "--warmup: must be a whole number in 0..1000, not 'abc'"},
      {{"--scenario", "locked", "--repeat", "2.5"}, "--repeat: must be a whole number in 1..1000, not '2.5'"},
      {{"--scenario", "locked", "-q", "-v"}, "--verbose excludes --quiet"},
      // "" names no file: --out "" silently kept no report; report -o "" was exit 3.
      {{"--scenario", "locked", "--out", ""}, "--out: an empty path names no file"},
      {{"--scenario", "locked", "--junit", ""}, "--junit: an empty path names no file"},
      {{"report", "r.json", "-o", ""}, "--out: an empty path names no file"},
      {{"compare", "", "r.json"}, "base: an empty path names no file"},
      // A percentage is digits: strtod read 0x10 as 16 and 1e3 as 1000.
      {{"compare", "a.json", "b.json", "--min-effect", "0x10"}, "--min-effect: expected a percentage from 0 to 1000000"},
  };
  for (const auto& c : cases) {
    INFO("args: " << c.args.front() << " ... " << c.args.back());
    auto result = run_in(tmp, c.args);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::Contains(c.message));
    CHECK(result.out.empty());
    CHECK(list_dir(tmp.path()).empty());
  }
}

TEST_CASE("a scenario file with id=../.. is refused with file, line and field", "[e2e][cli][safety]") {
  TempDir tmp;
  TempDir canary;
  write_text(canary / "keep-me", "precious");
  const auto before = snapshot(canary.path());
  const std::string file = tmp / "escape.toml";
  write_text(file,
             "description = \"tries to escape the cache parent\"\n"
             "[[build]]\n"
             "name = \"evil\"\n"
             "[[build.step]]\n"
             "mount = { target = \"/cache\", id = \"../..\", sharing = \"locked\" }\n"
             "ops = [ { op = \"delete\", file = \"keep-me\" } ]\n");
  auto result = run_in(tmp, {"--scenario", file});
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("escape.toml:5:"));
  CHECK_THAT(result.err, Catch::Contains("build[0].step[0].mount.id"));
  CHECK(line_count(result.err) == 1);
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"escape.toml"});
  CHECK(snapshot(canary.path()) == before);
}

TEST_CASE("an unwritable or missing workdir is an environment error, exit 3", "[e2e][cli]") {
  TempDir tmp;
  auto missing_parent = run_in(tmp, {"--scenario", "locked", "--builds", "2", "--workdir", tmp / "no/such/parent"});
  CHECK(missing_parent.exit_code == 3);
  CHECK_THAT(missing_parent.err, Catch::Contains("no/such/parent"));
  auto proc = run_in(tmp, {"--scenario", "locked", "--builds", "2", "--workdir", "/proc/cachestress-cannot-write"});
  CHECK(proc.exit_code == 3);
  CHECK_THAT(proc.err, Catch::Contains("/proc/cachestress-cannot-write"));
  CHECK(list_dir(tmp.path()).empty());
}

TEST_CASE("a workdir that is a symlink or not empty is refused", "[e2e][cli][safety]") {
  TempDir tmp;
  TempDir target;
  write_text(target / "someone-elses-file", "data");
  const auto before = snapshot(target.path());
  REQUIRE(::symlink(target.path().c_str(), (tmp / "link").c_str()) == 0);
  auto via_link = run_in(tmp, {"--scenario", "locked", "--builds", "2", "--workdir", tmp / "link"});
  CHECK(via_link.exit_code == 3);
  auto not_empty = run_in(tmp, {"--scenario", "locked", "--builds", "2", "--workdir", target.path()});
  CHECK(not_empty.exit_code == 3);
  CHECK(snapshot(target.path()) == before);
}

TEST_CASE("a --workdir that does not exist is created and removed again", "[e2e][cli]") {
  TempDir tmp;
  auto result = run_in(tmp, {"--scenario", "locked", "--builds", "4", "--workdir", tmp / "fresh", "-q"});
  CHECK(result.exit_code == 0);
  CHECK(list_dir(tmp.path()).empty());
}

TEST_CASE("with --keep the workspace stays and says where", "[e2e][cli]") {
  TempDir tmp;
  auto result = run_in(tmp, {"--scenario", "locked", "--builds", "4", "--workdir", tmp / "kept", "--keep"});
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.err, Catch::Contains(tmp / "kept"));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"kept"});
  CHECK_FALSE(list_dir(tmp / "kept").empty());
}

TEST_CASE("an --out report is written the JSON report atomically and checks its directory before running", "[e2e][cli]") {
  TempDir tmp;
  auto first = run_in(tmp, {"--scenario", "locked", "--builds", "4", "--out", tmp / "r.json", "-q"});
  REQUIRE(first.exit_code == 0);
  auto doc = read_json_file(tmp / "r.json");
  CHECK(doc["schema_version"] == 2);
  CHECK(doc["config"]["scenario"] == "locked");
  // An explicit --out is replaced whole (rename), never left half-written.
  auto second = run_in(tmp, {"--scenario", "locked", "--builds", "6", "--out", tmp / "r.json", "-q"});
  REQUIRE(second.exit_code == 0);
  CHECK(read_json_file(tmp / "r.json")["config"]["builds"] == 6);
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"r.json"});
  // A report that could not be written is known before any build starts.
  auto nowhere = run_in(tmp, {"--scenario", "locked", "--builds", "4", "--out", tmp / "missing-dir/r.json"});
  CHECK(nowhere.exit_code == 3);
  CHECK_THAT(nowhere.err, Catch::Contains("missing-dir"));
  CHECK_THAT(nowhere.err, !Catch::Contains("completed"));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"r.json"});
  // Where access() says yes and no file can be made (root in /proc): before the run too.
  auto in_proc = run_in(tmp, {"--scenario", "locked", "--builds", "4", "--out", "/proc/version"});
  CHECK(in_proc.exit_code == 3);
  CHECK_THAT(in_proc.err, Catch::Contains("cannot write report /proc/version") && !Catch::Contains("completed"));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"r.json"});
}

TEST_CASE("run from the repository, a report lands in results/ with a timestamped name", "[e2e][cli]") {
  TempDir tmp;
  REQUIRE(::mkdir((tmp / "results").c_str(), 0755) == 0);
  write_text(tmp / "results/.cachestress-results", "");
  auto result = run_in(tmp, {"--scenario", "locked", "--builds", "4", "-q"});
  REQUIRE(result.exit_code == 0);
  auto files = list_dir(tmp / "results");
  REQUIRE(files.size() == 2);
  const std::string& report = files[0] == ".cachestress-results" ? files[1] : files[0];
  CHECK_THAT(report, Catch::EndsWith("-locked.json"));
  CHECK(read_json_file(tmp / "results/" + report)["config"]["builds"] == 4);
}

}  // namespace cachestress::e2e

namespace cachestress::e2e {

TEST_CASE("quiet: -q prints nothing for a passing run and only the failed expectations otherwise", "[e2e][cli]") {
  TempDir tmp;
  auto passing = run_in(tmp, {"--scenario", "locked", "--builds", "8", "--out", tmp / "a.json", "-q"});
  CHECK(passing.exit_code == 0);
  CHECK(passing.out.empty());
  CHECK(passing.err.empty());
  // An expectation that only the concurrency=1 cell gets, and fails: only it is said.
  write_text(tmp / "one.toml", "description = \"one cell fails\"\n[run]\nbuilds = 8\n[[build]]\nname = \"b\"\n"
                               "[[build.step]]\nops = [{ op = \"hold\", ms = 1 }]\n"
                               "[expect.\"concurrency<2\"]\n\"builds.completed\" = 0\n");
  auto failing = run_in(tmp, {"--scenario", tmp / "one.toml", "--sweep", "concurrency=1,4", "--out", tmp / "b.json", "-q"});
  CHECK(failing.exit_code == 1);
  CHECK(failing.out == "FAIL [concurrency=1] builds.completed == 0 (value 8)\n");
  // An asked-for format is the output, not chatter: -q keeps it.
  auto json = run_in(tmp, {"--scenario", "locked", "--builds", "4", "--out", tmp / "c.json", "--format", "json", "-q"});
  CHECK(parse_json(json.out)["cells"][0]["summary"]["builds"]["completed"] == 4);
}

TEST_CASE("run --help lists the run options, as --help does", "[e2e][cli]") {
  TempDir tmp;
  auto result = run_in(tmp, {"run", "--help"});
  CHECK(result.exit_code == 0);
  for (const char* flag : {"--scenario", "--concurrency", "--sweep", "--repeat", "--backend", "--out", "--quiet"}) {
    CHECK_THAT(result.out, Catch::Contains(flag));
  }
  CHECK_THAT(result.out, Catch::Contains("cachestress run"));
}

// The completion is generated from each subcommand's --help: an alias (--threshold) and a
// short name (-o) are offered, and a subcommand is not offered the run's -v/-q, which it rejects.
TEST_CASE("bash completion offers each subcommand's own options, aliases and short names included", "[e2e][cli]") {
  CHECK(completions({"cachestress", "compare", "a.json", "b.json", "--th"}) == "--threshold\n");
  CHECK(completions({"cachestress", "--lock-k"}) == "--lock-kind\n");
  CHECK(completions({"cachestress", "co"}) == "compare\n");
  const std::string report = completions({"cachestress", "report", "-"});
  CHECK_THAT(report, Catch::Contains("-o\n") && Catch::Contains("--out\n"));
  const std::string list = completions({"cachestress", "list", "-"});
  CHECK(list == "-h\n--help\n");
  CHECK(run_binary({"list", "-q"}).exit_code == 2);  // why list is not offered -q
  const std::string run = completions({"cachestress", "run", "-"});
  for (const char* flag : {"-q", "--quiet", "-v", "--scenario", "--backend", "--junit"}) {
    CHECK_THAT(run, Catch::Contains(std::string("\n") + flag + "\n"));
  }
}

// A worker handed something that is not a directory as its workspace refuses to run (exit 2,
// a protocol failure on its event fd) instead of working somewhere else.
TEST_CASE("worker --workspace-fd naming a non-directory fails as a protocol error", "[e2e][cli]") {
  RunSpec spec;
  spec.args = {"worker", "--event-fd", "1", "--workspace-fd", "0"};  // fd 0: the stdin pipe
  spec.stdin_text = "{}";
  const auto result = run_binary(spec);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.out, Catch::Contains("--workspace-fd 0 is not an open directory"));
}

}  // namespace cachestress::e2e

namespace cachestress::e2e {

TEST_CASE("one sweep key given in two --sweep flags is refused, not the first silently dropped", "[e2e][cli]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "4", "--sweep", "concurrency=1,2", "--sweep", "concurrency=4",
               "--out", tmp / "r.json"};
  spec.cwd = tmp.path();
  spec.env["TMPDIR"] = tmp.path();
  const auto r = run_binary(spec);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--sweep concurrency: given twice"));
  CHECK_FALSE(std::filesystem::exists(tmp / "r.json"));
}

}  // namespace cachestress::e2e
