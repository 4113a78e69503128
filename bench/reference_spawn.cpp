// reference_spawn: the floor for running a command many times at once, with no event loop
// and no engine. One thread keeps C children in flight until N have run: posix_spawnp of the
// program (looked up on PATH by the child, as xargs's execvp and the engine's command backend
// look it up). A child that exits non-zero or cannot be spawned is counted as failed.
//
//   --mode bare (the floor): posix_spawnp, then waitpid(-1) for whichever child ends first.
//   --mode capture: the command backend's syscalls without its loop: stdout and stderr each
//     through a pipe read to EOF, stdin from /dev/null, a pidfd per child, one poll() over
//     all of them, waitid(P_PIDFD) when the pidfd says the child has ended.
//
// The command backend also gives each child its own session, a cwd and the build's
// environment, and has the event loop and the bookkeeping around it. cachestress
// --scenario spawn divided by --mode capture is what the loop and the bookkeeping cost; by
// --mode bare, what everything costs; --mode bare divided by `xargs -P C -n1 true` is as far
// ahead of xargs as any launcher can be on the machine (bench/ratios.sh prints all three).
//
// Usage: reference_spawn [--mode bare|capture] [--builds N] [--concurrency C] [--program NAME]
//                        [--format text|json]
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/reference_options.hpp"

extern char** environ;

namespace {

constexpr unsigned k_max_concurrency = 10'000;

enum class Mode { bare, capture };

struct Options {
  Mode mode = Mode::bare;
  std::uint64_t builds = 2000;
  unsigned concurrency = 16;
  std::string program = "true";
  bool json = false;
};

constexpr const char* k_usage =
    "usage: reference_spawn [--mode bare|capture] [--builds N] [--concurrency C] [--program NAME] "
    "[--format text|json]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "reference_spawn: %s\n%s", message.c_str(), k_usage);
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for_each_flag(argc, argv, k_usage, [&](std::string_view flag, std::string_view value) {
    if (flag == "--mode" && (value == "bare" || value == "capture")) {
      options.mode = value == "bare" ? Mode::bare : Mode::capture;
    } else if (flag == "--builds") {
      options.builds = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--concurrency") {
      options.concurrency = parse_number<unsigned>(flag, value);
    } else if (flag == "--program" && !value.empty()) {
      options.program = value;
    } else if (flag == "--format" && (value == "text" || value == "json")) {
      options.json = value == "json";
    } else {
      return false;
    }
    return true;
  });
  if (options.builds == 0) usage_error("--builds must be at least 1");
  if (options.concurrency == 0 || options.concurrency > k_max_concurrency)
    usage_error("--concurrency must be between 1 and " + std::to_string(k_max_concurrency));
  return options;
}

struct Counts {
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;
  void add(bool ok) { ++(ok ? completed : failed); }
};

bool exited_zero(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

// Spawns one child; false (counted as failed, the first error printed) when it cannot.
bool spawn(const Options& options, char* const argv[], const posix_spawn_file_actions_t* actions, pid_t& pid,
           Counts& counts) {
  if (const int err = ::posix_spawnp(&pid, options.program.c_str(), actions, nullptr, argv, environ); err != 0) {
    if (counts.failed == 0) std::fprintf(stderr, "reference_spawn: %s: %s\n", options.program.c_str(), std::strerror(err));
    counts.add(false);
    return false;
  }
  return true;
}

// --mode bare: spawn, and wait for whichever child ends first.
void run_bare(const Options& options, char* const argv[], Counts& counts) {
  std::uint64_t started = 0;
  unsigned running = 0;
  while (started < options.builds || running > 0) {
    while (running < options.concurrency && started < options.builds) {
      pid_t pid = 0;
      ++started;
      if (spawn(options, argv, nullptr, pid, counts)) ++running;
    }
    if (running == 0) continue;
    int status = 0;
    pid_t pid = 0;
    while ((pid = ::waitpid(-1, &status, 0)) < 0 && errno == EINTR) {
    }
    if (pid < 0) {
      std::perror("reference_spawn: waitpid");
      std::exit(3);
    }
    counts.add(exited_zero(status));
    --running;
  }
}

// One child of --mode capture: its output pipes (ours to read), its pidfd, its end.
struct Child {
  int out = -1, err = -1, pidfd = -1;
  bool ended = false;
  bool ok = false;
  bool done() const { return ended && out < 0 && err < 0; }
};

// Spawns one child with its output through pipes; false when it could not be started.
bool start_captured(const Options& options, char* const argv[], Child& child, Counts& counts) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    std::perror("reference_spawn: pipe2");
    std::exit(3);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  pid_t pid = 0;
  const bool spawned = spawn(options, argv, &actions, pid, counts);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (!spawned) {
    ::close(out[0]);
    ::close(err[0]);
    return false;
  }
  child = Child{out[0], err[0], static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
  if (child.pidfd < 0) {
    std::perror("reference_spawn: pidfd_open");
    std::exit(3);
  }
  return true;
}

// Reads what is there; closes the pipe at EOF.
void drain(int& fd) {
  char buffer[65536];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n > 0 || (n < 0 && errno == EINTR)) return;
  ::close(fd);
  fd = -1;
}

