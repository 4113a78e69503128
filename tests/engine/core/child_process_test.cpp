// core::ChildProcess beyond what its users' tests cover (tests/engine/command/child_test.cpp,
// tests/engine/backend/process_build_test.cpp): the handle rules of core::Loop, through each
// launcher (posix_spawn + pidfd, and the uv_spawn fallback).
#include "engine/core/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/core/loop.hpp"
#include "engine/core/posix_launch.hpp"
#include "tests/support/temp_dir.hpp"

namespace cachestress::core {
namespace {

using Launcher = ChildProcess::Launcher;
using test_support::TempDir;

Launcher launcher_under_test() {
  const auto launcher = GENERATE(Launcher::posix_spawn, Launcher::uv_spawn);
  if (launcher == Launcher::posix_spawn && !pidfd_launch_supported()) {
    WARN("no pidfd_open here (old kernel or seccomp): only the uv_spawn fallback is tested");
    return Launcher::uv_spawn;
  }
  return launcher;
}

const char* name_of(Launcher l) { return l == Launcher::uv_spawn ? "uv_spawn" : "posix_spawn"; }

bool no_children_left() {
  int status = 0;
  return ::waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

ChildProcess::Spec sh(const std::string& script, Launcher launcher) {
  ChildProcess::Spec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.launcher = launcher;
  return spec;
}

}  // namespace

TEST_CASE("child process: Loop::close() kills and reaps a child still running, with no callback", "[unit][child]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  int exits = 0, chunks = 0;
  auto loop = std::make_unique<Loop>();
  auto spec = sh("echo hi >&3; exec sleep 30", launcher);
  spec.stdin_payload = std::string(1 << 20, 'p');  // a write still pending too
  spec.err = {Capture::Keep::tail, 16};
  spec.fd3 = [&](std::string_view) { ++chunks; };
  ChildProcess child(loop->raw());
  REQUIRE(child.start(std::move(spec), [&](const ChildExit&) { ++exits; }) == 0);
  const int pid = child.pid();
  REQUIRE(pid > 0);
  CHECK(loop->close() == 0);  // never ran: the walk finds every handle of the child open
  CHECK(exits == 0);
  CHECK(chunks == 0);
  CHECK(::kill(pid, 0) == -1);  // killed and reaped, not a zombie
  CHECK(no_children_left());
  loop.reset();  // the ChildProcess outlives its loop: its state is already closed
}

TEST_CASE("child process: stdin payload, tail of stderr, head of stdout, fd 3 in chunks", "[unit][child]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  Loop loop;
  std::string fd3;
  ChildExit got;
  int exits = 0;
  auto spec = sh("cat; printf 0123456789 >&2; printf abcdefgh; printf 'x\\ny\\n' >&3; exit 4", launcher);
  spec.stdin_payload = "from stdin|";
  spec.out = {Capture::Keep::head, 14};
  spec.err = {Capture::Keep::tail, 4};
  spec.fd3 = [&](std::string_view chunk) { fd3.append(chunk); };
  ChildProcess child(loop.raw());
  REQUIRE(child.start(std::move(spec), [&](const ChildExit& e) {
    ++exits;
    got = e;
    CHECK_FALSE(child.running());
  }) == 0);
  loop.run();
  CHECK(exits == 1);
  CHECK(got.exit_status == 4);
  CHECK(got.term_signal == 0);
  CHECK(child.out().text == "from stdin|abc");
  CHECK(child.out().dropped == 5);
  CHECK(child.err().text == "6789");
  CHECK(child.err().dropped == 6);
  CHECK(fd3 == "x\ny\n");
  CHECK(no_children_left());
}

TEST_CASE("child process: a spawn error is returned, or reported later when asked", "[unit][child]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  Loop loop;
  int exits = 0;
  ChildExit got;
  {
    ChildProcess child(loop.raw());
    auto spec = sh("", launcher);
    spec.argv = {"/nonexistent/program"};
    CHECK(child.start(std::move(spec), [&](const ChildExit&) { ++exits; }) == UV_ENOENT);
    CHECK_FALSE(child.running());
    loop.run();
    CHECK(exits == 0);
  }
  {
    ChildProcess child(loop.raw());
    auto spec = sh("", launcher);
    spec.argv = {"/nonexistent/program"};
    spec.spawn_errors = ChildProcess::SpawnErrors::reported;
    CHECK(child.start(std::move(spec), [&](const ChildExit& e) {
      ++exits;
      got = e;
    }) == UV_ENOENT);
    CHECK(exits == 0);  // not from inside start()
    loop.run();
    CHECK(exits == 1);
    CHECK(got.spawn_error == UV_ENOENT);
  }
  CHECK(loop.close() == 0);
}

// How --backend process hands a build its workspace, also where pidfds are missing (the
// uv_spawn launcher: Linux < 5.4): as fd 4, a copy of the runner's directory fd. The parent
// of that directory is renamed away and a symlink to another directory takes its name before
// the child starts: a child that went by the path would write into `outside`.
TEST_CASE("child process: fd 4 is the directory handed down, not what its old path now names", "[unit][child]") {
  const auto launcher = launcher_under_test();
  INFO(name_of(launcher));
  namespace stdfs = std::filesystem;
  TempDir tmp;
  stdfs::create_directories(tmp / "parent/ws");
  stdfs::create_directories(tmp / "outside/ws");
  const int dir = ::open((tmp / "parent/ws").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dir >= 0);
  stdfs::rename(tmp / "parent", tmp / "moved");
  stdfs::create_directory_symlink(tmp / "outside", tmp / "parent");

  Loop loop;
  ChildExit got;
  auto spec = sh("echo by-fd > /proc/self/fd/4/written", launcher);
  spec.fd4_from = dir;
  spec.err = {Capture::Keep::tail, 256};
  ChildProcess child(loop.raw());
  REQUIRE(child.start(std::move(spec), [&](const ChildExit& e) { got = e; }) == 0);
  loop.run();
  ::close(dir);
  INFO(child.err().text);
  CHECK(got.exit_status == 0);
  std::ifstream written(tmp / "moved/ws/written");
  CHECK(std::string(std::istreambuf_iterator<char>(written), {}) == "by-fd\n");
  CHECK(stdfs::is_empty(tmp / "outside/ws"));
  CHECK(loop.close() == 0);
}

}  // namespace cachestress::core
