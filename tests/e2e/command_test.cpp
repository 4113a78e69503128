// The command backend end to end: real child processes (sh -c, true, false), exit codes,
// output checks, failure signatures, failure logs and the JSON report.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include <csignal>
#include <set>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {
namespace {

RunResult run_scenario(const TempDir& tmp, const std::string& toml, std::vector<std::string> extra = {}) {
  write_text(tmp / "s.toml", toml);
  RunSpec spec;
  // These tests are about what failed builds leave, not the verdict (verdicts_test.cpp).
  spec.args = {"--scenario", tmp / "s.toml", "--out", tmp / "report.json", "-q", "--allow-failed-builds"};
  for (auto& e : extra) spec.args.push_back(std::move(e));
  spec.env["TMPDIR"] = tmp.path();
  spec.cwd = tmp.path();
  return run_binary(spec);
}

std::string scenario(const std::string& run, const std::string& extra = "", const std::string& run_section = "") {
  return "description = \"command test\"\n[run]\nbuilds = 12\nconcurrency = 4\nbackend = \"command\"\n" + run_section +
         "\n[command]\nper = \"build\"\nrun = " + run + "\n" + extra + "\n[[build]]\nname = \"b\"\n";
}

}  // namespace

TEST_CASE("true passes every build and false fails every build with its exit status", "[e2e][command]") {
  TempDir tmp;
  auto ok = run_scenario(tmp, scenario("\"true\""));
  CHECK(ok.exit_code == 0);
  auto report = read_json_file(tmp / "report.json");
  CHECK(report["config"]["backend"] == "command");
  CHECK(report["cells"][0]["summary"]["builds"]["completed"] == 12);
  CHECK(report["cells"][0]["summary"]["builds"]["failed"] == 0);

  TempDir tmp2;
  auto failing = run_scenario(tmp2, scenario("\"false\"", "", "") + "[expect]\n\"builds.failed\" = 0\n");
  CHECK(failing.exit_code == 1);  // the expectation failed
  report = read_json_file(tmp2 / "report.json");
  CHECK(report["cells"][0]["summary"]["builds"]["failed"] == 12);
  CHECK(report["cells"][0]["summary"]["failures"]["exit"] == 12);
  REQUIRE(report["cells"][0]["failures"].size() == 1);
  CHECK(report["cells"][0]["failures"][0]["reason"] == "exit: status 1");
  // Every failed build keeps its output beside the report.
  CHECK(list_dir(tmp2 / "report/failures").size() == 12);
}

TEST_CASE("a failed build keeps its full output and the report shows its first lines and signature", "[e2e][command]") {
  TempDir tmp;
  const std::string run =
      "\"sh -c 'echo building {kind} {build}; if [ {build} = 5 ]; then echo \\\"E: Could not get lock /var/lib/dpkg/lock\\\" >&2; "
      "exit 100; fi'\"";
  const std::string signatures =
      "[[command.signature]]\nregex = \"Could not get lock\"\ncategory = \"apt-lock\"\n"
      "[[command.signature]]\nregex = \"Blocking waiting for file lock\"\ncategory = \"cargo-lock\"\n";
  auto result = run_scenario(tmp, scenario(run, signatures));
  CHECK(result.exit_code == 0);
  auto report = read_json_file(tmp / "report.json");
  CHECK(report["cells"][0]["summary"]["builds"]["failed"] == 1);
  CHECK(report["cells"][0]["summary"]["failures"]["signatures"] == nlohmann::json{{"apt-lock", 1}});
  REQUIRE(report["cells"][0]["failures"].size() == 1);
  const auto& failure = report["cells"][0]["failures"][0];
  CHECK(failure["reason"] == "exit: status 100 [apt-lock]");
  CHECK(failure["example_build"] == 5);
  CHECK(failure["first_lines"][0] == "E: Could not get lock /var/lib/dpkg/lock");
  CHECK(failure["first_lines"][1] == "building b 5");
  const std::string log = read_text(failure["log"].get<std::string>());
  CHECK_THAT(log, Catch::Contains("building b 5") && Catch::Contains("E: Could not get lock") &&
                      Catch::Contains("verdict: exit: status 100 [apt-lock]"));

  // The text report shows the first lines and the signature counts.
  TempDir tmp2;
  write_text(tmp2 / "s.toml", scenario(run, signatures));
  RunSpec spec;
  spec.args = {"--scenario", tmp2 / "s.toml", "--out", tmp2 / "r.json"};
  spec.env["TMPDIR"] = tmp2.path();
  auto text = run_binary(spec);
  CHECK_THAT(text.out, Catch::Contains("| E: Could not get lock") && Catch::Contains("signatures  apt-lock 1") &&
                           Catch::Contains("full output: " + tmp2.path() + "/r/failures/5.log"));
}

