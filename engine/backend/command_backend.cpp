#include "engine/backend/command_backend.hpp"

#include <signal.h>

#include "engine/core/loop.hpp"
#include "engine/backend/recorder.hpp"

namespace cachestress::backend {
namespace {

using core::now_us;

}  // namespace

struct CommandBackend::Build {
  Build(core::Loop& loop, CommandBackend& owner, const BuildTicket& ticket)
      : id(ticket.id), kind(ticket.kind), root(ticket.root), gap(loop, [this, &owner] { owner.begin_step(*this); }) {}
  std::uint64_t id;
  int kind;
  std::string root;
  std::uint32_t step = 0;
  bool cancelled = false;
  bool running = false;  // its command is running (else: between steps, in the gap)
  std::uint64_t step_start_us = 0;
  core::Timer gap;
};

CommandBackend::CommandBackend(Context& context)
    : m_ctx(context),
      m_command(context.loop, context.scenario, context.workspace, context.failure_dir) {}

CommandBackend::~CommandBackend() = default;

// [command] setup (e.g. a local base image) runs before the first build is admitted.
void CommandBackend::prepare(std::function<void(std::string error)> ready) { m_command.prepare(std::move(ready)); }

void CommandBackend::interrupt_prepare(int /*signum*/) { m_command.stop_all(SIGTERM); }

// [command] teardown (e.g. stopping the daemon setup started) runs after the last build,
// before the runner removes the workspace.
void CommandBackend::teardown(std::function<void()> done) { m_command.teardown(std::move(done)); }

void CommandBackend::start_build(const BuildTicket& ticket) {
  auto owned = std::make_unique<Build>(m_ctx.loop, *this, ticket);
  Build& build = *owned;
  m_builds.emplace(ticket.id, std::move(owned));
  begin_step(build);
}

void CommandBackend::begin_step(Build& build) {
  if (build.step >= m_command.steps_of(build.kind)) {
    finish(build, {BuildEnd::completed, {}, false});
    return;
  }
  if (build.cancelled) {
    finish(build, {BuildEnd::interrupted, {}, false});
    return;
  }
  build.running = true;
  build.step_start_us = now_us();
  m_command.start_step(build.id, build.kind, build.step, build.root, build.cancelled,
                       [this, &build](command::StepVerdict verdict) { on_step_done(build, std::move(verdict)); });
}

void CommandBackend::on_step_done(Build& build, command::StepVerdict verdict) {
  build.running = false;
  if (verdict.interrupted || (build.cancelled && !verdict.ok)) {
    finish(build, {BuildEnd::interrupted, {}, false});
    return;
  }
  if (!verdict.ok) {
    if (verdict.polluter) {
      // A check saw another build's value or token: a foreign collision naming the writer.
      metrics::Collision collision;
      collision.kind = metrics::CollisionKind::foreign;
      collision.polluter_kind = m_ctx.recorder.kind_index(verdict.polluter->kind);
      collision.polluter_build = verdict.polluter->build.value_or(metrics::k_unknown_build);
      collision.victim_kind = build.kind;
      collision.victim_build = build.id;
      collision.file = verdict.polluter->build ? "output (token of build " + std::to_string(*verdict.polluter->build) + ")"
                                               : "output";
      collision.step = build.step;
      m_ctx.collector.collision(collision);
    }
    // The richer failure entry (log file, first lines, signature): recorded here.
    m_ctx.collector.command_failure(verdict.failure, build.id, build.kind, verdict.log_path,
                                    std::move(verdict.first_lines), verdict.signature);
    finish(build, {BuildEnd::failed, std::move(verdict.failure), true});
    return;
  }
  m_ctx.recorder.step_done(now_us() - build.step_start_us);
  // A kind without steps runs one command with no gap.
  const auto& steps = m_ctx.scenario.kinds[static_cast<std::size_t>(build.kind)].steps;
  const std::uint32_t gap_ms = build.step < steps.size() ? steps[build.step].gap_ms : 0;
  ++build.step;
  if (build.cancelled) {
    finish(build, {BuildEnd::interrupted, {}, false});
    return;
  }
  if (gap_ms > 0) {
    build.gap.start(gap_ms);
    return;
  }
  begin_step(build);
}

void CommandBackend::finish(Build& build, BuildResult result) {
  const std::uint64_t id = build.id;
  m_builds.erase(id);
  m_ctx.host.build_ended(id, std::move(result));
}

void CommandBackend::interrupt(std::uint64_t id, int /*signum*/) {
  auto it = m_builds.find(id);
  if (it == m_builds.end()) return;
  Build& build = *it->second;
  build.cancelled = true;
  if (build.running) {
    m_command.stop(build.id, SIGTERM);  // its exit ends the build (SIGKILL after the grace)
  } else {
    build.gap.stop();
    finish(build, {BuildEnd::interrupted, {}, false});
  }
}

void CommandBackend::kill_all_now() noexcept { m_command.kill_all(SIGKILL); }  // children live in their own sessions

}  // namespace cachestress::backend
