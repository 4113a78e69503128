// reference_shared: the `shared` scenario's file work with no event loop and no engine.
// C plain threads take builds from a shared counter; each build does, in one cache
// directory beneath a root fd, the syscalls engine/ops/file_ops.cpp and engine/fs/safe_fs.cpp
// make for the step (mkdir -p, write `index`, read it back, list the directory). The
// engine's builds/s divided by this program's is the cost of the loop, the hops to the lanes
// and the bookkeeping (bench/compare_reference.sh).
//
// Usage: reference_shared [--builds N] [--concurrency C] [--workdir DIR]
//                         [--checks engine|none] [--format text|json]
//   --checks engine (default) also makes the engine's per-open safety calls (fstat for
//   the file type, ftruncate for O_TRUNC, F_SETFL to clear O_NONBLOCK); none leaves them out, which shows
//   what those checks cost.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "bench/reference_syscalls.hpp"

namespace {

// The engine's cache directory for the shared scenario's mount under the buildah profile:
// roots/shared/buildah-cache-<euid>/<sha256("/var/cache/build:0:0")[:16]>. Same depth, so
// openat2 walks as many components as in the engine.
std::string cache_dir() { return "roots/shared/buildah-cache-" + std::to_string(::geteuid()) + "/63085e20e0068a54"; }

constexpr std::uint32_t k_payload_bytes = 512;  // shared.toml: size = 512
constexpr int k_ops_per_build = 3;              // write, read, list (the engine's ops.completed)
constexpr unsigned k_max_threads = 10'000;

struct Options {
  std::uint64_t builds = 2000;
  unsigned concurrency = 16;
  std::string workdir;
  Checks checks = Checks::engine;
  bool json = false;
};

struct Totals {
  std::atomic<std::uint64_t> next_build{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> torn{0};    // read back something that is not one intact record
  std::atomic<std::uint64_t> errors{0};  // a syscall failed unexpectedly
};

constexpr const char* k_usage =
    "usage: reference_shared [--builds N] [--concurrency C] [--workdir DIR] [--checks engine|none] "
    "[--format text|json]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "reference_shared: %s\n%s", message.c_str(), k_usage);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for_each_flag(argc, argv, k_usage, [&](std::string_view flag, std::string_view value) {
    if (flag == "--builds") {
      options.builds = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--concurrency") {
      options.concurrency = parse_number<unsigned>(flag, value);
    } else if (flag == "--workdir") {
      options.workdir = value;
    } else if (flag == "--checks" && (value == "engine" || value == "none")) {
      options.checks = value == "engine" ? Checks::engine : Checks::none;
    } else if (flag == "--format" && (value == "text" || value == "json")) {
      options.json = value == "json";
    } else {
      return false;
    }
    return true;
  });
  if (options.builds == 0) usage_error("--builds must be at least 1");
  if (options.concurrency < 1 || options.concurrency > k_max_threads) {
    usage_error("--concurrency must be between 1 and " + std::to_string(k_max_threads));
  }
  return options;
}

// False on an I/O error.
bool read_back(int root_fd, const std::string& path, Checks checks, bool& torn) {
  std::string content;
  const int rc = read_to_eof(root_fd, path.c_str(), checks, content);
  if (rc == -ENOENT) return true;  // another build's O_TRUNC cannot remove it; never expected
  if (rc != 0) return false;
  torn = engine_verdict(content, cachestress::model::ReadExpect::any, 0) == cachestress::oracle::Verdict::torn;
  return true;
}

// The engine's Root::count_entries: getdents64 on the O_DIRECTORY fd it opened itself (no
// fdopendir, which would add fstat, F_GETFL and F_SETFD calls the engine does not make).
bool list_dir(int root_fd, const std::string& dir) {
  const int fd = open_beneath(root_fd, dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  alignas(dirent64) char buffer[32768];
  std::size_t entries = 0;
  for (;;) {
    const ssize_t n = ::getdents64(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return n == 0 && entries >= 2;  // "." and ".." at least
    }
    for (ssize_t offset = 0; offset < n; offset += reinterpret_cast<const dirent64*>(buffer + offset)->d_reclen) ++entries;
  }
}

void worker(int root_fd, const Options& options, Totals& totals) {
  const std::string dir = cache_dir();
  const std::string index = dir + "/index";
  for (;;) {
    const std::uint64_t build = totals.next_build.fetch_add(1, std::memory_order_relaxed);
    if (build >= options.builds) return;
    bool torn = false;
    const bool ok = make_dirs(root_fd, dir) == 0 && write_whole(root_fd, index.c_str(), engine_record(build, "builder", k_payload_bytes), options.checks) &&
                    read_back(root_fd, index, options.checks, torn) && list_dir(root_fd, dir);
    if (!ok) totals.errors.fetch_add(1, std::memory_order_relaxed);
    if (torn) totals.torn.fetch_add(1, std::memory_order_relaxed);
    if (ok) totals.completed.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const std::string workspace = make_workspace("reference_shared", options.workdir);
  const int root_fd = ::open(workspace.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (root_fd < 0) {
    std::fprintf(stderr, "reference_shared: cannot open %s: %s\n", workspace.c_str(), std::strerror(errno));
    return 3;
  }

  Totals totals;
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> threads;
    threads.reserve(options.concurrency);
    for (unsigned i = 0; i < options.concurrency; ++i) {
      threads.emplace_back([&] { worker(root_fd, options, totals); });
    }
  }  // joins
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ::close(root_fd);
  std::error_code ignored;
  std::filesystem::remove_all(workspace, ignored);

  const auto completed = totals.completed.load();
  const double builds_per_s = static_cast<double>(completed) / seconds;
  const double ops_per_s = builds_per_s * k_ops_per_build;
  const char* checks = options.checks == Checks::engine ? "engine" : "none";
  if (options.json) {
    std::printf(
        "{\"builds\": %llu, \"concurrency\": %u, \"checks\": \"%s\", \"completed\": %llu, \"duration_s\": %.6f, "
        "\"builds_per_s\": %.1f, \"ops_per_s\": %.1f, \"torn\": %llu, \"errors\": %llu}\n",
        static_cast<unsigned long long>(options.builds), options.concurrency, checks,
        static_cast<unsigned long long>(completed), seconds, builds_per_s, ops_per_s,
        static_cast<unsigned long long>(totals.torn.load()), static_cast<unsigned long long>(totals.errors.load()));
  } else {
    std::printf("reference_shared: %llu builds, concurrency %u, checks %s: %.3f s, %.1f builds/s, %.1f ops/s, "
                "%llu torn reads, %llu errors\n",
                static_cast<unsigned long long>(completed), options.concurrency, checks, seconds, builds_per_s,
                ops_per_s, static_cast<unsigned long long>(totals.torn.load()),
                static_cast<unsigned long long>(totals.errors.load()));
  }
  return totals.errors.load() == 0 ? 0 : 1;
}