TEST_CASE("output that is not UTF-8 is escaped in every report, never a crash", "[e2e][command]") {
  // A compiler's Latin-1 message (caf\xe9) aborted the run with nlohmann's type_error 316:
  // exit 134, no report.
  TempDir tmp;
  const std::string run = "[\"sh\", \"-c\", \"printf 'caf\\\\351\\\\n'; exit 3\"]";
  auto result = run_scenario(tmp, scenario(run), {"--format", "text,md,csv,bmf,gbench", "--junit", tmp / "junit.xml"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto report = read_json_file(tmp / "report.json");
  REQUIRE(report["cells"][0]["failures"].size() == 1);
  CHECK(report["cells"][0]["failures"][0]["first_lines"][0] == "caf\\xe9");
  CHECK_THAT(read_text(tmp / "junit.xml"), !Catch::Contains("\xe9"));
  for (const char* name : {"report.bmf.json", "report.gbench.json"}) CHECK_NOTHROW(read_json_file(tmp / name));
  CHECK_THAT(read_text(tmp / "report.md"), !Catch::Contains("\xe9"));
}

TEST_CASE("checks and signatures are decided on the whole output, the failure log keeps its end", "[e2e][command]") {
  // "hello" comes after 2 MB of stdout, past the 1 MiB kept: it used to fail the check. Odd
  // builds print "no luck" there instead, and their apt error after 1.1 MB of stderr.
  TempDir tmp;
  const std::string run =
      "[\"sh\", \"-c\", \"head -c 2000000 /dev/zero | tr '\\\\0' a; echo; "
      "if [ $((CACHESTRESS_BUILD % 2)) = 0 ]; then echo hello; exit 0; fi; "
      "head -c 1100000 /dev/zero | tr '\\\\0' e >&2; printf '\\\\nE: Could not get lock\\\\n' >&2; echo no luck\"]";
  const std::string checks =
      "[[command.check]]\nsubstring = \"hello\"\nforeign = { \"luck\" = \"b\" }\n"
      "[[command.signature]]\nregex = \"^E: Could not get lock$\"\ncategory = \"apt-lock\"\n";
  auto result = run_scenario(tmp, scenario(run, checks));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto report = read_json_file(tmp / "report.json");
  const auto& cell = report["cells"][0];
  CHECK(cell["summary"]["builds"]["completed"] == 6);
  CHECK(cell["summary"]["builds"]["failed"] == 6);
  CHECK(cell["summary"]["failures"]["signatures"] == nlohmann::json{{"apt-lock", 6}});
  CHECK(cell["summary"]["collisions"]["foreign"] == 6);  // the declared foreign value, past the limit
  REQUIRE(cell["failures"].size() == 1);
  const auto& failure = cell["failures"][0];
  CHECK(failure["reason"] == "check: stdout does not contain \"hello\" [apt-lock]");
  const std::string log = read_text(failure["log"].get<std::string>());
  CHECK_THAT(log, Catch::Contains("# ---- stdout (2000009 bytes) ----") &&
                      Catch::Contains("# [" + std::to_string(2000009 - 1048576 - 262144) +
                                      " more bytes not kept: capture limit; its last 262144 bytes follow]") &&
                      Catch::EndsWith("E: Could not get lock\n") && Catch::Contains("aaaa\nno luck\n# ---- stderr"));
}

TEST_CASE("a failure log that could not be written is not named, --out inside --workdir is refused", "[e2e][command]") {
  TempDir tmp;
  // The folder beside the report is a dangling symlink: the log cannot be written (nothing is
  // written through the link), and the report used to name it anyway.
  std::filesystem::create_symlink(tmp / "nowhere/dir", tmp / "report");  // beside report.json
  auto result = run_scenario(tmp, scenario("\"false\""));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto report = read_json_file(tmp / "report.json");
  REQUIRE(report["cells"][0]["failures"].size() == 1);
  const auto& failure = report["cells"][0]["failures"][0];
  CHECK((!failure.contains("log") || failure["log"].is_null() || failure["log"] == ""));
  CHECK_FALSE(std::filesystem::exists(tmp / "nowhere"));
  // Inside the workspace, the logs would be deleted when the run empties it.
  TempDir other;
  std::filesystem::create_directory(other / "report");
  auto inside = run_scenario(other, scenario("\"false\""), {"--workdir", other / "report"});
  CHECK(inside.exit_code == 2);
  CHECK_THAT(inside.err, Catch::Contains("the failure logs of --out " + other / "report: inside --workdir"));
  CHECK(list_dir(other / "report").empty());
}

TEST_CASE("a working directory that does not exist is named as a suspect of a spawn error", "[e2e][command]") {
  // posix_spawn's chdir failing read "spawn: pwd: ENOENT", blaming the program alone.
  TempDir tmp;
  auto result = run_scenario(tmp, scenario("\"pwd\"", "cwd = \"" + tmp / "missing" + "\"\n"));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto report = read_json_file(tmp / "report.json");
  REQUIRE(report["cells"][0]["failures"].size() == 1);
  CHECK(report["cells"][0]["failures"][0]["reason"] ==
        "spawn: pwd: ENOENT: no such file or directory (the program, or the working directory [command] cwd = " + tmp / "missing" + ")");
}

TEST_CASE("what a build left mounted inside the workspace is detached, and the workspace removed", "[e2e][command]") {
  // buildah SIGKILLed mid-build leaves its overlay mounts under its --root in the workspace:
  // the workspace stayed ("ENOTEMPTY") with the mounts in the host's table.
  if (::geteuid() != 0) {
    std::cout << "CACHESTRESS-SKIPPED: mounting a tmpfs needs root\n";
    return;
  }
  TempDir tmp;
  const std::string run = "[\"sh\", \"-c\", \"mkdir -p \\\"$TMPDIR/m {build}\\\" && mount -t tmpfs cachestress-e2e-left \\\"$TMPDIR/m {build}\\\"\"]";
  auto result = run_scenario(tmp, scenario(run, "", "isolation = \"shared\"\n"));
  INFO(result.err);
  if (result.err.find("x spawn") != std::string::npos || read_json_file(tmp / "report.json")["cells"][0]["summary"]["builds"]["failed"] != 0) {
    std::cout << "CACHESTRESS-SKIPPED: cannot mount a tmpfs here\n";
    return;
  }
  REQUIRE(result.exit_code == 0);
  std::ifstream in("/proc/self/mountinfo");
  const std::string mounts((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(mounts.find("cachestress-e2e-left") == std::string::npos);
  const auto left = list_dir(tmp.path());
  CHECK(std::none_of(left.begin(), left.end(), [](const std::string& name) { return name.starts_with("cachestress-"); }));
}

TEST_CASE("what a build's command leaves running in the background ends with it", "[e2e][command]") {
  // As a RUN step's processes end with its container. They used to outlive the run, hold the
  // output pipe (a 1 s drain counted in every build's time) and, a second later, recreate
  // directories in the removed workspace.
  TempDir tmp;
  const std::string run = "[\"sh\", \"-c\", \"sleep 37.125 & (sleep 1; mkdir -p \\\"$TMPDIR/late\\\") >/dev/null 2>&1 & echo started {build}\"]";
  auto result = run_scenario(tmp, scenario(run));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto report = read_json_file(tmp / "report.json");
  CHECK(report["cells"][0]["summary"]["builds"]["completed"] == 12);
  CHECK(report["cells"][0]["summary"]["build_latency_us"]["max"].get<double>() < 1e6);  // no drain grace waited
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the late mkdir
  int left_running = 0;  // processes whose command line has our sleep's unusual argument
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    left_running += text.find(std::string("sleep\0" "37.125", 12)) != std::string::npos;
  }
  CHECK(left_running == 0);
  const auto left = list_dir(tmp.path());
  CHECK(std::none_of(left.begin(), left.end(), [](const std::string& name) { return name.starts_with("cachestress-"); }));
}

TEST_CASE("each build gets its own TMPDIR under per-build isolation and one under shared or drop", "[e2e][command]") {
  for (const char* isolation : {"per-build", "shared"}) {
    for (const char* policy : {"propagate", "drop"}) {
      TempDir tmp;
      // Fails every build so its log shows the TMPDIR it saw.
      auto result = run_scenario(tmp, scenario("\"sh -c 'echo tmpdir=$TMPDIR own={tmpdir}; exit 3'\""),
                                 {"--isolation", isolation, "--env-policy", policy, "--builds", "4"});
      CHECK(result.exit_code == 0);
      std::set<std::string> seen;
      for (const auto& name : list_dir(tmp / "report/failures")) {
        const std::string log = read_text(tmp / ("report/failures/" + name));
        const auto at = log.find("\ntmpdir=");  // the output, not the command line above it
        REQUIRE(at != std::string::npos);
        seen.insert(log.substr(at + 1, log.find(' ', at) - at - 1));
      }
      INFO(isolation << " " << policy);
      const bool separate = std::string(isolation) == "per-build" && std::string(policy) == "propagate";
      CHECK(seen.size() == (separate ? 4u : 1u));
      if (std::string(policy) == "drop") CHECK_THAT(*seen.begin(), Catch::EndsWith("/roots/server"));
    }
  }
}

TEST_CASE("output checks decide success and a value of another kind counts as a foreign collision", "[e2e][command]") {
  TempDir tmp;
  const std::string toml = R"(description = "two kinds share one file"
[run]
builds = 8
concurrency = 1
isolation = "shared"
backend = "command"
[command]
run = ["sh", "-c", "echo {kind} > {tmpdir}/value; cat {tmpdir}/value"]
[[command.check]]
kind = "reader"
substring = "hello"
foreign = { "writer" = "writer" }
[[build]]
name = "reader"
[[build]]
name = "writer"
)";
  auto result = run_scenario(tmp, toml);
  CHECK(result.exit_code == 0);
  auto report = read_json_file(tmp / "report.json");
  // Each reader reads its own kind name, never "hello": every reader fails its check.
  const auto failed = report["cells"][0]["summary"]["builds"]["failed"].get<int>();
  CHECK(failed > 0);
  CHECK(report["cells"][0]["summary"]["failures"]["check"] == failed);
  CHECK(report["cells"][0]["failures"][0]["reason"] == "check: stdout does not contain \"hello\"");
  // No foreign value seen ("reader" is its own): no collision.
  CHECK(report["cells"][0]["summary"]["collisions"]["total"] == 0);

  TempDir tmp2;
  std::string leaky = toml;
  leaky.replace(leaky.find("echo {kind} > {tmpdir}/value; cat"), 33, "[ {kind} = writer ] && echo writer > {tmpdir}/value; cat");
  auto second = run_scenario(tmp2, leaky);
  CHECK(second.exit_code == 0);
  report = read_json_file(tmp2 / "report.json");
  // Builds run one at a time in a seeded order: readers after the first writer read "writer".
  CHECK(report["cells"][0]["summary"]["collisions"]["foreign"].get<int>() > 0);
  REQUIRE(report["cells"][0]["interference"].size() == 1);
  CHECK(report["cells"][0]["interference"][0]["polluter"] == "writer");
  CHECK(report["cells"][0]["interference"][0]["victim"] == "reader");
  CHECK(report["cells"][0]["interference"][0]["example"]["polluter_build"].is_null());
}

TEST_CASE("a command past its timeout is killed with what it started and counted as timeout", "[e2e][command]") {
  TempDir tmp;
  auto result = run_scenario(tmp, scenario("\"sh -c 'sleep 30 & wait'\""), {"--build-timeout", "0.2", "--builds", "2"});
  CHECK(result.exit_code == 0);
  auto report = read_json_file(tmp / "report.json");
  CHECK(report["cells"][0]["summary"]["failures"]["timeout"] == 2);
  CHECK(report["cells"][0]["summary"]["duration_s"].get<double>() < 20);
  CHECK(report["cells"][0]["failures"][0]["reason"] == "timeout: still running after --build-timeout 200ms, killed with SIGTERM");
}

TEST_CASE("SIGINT ends a command that ignores SIGTERM: SIGKILL after the grace, not at its own end", "[e2e][command][signal]") {
  TempDir tmp;
  write_text(tmp / "s.toml", scenario("[\"sh\", \"-c\", \"trap '' TERM; sleep 30\"]"));
  RunSpec spec;
  spec.args = {"--scenario", tmp / "s.toml", "--out", tmp / "report.json", "-q", "--builds", "2"};
  spec.env["TMPDIR"] = tmp.path();
  spec.signal = SIGINT;
  spec.signal_after = std::chrono::milliseconds(1000);
  spec.timeout = std::chrono::seconds(20);  // the commands alone would take 30 s
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.signalled);
  CHECK_FALSE(result.timed_out);
  CHECK(result.exit_code == 130);
  auto report = read_json_file(tmp / "report.json");
  CHECK(report["cells"][0]["summary"]["builds"]["interrupted"] == 2);
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"report.json", "s.toml"});
}

