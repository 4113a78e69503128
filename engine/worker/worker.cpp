#include "engine/worker/worker.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/core/loop.hpp"
#include "engine/model/failure.hpp"
#include "engine/core/error.hpp"
#include "engine/fs/safe_fs.hpp"
#include "engine/ops/failure_text.hpp"
#include "engine/ops/file_ops.hpp"
#include "engine/ops/rng.hpp"
#include "engine/semantics/profile.hpp"
#include "engine/worker/child_mounts.hpp"
#include "engine/worker/plan.hpp"
#include "engine/worker/protocol.hpp"

namespace cachestress::worker {
namespace {

namespace ev = protocol;

using core::now_us;

void sleep_ms(std::uint64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

using ops::errno_failure;

// Writes event lines to the event fd. A parent that went away shows up as EPIPE (or as
// SIGPIPE, the default in a worker process): either way this build stops mattering.
class EventSink {
 public:
  explicit EventSink(int fd) : m_fd(fd) {}
  // at_us: when it happened (default: now), on this process's core::now_us() clock.
  void send(const ev::Event& event, std::uint64_t at_us = now_us()) noexcept {
    if (m_broken) return;
    try {
      const std::string line = ev::encode_event(event, at_us);
      std::string_view rest = line;
      while (!rest.empty()) {
        const ssize_t n = ::write(m_fd, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          m_broken = true;
          return;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
      }
    } catch (const std::exception&) {
      m_broken = true;  // out of memory while encoding: nothing sensible left to report
    }
  }

 private:
  int m_fd;
  bool m_broken = false;
};

// TMPDIR must name a directory strictly beneath the workspace: "<workspace>/<safe relative>".
// The string check picks the relative part; make_dirs() beneath the workspace fd (openat2,
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) then proves it with the kernel.
std::string cache_root_from(const fs::Root& workspace, const char* tmpdir) {
  if (tmpdir == nullptr || *tmpdir == '\0') throw ev::ProtocolError("TMPDIR is not set: it carries the cache root");
  std::string dir = tmpdir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::string prefix = workspace.path() + "/";
  if (dir.compare(0, prefix.size(), prefix) != 0 || !fs::is_safe_relative(std::string_view(dir).substr(prefix.size()))) {
    throw ev::ProtocolError("TMPDIR \"" + dir + "\" is not beneath the workspace " + workspace.path());
  }
  std::string rel = dir.substr(prefix.size());
  if (int rc = workspace.make_dirs(rel); rc < 0) {
    throw ev::ProtocolError("TMPDIR \"" + dir + "\" cannot be used beneath the workspace: " + errno_text(-rc));
  }
  return rel;
}

class WorkerBuild {
 public:
  WorkerBuild(const Plan& plan, const fs::Root& workspace, std::string root, EventSink& sink)
      : m_plan(plan),
        m_workspace(workspace),
        m_profile(semantics::profile_for(plan.semantics)),
        m_mounts(workspace, m_profile, plan.lock_kind, root, plan.build, plan.kind.name),
        m_sink(sink),
        m_rng(plan.seed),
        m_root(std::move(root)) {}

  int run() {
    for (std::uint32_t step = 0; step < m_plan.kind.steps.size(); ++step) {
      if (!run_step(step)) return exit_failed;
      sleep_ms(m_plan.kind.steps[step].gap_ms);
    }
    m_sink.send(ev::Done{});
    return exit_done;
  }

 private:
  // False when the build failed (reported, mounts released).
  bool run_step(std::uint32_t step_index) {
    const model::Step& step = m_plan.kind.steps[step_index];
    const std::uint64_t start_us = now_us();
    for (const auto& mount : step.mounts) {
      if (auto why = m_profile.rejection(mount); !why.empty()) return fail(step_index, model::failure_reason(model::FailureCategory::rejected, why), false);
    }
    m_held.clear();
    m_held.reserve(step.mounts.size());
    for (std::uint32_t i = 0; i < step.mounts.size(); ++i) {
      ChildMount& held = m_held.emplace_back();
      const auto announce_wait = [&] { m_sink.send(ev::Waiting{step_index, i}); };
      if (int rc = m_mounts.acquire(step.mounts[i], held, announce_wait); rc < 0) {
        m_held.pop_back();
        if (rc == -EDEADLK) return fail(step_index, kernel_deadlock(step, i), false);
        return fail(step_index, errno_failure("lock", -rc), false);
      }
      m_sink.send(ev::Granted{step_index, i, held.sharing, held.wait_us, held.waited, held.instance, held.created},
                  held.granted_us);
      if (held.overlap) {
        m_sink.send(ev::LockOverlap{step_index, i, held.instance_dir, held.overlap->build, held.overlap->kind});
      }
    }
    if (!run_ops(step_index, step)) return false;
    release_all(step_index);
    m_sink.send(ev::StepDone{step_index, now_us() - start_us});
    return true;
  }

  // fcntl locks only: the kernel refused to let mount `wanted` wait, as the wait would close
  // a cycle. The other end is one of the locks this step holds; with just one (ABBA), the
  // failure reads as the runner's deadlock_text.
  std::string kernel_deadlock(const model::Step& step, std::uint32_t wanted) const {
    std::vector<std::string> held;
    for (std::uint32_t i = 0; i < m_held.size(); ++i) {
      if (m_held[i].sharing == model::Sharing::locked) held.push_back(step.mounts[i].label());
    }
    const std::string label = step.mounts[wanted].label();
    if (held.size() == 1) return ops::deadlock_text(label, held.front());
    std::string text = "the kernel refused to wait for " + label + " (EDEADLK) while holding";
    for (std::size_t i = 0; i < held.size(); ++i) text += (i == 0 ? " " : ", ") + held[i];
    return model::failure_reason(model::FailureCategory::deadlock, text);
  }

  // The same batches as the in-process runner: consecutive non-hold operations go through
  // ops::execute() together (the first batch also creates the mount directories).
  bool run_ops(std::uint32_t step_index, const model::Step& step) {
    bool mounted = false;
    std::size_t next = 0;
    while (!mounted || next < step.ops.size()) {
      if (next < step.ops.size() && step.ops[next].kind == model::OpKind::hold && mounted) {
        const auto& op = step.ops[next++];
        sleep_ms(op.hold_ms + m_rng.upto(op.jitter_ms));
        m_sink.send(ev::Op{step_index, model::OpKind::hold, {}, 0});
        continue;
      }
      ops::OpBatch batch;
      const ops::BatchOwner owner{m_plan.build, &m_plan.kind.name, step_index, &m_root};
      next = ops::fill_batch(batch, m_workspace, owner, step, next, !mounted, m_held.size(),
                             [this](std::size_t i) -> const std::string& { return m_held[i].instance_dir; }, m_seq);
      ops::execute(batch);
      mounted = true;
      if (batch.ensure_error != 0) return fail(step_index, errno_failure("mount", -batch.ensure_error), true);
      for (std::size_t i = 0; i < batch.items.size(); ++i) {
        if (!report_outcome(step_index, batch.items[i], batch.outcomes[i])) return false;
      }
    }
    return true;
  }

  bool report_outcome(std::uint32_t step_index, const ops::OpItem& item, const ops::OpOutcome& outcome) {
    const model::OpKind kind = item.op->kind;
    if (outcome.lock_fd >= 0) m_workload_locks.push_back(outcome.lock_fd);  // trylock: held until the step ends
    if (outcome.busy) return fail(step_index, model::failure_reason(model::FailureCategory::lock_busy, "could not get lock " + item.op->file), false);
    if (outcome.error != 0) return fail(step_index, errno_failure(model::to_string(kind), -outcome.error), true);
    m_sink.send(ev::Op{step_index, kind, item.path, outcome.bytes_written + outcome.bytes_read});
    if (!outcome.inspected || outcome.inspection.verdict == oracle::Verdict::ok) return true;
    ev::Collision collision;
    collision.step = step_index;
    collision.file = item.path;
    switch (outcome.inspection.verdict) {
      case oracle::Verdict::foreign: collision.kind = ev::CollisionKind::foreign; break;
      case oracle::Verdict::missing: collision.kind = ev::CollisionKind::missing; break;
      case oracle::Verdict::torn: collision.kind = ev::CollisionKind::torn; break;
      case oracle::Verdict::ok: return true;
    }
    // The file's token names its writer; otherwise (missing, unreadable) the parent may.
    if (const auto& writer = outcome.inspection.writer; writer && writer->build != m_plan.build) {
      collision.polluter_build = writer->build;
      collision.polluter_kind = writer->kind;
    }
    m_sink.send(collision);
    return true;
  }

  void release_all(std::uint32_t step_index) {
    const std::uint64_t now = now_us();
    for (int fd : m_workload_locks) ::close(fd);  // closing drops the trylock
    m_workload_locks.clear();
    for (std::size_t i = m_held.size(); i-- > 0;) {
      ChildMount& held = m_held[i];
      m_mounts.release(held);
      m_sink.send(ev::Released{step_index, static_cast<std::uint32_t>(i), held.sharing, now - held.granted_us}, now);
    }
    m_held.clear();
  }

  bool fail(std::uint32_t step_index, std::string reason, bool io_error) {
    release_all(step_index);
    m_sink.send(ev::Failed{std::move(reason), io_error});
    return false;
  }

  const Plan& m_plan;
  const fs::Root& m_workspace;
  const semantics::Profile& m_profile;
  ChildMounts m_mounts;
  EventSink& m_sink;
  ops::Rng m_rng;
  std::vector<ChildMount> m_held;
  std::vector<int> m_workload_locks;
  std::string m_root;  // the cache root, relative to the workspace
  std::uint32_t m_seq = 0;
};

}  // namespace

int run_worker(std::string_view plan_text, const char* tmpdir, int event_fd, int workspace_fd, KindCache* kinds) noexcept {
  EventSink sink(event_fd);
  std::optional<fs::Root> workspace;
  try {
    Plan plan;
    std::string root;
    try {
      plan = decode_plan(plan_text, kinds);
      try {
        if (workspace_fd >= 0) {
          workspace.emplace(fs::Root::adopt(std::exchange(workspace_fd, -1), plan.workspace));
        } else {
          workspace.emplace(fs::Root::open(plan.workspace));
        }
      } catch (const EnvironmentError& e) {
        throw ev::ProtocolError(std::string("workspace: ") + e.what());
      }
      root = cache_root_from(*workspace, tmpdir);
    } catch (const ev::ProtocolError& e) {
      if (workspace_fd >= 0) ::close(workspace_fd);  // not taken over yet
      sink.send(ev::Failed{model::failure_reason(model::FailureCategory::protocol, e.what()), false});
      return exit_protocol;
    }
    sink.send(ev::Hello{::getpid(), root});
    return WorkerBuild(plan, *workspace, root, sink).run();
  } catch (const std::exception& e) {
    if (workspace_fd >= 0) ::close(workspace_fd);
    sink.send(ev::Failed{model::failure_reason(model::FailureCategory::other, std::string("worker: ") + e.what()), false});
    return exit_failed;
  }
}

int worker_main(int event_fd, int workspace_fd) {
  // Die with the parent: a run that is SIGKILLed must not leave builds running.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::fcntl(event_fd, F_GETFD) < 0) {
    std::fprintf(stderr, "cachestress worker: event fd %d is not open (this command is run by --backend process)\n",
                 event_fd);
    return exit_protocol;
  }
  std::string plan;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    plan.append(buffer, static_cast<std::size_t>(n));
    if (plan.size() > k_max_plan_bytes) break;  // decode_plan() rejects it with the reason
  }
  if (workspace_fd >= 0) {
    // Must be a directory we were handed, not something else that happens to be open there.
    struct stat st{};
    if (::fstat(workspace_fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
      EventSink(event_fd).send(ev::Failed{
          model::failure_reason(model::FailureCategory::protocol,
                                "--workspace-fd " + std::to_string(workspace_fd) + " is not an open directory"),
          false});
      return exit_protocol;
    }
  }
  return run_worker(plan, std::getenv("TMPDIR"), event_fd, workspace_fd);
}

}  // namespace cachestress::worker
