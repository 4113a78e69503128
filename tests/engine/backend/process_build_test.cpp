// The parent side of --backend process, driven by /bin/sh children that print canned event
// lines on fd 3 (the worker itself is tested in-process in worker_test.cpp). Every test runs
// its own loop and ends with uv_loop_close() == 0: no handle outlives its owner. Each case
// runs through both launchers (posix_spawn + pidfd, and the uv_spawn fallback).
#include "engine/backend/process_build.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/loop.hpp"
#include "engine/core/posix_launch.hpp"

namespace cachestress::backend {
namespace {

using namespace worker::protocol;
using Clock = std::chrono::steady_clock;
using Launcher = core::ChildProcess::Launcher;

Launcher g_launcher = Launcher::automatic;  // the launcher of this run of the current case

// Each case calls this once, first: it runs once per launcher.
Launcher launcher_under_test() {
  g_launcher = GENERATE(Launcher::posix_spawn, Launcher::uv_spawn);
  if (g_launcher == Launcher::posix_spawn && !core::pidfd_launch_supported()) {
    WARN("no pidfd_open here (old kernel or seccomp): only the uv_spawn fallback is tested");
    g_launcher = Launcher::uv_spawn;
  }
  return g_launcher;
}

const char* name_of(Launcher l) { return l == Launcher::uv_spawn ? "uv_spawn" : "posix_spawn"; }

struct Observed {
  std::vector<Event> events;
  int exits = 0;
  std::int64_t exit_status = -1;
  int term_signal = -1;
  std::string protocol_error;
  std::string stderr_tail;
  bool timed_out = false;
  bool running_in_exit = true;
};

// Runs one shell script as a child until it is reported, then closes the loop.
struct Harness {
  core::Loop loop;
  Observed seen;
  std::unique_ptr<ProcessBuild> build;
  std::function<void(ProcessBuild&, const Event&)> on_event;  // optional extra reaction

  ProcessBuild::Spec spec(const std::string& script) {
    ProcessBuild::Spec s;
    s.exe = "/bin/sh";
    s.args = {"-c", script};
    s.env = environment_with_tmpdir("/tmp/process-build-test");
    s.launcher = g_launcher;
    return s;
  }

  int start(ProcessBuild::Spec s) {
    build = std::make_unique<ProcessBuild>(
        loop.raw(),
        [this](const Event& e, std::uint64_t /*at_us*/) {
          seen.events.push_back(e);
          if (on_event) on_event(*build, e);
        },
        [this](std::int64_t status, int signal) {
          ++seen.exits;
          seen.exit_status = status;
          seen.term_signal = signal;
          seen.protocol_error = build->protocol_error();
          seen.stderr_tail = build->stderr_tail();
          seen.timed_out = build->timed_out();
          seen.running_in_exit = build->running();
        });
    return build->start(std::move(s));
  }