TEST_CASE("a setting the command backend does not apply is warned about when a flag or sweep changes it", "[e2e][command]") {
  // --semantics buildkit showed in the header and the report, and the real tool ran as before.
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "spawn", "--builds", "4", "--semantics", "buildkit", "--sweep", "lock_kind=ofd,flock", "--out", tmp / "r.json"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (auto at = result.err.find(needle); at != std::string::npos; at = result.err.find(needle, at + 1)) ++n;
    return n;
  };
  CHECK(count("semantics buildkit (--semantics) is not applied by backend command") == 1);  // once, not per cell
  CHECK(count("lock_kind flock (--lock-kind) is not applied by backend command") == 1);
  CHECK(count("lock_kind ofd") == 0);  // the file's own value: nothing changed
  auto plain = run_binary({"--scenario", "spawn", "--builds", "2", "--out", "/dev/null"});
  CHECK_THAT(plain.err, !Catch::Contains("not applied"));
}

TEST_CASE("a missing program is a spawn failure, not a crash", "[e2e][command]") {
  TempDir tmp;
  auto result = run_scenario(tmp, scenario("\"/nonexistent/cachestress-no-such-tool --x\""), {"--builds", "3"});
  CHECK(result.exit_code == 0);
  auto report = read_json_file(tmp / "report.json");
  CHECK(report["cells"][0]["summary"]["failures"]["spawn"] == 3);
  CHECK_THAT(report["cells"][0]["failures"][0]["reason"].get<std::string>(), Catch::Contains("ENOENT"));
}

