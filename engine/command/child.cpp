#include "engine/command/child.hpp"

#include <utility>

namespace cachestress::command {

void Child::start(Spec spec, DoneFn done) {
  core::ChildProcess::Spec launch;
  launch.argv = std::move(spec.argv);
  launch.env = std::move(spec.env);
  launch.cwd = std::move(spec.cwd);
  launch.out = {core::Capture::Keep::head, k_max_capture};
  launch.err = {core::Capture::Keep::head, k_max_capture};
  launch.timeout_ms = spec.timeout_ms;
  launch.kill_grace_ms = k_kill_grace_ms;
  launch.launcher = spec.launcher;
  launch.end_group_on_exit = spec.end_group_on_exit;
  if (spec.past_limit) {
    m_past_limit = std::move(spec.past_limit);
    launch.out.past_limit = [this](std::string_view chunk) { m_past_limit(model::OutputStream::stdout_, m_process.out().text, chunk); };
    launch.err.past_limit = [this](std::string_view chunk) { m_past_limit(model::OutputStream::stderr_, m_process.err().text, chunk); };
  }
  launch.spawn_errors = core::ChildProcess::SpawnErrors::reported;  // `done` says it, not start()
  // Called only while this Child exists (the launcher calls nothing after its owner is gone).
  (void)m_process.start(std::move(launch), [this, done = std::move(done)](const core::ChildExit& exit) {
    ChildResult result;
    result.spawn_error = exit.spawn_error;
    result.exit_status = exit.exit_status;
    result.term_signal = exit.term_signal;
    result.timed_out = exit.timed_out;
    result.out = std::move(m_process.out().text);
    result.err = std::move(m_process.err().text);
    result.out_dropped = m_process.out().dropped;
    result.err_dropped = m_process.err().dropped;
    if (done) done(result);  // may destroy this Child: nothing here touches it afterwards
  });
}

}  // namespace cachestress::command
