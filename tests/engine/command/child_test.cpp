// One command child on a real loop, through each launcher (posix_spawn + pidfd, and the
// uv_spawn fallback): what the command sees (stdin, environment, PATH, cwd, signals), what
// comes back (status, signal, output), and that nothing is left running or unreaped.
#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "engine/command/child.hpp"
#include "engine/core/posix_launch.hpp"
#include "engine/core/loop.hpp"
#include "tests/support/temp_dir.hpp"

namespace cachestress::command {
namespace {

namespace fs = std::filesystem;

using core::pidfd_launch_supported;
using TempDir = test_support::TempDir;

void write_executable(const fs::path& path, const std::string& text, fs::perms perms = fs::perms::owner_all) {
  std::ofstream(path) << text;
  fs::permissions(path, perms);
}

std::vector<std::string> base_env() { return {"PATH=/usr/bin:/bin", "LC_ALL=C"}; }

// Runs one child to completion on its own loop; returns what `done` received.
std::optional<ChildResult> run_child(Child::Spec spec, int* done_calls = nullptr) {
  core::Loop loop;
  std::optional<ChildResult> got;
  int calls = 0;
  {
    Child child(loop.raw());
    child.start(std::move(spec), [&](ChildResult& r) {
      ++calls;
      got = r;
    });
    loop.run();
  }
  if (done_calls != nullptr) *done_calls = calls;
  return got;
}

// No child of this process is left, running or unreaped.
bool no_children_left() {
  int status = 0;
  const pid_t pid = ::waitpid(-1, &status, WNOHANG);
  return pid < 0 && errno == ECHILD;
}

Child::Launcher launcher_under_test() {
  const auto launcher = GENERATE(Child::Launcher::posix_spawn, Child::Launcher::uv_spawn);
  if (launcher == Child::Launcher::posix_spawn && !pidfd_launch_supported()) {
    WARN("no pidfd_open here (old kernel or seccomp): only the uv_spawn fallback is tested");
    return Child::Launcher::uv_spawn;
  }
  return launcher;
}

const char* name_of(Child::Launcher l) { return l == Child::Launcher::uv_spawn ? "uv_spawn" : "posix_spawn"; }

}  // namespace

TEST_CASE("a command's status and output come back, stdout and stderr apart", "[unit][command]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  Child::Spec spec{{"sh", "-c", "echo out; echo err >&2; exit 3"}, base_env(), "", 0, launcher};
  int calls = 0;
  const auto r = run_child(spec, &calls);
  REQUIRE(r);
  CHECK(calls == 1);
  CHECK(r->spawn_error == 0);
  CHECK(r->exit_status == 3);
  CHECK(r->term_signal == 0);
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
  CHECK(no_children_left());
}

TEST_CASE("a command killed by a signal reports it, and our ignored SIGPIPE is not inherited", "[unit][command]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  // Child::start ignores SIGPIPE in this process; a command must still die of it.
  for (int signum : {SIGTERM, SIGPIPE}) {
    INFO("signal " << signum);
    const auto r = run_child({{"sh", "-c", "kill -" + std::to_string(signum) + " $$; sleep 5"}, base_env(), "", 0, launcher});
    REQUIRE(r);
    CHECK(r->term_signal == signum);
  }
  CHECK(no_children_left());
}

TEST_CASE("a command reads /dev/null, sees only its environment and runs in its directory", "[unit][command]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  TempDir dir;
  auto env = base_env();
  env.push_back("GREETING=hello from env");
  const auto r = run_child({{"sh", "-c", "cat; echo \"$GREETING\"; echo \"${HOME-unset}\"; pwd -P"}, env, dir.path(), 0, launcher});
  REQUIRE(r);
  CHECK(r->exit_status == 0);
  CHECK(r->out == "hello from env\nunset\n" + fs::canonical(fs::path(dir.path())).string() + "\n");
}

TEST_CASE("a command leads its own session and sees argv[0] as written", "[unit][command]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  // Field 6 of /proc/PID/stat is the session: its own pid, so no controlling terminal is ours.
  auto r = run_child({{"sh", "-c", "echo $$; cut -d' ' -f6 /proc/$$/stat"}, base_env(), "", 0, launcher});
  REQUIRE(r);
  const auto newline = r->out.find('\n');
  REQUIRE(newline != std::string::npos);
  CHECK(r->out.substr(newline + 1) == r->out.substr(0, newline + 1));
  // PATH finds /usr/bin/cat, but the program is told "cat", as execvp would.
  r = run_child({{"cat", "/proc/self/cmdline"}, base_env(), "", 0, launcher});
  REQUIRE(r);
  CHECK(r->out == std::string("cat\0/proc/self/cmdline\0", 23));
}

TEST_CASE("argv[0] is found in the command's own PATH, scripts without #! run with sh", "[unit][command]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  TempDir dir;
  fs::create_directory(fs::path(dir.path()) / "bin");
  write_executable(fs::path(dir.path()) / "bin" / "greet", "#!/bin/sh\necho \"greet $1\"\n");
  write_executable(fs::path(dir.path()) / "bin" / "plain", "echo \"plain $1\"\n");  // ENOEXEC: execvp uses sh
  auto env = base_env();
  env[0] = "PATH=/nonexistent:" + (fs::path(dir.path()) / "bin").string() + ":/usr/bin:/bin";
  for (const std::string name : {"greet", "plain"}) {
    const auto r = run_child({{name, "x"}, env, "", 0, launcher});
    REQUIRE(r);
    CHECK(r->spawn_error == 0);
    CHECK(r->out == name + " x\n");
  }
}

TEST_CASE("a command that cannot start is reported once as a spawn error", "[unit][command]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  TempDir dir;
  int calls = 0;
  auto r = run_child({{"cachestress-no-such-program"}, base_env(), "", 0, launcher}, &calls);
  REQUIRE(r);
  CHECK(calls == 1);
  CHECK(r->spawn_error == UV_ENOENT);
  r = run_child({{"true"}, base_env(), (fs::path(dir.path()) / "missing").string(), 0, launcher});
  REQUIRE(r);
  CHECK(r->spawn_error == UV_ENOENT);
  write_executable(fs::path(dir.path()) / "not-executable", "#!/bin/sh\n", fs::perms::owner_read | fs::perms::owner_write);
  r = run_child({{(fs::path(dir.path()) / "not-executable").string()}, base_env(), "", 0, launcher});
  REQUIRE(r);
  CHECK(r->spawn_error == UV_EACCES);
  CHECK(no_children_left());
}

TEST_CASE("a command past its timeout is terminated with its whole process group", "[unit][command]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  TempDir dir;
  const fs::path pid_file = fs::path(dir.path()) / "grandchild.pid";
  // The shell starts a background sleep: the timeout's SIGTERM to the group must reach it.
  const auto r = run_child(
      {{"sh", "-c", "sleep 30 & echo $! > '" + pid_file.string() + "'; wait"}, base_env(), "", 300, launcher});
  REQUIRE(r);
  CHECK(r->timed_out);
  CHECK(r->term_signal == SIGTERM);
  pid_t grandchild = 0;
  std::ifstream(pid_file) >> grandchild;
  REQUIRE(grandchild > 0);
  // Orphaned, it is reaped by init (or left a zombie where init does not reap). Its pipes
  // close before it is a zombie, so give the kernel a moment to finish its exit.
  std::string stat;
  for (int tries = 0; tries < 200; ++tries) {
    stat.clear();
    std::getline(std::ifstream("/proc/" + std::to_string(grandchild) + "/stat"), stat);
    if (stat.empty() || stat.find(") Z ") != std::string::npos) break;
    ::usleep(10'000);
  }
  INFO("grandchild stat: " << stat);
  CHECK((stat.empty() || stat.find(") Z ") != std::string::npos));
  CHECK(no_children_left());
}

TEST_CASE("a timeout never fires before its time, however stale the loop's clock", "[unit][command]") {
  // The loop's clock is read at its turn's start: 30 ms of work before the spawn made a 50 ms
  // timeout fire 20 ms after it (--build-timeout 2ms reported builds killed after 1.6 ms).
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  core::Loop loop;
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the clock is now 30 ms stale
  std::optional<ChildResult> got;
  std::chrono::steady_clock::time_point ended;
  Child child(loop.raw());
  const auto started = std::chrono::steady_clock::now();
  child.start({{"sleep", "5"}, base_env(), "", 50, launcher}, [&](ChildResult& r) {
    ended = std::chrono::steady_clock::now();
    got = r;
  });
  loop.run();
  REQUIRE(got);
  CHECK(got->timed_out);
  CHECK(ended - started >= std::chrono::milliseconds(50));  // a lower bound: noise only adds
}

TEST_CASE("destroying a Child mid-run kills and reaps it without calling back", "[unit][command]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  core::Loop loop;
  int calls = 0;
  auto child = std::make_unique<Child>(loop.raw());
  child->start({{"sleep", "30"}, base_env(), "", 0, launcher}, [&](ChildResult&) { ++calls; });
  core::Timer drop(loop, [&] { child.reset(); });
  drop.start(100);
  loop.run();
  CHECK(calls == 0);
  CHECK(no_children_left());
}

}  // namespace cachestress::command