TEST_CASE("a failing setup is an environment error and leaves no workspace", "[e2e][command]") {
  TempDir tmp;
  auto result = run_scenario(tmp, scenario("\"true\"", "setup = \"sh -c 'echo no base image >&2; echo pulling; exit 7'\"\n"));
  CHECK(result.exit_code == 3);
  // On one line, as a message prints (a newline in it printed as a literal \n).
  CHECK_THAT(result.err, Catch::Contains("[command] setup exited 7; its output: no base image | pulling (setup = sh -c") &&
                             !Catch::Contains("\\n"));
  auto left = list_dir(tmp.path());
  CHECK(left == std::vector<std::string>{"s.toml"});
}

// A teardown that records, outside the workspace (the test's own directory), what it saw.
std::string teardown_log_toml(const TempDir& out) {
  return "teardown = [\"sh\", \"-c\", \"{ echo teardown; cat \\\"$1/daemon\\\"; ls \\\"$1/done\\\" | wc -l; } >> " + out.path() +
         "/log\", \"teardown\", \"{realworkdir}\"]\n";
}

TEST_CASE("teardown runs once after the last build, before the workspace goes, and after a SIGINT", "[e2e][command]") {
  TempDir tmp, out;
  // setup starts the "daemon" (a file here), every build marks its end, teardown sees them all.
  const std::string hooks = "setup = [\"sh\", \"-c\", \"echo up > \\\"$1/daemon\\\"; mkdir \\\"$1/done\\\"\", \"setup\", \"{realworkdir}\"]\n" +
                            teardown_log_toml(out);
  auto result = run_scenario(tmp, scenario("[\"sh\", \"-c\", \"touch {workdir}/done/{build}\"]", hooks));
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(read_text(out / "log") == "teardown\nup\n12\n");
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"report.json", "s.toml"});  // the workspace is gone

  // Interrupted: the builds in flight end, then teardown, then the workspace goes.
  TempDir tmp2, out2;
  write_text(tmp2 / "s.toml", scenario("\"sleep 30\"", "setup = [\"sh\", \"-c\", \"echo up > \\\"$1/daemon\\\"; mkdir \\\"$1/done\\\"\", "
                                                        "\"setup\", \"{realworkdir}\"]\n" + teardown_log_toml(out2)));
  RunSpec spec;
  spec.args = {"--scenario", tmp2 / "s.toml", "--out", tmp2 / "report.json", "-q", "--builds", "2"};
  spec.env["TMPDIR"] = tmp2.path();
  spec.signal = SIGINT;
  spec.signal_after = std::chrono::milliseconds(1000);
  spec.timeout = std::chrono::seconds(20);
  auto interrupted = run_binary(spec);
  INFO(interrupted.err);
  CHECK(interrupted.exit_code == 130);
  CHECK(read_text(out2 / "log") == "teardown\nup\n0\n");
  CHECK(list_dir(tmp2.path()) == std::vector<std::string>{"report.json", "s.toml"});
}

