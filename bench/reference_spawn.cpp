// reference_spawn: the floor for running a command many times at once, with no event loop,
// no output capture and no engine. One thread keeps C children in flight: posix_spawnp of
// the program (looked up on PATH by the child, as xargs's execvp and the engine's command
// backend look it up), then waitpid(-1) for whichever ends first, until N have run. A child
// that exits non-zero or cannot be spawned is counted as failed.
//
// The command backend does more per run than this: two pipes for the output it keeps, a
// pidfd, its own session, a cwd, the build's environment, the event loop around all of it.
// cachestress --scenario spawn divided by this program's rate is what all that costs; this
// program divided by `xargs -P C -n1 true` is as far ahead of xargs as any launcher can be
// on the machine (bench/ratios.sh prints both).
//
// Usage: reference_spawn [--builds N] [--concurrency C] [--program NAME] [--format text|json]
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

extern char** environ;

namespace {

constexpr unsigned k_max_concurrency = 10'000;

struct Options {
  std::uint64_t builds = 2000;
  unsigned concurrency = 16;
  std::string program = "true";
  bool json = false;
};

constexpr const char* k_usage =
    "usage: reference_spawn [--builds N] [--concurrency C] [--program NAME] [--format text|json]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "reference_spawn: %s\n%s", message.c_str(), k_usage);
  std::exit(2);
}

template <typename T>
T parse_count(std::string_view flag, std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) usage_error(std::string(flag) + ": not a number: " + std::string(text));
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::fputs(k_usage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error(std::string(flag) + ": needs a value");
    const std::string_view value = argv[++i];
    if (flag == "--builds") {
      options.builds = parse_count<std::uint64_t>(flag, value);
    } else if (flag == "--concurrency") {
      options.concurrency = parse_count<unsigned>(flag, value);
    } else if (flag == "--program" && !value.empty()) {
      options.program = value;
    } else if (flag == "--format" && (value == "text" || value == "json")) {
      options.json = value == "json";
    } else {
      usage_error("unknown flag or value: " + std::string(flag) + " " + std::string(value));
    }
  }
  if (options.builds == 0) usage_error("--builds must be at least 1");
  if (options.concurrency == 0 || options.concurrency > k_max_concurrency)
    usage_error("--concurrency must be between 1 and " + std::to_string(k_max_concurrency));
  return options;
}

struct Counts {
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
};

// Waits for any one child; false when there is none left to wait for.
bool reap_one(Counts& counts) {
  int status = 0;
  pid_t pid = 0;
  while ((pid = ::waitpid(-1, &status, 0)) < 0 && errno == EINTR) {
  }
  if (pid < 0) return false;
  ++(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? counts.completed : counts.failed);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  std::string program = options.program;  // posix_spawnp takes char* const argv[]
  char* const child_argv[] = {program.data(), nullptr};

  Counts counts;
  std::uint64_t started = 0;
  unsigned running = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (started < options.builds || running > 0) {
    while (running < options.concurrency && started < options.builds) {
      pid_t pid = 0;
      ++started;
      if (const int err = ::posix_spawnp(&pid, options.program.c_str(), nullptr, nullptr, child_argv, environ); err != 0) {
        if (counts.failed == 0) std::fprintf(stderr, "reference_spawn: %s: %s\n", options.program.c_str(), std::strerror(err));
        ++counts.failed;
        continue;
      }
      ++running;
    }
    if (running == 0) continue;
    if (!reap_one(counts)) {
      std::perror("reference_spawn: waitpid");
      return 3;
    }
    --running;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = static_cast<double>(counts.completed) / seconds;

  const auto builds = static_cast<unsigned long long>(options.builds);
  const auto completed = static_cast<unsigned long long>(counts.completed);
  const auto failed = static_cast<unsigned long long>(counts.failed);
  if (options.json) {
    std::printf("{\"builds\": %llu, \"concurrency\": %u, \"completed\": %llu, \"failed\": %llu, "
                "\"duration_s\": %.6f, \"builds_per_s\": %.1f}\n",
                builds, options.concurrency, completed, failed, seconds, rate);
  } else {
    std::printf("reference_spawn %s: %llu runs, concurrency %u: %.3f s, %.1f runs/s, %llu failed\n",
                options.program.c_str(), builds, options.concurrency, seconds, rate, failed);
  }
  return counts.failed == 0 ? 0 : 1;
}
