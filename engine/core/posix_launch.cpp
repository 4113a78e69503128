#include "engine/core/posix_launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace cachestress::core {
namespace {

// An fd closed when it goes out of scope unless released.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      m_fd = other.release();
    }
    return *this;
  }
  int get() const { return m_fd; }
  int release() { return std::exchange(m_fd, -1); }
  void reset() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
  }

 private:
  int m_fd = -1;
};

// A close-on-exec pipe whose ends are both above 0..3: when our own stdio is closed, pipe2
// can hand out fd 1 or 2 (or 3), and the child's dup2 onto 0..3 would then clobber a source
// not yet duplicated (and a dup2 of fd 3 onto itself would keep its close-on-exec flag).
int make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -errno;
  Fd ends[2] = {Fd(fds[0]), Fd(fds[1])};
  for (Fd& end : ends) {
    if (end.get() > 3) continue;
    const int moved = ::fcntl(end.get(), F_DUPFD_CLOEXEC, 4);
    if (moved < 0) return -errno;
    end = Fd(moved);
  }
  read_end = std::move(ends[0]);
  write_end = std::move(ends[1]);
  return 0;
}

// The pipes asked for: ours[fd] is the end we keep, theirs[fd] the end the child gets as fd.
int make_wanted_pipes(const LaunchPipes& pipes, Fd (&ours)[4], Fd (&theirs)[4]) {
  const bool wanted[4] = {pipes.in, pipes.out, pipes.err, pipes.fd3};
  for (int fd = 0; fd < 4; ++fd) {
    if (!wanted[fd]) continue;
    // fd 0: the child reads, we write; the others: the child writes, we read.
    const int rc = fd == 0 ? make_pipe(theirs[fd], ours[fd]) : make_pipe(ours[fd], theirs[fd]);
    if (rc != 0) return rc;
  }
  return 0;
}

struct FileActions {
  posix_spawn_file_actions_t raw;
  FileActions() { posix_spawn_file_actions_init(&raw); }
  ~FileActions() { posix_spawn_file_actions_destroy(&raw); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};

struct Attributes {
  posix_spawnattr_t raw;
  Attributes() { posix_spawnattr_init(&raw); }
  ~Attributes() { posix_spawnattr_destroy(&raw); }
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;
};

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));  // exec does not write them
  out.push_back(nullptr);
  return out;
}

std::string_view path_variable(const std::vector<std::string>& env) {
  constexpr std::string_view key = "PATH=";
  for (const auto& entry : env)
    if (entry.starts_with(key)) return std::string_view(entry).substr(key.size());
  return "/bin:/usr/bin";  // glibc's execvp default (confstr _CS_PATH)
}

}  // namespace

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37), so C++ cannot link its
// wrappers: call the system calls directly.
int open_pidfd(pid_t pid) noexcept {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  return fd >= 0 ? fd : -errno;
}

int make_launch_pipes(const LaunchPipes& pipes, int (&ours_out)[4], int (&theirs_out)[4]) {
  Fd ours[4], theirs[4];
  if (int rc = make_wanted_pipes(pipes, ours, theirs); rc != 0) return rc;
  for (int fd = 0; fd < 4; ++fd) {
    ours_out[fd] = ours[fd].release();
    theirs_out[fd] = theirs[fd].release();
  }
  return 0;
}

bool pidfd_launch_supported() noexcept {
  static const bool supported = [] {
    if (const char* off = std::getenv("CACHESTRESS_NO_PIDFD"); off != nullptr && std::string_view(off) == "1") return false;
    const int fd = open_pidfd(::getpid());
    if (fd < 0) return false;
    // waitid(P_PIDFD) came a release after pidfd_open (5.4): on our own pid it must say
    // ECHILD (not our child), not EINVAL.
    siginfo_t info{};
    const bool waitid_works = ::waitid(P_PIDFD, static_cast<id_t>(fd), &info, WEXITED | WNOHANG) < 0 && errno == ECHILD;
    ::close(fd);
    return waitid_works;
  }();
  return supported;
}