TEST_CASE("teardown runs after a setup that failed once it had started something, and is not the run's verdict", "[e2e][command]") {
  TempDir tmp, out;
  auto result = run_scenario(tmp, scenario("\"true\"", "setup = [\"sh\", \"-c\", \"echo up > \\\"$1/daemon\\\"; mkdir \\\"$1/done\\\"; exit 7\", "
                                                       "\"setup\", \"{realworkdir}\"]\n" + teardown_log_toml(out)));
  CHECK(result.exit_code == 3);
  CHECK(read_text(out / "log") == "teardown\nup\n0\n");
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"s.toml"});

  // A failing teardown is a warning naming it, with its output; the run's exit stays 0.
  // (Not -q: a warning is not an error.)
  const auto loud = [](const TempDir& dir, const std::string& toml) {
    write_text(dir / "s.toml", toml);
    RunSpec spec;
    spec.args = {"--scenario", dir / "s.toml", "--out", dir / "report.json"};
    spec.env["TMPDIR"] = dir.path();
    spec.cwd = dir.path();
    return run_binary(spec);
  };
  TempDir tmp2;
  auto failing = loud(tmp2, scenario("\"true\"", "teardown = \"sh -c 'echo cannot stop the daemon >&2; exit 4'\"\n"));
  CHECK(failing.exit_code == 0);
  CHECK_THAT(failing.err, Catch::Contains("[command] teardown exited 4; its output: cannot stop the daemon (teardown = sh -c"));
  CHECK(list_dir(tmp2.path()) == std::vector<std::string>{"report.json", "s.toml"});

  // Bounded by [command] timeout: a teardown that hangs is stopped, the run ends.
  TempDir tmp3;
  const auto start = std::chrono::steady_clock::now();
  auto hanging = loud(tmp3, scenario("\"true\"", "timeout = 0.5\nteardown = \"sleep 30\"\n"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));
  CHECK(hanging.exit_code == 0);
  CHECK_THAT(hanging.err, Catch::Contains("[command] teardown timed out (teardown = sleep 30)"));
  CHECK(list_dir(tmp3.path()) == std::vector<std::string>{"report.json", "s.toml"});
}

