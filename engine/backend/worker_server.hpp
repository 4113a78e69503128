#pragma once
// The runner's side of the process backend's fork server (`cachestress worker --serve`,
// engine/worker/fork_server.hpp): started once when the run prepares, asked for one build
// process per build, shut down when the run ends. A build started here is our own child
// (the server clones it with CLONE_PARENT), so core::ChildProcess watches it through a pidfd,
// signals its group and reaps it exactly as it would a spawned worker: launch() is its LaunchFn.
//
// The loop thread waits for the server's reply to a request (a clone, tens of microseconds;
// bounded by a receive timeout), as it waits in posix_spawn for a spawned child's exec. The
// server's start (its exec and loading) is waited for off the loop (core::queue_work).
// A server that dies or stops answering fails every later launch with the reason (no hang).
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/child_process.hpp"
#include "engine/core/loop.hpp"

namespace cachestress::backend {

class WorkerServer {
 public:
  // exe: our own binary; workspace_fd: the runner's workspace directory, sent with each request.
  WorkerServer(core::Loop& loop, std::string exe, int workspace_fd);
  ~WorkerServer();
  WorkerServer(const WorkerServer&) = delete;
  WorkerServer& operator=(const WorkerServer&) = delete;

  // Spawns the server; `ready` follows on the loop: empty once it answered, else why it cannot.
  void start(std::function<void(std::string error)> ready);
  // Starts one build process (core::ChildProcess::LaunchFn with the build's TMPDIR and plan).
  int launch(const std::string& tmpdir, const std::string& plan, const core::LaunchPipes& pipes, core::Launched& out);
  // Why launches fail now (the server died or broke the protocol), empty while it serves.
  const std::string& broken() const noexcept { return m_broken; }
  // The run ended: close our end, and the server exits by itself.
  void stop() noexcept;
  // The process is about to _exit: SIGKILL the server and reap it.
  void kill_now() noexcept;

 private:
  void fail(std::string why) noexcept;

  // Our end of the SOCK_SEQPACKET pair, closed by its last owner: the ready wait on the
  // threadpool may still read it after a stop() (which shuts it down, so that read ends).
  struct Link;
  core::Loop& m_loop;
  std::string m_exe;
  int m_workspace_fd;
  std::shared_ptr<Link> m_link;
  std::unique_ptr<core::ChildProcess> m_server;
  std::string m_broken;
  bool m_stopped = false;
};

// This process's environment, "KEY=VALUE" each.
std::vector<std::string> own_environment();

}  // namespace cachestress::backend
