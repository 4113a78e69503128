// reference_locked: the `sharing = "locked"` handoff with no event loop and no engine.
//
// Per build it makes exactly the syscalls the engine's locked path makes for a step
// `lock -> write -> read back -> unlock` (bench/ratios.sh's handoff scenario, Buildah
// semantics, one cache shared by all builds):
//   mkdir -p of the lock file's directory (one O_PATH probe), open the lock file
//   (openat2 + the engine's fstat/F_SETFL checks), try the lock, block on it when
//   held (F_OFD_SETLKW / F_SETLKW / flock), mkdir -p of the cache directory (probe), open
//   O_TRUNC + write + close, open + read to EOF + close, unlock, close. The record written
//   and checked is the engine's own (a `--size`-byte payload under the engine's header).
// --mode threads runs N threads of one process, --mode processes N forked processes (both
// take builds from one shared counter); --mode handoff is the floor: N processes each with
// the lock file open once, looping on F_SETLKW -> pwrite a token -> pread and verify ->
// unlock, with no open, mkdir or close per handoff.
//
// Usage: reference_locked [--mode threads|processes|handoff] [--builds N] [--concurrency C]
//                         [--lock-kind ofd|fcntl|flock] [--size BYTES] [--workdir DIR]
//                         [--format text|json]
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "bench/reference_syscalls.hpp"

namespace {

enum class Mode { threads, processes, handoff };
enum class Kind { ofd, fcntl, flock };

struct Options {
  Mode mode = Mode::threads;
  std::uint64_t builds = 20000;
  unsigned concurrency = 16;
  Kind kind = Kind::ofd;
  std::uint32_t size = 64;
  std::string workdir;
  bool json = false;
};

// Lives in a MAP_SHARED page so forked processes count into the same totals.
struct Totals {
  std::atomic<std::uint64_t> next_build{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> torn{0};    // read back something other than this build's record
  std::atomic<std::uint64_t> errors{0};  // a syscall failed unexpectedly
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "counters must work across fork");

constexpr unsigned k_max_workers = 10'000;
constexpr const char* k_usage =
    "usage: reference_locked [--mode threads|processes|handoff] [--builds N] [--concurrency C] "
    "[--lock-kind ofd|fcntl|flock] [--size BYTES] [--workdir DIR] [--format text|json]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "reference_locked: %s\n%s", message.c_str(), k_usage);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for_each_flag(argc, argv, k_usage, [&](std::string_view flag, std::string_view value) {
    if (flag == "--mode" && (value == "threads" || value == "processes" || value == "handoff")) {
      options.mode = value == "threads" ? Mode::threads : value == "processes" ? Mode::processes : Mode::handoff;
    } else if (flag == "--builds") {
      options.builds = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--concurrency") {
      options.concurrency = parse_number<unsigned>(flag, value);
    } else if (flag == "--lock-kind" && (value == "ofd" || value == "fcntl" || value == "flock")) {
      options.kind = value == "ofd" ? Kind::ofd : value == "fcntl" ? Kind::fcntl : Kind::flock;
    } else if (flag == "--size") {
      options.size = parse_number<std::uint32_t>(flag, value);
    } else if (flag == "--workdir") {
      options.workdir = value;
    } else if (flag == "--format" && (value == "text" || value == "json")) {
      options.json = value == "json";
    } else {
      return false;
    }
    return true;
  });
  if (options.builds == 0) usage_error("--builds must be at least 1");
  if (options.concurrency < 1 || options.concurrency > k_max_workers) {
    usage_error("--concurrency must be between 1 and " + std::to_string(k_max_workers));
  }
  if (options.size < 16 || options.size > 65536) usage_error("--size must be between 16 and 65536");
  if (options.mode == Mode::threads && options.kind == Kind::fcntl) {
    usage_error("--mode threads with --lock-kind fcntl: threads of one process never exclude each other");
  }
  return options;
}