TEST_CASE("each cell of a sweep or --repeat tears down what its setup started before the next cell", "[e2e][command]") {
  TempDir tmp, out;
  const std::string log = out / "log";
  auto result = run_scenario(tmp, scenario("\"true\"", "setup = [\"sh\", \"-c\", \"echo setup >> " + log + "\"]\n" +
                                                       "teardown = [\"sh\", \"-c\", \"echo teardown >> " + log + "\"]\n"),
                             {"--builds", "2", "--repeat", "3"});
  CHECK(result.exit_code == 0);
  CHECK(read_text(log) == "setup\nteardown\nsetup\nteardown\nsetup\nteardown\n");
}

TEST_CASE("an invalid [command] section is an input error naming file line and field", "[e2e][command]") {
  struct Case {
    std::string toml;
    std::string message;
  };
  const std::vector<Case> cases{
      {scenario("\"echo {biuld}\""), ":9:7: command.run: unknown placeholder {biuld}"},
      {scenario("\"echo 'open\""), ":9:7: command.run: cannot split into words: unterminated '"},
      {scenario("\"true\"", "[[command.check]]\nregex = \"([\"\n"), ":11:9: command.check[0].regex: invalid regex"},
      {scenario("\"true\"", "[[command.check]]\nsubstring = \"a\"\nkind = \"nope\"\n"), "command.check[0].kind: no [[build]] is named \"nope\""},
      {scenario("\"true\"", "[[command.signature]]\nregex = \"x\"\ncategory = \"a b\"\n"), "command.signature[0].category: expected 1-64"},
      {scenario("\"true\"", "env = { TMPDIR = \"/x\" }\n"), "command.env.TMPDIR: set by cachestress itself"},
      {scenario("\"true\"", "tiemout = 3\n"), ":10:1: command.tiemout: unknown key"},
      {scenario("\"true\"", "teardown = \"echo {biuld}\"\n"), ":10:12: command.teardown: unknown placeholder {biuld}"},
  };
  for (const auto& c : cases) {
    TempDir tmp;
    auto result = run_scenario(tmp, c.toml);
    INFO(c.toml);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::Contains(c.message));
  }
  TempDir tmp;
  auto no_section = run_scenario(tmp, "description = \"x\"\n[run]\nbackend = \"command\"\n[[build]]\nname = \"b\"\n[[build.step]]\nops = [{ op = \"hold\", ms = 1 }]\n");
  CHECK(no_section.exit_code == 2);
  CHECK_THAT(no_section.err, Catch::Contains("no [command] section"));
  // A step with a command and no operations under another backend: the file is named, and
  // the backend in force, since the file's [run] may have set it (a flag was all it suggested).
  TempDir other;
  auto no_ops = run_scenario(other, "description = \"x\"\n[run]\nbackend = \"inproc\"\n[command]\nper = \"step\"\n"
                                    "[[build]]\nname = \"writer\"\n[[build.step]]\ncommand = \"true\"\n");
  CHECK(no_ops.exit_code == 2);
  CHECK_THAT(no_ops.err, Catch::Contains(other / "s.toml" + ": build writer step 0 has a command but no operations") &&
                             Catch::Contains("backend is inproc"));
}

