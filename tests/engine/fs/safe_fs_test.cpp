#include "engine/fs/safe_fs.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>

#include "engine/core/error.hpp"

namespace cachestress::fs {
namespace {

namespace stdfs = std::filesystem;

// A fresh directory per test, removed afterwards (std::filesystem never follows symlinks there).
using TempDir = test_support::TempDir;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool exists_nofollow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_dir_nofollow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::size_t open_fd_count() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : stdfs::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

// Everything observable about a directory tree: names, types, sizes, contents, mtimes.
using Snapshot = std::map<std::string, std::tuple<unsigned, long long, long long, long, std::string>>;

Snapshot snapshot(const std::string& dir) {
  Snapshot snap;
  auto record = [&snap](const std::string& path, const std::string& key) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    const std::string content = S_ISREG(st.st_mode) ? read_text(path) : std::string();
    snap[key] = {st.st_mode, static_cast<long long>(st.st_size), static_cast<long long>(st.st_mtim.tv_sec),
                 st.st_mtim.tv_nsec, content};
  };
  record(dir, ".");
  for (const auto& entry : stdfs::recursive_directory_iterator(dir)) {
    record(entry.path().string(), stdfs::relative(entry.path(), dir).string());
  }
  return snap;
}

// Backdates every entry so that any write, create or unlink would visibly move an mtime.
void backdate(const std::string& dir) {
  const timespec times[2] = {{946684800, 0}, {946684800, 0}};
  for (const auto& entry : stdfs::recursive_directory_iterator(dir)) {
    REQUIRE(::utimensat(AT_FDCWD, entry.path().c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
  }
  REQUIRE(::utimensat(AT_FDCWD, dir.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
}

// tmp/canary (precious data outside the root) and tmp/root (the owned directory).
struct Sandbox {
  TempDir tmp;
  std::string canary = tmp.path() + "/canary";
  std::string root_path = tmp.path() + "/root";
  Snapshot canary_before;

  Sandbox() {
    REQUIRE(::mkdir(canary.c_str(), 0755) == 0);
    REQUIRE(::mkdir((canary + "/sub").c_str(), 0755) == 0);
    write_text(canary + "/precious", "keep me");
    write_text(canary + "/sub/also", "keep me too");
    backdate(canary);
    canary_before = snapshot(canary);
    REQUIRE(::mkdir(root_path.c_str(), 0755) == 0);
  }
  std::string in_root(const std::string& rel) const { return root_path + "/" + rel; }
  void link(const std::string& target, const std::string& rel) const {
    REQUIRE(::symlink(target.c_str(), in_root(rel).c_str()) == 0);
  }
  void canary_intact() const {
    CHECK(snapshot(canary) == canary_before);
    CHECK(read_text(canary + "/precious") == "keep me");
  }
};

// Builds root/<top>/d/d/d... `depth` levels, each with a file, an empty dir and (every 97
// levels) a symlink to `link_target`, using fds so the path length never matters.
void build_deep_tree(const std::string& root, const std::string& top, int depth, const std::string& link_target) {
  REQUIRE(::mkdir((root + "/" + top).c_str(), 0755) == 0);
  int fd = ::open((root + "/" + top).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  for (int level = 0; level < depth; ++level) {
    const int file = ::openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(file >= 0);
    ::close(file);
    REQUIRE(::mkdirat(fd, "e", 0755) == 0);
    if (level % 97 == 0) REQUIRE(::symlinkat(link_target.c_str(), fd, "l") == 0);
    REQUIRE(::mkdirat(fd, "d", 0755) == 0);
    const int next = ::openat(fd, "d", O_PATH | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(next >= 0);
    ::close(fd);
    fd = next;
  }
  ::close(fd);
}

}  // namespace

TEST_CASE("is_safe_relative accepts plain relative paths", "[fs]") {
  CHECK(is_safe_relative("a"));
  CHECK(is_safe_relative("cache/build-1/file.txt"));
  CHECK(is_safe_relative("..."));
  CHECK(is_safe_relative(".hidden/..x/x.."));
  CHECK(is_safe_relative(std::string(255, 'n')));
  std::string long_path;
  while (long_path.size() + 200 < k_max_relative_path) long_path += std::string(199, 'p') + "/";
  long_path += std::string(k_max_relative_path - long_path.size(), 'q');
  REQUIRE(long_path.size() == k_max_relative_path);
  CHECK(is_safe_relative(long_path));
}

TEST_CASE("is_safe_relative rejects escapes and malformed paths", "[fs]") {
  CHECK_FALSE(is_safe_relative(""));
  CHECK_FALSE(is_safe_relative("."));
  CHECK_FALSE(is_safe_relative(".."));
  CHECK_FALSE(is_safe_relative("../.."));
  CHECK_FALSE(is_safe_relative("../canary/precious"));
  CHECK_FALSE(is_safe_relative("a/../../b"));
  CHECK_FALSE(is_safe_relative("a/.."));
  CHECK_FALSE(is_safe_relative("./a"));
  CHECK_FALSE(is_safe_relative("a/./b"));
  CHECK_FALSE(is_safe_relative("/etc/passwd"));
  CHECK_FALSE(is_safe_relative("/"));
  CHECK_FALSE(is_safe_relative("a//b"));
  CHECK_FALSE(is_safe_relative("a/"));
  CHECK_FALSE(is_safe_relative(std::string("a\0b", 3)));
  CHECK_FALSE(is_safe_relative(std::string("a/\0", 3)));
  CHECK_FALSE(is_safe_relative(std::string(256, 'n')));
  CHECK_FALSE(is_safe_relative("a/" + std::string(300, 'n') + "/b"));
  std::string too_long;
  while (too_long.size() <= k_max_relative_path) too_long += "abcdefgh/";
  too_long += "z";
  CHECK_FALSE(is_safe_relative(too_long));
}

TEST_CASE("Root methods reject unsafe paths with -EINVAL and touch nothing", "[fs]") {
  Sandbox box;
  const Root root = Root::open(box.root_path);
  REQUIRE(::mkdir(box.in_root("ok").c_str(), 0755) == 0);
  const std::string bad[] = {"../canary/precious", "../canary", "..", "/tmp", box.canary + "/precious",
                             std::string("ok\0/../../canary", 16), "ok/" + std::string(300, 'x'), "ok/", ".", "ok//x"};
  for (const std::string& rel : bad) {
    INFO("rel = " << rel);
    CHECK(root.make_dirs(rel) == -EINVAL);
    CHECK(root.open_file(rel, O_WRONLY | O_CREAT | O_TRUNC) == -EINVAL);
    CHECK(root.open_file(rel, O_RDONLY) == -EINVAL);
    CHECK(root.remove_file(rel) == -EINVAL);
    CHECK(root.rename(rel, "ok/x") == -EINVAL);
    CHECK(root.rename("ok", rel) == -EINVAL);
    std::size_t entries = 42;
    CHECK(root.count_entries(rel, entries) == -EINVAL);
    CHECK(entries == 42);
    CHECK(root.remove_tree(rel) == -EINVAL);
  }
  std::size_t entries = 0;
  CHECK(root.count_entries("", entries) == -EINVAL);
  CHECK(root.make_dirs("") == -EINVAL);
  CHECK(is_dir_nofollow(box.in_root("ok")));
  box.canary_intact();
  CHECK(snapshot(box.tmp.path()).size() == box.canary_before.size() + 3);  // tmp, root, ok
}

TEST_CASE("symlinks planted inside the root are never followed", "[fs]") {
  Sandbox box;
  box.link(box.canary, "dirlink");                  // directory component, absolute
  box.link("../canary", "rel_dirlink");             // directory component, relative
  box.link(box.canary + "/precious", "filelink");   // final component
  box.link(box.canary + "/planted", "dangling");    // dangling: O_CREAT would create the target
  REQUIRE(::mkdir(box.in_root("cache").c_str(), 0755) == 0);
  write_text(box.in_root("cache/file"), "mine");
  box.link(box.canary, "cache/inner_link");
  const Root root = Root::open(box.root_path);

  SECTION("open_file") {
    CHECK(root.open_file("dirlink/precious", O_WRONLY | O_TRUNC) == -ELOOP);
    CHECK(root.open_file("dirlink/precious", O_RDONLY) == -ELOOP);
    CHECK(root.open_file("dirlink/evil", O_WRONLY | O_CREAT | O_TRUNC) == -ELOOP);
    CHECK(root.open_file("rel_dirlink/evil", O_WRONLY | O_CREAT) == -ELOOP);
    CHECK(root.open_file("cache/inner_link/sub/also", O_WRONLY | O_APPEND) == -ELOOP);
    CHECK(root.open_file("filelink", O_WRONLY | O_TRUNC) == -ELOOP);
    CHECK(root.open_file("filelink", O_RDWR | O_APPEND) == -ELOOP);
    CHECK(root.open_file("filelink", O_RDONLY) == -ELOOP);
    CHECK(root.open_file("dangling", O_WRONLY | O_CREAT | O_TRUNC) == -ELOOP);
    CHECK(root.open_file("dangling", O_WRONLY | O_CREAT | O_EXCL) == -EEXIST);
    CHECK(root.open_file("dirlink", O_RDONLY | O_DIRECTORY) < 0);
    CHECK_FALSE(exists_nofollow(box.canary + "/planted"));
    CHECK_FALSE(exists_nofollow(box.canary + "/evil"));
  }
  SECTION("make_dirs") {
    CHECK(root.make_dirs("dirlink/newdir") == -ELOOP);
    CHECK(root.make_dirs("rel_dirlink/newdir/deeper") == -ELOOP);
    CHECK(root.make_dirs("cache/inner_link/newdir") == -ELOOP);
    CHECK(root.make_dirs("dirlink") == -ELOOP);
    CHECK(root.make_dirs("dangling") == -ELOOP);
    CHECK(root.make_dirs("dangling/x") == -ELOOP);
    CHECK_FALSE(exists_nofollow(box.canary + "/newdir"));
    CHECK_FALSE(exists_nofollow(box.canary + "/planted"));
  }
  SECTION("remove_file unlinks the link itself, never through it") {
    CHECK(root.remove_file("dirlink/precious") == -ELOOP);
    CHECK(root.remove_file("cache/inner_link/sub/also") == -ELOOP);
    CHECK(root.remove_file("filelink") == 0);
    CHECK(root.remove_file("dangling") == 0);
    CHECK(root.remove_file("dirlink") == 0);
    CHECK_FALSE(exists_nofollow(box.in_root("filelink")));
    CHECK_FALSE(exists_nofollow(box.in_root("dirlink")));
  }
  SECTION("rename moves links, never through them") {
    CHECK(root.rename("dirlink/precious", "stolen") == -ELOOP);
    CHECK(root.rename("cache/file", "dirlink/planted") == -ELOOP);
    CHECK(root.rename("cache/file", "dangling") == 0);  // replaces the link, not its target
    CHECK(read_text(box.in_root("dangling")) == "mine");
    CHECK(root.rename("filelink", "cache/moved_link") == 0);
    CHECK(exists_nofollow(box.in_root("cache/moved_link")));
  }
  SECTION("count_entries") {
    std::size_t entries = 7;
    CHECK(root.count_entries("dirlink", entries) == -ELOOP);
    CHECK(root.count_entries("cache/inner_link", entries) == -ELOOP);
    CHECK(entries == 7);
    CHECK(root.count_entries("cache", entries) == 0);
    CHECK(entries == 2);
  }
  SECTION("remove_tree") {
    CHECK(root.remove_tree("dirlink/sub") == -ELOOP);
    CHECK(root.remove_tree("dirlink") == 0);  // the link goes, the canary stays
    CHECK_FALSE(exists_nofollow(box.in_root("dirlink")));
    CHECK(root.remove_tree("cache") == 0);
    CHECK_FALSE(exists_nofollow(box.in_root("cache")));
    CHECK(root.remove_tree("") == 0);
    CHECK(is_dir_nofollow(box.root_path));
    CHECK(stdfs::is_empty(box.root_path));
  }
  box.canary_intact();
}

TEST_CASE("Root basic operations", "[fs]") {
  Sandbox box;
  const Root root = Root::open(box.root_path);
  CHECK(root.path() == box.root_path);
  REQUIRE(root.make_dirs("a/b/c") == 0);
  CHECK(root.make_dirs("a/b/c") == 0);
  CHECK(root.make_dirs("a") == 0);
  CHECK(is_dir_nofollow(box.in_root("a/b/c")));

  const int fd = root.open_file("a/b/file", O_WRONLY | O_CREAT | O_EXCL);
  REQUIRE(fd >= 0);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);  // our internal O_NONBLOCK is cleared again
  CHECK(::write(fd, "data", 4) == 4);
  ::close(fd);
  CHECK(read_text(box.in_root("a/b/file")) == "data");
  CHECK(root.open_file("a/b/file", O_WRONLY | O_CREAT | O_EXCL) == -EEXIST);
  CHECK(root.open_file("a/missing", O_RDONLY) == -ENOENT);
  CHECK(root.open_file("a/b/file", O_PATH) == -EINVAL);
  CHECK(root.make_dirs("a/b/file/x") == -ENOTDIR);
  CHECK(root.make_dirs("a/b/file") == -ENOTDIR);

  std::size_t entries = 0;
  REQUIRE(root.count_entries("a/b", entries) == 0);
  CHECK(entries == 2);
  CHECK(root.count_entries("a/b/file", entries) == -ENOTDIR);
  CHECK(root.count_entries("nope", entries) == -ENOENT);

  write_text(box.in_root("a/other"), "other");
  CHECK(root.rename("a/other", "a/b/file", RENAME_NOREPLACE) == -EEXIST);
  CHECK(root.rename("a/other", "a/b/c/moved") == 0);
  CHECK(read_text(box.in_root("a/b/c/moved")) == "other");

  CHECK(root.remove_file("a/b") == -EISDIR);
  CHECK(root.remove_file("a/missing") == -ENOENT);
  CHECK(root.remove_file("a/b/c/moved") == 0);
  CHECK(root.remove_tree("a/missing") == 0);
  CHECK(root.remove_tree("missing/parent/too") == 0);
  CHECK(root.remove_tree("a/b/file") == 0);  // a plain file is just unlinked
  CHECK_FALSE(exists_nofollow(box.in_root("a/b/file")));

  for (int i = 0; i < 1000; ++i) write_text(box.in_root("a/b/c/f" + std::to_string(i)), "x");
  REQUIRE(root.count_entries("a/b/c", entries) == 0);
  CHECK(entries == 1000);
  CHECK(root.remove_tree("a") == 0);
  CHECK_FALSE(exists_nofollow(box.in_root("a")));
  CHECK(is_dir_nofollow(box.root_path));
  box.canary_intact();
}

TEST_CASE("make_dirs racing remove_tree of the same tree makes it, never fails ENOENT", "[fs]") {
  // A no-cache build's reset (remove_tree then make_dirs) beside another reset or a mount:
  // BuildKit never fails a mount because a sibling reset the cache, so neither may we.
  Sandbox box;
  const Root root = Root::open(box.root_path);
  std::atomic<bool> stop{false};
  std::thread remover([&] {
    while (!stop.load()) (void)root.remove_tree("index");
  });
  int enoent = 0, other = 0;
  for (int i = 0; i < 3000; ++i) {
    const int rc = root.make_dirs("index/a/b");
    if (rc == -ENOENT) ++enoent;
    else if (rc != 0) ++other;
  }
  stop = true;
  remover.join();
  CHECK(enoent == 0);
  CHECK(other == 0);
}

TEST_CASE("open_file refuses FIFOs without blocking", "[fs]") {
  Sandbox box;
  const Root root = Root::open(box.root_path);
  REQUIRE(::mkfifo(box.in_root("fifo").c_str(), 0644) == 0);
  CHECK(root.open_file("fifo", O_RDONLY) == -ENXIO);  // would block forever without O_NONBLOCK
  CHECK(root.open_file("fifo", O_WRONLY) == -ENXIO);
  CHECK(root.remove_tree("fifo") == 0);
  CHECK_FALSE(exists_nofollow(box.in_root("fifo")));
}

TEST_CASE("remove_tree removes a deep tree without recursion or fd leaks", "[fs]") {
  Sandbox box;
  constexpr int k_depth = 2000;
  const std::size_t fds_before = open_fd_count();
  {
    const Root root = Root::open(box.root_path);
    build_deep_tree(box.root_path, "deep", k_depth, box.canary);
    write_text(box.in_root("sibling"), "x");

    SECTION("named subtree") {
      CHECK(root.remove_tree("deep") == 0);
      CHECK_FALSE(exists_nofollow(box.in_root("deep")));
      CHECK(exists_nofollow(box.in_root("sibling")));
    }
    SECTION("contents of the root") {
      build_deep_tree(box.root_path, "deep2", 300, "../../../../../../canary");
      CHECK(root.remove_tree("") == 0);
      CHECK(is_dir_nofollow(box.root_path));
      CHECK(stdfs::is_empty(box.root_path));
    }
  }
  CHECK(open_fd_count() == fds_before);
  box.canary_intact();
}

TEST_CASE("remove_tree stays inside the root while a hostile build moves directories", "[fs][race]") {
  // The attacker swaps directories of the tree being removed for symlinks to the canary and
  // moves them into the canary or elsewhere in the root. The canary is laid out with the very
  // names the tree uses (f, d/f, d/d/f...), so a remover that trusted ".." or followed a link
  // while climbing back up would delete canary files.
  constexpr int k_rounds = 12;
  constexpr int k_depth = 120;
  for (int round = 0; round < k_rounds; ++round) {
    Sandbox box;
    {
      int fd = ::open(box.canary.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      for (int level = 0; level < 6; ++level) {
        const int file = ::openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        REQUIRE(file >= 0);
        REQUIRE(::write(file, "canary", 6) == 6);
        ::close(file);
        REQUIRE(::mkdirat(fd, "d", 0755) == 0);
        const int next = ::openat(fd, "d", O_PATH | O_DIRECTORY | O_CLOEXEC);
        ::close(fd);
        fd = next;
      }
      ::close(fd);
    }
    backdate(box.canary);
    const Snapshot before = snapshot(box.canary);
    build_deep_tree(box.root_path, "t", k_depth, box.canary);
    const Root root = Root::open(box.root_path);

    std::atomic<bool> stop{false};
    std::thread attacker([&box, &stop, round] {
      const int canary_fd = ::open(box.canary.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      const int root_fd = ::open(box.root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      // Replaces the directory at `level` (real directories only on the way: O_NOFOLLOW, so the
      // attacker never touches the canary itself), optionally leaving a symlink to the canary.
      auto swap = [&box](int level, int to_fd, const std::string& to_name, bool plant) {
        int fd = ::open((box.root_path + "/t").c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        for (int i = 0; i + 1 < level && fd >= 0; ++i) {
          const int next = ::openat(fd, "d", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          ::close(fd);
          fd = next;
        }
        if (fd < 0) return;
        if (::renameat(fd, "d", to_fd, to_name.c_str()) == 0 && plant) {
          (void)::symlinkat(box.canary.c_str(), fd, "d");
        }
        ::close(fd);
      };
      unsigned seed = static_cast<unsigned>(round) * 7919U + 1U;
      for (int n = 0; !stop.load(); ++n) {
        seed = seed * 1103515245U + 12345U;
        const int level = 8 + static_cast<int>((seed >> 8) % (k_depth - 8));
        const int above = level - 1 - static_cast<int>((seed >> 20) % 5);
        // Move a directory away (its ".." no longer matches), then swap one a few levels up for
        // a link, so climbing back by name would lead into the canary's look-alike d/d/d chain.
        swap(level, n % 2 == 0 ? canary_fd : root_fd, "moved" + std::to_string(n), n % 3 == 0);
        swap(above, root_fd, "above" + std::to_string(n), true);
      }
      ::close(canary_fd);
      ::close(root_fd);
    });
    const int rc = root.remove_tree("t");
    stop = true;
    attacker.join();
    INFO("round " << round << ", remove_tree = " << rc);
    const Snapshot after = snapshot(box.canary);
    for (const auto& [name, state] : before) {
      if (name == ".") continue;  // the attacker itself adds entries to the canary directory
      INFO("canary entry " << name);
      REQUIRE(after.count(name) == 1);
      CHECK(after.at(name) == state);
    }
    CHECK(read_text(box.canary + "/precious") == "keep me");
  }
}

TEST_CASE("remove_tree does not descend into another mount", "[fs][mount]") {
  Sandbox box;
  const Root root = Root::open(box.root_path);
  REQUIRE(root.make_dirs("cache/mnt") == 0);
  if (::mount("cachestress-test", box.in_root("cache/mnt").c_str(), "tmpfs", 0, "size=1m") != 0) {
    WARN("cannot mount tmpfs (" << errno_text(errno) << "): skipped");
    return;
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{box.in_root("cache/mnt")};
  write_text(box.in_root("cache/mnt/foreign"), "not ours");
  write_text(box.in_root("cache/own"), "ours");

  CHECK(root.remove_tree("cache") == -EXDEV);
  CHECK(read_text(box.in_root("cache/mnt/foreign")) == "not ours");
  CHECK_FALSE(exists_nofollow(box.in_root("cache/own")));  // the rest is still removed
}

TEST_CASE("remove_tree empties read-only and unreadable directories it owns", "[fs]") {
  Sandbox box;
  // Root bypasses permission bits, so run the scenario as nobody in a child process.
  const bool as_root = ::geteuid() == 0;
  if (as_root) {
    REQUIRE(::chmod(box.tmp.path().c_str(), 0711) == 0);
    REQUIRE(::chown(box.root_path.c_str(), 65534, 65534) == 0);
  }
  const pid_t pid = as_root ? ::fork() : 0;
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    if (as_root && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) code = 10;
    const std::string gomod = box.in_root("gomod");
    auto step = [&code](bool ok, int fail_code) {
      if (code == 0 && !ok) code = fail_code;
    };
    step(::mkdir(gomod.c_str(), 0755) == 0, 11);
    step(::mkdir((gomod + "/pkg@v1").c_str(), 0755) == 0, 12);
    step(::close(::open((gomod + "/pkg@v1/go.mod").c_str(), O_WRONLY | O_CREAT, 0444)) == 0, 13);
    step(::mkdir((gomod + "/locked").c_str(), 0755) == 0, 14);
    step(::close(::open((gomod + "/locked/f").c_str(), O_WRONLY | O_CREAT, 0644)) == 0, 15);
    step(::mkdir((gomod + "/xonly").c_str(), 0755) == 0, 16);
    step(::mkdir((gomod + "/xonly/inner").c_str(), 0755) == 0, 17);
    step(::chmod((gomod + "/pkg@v1").c_str(), 0555) == 0, 18);
    step(::chmod((gomod + "/locked").c_str(), 0000) == 0, 19);
    step(::chmod((gomod + "/xonly").c_str(), 0111) == 0, 20);
    step(::chmod(gomod.c_str(), 0555) == 0, 21);
    if (code == 0) {
      const Root root = Root::open(box.root_path);
      step(root.remove_tree("gomod") == 0, 22);
      step(!exists_nofollow(gomod), 23);
    }
    if (!as_root) {
      CHECK(code == 0);
      return;
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  box.canary_intact();
}

TEST_CASE("Root::open refuses symlinks and non-directories", "[fs]") {
  Sandbox box;
  box.link(box.root_path, "../rootlink");
  write_text(box.tmp.path() + "/file", "x");
  const std::string link = box.tmp.path() + "/rootlink";
  CHECK_THROWS_AS(Root::open(link), EnvironmentError);
  CHECK_THROWS_AS(Root::open(link + "/"), EnvironmentError);  // a trailing slash must not follow it
  CHECK_THROWS_WITH(Root::open(link), Catch::Contains("symlink") && Catch::Contains(link));
  CHECK_THROWS_AS(Root::open(box.tmp.path() + "/missing"), EnvironmentError);
  CHECK_THROWS_WITH(Root::open(box.tmp.path() + "/file"), Catch::Contains("not a directory"));
  CHECK_THROWS_AS(Root::open("relative/dir"), EnvironmentError);

  Root root = Root::open(box.root_path + "/");
  CHECK(root.path() == box.root_path);
  const int fd = root.fd();
  CHECK(fd >= 0);
  Root moved(std::move(root));
  CHECK(moved.fd() == fd);
  CHECK(root.fd() == -1);  // NOLINT(bugprone-use-after-move): documented moved-from state
  CHECK(root.make_dirs("x") < 0);
  CHECK(moved.make_dirs("x") == 0);
}

TEST_CASE("make_workspace creates a fresh private directory", "[fs]") {
  TempDir tmp;
  const std::string first = make_workspace(tmp.path());
  const std::string second = make_workspace(tmp.path() + "/");
  CHECK(first != second);
  for (const std::string& ws : {first, second}) {
    CHECK(ws.rfind(tmp.path() + "/cachestress-", 0) == 0);
    struct stat st {};
    REQUIRE(::lstat(ws.c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 0777) == 0700);
    CHECK(stdfs::is_empty(ws));
  }
  write_text(tmp.path() + "/file", "x");
  CHECK_THROWS_AS(make_workspace(tmp.path() + "/missing"), EnvironmentError);
  CHECK_THROWS_WITH(make_workspace(tmp.path() + "/missing"), Catch::Contains("/missing") && Catch::Contains("ENOENT"));
  CHECK_THROWS_AS(make_workspace(tmp.path() + "/file"), EnvironmentError);
  CHECK_THROWS_AS(make_workspace("/proc"), EnvironmentError);
  CHECK_THROWS_AS(make_workspace(""), EnvironmentError);
}

TEST_CASE("prepare_user_workdir validates --workdir", "[fs]") {
  TempDir tmp;
  const std::string base = tmp.path();
  REQUIRE(::mkdir((base + "/empty").c_str(), 0755) == 0);
  REQUIRE(::mkdir((base + "/full").c_str(), 0755) == 0);
  write_text(base + "/full/old", "x");
  write_text(base + "/file", "x");
  REQUIRE(::symlink((base + "/empty").c_str(), (base + "/link").c_str()) == 0);
  REQUIRE(::symlink((base + "/nowhere").c_str(), (base + "/dangling").c_str()) == 0);

  SECTION("rejections name the path and the reason") {
    CHECK_THROWS_WITH(prepare_user_workdir(base + "/link"), Catch::Contains("symlink") && Catch::Contains(base + "/link"));
    CHECK_THROWS_WITH(prepare_user_workdir(base + "/link/"), Catch::Contains("symlink"));
    CHECK_THROWS_WITH(prepare_user_workdir(base + "/dangling"), Catch::Contains("symlink"));
    CHECK_FALSE(exists_nofollow(base + "/nowhere"));
    CHECK_THROWS_WITH(prepare_user_workdir(base + "/full"), Catch::Contains("not empty") && Catch::Contains(base + "/full"));
    CHECK_THROWS_WITH(prepare_user_workdir(base + "/file"), Catch::Contains("not a directory"));
    CHECK_THROWS_WITH(prepare_user_workdir(base + "/missing/child"), Catch::Contains("parent directory does not exist"));
    CHECK_THROWS_AS(prepare_user_workdir(base + "/file/child"), EnvironmentError);
    CHECK_THROWS_AS(prepare_user_workdir("/proc/cachestress-workdir"), EnvironmentError);
    CHECK_THROWS_AS(prepare_user_workdir(""), EnvironmentError);
    CHECK(read_text(base + "/full/old") == "x");
  }
  SECTION("a missing directory with an existing parent is created private") {
    const std::string made = prepare_user_workdir(base + "/fresh/");
    CHECK(made == base + "/fresh");
    struct stat st {};
    REQUIRE(::lstat(made.c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 0777) == 0700);
  }
  SECTION("an existing empty directory is accepted") {
    CHECK(prepare_user_workdir(base + "/empty") == base + "/empty");
  }
}

}  // namespace cachestress::fs

namespace cachestress::fs {

TEST_CASE("create_file makes the directories a concurrent prune keeps removing", "[fs]") {
  // A prune (remove_tree) between make_dirs and the open failed a lock with ENOENT: the
  // directory is made again, as containers/storage's lockfile does.
  test_support::TempDir tmp;
  const Root root = Root::open(tmp.path());
  std::atomic<bool> done{false};
  std::thread pruner([&] {
    while (!done.load()) (void)root.remove_tree("cache");
  });
  int failures = 0;
  for (int i = 0; i < 3000; ++i) {
    const int fd = root.create_file("cache/lockfiles/key/lock", O_RDWR);
    if (fd < 0) {
      ++failures;
      INFO(std::strerror(-fd));
      CHECK(fd == -ENOENT);  // only ever the race, and it is never given up on
    } else {
      ::close(fd);
    }
  }
  done = true;
  pruner.join();
  CHECK(failures == 0);
}

}  // namespace cachestress::fs