  Observed run(const std::string& script) { return run(spec(script)); }
  Observed run(ProcessBuild::Spec s) {
    REQUIRE(start(std::move(s)) == 0);
    const int pid = build->pid();
    REQUIRE(pid > 0);
    loop.run();
    // libuv reaped it: no zombie left behind.
    CHECK(::waitpid(pid, nullptr, WNOHANG) == -1);
    build.reset();
    CHECK(loop.close() == 0);
    return seen;
  }
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("process build: plan on stdin / TMPDIR in the environment / events in order / stderr captured", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  Harness h;
  auto spec = h.spec(
      "plan=$(cat); [ \"$plan\" = PLAN ] || exit 9\n"
      "printf '%s\\n' '{\"ev\":\"step_done\",\"at_us\":1,\"step\":0,\"latency_us\":5}' >&3\n"
      "printf '{\"ev\":\"hello\",\"at_us\":1,\"pid\":%d,\"root\":\"%s\"}\\n{\"ev\":\"done\",\"at_us\":1}\\n' $$ \"$TMPDIR\" >&3\n"
      "echo 'a word on stderr' >&2\n"
      "exit 0");
  spec.plan = "PLAN";
  int pid = 0;
  h.on_event = [&](ProcessBuild& b, const Event&) { pid = b.pid(); };
  auto seen = h.run(std::move(spec));
  CHECK(seen.exits == 1);
  CHECK(seen.exit_status == 0);
  CHECK(seen.term_signal == 0);
  CHECK(seen.protocol_error.empty());
  CHECK_FALSE(seen.running_in_exit);
  CHECK(seen.stderr_tail == "a word on stderr\n");
  REQUIRE(seen.events.size() == 3);
  CHECK(seen.events[0] == Event{StepDone{0, 5}});
  CHECK(seen.events[1] == Event{Hello{pid, "/tmp/process-build-test"}});
  CHECK(seen.events[2] == Event{Done{}});
}

TEST_CASE("process build: a large plan is written without blocking the loop", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  Harness h;
  auto spec = h.spec("n=$(wc -c); printf '{\"ev\":\"hello\",\"at_us\":1,\"pid\":%d,\"root\":\"r\"}\\n' $n >&3");
  spec.plan = std::string(1 << 20, 'p');
  auto seen = h.run(std::move(spec));
  REQUIRE(seen.events.size() == 1);
  CHECK(std::get<Hello>(seen.events[0]).pid == (1 << 20));
}

TEST_CASE("process build: the exit status and a crash's signal are reported", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  SECTION("exit status") {
    Harness h;
    auto seen = h.run("exit 3");
    CHECK(seen.exits == 1);
    CHECK(seen.exit_status == 3);
    CHECK(seen.term_signal == 0);
  }
  SECTION("a crash") {
    Harness h;
    auto seen = h.run("printf '{\"ev\":\"done\",\"at_us\":1}\\n' >&3; kill -SEGV $$");
    CHECK(seen.exits == 1);
    CHECK(seen.term_signal == SIGSEGV);
    CHECK(seen.events.size() == 1);  // what it said before dying still counts
  }
}

TEST_CASE("process build: protocol violations kill the child and are reported", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  struct Case {
    const char* script;
    const char* error;
  };
  const Case cases[] = {
      {"printf '{\"ev\":\"done\",\"at_us\":1}\\n{\"ev\":\"bogus\",\"at_us\":1}\\n' >&3; exec sleep 30", "line 2: unknown event \"bogus\""},
      {"printf 'not json\\n' >&3; exec sleep 30", "line 1: not a JSON object line"},
      {"head -c 20000 /dev/zero | tr '\\0' x >&3; exec sleep 30", "line 1: longer than 16384 bytes"},
  };
  for (const auto& c : cases) {
    INFO(c.script);
    Harness h;
    const auto start = Clock::now();
    auto seen = h.run(c.script);
    CHECK(seen.exits == 1);
    CHECK(seen.protocol_error == c.error);
    CHECK(seen.term_signal == SIGKILL);
    CHECK(seen.events.size() <= 1);
    CHECK(seconds_since(start) < 10);
  }
  SECTION("a line cut short by a clean exit") {
    Harness h;
    auto seen = h.run("printf '{\"ev\":\"done\",\"at_us\":1' >&3; exit 0");
    CHECK(seen.protocol_error == "truncated event line at end of stream");
    CHECK(seen.events.empty());
  }
}

TEST_CASE("process build: kill() reaches the child and its helpers", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  Harness h;
  h.on_event = [](ProcessBuild& b, const Event&) { b.kill(SIGTERM); };
  // The background sleep holds fd 3 too: only a group kill lets the pipe reach EOF at once.
  const auto start = Clock::now();
  auto seen = h.run("sleep 30 & printf '{\"ev\":\"done\",\"at_us\":1}\\n' >&3; wait");
  CHECK(seen.exits == 1);
  CHECK(seen.term_signal == SIGTERM);
  CHECK(seconds_since(start) < 0.9);  // no drain grace was needed
}

TEST_CASE("process build: --build-timeout sends TERM and then KILL after the grace", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  SECTION("a child that dies on TERM") {
    Harness h;
    auto spec = h.spec("exec sleep 30");
    spec.timeout_ms = 200;
    const auto start = Clock::now();
    auto seen = h.run(std::move(spec));
    CHECK(seen.timed_out);
    CHECK(seen.term_signal == SIGTERM);
    CHECK(seconds_since(start) >= 0.19);
    CHECK(seconds_since(start) < 5);
  }
  SECTION("a child that ignores TERM") {
    Harness h;
    auto spec = h.spec("trap '' TERM; exec sleep 30");
    // Long enough for the shell to reach its trap on a loaded machine: a TERM before it
    // ends the shell with SIGTERM, which is not what this section is about.
    spec.timeout_ms = 1500;
    spec.kill_grace_ms = 300;
    const auto start = Clock::now();
    auto seen = h.run(std::move(spec));
    CHECK(seen.timed_out);
    CHECK(seen.term_signal == SIGKILL);
    CHECK(seconds_since(start) >= 1.79);
    CHECK(seconds_since(start) < 10);
  }
  SECTION("a child that finishes in time is not touched") {
    Harness h;
    auto spec = h.spec("exit 0");
    spec.timeout_ms = 5000;
    auto seen = h.run(std::move(spec));
    CHECK_FALSE(seen.timed_out);
    CHECK(seen.exit_status == 0);
  }
}

TEST_CASE("process build: a pipe held open by a leftover helper does not hang the build", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  Harness h;
  // The helper runs in its own group (setsid), so it survives; the exit is reported after
  // the drain grace rather than when the helper lets go of fd 3.
  const auto start = Clock::now();
  auto seen = h.run("setsid sleep 4 & printf '{\"ev\":\"done\",\"at_us\":1}\\n' >&3; exit 0");
  CHECK(seen.exits == 1);
  CHECK(seen.exit_status == 0);
  CHECK(seen.events.size() == 1);
  CHECK(seconds_since(start) < 3.5);
}

TEST_CASE("process build: a spawn failure is an error code and no callback", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  Harness h;
  auto spec = h.spec("");
  spec.exe = "/nonexistent/cachestress";
  CHECK(h.start(std::move(spec)) == UV_ENOENT);
  CHECK_FALSE(h.build->running());
  h.loop.run();
  CHECK(h.seen.exits == 0);
  h.build.reset();
  CHECK(h.loop.close() == 0);
}

TEST_CASE("process build: destroying it mid-run kills and reaps the child", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  Harness h;
  int pid = 0;
  h.on_event = [&](ProcessBuild& b, const Event&) {
    pid = b.pid();
    h.build.reset();  // from inside its own callback
  };
  REQUIRE(h.start(h.spec("printf '{\"ev\":\"done\",\"at_us\":1}\\n{\"ev\":\"done\",\"at_us\":1}\\n' >&3; exec sleep 30")) == 0);
  const auto start = Clock::now();
  h.loop.run();  // returns once the killed child was reaped and every handle closed
  CHECK(seconds_since(start) < 5);
  CHECK(pid > 0);
  CHECK(h.seen.events.size() == 1);  // nothing delivered after the owner went
  CHECK(h.seen.exits == 0);
  CHECK(::waitpid(pid, nullptr, WNOHANG) == -1);
  CHECK(::kill(pid, 0) == -1);
  CHECK(h.loop.close() == 0);
}

TEST_CASE("process build: many children at once and every line delivered", "[worker][process]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  core::Loop loop;
  constexpr int k_children = 32, k_lines = 200;
  std::vector<std::unique_ptr<ProcessBuild>> builds;
  std::vector<int> events(k_children, 0), exits(k_children, 0);
  for (int i = 0; i < k_children; ++i) {
    builds.push_back(std::make_unique<ProcessBuild>(
        loop.raw(), [&events, i](const Event&, std::uint64_t) { ++events[static_cast<std::size_t>(i)]; },
        [&exits, i](std::int64_t status, int) { exits[static_cast<std::size_t>(i)] = status == 0 ? 1 : -1; }));
    ProcessBuild::Spec spec;
    spec.exe = "/bin/sh";
    spec.args = {"-c", "i=0; while [ $i -lt " + std::to_string(k_lines) +
                           " ]; do printf '{\"ev\":\"step_done\",\"at_us\":1,\"step\":%d,\"latency_us\":1}\\n' $i; i=$((i+1)); done >&3"};
    spec.env = environment_with_tmpdir("/tmp");
    spec.launcher = g_launcher;
    REQUIRE(builds.back()->start(std::move(spec)) == 0);
  }
  loop.run();
  for (int i = 0; i < k_children; ++i) {
    CHECK(events[static_cast<std::size_t>(i)] == k_lines);
    CHECK(exits[static_cast<std::size_t>(i)] == 1);
  }
  builds.clear();
  CHECK(loop.close() == 0);
}

TEST_CASE("process build: environment_with_tmpdir replaces TMPDIR only", "[worker][process]") {
  auto env = environment_with_tmpdir("/x/roots/shared");
  int tmpdirs = 0;
  for (const auto& e : env) {
    if (e.rfind("TMPDIR=", 0) == 0) {
      ++tmpdirs;
      CHECK(e == "TMPDIR=/x/roots/shared");
    }
  }
  CHECK(tmpdirs == 1);
  CHECK(own_executable().front() == '/');
}

}  // namespace cachestress::backend