TEST_CASE("the spawn scenario runs true 2000 times with no failure", "[e2e][command]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "spawn", "--format", "json", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  spec.cwd = tmp.path();
  auto result = run_binary(spec);
  CHECK(result.exit_code == 0);
  auto report = parse_json(result.out);
  CHECK(report["cells"][0]["summary"]["builds"]["completed"] == 2000);
}

TEST_CASE("an inherited ignored SIGCHLD does not lose the commands' exit status", "[e2e][command]") {
  // SIG_IGN survives exec: a CI runner that ignores SIGCHLD would let the kernel reap our
  // commands before we read their status.
  TempDir tmp;
  RunSpec spec;
  spec.program = "/bin/bash";  // dash keeps SIGCHLD for itself; bash passes the SIG_IGN on
  spec.args = {"-c", "trap '' CHLD; exec \"$0\" --scenario spawn --format json -q", CACHESTRESS_BINARY};
  spec.env["TMPDIR"] = tmp.path();
  spec.cwd = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  CHECK(result.exit_code == 0);
  auto report = parse_json(result.out);
  CHECK(report["cells"][0]["summary"]["builds"]["completed"] == 2000);
  CHECK(report["cells"][0]["summary"]["builds"]["failed"] == 0);
}

}  // namespace cachestress::e2e