// The engine's layout for one Buildah locked cache under a shared root (same depth).
const std::string k_lock_dir = "roots/shared/buildah-cache-0/buildah-cache-lockfiles/63085e20e0068a54";
const std::string k_lock_file = k_lock_dir + "/buildah-cache-lockfile";
const std::string k_cache_dir = "roots/shared/buildah-cache-0/63085e20e0068a54";
const std::string k_index = k_cache_dir + "/index";

int lock_call(int fd, Kind kind, bool wait, short type) {
  if (kind == Kind::flock) {
    const int op = type == F_UNLCK ? LOCK_UN : LOCK_EX | (wait ? 0 : LOCK_NB);
    return ::flock(fd, op) == 0 ? 0 : -errno;
  }
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  const int cmd = kind == Kind::ofd ? (wait ? F_OFD_SETLKW : F_OFD_SETLK) : (wait ? F_SETLKW : F_SETLK);
  return ::fcntl(fd, cmd, &fl) == 0 ? 0 : -errno;
}

// The raw handoff's record: a header naming it, padded to `size` bytes.
std::string make_record(std::uint64_t build, std::uint32_t size) {
  std::string record = "ref " + std::to_string(build) + " ";
  record.resize(size - 1, static_cast<char>('a' + build % 26));
  record += '\n';
  return record;
}

bool read_back(int root_fd, std::uint64_t build, bool& torn) {
  std::string content;
  if (read_to_eof(root_fd, k_index.c_str(), Checks::engine, content) != 0) return false;
  torn = engine_verdict(content, cachestress::model::ReadExpect::own, build) != cachestress::oracle::Verdict::ok;
  return true;
}

// One build of the engine's locked step.
bool one_build(int root_fd, const Options& options, std::uint64_t build, bool& torn) {
  if (make_dirs(root_fd, k_lock_dir) != 0) return false;
  const int lock_fd = open_file(root_fd, k_lock_file.c_str(), O_RDWR | O_CREAT, Checks::engine);
  if (lock_fd < 0) return false;
  int rc = lock_call(lock_fd, options.kind, false, F_WRLCK);
  if (rc == -EAGAIN || rc == -EACCES || rc == -EWOULDBLOCK) {
    do rc = lock_call(lock_fd, options.kind, true, F_WRLCK);
    while (rc == -EINTR);
  }
  bool ok = rc == 0;
  if (ok) {
    const std::string record = engine_record(build, "handoff", options.size);
    ok = make_dirs(root_fd, k_cache_dir) == 0 && write_whole(root_fd, k_index.c_str(), record, Checks::engine) && read_back(root_fd, build, torn);
    (void)lock_call(lock_fd, options.kind, false, F_UNLCK);
  }
  ::close(lock_fd);
  return ok;
}

void build_loop(int root_fd, const Options& options, Totals& totals) {
  for (;;) {
    const std::uint64_t build = totals.next_build.fetch_add(1, std::memory_order_relaxed);
    if (build >= options.builds) return;
    bool torn = false;
    if (!one_build(root_fd, options, build, torn)) totals.errors.fetch_add(1, std::memory_order_relaxed);
    else totals.completed.fetch_add(1, std::memory_order_relaxed);
    if (torn) totals.torn.fetch_add(1, std::memory_order_relaxed);
  }
}