void abandon_child(pid_t pid) noexcept {
  // Just spawned and SIGKILLed: it dies at once, so this wait is short even on the loop.
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

int resolve_program(const std::string& name, const std::vector<std::string>& env, const std::string& cwd,
                    std::string& path) {
  if (name.empty()) return UV_ENOENT;
  if (name.find('/') != std::string::npos) {
    path = name;  // execvp does not search for a name with a slash
    return 0;
  }
  bool denied = false;
  std::string_view dirs = path_variable(env);
  while (true) {
    const std::size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    std::string candidate = dir.empty() ? name : std::string(dir) + "/" + name;  // "" is the cwd
    // The child execs after its chdir: a relative entry is looked up from there.
    const std::string seen_from_child = cwd.empty() || candidate.starts_with('/') ? candidate : cwd + "/" + candidate;
    struct stat st{};
    if (::stat(seen_from_child.c_str(), &st) == 0) {
      // AT_EACCESS: exec checks the effective ids, as execve will.
      if (S_ISREG(st.st_mode) && ::faccessat(AT_FDCWD, seen_from_child.c_str(), X_OK, AT_EACCESS) == 0) {
        path = std::move(candidate);
        return 0;
      }
      denied = true;  // execvp goes on searching, and says EACCES if nothing else is found
    } else if (errno == EACCES) {
      denied = true;  // a directory on PATH we may not search: execvp remembers that too
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return denied ? UV_EACCES : UV_ENOENT;
}

int posix_launch(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& cwd,
                 const LaunchPipes& pipes, Launched& out) {
  if (argv.empty()) return UV_EINVAL;
  std::string program;
  if (int rc = resolve_program(argv[0], env, cwd, program); rc != 0) return rc;

  // ours[fd] is the end we keep, theirs[fd] the end the child gets as fd (closed here after
  // the spawn: the child has its copy).
  const bool wanted[4] = {pipes.in, pipes.out, pipes.err, pipes.fd3};
  Fd ours[4], theirs[4];
  if (int rc = make_wanted_pipes(pipes, ours, theirs); rc != 0) return rc;

  FileActions actions;
  for (int fd = 0; fd < 4; ++fd) {
    if (wanted[fd]) {
      posix_spawn_file_actions_adddup2(&actions.raw, theirs[fd].get(), fd);
    } else if (fd == 0 && pipes.in_from >= 0) {
      posix_spawn_file_actions_adddup2(&actions.raw, pipes.in_from, 0);
    } else if (fd < 3) {
      posix_spawn_file_actions_addopen(&actions.raw, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    }
  }
  // fd 4 last, from a copy above 4: the dup2s onto 0-3 may clobber a low source fd, and a
  // pipe end of ours may itself be fd 4 (dup2 clears close-on-exec on the target only).
  Fd fd4_source;
  if (pipes.fd4_from >= 0) {
    fd4_source = Fd(::fcntl(pipes.fd4_from, F_DUPFD_CLOEXEC, 5));
    if (fd4_source.get() < 0) return -errno;
    posix_spawn_file_actions_adddup2(&actions.raw, fd4_source.get(), 4);
  }
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions.raw, cwd.c_str());

  Attributes attributes;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes.raw, &none);  // our loop's mask is not theirs
  posix_spawnattr_setsigdefault(&attributes.raw, &all);  // nor our ignored SIGPIPE
  // Its own session, as uv_spawn's UV_PROCESS_DETACHED gives: no controlling terminal (an
  // ssh asking for a password fails instead of stopping on SIGTTIN), and the session leader
  // leads its own process group, so kill(-pid) reaches what it starts.
  posix_spawnattr_setflags(&attributes.raw, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);

  const std::vector<char*> envp = pointers(env);
  const std::vector<char*> args = pointers(argv);  // argv[0] as the user wrote it, as execvp passes it
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, program.c_str(), &actions.raw, &attributes.raw, args.data(), envp.data());
  if (err == ENOEXEC) {
    // execvp runs a file the kernel cannot execute (a script without #!) with /bin/sh.
    std::vector<char*> sh_args{const_cast<char*>("/bin/sh"), program.data()};
    sh_args.insert(sh_args.end(), args.begin() + 1, args.end());
    err = ::posix_spawn(&pid, "/bin/sh", &actions.raw, &attributes.raw, sh_args.data(), envp.data());
  }
  if (err != 0) return -err;

  // Until it is reaped the child cannot vanish, so opening its pidfd now is race-free: only
  // uv_spawn'd pids are reaped by libuv's SIGCHLD handler, and ChildProcess::start makes sure
  // an inherited SIG_IGN for SIGCHLD does not let the kernel reap ours.
  const int pidfd = open_pidfd(pid);
  if (pidfd < 0) {  // EMFILE, ENFILE, ENOMEM
    abandon_child(pid);
    return pidfd;
  }
  out.pid = pid;
  out.pidfd = pidfd;
  out.in_fd = ours[0].release();
  out.out_fd = ours[1].release();
  out.err_fd = ours[2].release();
  out.fd3_fd = ours[3].release();
  return 0;
}

int signal_pidfd(int pidfd, int signum) noexcept {
  return ::syscall(SYS_pidfd_send_signal, pidfd, signum, nullptr, 0) == 0 ? 0 : -errno;
}

int reap_pidfd(int pidfd, std::int64_t& exit_status, int& term_signal) noexcept {
  siginfo_t info{};
  int rc = 0;
  do {
    rc = ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return errno == EAGAIN ? UV_EAGAIN : -errno;
  if (info.si_pid == 0) return UV_EAGAIN;
  if (info.si_code == CLD_EXITED) {
    exit_status = info.si_status;
    term_signal = 0;
  } else {
    exit_status = 0;
    term_signal = info.si_status;  // CLD_KILLED or CLD_DUMPED
  }
  return 0;
}

}  // namespace cachestress::core
