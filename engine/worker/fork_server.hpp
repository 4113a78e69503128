#pragma once
// `cachestress worker --serve`: the fork server of --backend process. Started once per run
// (engine/backend/worker_server.hpp), it forks a fresh process per build instead of the
// runner spawning and exec'ing `cachestress worker` each time: exec, the dynamic loader and
// the CLI setup are paid once. Each build is still its own process (its own lock ownership,
// its own TMPDIR, locks freed by the kernel when it dies), and it is the RUNNER's child
// (clone(CLONE_PARENT)): the runner watches, signals and reaps it through a pidfd as it would
// a spawned worker. Single-threaded, no event loop: it blocks in recvmsg.
//
// The link is a SOCK_SEQPACKET socket, the server's fd 0. One message each way per build:
//   request  header {magic, tmpdir bytes, plan bytes}, the TMPDIR value, the plan JSON;
//            SCM_RIGHTS: the workspace directory fd, the build's stderr, its event pipe
//   reply    the build's pid (> 0), or -errno when it could not be started
// and one reply with the server's own pid when it is ready. The runner closing its end ends
// the server (exit 0); the runner's death kills it (PR_SET_PDEATHSIG) and every build.
//
// A build's process: its own session, fd 0 /dev/null, fd 2 the stderr it was sent, fd 3 the
// event pipe, fd 4 the workspace directory (inherited, never reopened by path, so renaming a
// parent of --workdir cannot redirect it), nothing else open; TMPDIR set; then exactly the
// `cachestress worker` build (run_worker) and _exit with its status.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cachestress::worker {

inline constexpr std::uint32_t k_fork_request_magic = 0x4b524f46;  // "FORK"
inline constexpr std::size_t k_max_tmpdir_bytes = 4096;
// Set by the runner in the server's environment: the variables it added for the server alone
// (LD_BIND_NOW), comma-separated, which the server removes before its first build.
inline constexpr const char* k_fork_server_added_env = "CACHESTRESS_FORK_SERVER_ADDED";

// The runner's side. 0 or -errno (EMSGSIZE: larger than the socket takes).
int send_fork_request(int socket_fd, std::string_view tmpdir, std::string_view plan, int workspace_fd, int stderr_fd,
                      int event_fd) noexcept;
// Reads one reply: 0 and `pid` set (negative: the server's -errno), or -errno (EPIPE when the
// server is gone, EAGAIN when the socket's receive timeout ran out).
int read_fork_reply(int socket_fd, pid_t& pid) noexcept;

// The server's body on `socket_fd`; returns its exit status.
int serve_forks(int socket_fd);

}  // namespace cachestress::worker