// The floor: the lock file and the data file open once, only the handoff per iteration.
void handoff_loop(int root_fd, const Options& options, Totals& totals) {
  const int lock_fd = open_file(root_fd, k_lock_file.c_str(), O_RDWR | O_CREAT, Checks::none);
  const int data_fd = open_file(root_fd, k_index.c_str(), O_RDWR | O_CREAT, Checks::none);
  if (lock_fd < 0 || data_fd < 0) {
    totals.errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::string back(options.size, '\0');
  for (;;) {
    const std::uint64_t build = totals.next_build.fetch_add(1, std::memory_order_relaxed);
    if (build >= options.builds) break;
    int rc;
    do rc = lock_call(lock_fd, options.kind, true, F_WRLCK);
    while (rc == -EINTR);
    const std::string record = make_record(build, options.size);
    const bool ok = rc == 0 && ::pwrite(data_fd, record.data(), record.size(), 0) == static_cast<ssize_t>(record.size()) &&
                    ::pread(data_fd, back.data(), back.size(), 0) == static_cast<ssize_t>(back.size());
    if (rc == 0) (void)lock_call(lock_fd, options.kind, false, F_UNLCK);
    if (!ok) totals.errors.fetch_add(1, std::memory_order_relaxed);
    else totals.completed.fetch_add(1, std::memory_order_relaxed);
    if (ok && back != record) totals.torn.fetch_add(1, std::memory_order_relaxed);
  }
  ::close(data_fd);
  ::close(lock_fd);
}

const char* mode_name(Mode mode) {
  return mode == Mode::threads ? "threads" : mode == Mode::processes ? "processes" : "handoff";
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const std::string workspace = make_workspace("reference_locked", options.workdir);
  const int root_fd = ::open(workspace.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (root_fd < 0) {
    std::fprintf(stderr, "reference_locked: cannot open %s: %s\n", workspace.c_str(), std::strerror(errno));
    return 3;
  }
  void* page = ::mmap(nullptr, sizeof(Totals), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    std::perror("reference_locked: mmap");
    return 3;
  }
  auto* totals = new (page) Totals{};
  // The directories and files exist before the clock starts (the engine's first build makes
  // them too, once; every later build only probes).
  if (make_dirs(root_fd, k_lock_dir) != 0 || make_dirs(root_fd, k_cache_dir) != 0) {
    std::fprintf(stderr, "reference_locked: cannot create directories in %s\n", workspace.c_str());
    return 3;
  }

  const auto start = std::chrono::steady_clock::now();
  if (options.mode == Mode::threads) {
    std::vector<std::jthread> threads;
    threads.reserve(options.concurrency);
    for (unsigned i = 0; i < options.concurrency; ++i) threads.emplace_back([&] { build_loop(root_fd, options, *totals); });
  } else {
    std::vector<pid_t> children;
    for (unsigned i = 0; i < options.concurrency; ++i) {
      const pid_t pid = ::fork();
      if (pid < 0) {
        std::perror("reference_locked: fork");
        totals->next_build.store(options.builds);  // stops the others
        break;
      }
      if (pid == 0) {
        if (options.mode == Mode::handoff) handoff_loop(root_fd, options, *totals);
        else build_loop(root_fd, options, *totals);
        std::_Exit(0);
      }
      children.push_back(pid);
    }
    for (const pid_t pid : children) {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) totals->errors.fetch_add(1);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ::close(root_fd);
  std::error_code ignored;
  std::filesystem::remove_all(workspace, ignored);

  const auto completed = totals->completed.load();
  const double builds_per_s = static_cast<double>(completed) / seconds;
  if (options.json) {
    std::printf("{\"mode\": \"%s\", \"builds\": %llu, \"concurrency\": %u, \"completed\": %llu, \"duration_s\": %.6f, "
                "\"builds_per_s\": %.1f, \"torn\": %llu, \"errors\": %llu}\n",
                mode_name(options.mode), static_cast<unsigned long long>(options.builds), options.concurrency,
                static_cast<unsigned long long>(completed), seconds, builds_per_s,
                static_cast<unsigned long long>(totals->torn.load()), static_cast<unsigned long long>(totals->errors.load()));
  } else {
    std::printf("reference_locked --mode %s: %llu builds, concurrency %u: %.3f s, %.1f builds/s, %llu torn, %llu errors\n",
                mode_name(options.mode), static_cast<unsigned long long>(completed), options.concurrency, seconds,
                builds_per_s, static_cast<unsigned long long>(totals->torn.load()),
                static_cast<unsigned long long>(totals->errors.load()));
  }
  return totals->errors.load() == 0 && totals->torn.load() == 0 ? 0 : 1;
}