void reap(Child& child) {
  siginfo_t info{};
  while (::waitid(P_PIDFD, static_cast<id_t>(child.pidfd), &info, WEXITED) < 0 && errno == EINTR) {
  }
  child.ended = true;
  child.ok = info.si_code == CLD_EXITED && info.si_status == 0;
}

// --mode capture: every open pipe and pidfd in one poll(); a child is done when it has
// ended and both its pipes are at EOF.
void run_captured(const Options& options, char* const argv[], Counts& counts) {
  std::vector<Child> children;
  std::vector<pollfd> fds;
  std::vector<std::pair<std::size_t, int Child::*>> owners;  // owners[i]: whose fd fds[i] is
  std::uint64_t started = 0;
  while (started < options.builds || !children.empty()) {
    while (children.size() < options.concurrency && started < options.builds) {
      ++started;
      if (Child child; start_captured(options, argv, child, counts)) children.push_back(child);
    }
    if (children.empty()) continue;
    fds.clear();
    owners.clear();
    for (std::size_t c = 0; c < children.size(); ++c) {
      for (int Child::*field : {&Child::out, &Child::err, &Child::pidfd}) {
        const Child& child = children[c];
        if (child.*field < 0 || (field == &Child::pidfd && child.ended)) continue;
        fds.push_back({child.*field, POLLIN, 0});
        owners.emplace_back(c, field);
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("reference_spawn: poll");
      std::exit(3);
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto [c, field] = owners[i];
      if (field == &Child::pidfd) {
        reap(children[c]);
      } else {
        drain(children[c].*field);
      }
    }
    for (std::size_t i = 0; i < children.size();) {
      if (!children[i].done()) {
        ++i;
        continue;
      }
      ::close(children[i].pidfd);
      counts.add(children[i].ok);
      children[i] = children.back();
      children.pop_back();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  std::string program = options.program;  // posix_spawnp takes char* const argv[]
  char* const child_argv[] = {program.data(), nullptr};

  Counts counts;
  const auto t0 = std::chrono::steady_clock::now();
  if (options.mode == Mode::bare) {
    run_bare(options, child_argv, counts);
  } else {
    run_captured(options, child_argv, counts);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = static_cast<double>(counts.completed) / seconds;

  const char* mode = options.mode == Mode::bare ? "bare" : "capture";
  const auto builds = static_cast<unsigned long long>(options.builds);
  const auto completed = static_cast<unsigned long long>(counts.completed);
  const auto failed = static_cast<unsigned long long>(counts.failed);
  if (options.json) {
    std::printf("{\"mode\": \"%s\", \"builds\": %llu, \"concurrency\": %u, \"completed\": %llu, \"failed\": %llu, "
                "\"duration_s\": %.6f, \"builds_per_s\": %.1f}\n",
                mode, builds, options.concurrency, completed, failed, seconds, rate);
  } else {
    std::printf("reference_spawn --mode %s %s: %llu runs, concurrency %u: %.3f s, %.1f runs/s, %llu failed\n", mode,
                options.program.c_str(), builds, options.concurrency, seconds, rate, failed);
  }
  return counts.failed == 0 ? 0 : 1;
}
