// How posix_launch finds the program it starts: execvp's rules, checked without starting
// anything (the launches themselves are tested through core::ChildProcess's users,
// tests/engine/command/child_test.cpp and tests/engine/backend/process_build_test.cpp).
#include <catch2/catch.hpp>
#include <uv.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/core/posix_launch.hpp"
#include "tests/support/temp_dir.hpp"

namespace cachestress::core {
namespace {

namespace fs = std::filesystem;

using TempDir = test_support::TempDir;

void write_executable(const fs::path& path, const std::string& text, fs::perms perms = fs::perms::owner_all) {
  std::ofstream(path) << text;
  fs::permissions(path, perms);
}

}  // namespace

TEST_CASE("programs are resolved as execvp would", "[unit][command]") {
  TempDir dir;
  fs::create_directories(fs::path(dir.path()) / "a");
  fs::create_directories(fs::path(dir.path()) / "b");
  write_executable(fs::path(dir.path()) / "a" / "tool", "#!/bin/sh\n", fs::perms::owner_read);  // not executable
  write_executable(fs::path(dir.path()) / "b" / "tool", "#!/bin/sh\n");
  fs::create_directories(fs::path(dir.path()) / "a" / "dir-not-file");
  const std::string a = (fs::path(dir.path()) / "a").string(), b = (fs::path(dir.path()) / "b").string();
  std::string path;

  CHECK(resolve_program("tool", {"PATH=" + a + ":" + b}, "", path) == 0);
  CHECK(path == b + "/tool");  // a non-executable match is skipped
  CHECK(resolve_program("tool", {"PATH=" + a}, "", path) == UV_EACCES);
  CHECK(resolve_program("dir-not-file", {"PATH=" + a}, "", path) == UV_EACCES);
  CHECK(resolve_program("missing", {"PATH=" + a + ":" + b}, "", path) == UV_ENOENT);
  CHECK(resolve_program("", {"PATH=" + b}, "", path) == UV_ENOENT);
  CHECK(resolve_program("./anything/x", {"PATH=" + b}, "", path) == 0);  // a slash: no search
  CHECK(path == "./anything/x");
  CHECK(resolve_program("sh", {}, "", path) == 0);  // no PATH: /bin:/usr/bin
  CHECK((path == "/bin/sh" || path == "/usr/bin/sh"));
  // A relative PATH entry is looked up from the child's working directory, and stays relative.
  CHECK(resolve_program("tool", {"PATH=b"}, dir.path(), path) == 0);
  CHECK(path == "b/tool");
  CHECK(resolve_program("tool", {"PATH=:"}, b, path) == 0);  // an empty entry is the cwd
  CHECK(path == "tool");
}

}  // namespace cachestress::core
