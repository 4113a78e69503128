// The symlinked-parent canary: a parent of --workdir is renamed away and replaced by a
// symlink to another directory while a run is going. Nothing may appear in (or vanish from)
// that other directory, the workspace must still be removed where it really is, and the run
// must say what happened (exit 3, "was moved during the run") instead of reporting results.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <future>
#include <thread>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {
namespace {

// Writes keep going for the whole run so later writes would follow the symlink.
std::string writing_scenario(const std::string& backend) {
  if (backend == "command") {
    return "description = \"canary\"\n[run]\nbuilds = 0\nduration = 3\nconcurrency = 2\nbackend = \"command\"\n"
           "[command]\nper = \"build\"\n"
           "run = \"sh -c 'mkdir -p {tmpdir}/c && echo x > {tmpdir}/c/f-{build} && echo y > {workdir}/w-{build} && "
           "echo z > rel-{build} && sleep 0.05'\"\n"
           "[[build]]\nname = \"b\"\n";
  }
  return "description = \"canary\"\n[run]\nbuilds = 0\nduration = 3\nconcurrency = 4\nisolation = \"shared\"\n"
         "backend = \"" + backend + "\"\n[[build]]\nname = \"b\"\n"
         "[[build.step]]\nmount = { target = \"/c\", sharing = \"locked\" }\n"
         "ops = [{ op = \"write\", file = \"f\", size = 64 }, { op = \"hold\", ms = 5 }, { op = \"read\", file = \"f\" }]\n"
         "[[build.step]]\nmount = { target = \"/d\" }\nops = [{ op = \"write\", file = \"g\", size = 64 }]\n";
}

// no_pidfd: the runner behaves as on Linux < 5.4 (CACHESTRESS_NO_PIDFD=1, posix_launch.hpp):
// children are started with uv_spawn, process workers spawned one by one without a fork server.
void check_parent_swap_is_harmless(const std::string& backend, bool no_pidfd = false) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "parent");
  std::filesystem::create_directories(tmp / "outside");
  write_text(tmp / "outside/canary", "untouched\n");
  // A directory where the workspace would be if its path were followed: nothing may land in it.
  std::filesystem::create_directories(tmp / "outside/ws");
  const auto before = snapshot(tmp / "outside");
  write_text(tmp / "s.toml", writing_scenario(backend));

  RunSpec spec;
  spec.args = {"--scenario", tmp / "s.toml", "--workdir", tmp / "parent/ws", "--out", tmp / "report.json", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  if (no_pidfd) spec.env["CACHESTRESS_NO_PIDFD"] = "1";
  spec.timeout = std::chrono::seconds(60);
  auto running = std::async(std::launch::async, [&spec] { return run_binary(spec); });

  // Mid-run: the parent goes elsewhere and a symlink to `outside` takes its name.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  REQUIRE(std::filesystem::exists(tmp / "parent/ws"));
  std::filesystem::rename(tmp / "parent", tmp / "parent-moved");
  std::filesystem::create_directory_symlink(tmp / "outside", tmp / "parent");

  const auto result = running.get();
  INFO(result.err);
  CHECK(snapshot(tmp / "outside") == before);
  CHECK(result.exit_code == 3);
  CHECK(result.err.find("was moved during the run") != std::string::npos);
  // The workspace went where it really was; nothing half-written beside the report path.
  CHECK(list_dir(tmp / "parent-moved").empty());
  CHECK_FALSE(std::filesystem::exists(tmp / "report.json"));
}

}  // namespace

TEST_CASE("a parent of --workdir replaced by a symlink mid-run: inproc writes nothing outside and says so",
          "[e2e][workspace]") {
  check_parent_swap_is_harmless("inproc");
}

TEST_CASE("a parent of --workdir replaced by a symlink mid-run: command children write nothing outside",
          "[e2e][workspace]") {
  check_parent_swap_is_harmless("command");
}

// Process-backend builds get the workspace as a directory fd the fork server inherited
// (engine/worker/fork_server.hpp), never its path: a symlinked parent cannot redirect them.
TEST_CASE("a parent of --workdir replaced by a symlink mid-run: process workers write nothing outside",
          "[e2e][workspace][process-escape]") {
  check_parent_swap_is_harmless("process");
}

// Without pidfds each worker is spawned as `cachestress worker --workspace-fd 4` and gets the
// runner's directory fd as its fd 4 (it used to open the workspace by path, and followed the link).
TEST_CASE("a parent of --workdir replaced by a symlink mid-run: spawned process workers (no pidfds) write nothing outside",
          "[e2e][workspace][process-escape]") {
  check_parent_swap_is_harmless("process", true);
}

TEST_CASE("a parent of --workdir replaced by a symlink mid-run: command children (no pidfds) write nothing outside",
          "[e2e][workspace]") {
  check_parent_swap_is_harmless("command", true);
}

}  // namespace cachestress::e2e
