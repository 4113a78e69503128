#pragma once
// Starting a child without fork's cost: posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK),
// so no page tables are copied, however big the parent) plus a pidfd to learn of its exit on
// the loop. uv_spawn (libuv 1.44) forks; perf showed the page-table copy on top of the
// command backend's profile, and its spawn rate behind `xargs -P16` (bench/spawn_compare.sh).
// core::ChildProcess (child_process.hpp) is the one user; it falls back to uv_spawn where
// pidfds are unavailable.
//
// The child gets what uv_spawn would give it: each of fds 0-2 a pipe or /dev/null, fd 3 a
// pipe when asked for, its own session (so its own process group, and no controlling
// terminal), every signal at its default disposition and none blocked, the given
// environment, and argv[0] looked up in that environment's PATH (execvp's rules, including
// running a script without a shebang line with /bin/sh) while the program still sees argv[0]
// as written.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cachestress::core {

// Which of the child's fds are pipes to us; the others of 0-2 are /dev/null, and fd 3 is left
// alone when it is not a pipe.
struct LaunchPipes {
  bool in = false;   // fd 0: we hold the write end
  bool out = false;  // fd 1: we hold the read end
  bool err = false;  // fd 2: we hold the read end
  bool fd3 = false;  // fd 3: we hold the read end
  int in_from = -1;  // >= 0 (and `in` false): the child's fd 0 is a copy of this fd of ours
  // >= 0: the child's fd 4 is a copy of this fd of ours (a directory handed down by descriptor,
  // so no path, and no parent renamed under it, decides what the child opens).
  int fd4_from = -1;
};

struct Launched {
  pid_t pid = -1;
  int pidfd = -1;   // readable once the child has exited; reap with reap_pidfd
  // Our ends of the pipes asked for (close-on-exec, above fd 3), -1 for the others.
  int in_fd = -1;
  int out_fd = -1;
  int err_fd = -1;
  int fd3_fd = -1;
};

// True where pidfd_open works (Linux 5.3+, not blocked by a seccomp filter). Checked once.
// CACHESTRESS_NO_PIDFD=1 in the environment makes it false: the tests' way to run the
// uv_spawn fallback (what Linux < 5.4 gets) end to end on a kernel that has pidfds.
bool pidfd_launch_supported() noexcept;

// Starts argv with envp (each "KEY=VALUE") in cwd (empty: ours) with the given pipes.
// Returns 0 and fills `out`, or a libuv error code (UV_ENOENT, UV_EACCES...) with nothing
// left open or running.
int posix_launch(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& cwd,
                 const LaunchPipes& pipes, Launched& out);

// The pipes of `pipes`, made as posix_launch makes them (close-on-exec, both ends above fd 3):
// ours[fd] is the end we keep, theirs[fd] the end the child gets as fd; -1 where not wanted.
// 0, or a libuv error with nothing left open. For a launcher of our own (a fork server).
int make_launch_pipes(const LaunchPipes& pipes, int (&ours)[4], int (&theirs)[4]);

// pidfd_open(pid): an fd, or -errno.
int open_pidfd(pid_t pid) noexcept;

// For a launched child that cannot be watched after all (a handle failed to initialise):
// SIGKILLs its group and reaps it. The caller closes the fds.
void abandon_child(pid_t pid) noexcept;

// Sends `signum` to the process behind `pidfd` (not to its group). 0 or a libuv error.
int signal_pidfd(int pidfd, int signum) noexcept;

// Reaps the child behind `pidfd` if it has exited. Returns 0 and fills the status (exit code,
// or the signal that killed it), UV_EAGAIN when it still runs, or another libuv error.
int reap_pidfd(int pidfd, std::int64_t& exit_status, int& term_signal) noexcept;

// The file execvp would run for `name` under environment `env` (its PATH, or /bin:/usr/bin)
// in a child whose working directory is `cwd` (empty: ours), or a libuv error (UV_ENOENT,
// UV_EACCES). A relative result stays relative: the child resolves it after its chdir.
int resolve_program(const std::string& name, const std::vector<std::string>& env, const std::string& cwd,
                    std::string& path);

}  // namespace cachestress::core
