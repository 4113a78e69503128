#include "engine/command/command_runner.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/core/printable.hpp"
#include "engine/model/failure.hpp"
#include "engine/core/error.hpp"
#include "engine/fs/output_file.hpp"
#include "engine/ops/failure_text.hpp"

extern char** environ;

namespace cachestress::command {
namespace {

// The first lines of a command's output: stderr's, then stdout's (errors usually go there).
std::vector<std::string> first_lines(const ChildResult& r, std::size_t limit) {
  std::vector<std::string> lines;
  for (const std::string* text : {&r.err, &r.out}) {
    std::size_t start = 0;
    while (start < text->size() && lines.size() < limit) {
      auto end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      // Escaped here, where output becomes report text: a JSON string must be UTF-8.
      if (end > start) lines.push_back(core::valid_utf8(std::string_view(*text).substr(start, std::min<std::size_t>(end - start, 300))));
      start = end + 1;
    }
  }
  return lines;
}

// One stream in a failure log: what was kept, and past the capture limit its last bytes
// (where a tool prints its error), with how many between them were not kept.
std::string stream_log(const char* name, const std::string& kept, std::uint64_t dropped, const OutputScan* scan,
                       model::OutputStream stream) {
  const auto end_line = [](std::string& text) {
    if (!text.empty() && text.back() != '\n') text += '\n';
  };
  std::string text = "# ---- " + std::string(name) + " (" + std::to_string(kept.size() + dropped) + " bytes) ----\n" + kept;
  end_line(text);
  if (dropped == 0) return text;
  const std::string_view tail = scan != nullptr ? scan->tail(stream) : std::string_view{};
  text += "# [" + std::to_string(dropped - tail.size()) + " more bytes not kept: capture limit" +
          (tail.empty() ? "" : "; its last " + std::to_string(tail.size()) + " bytes follow") + "]\n";
  text.append(tail);
  end_line(text);
  return text;
}

// mkdir -p for the failure log directory (outside the workspace: results/ or beside --out).
int make_parents(const std::string& dir) {
  for (std::size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    const std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return errno;
  }
  return 0;
}

}  // namespace

CommandRunner::CommandRunner(core::Loop& loop, const model::Scenario& scenario, const fs::Root& workspace,
                             std::string failure_dir)
    : m_loop(loop),
      m_scenario(scenario),
      m_spec(*scenario.command),
      m_workspace(workspace),
      m_workspace_path(workspace.proc_path()),
      m_failure_dir(std::move(failure_dir)),
      m_checks(compile_checks(m_spec.checks)),
      m_signatures(m_spec.signatures) {
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, "TMPDIR=", 7) == 0 || std::strncmp(*e, "CACHESTRESS_", 12) == 0) continue;
    m_base_env.emplace_back(*e);
  }
}

CommandRunner::~CommandRunner() = default;

std::uint32_t CommandRunner::steps_of(int kind) const {
  if (m_spec.per == model::CommandPer::build) return 1;
  const auto n = m_scenario.kinds[static_cast<std::size_t>(kind)].steps.size();
  return n == 0 ? 1 : static_cast<std::uint32_t>(n);
}

bool CommandRunner::refresh_workspace_path(std::string& error) {
  m_real_path = m_workspace.current_path();
  if (m_real_path.empty()) error = "the workspace directory is gone (removed while the run was going)";
  return !m_real_path.empty();
}

std::string CommandRunner::tmpdir_for(const std::string& root) const {
  // propagate: the build's own cache root is its TMPDIR. drop: the TMPDIR never reaches
  // the process that builds (podman-remote), so every command gets the server's.
  const bool drop = m_scenario.run.env_policy == model::EnvPolicy::drop;
  // A plain path (read from our descriptor at spawn): tools put their caches under TMPDIR
  // and bind-mount them inside their own mount namespace, where /proc/<pid>/fd does not resolve.
  return m_real_path + "/" + (drop ? std::string(k_server_root) : root);
}

void CommandRunner::prepare(std::function<void(std::string)> done) {
  const fs::Root* workspace = &m_workspace;
  auto made = std::make_shared<int>(0);
  core::queue_work(
      m_loop, [workspace, made] { *made = workspace->make_dirs(k_server_root); },
      [this, made, done = std::move(done)](int) mutable {
        if (std::string gone; !refresh_workspace_path(gone)) {
          done("[command] setup: " + gone);
          return;
        }
        if (*made < 0) {
          done("cannot create " + m_workspace_path + "/" + k_server_root + ": " + errno_text(-*made));
          return;
        }
        m_teardown_due = true;  // from here on, setup may have started something to stop
        if (m_spec.setup.empty()) {
          done("");
          return;
        }
        spdlog::debug("command setup: {}", join_words(m_spec.setup));
        m_setup = std::make_unique<Child>(m_loop.raw());
        m_setup->start(hook_spec(m_spec.setup, "setup", m_spec.timeout_ms), [this, done = std::move(done)](ChildResult& r) {
          std::string error = hook_failure(r);
          // One line: an error message's newlines print as a literal \n (core::printable).
          if (!error.empty()) error = "[command] setup " + error + " (setup = " + brief_command(m_spec.setup) + ")";
          done(std::move(error));
        });
      });
}

Child::Spec CommandRunner::hook_spec(const std::vector<std::string>& argv, const char* kind, std::uint32_t timeout_ms) const {
  Values values;
  values.kind = kind;
  values.tmpdir = m_workspace_path + "/" + k_server_root;
  values.workdir = m_workspace_path;
  values.realworkdir = m_real_path;
  Child::Spec spec;
  spec.argv = expand_all(argv, values);
  spec.env = m_base_env;
  spec.env.push_back("TMPDIR=" + m_real_path + "/" + k_server_root);
  for (const auto& [key, value] : m_spec.env) spec.env.push_back(key + "=" + expand(value, values));
  spec.cwd = m_spec.cwd.empty() ? m_workspace_path : expand(m_spec.cwd, values);
  spec.timeout_ms = timeout_ms;
  return spec;
}

// A hook's command on one line, cut short: a daemon's setup is a script of 2 KB or more,
// and the reason printed after it came at the end of 2.5 KB.
std::string CommandRunner::brief_command(const std::vector<std::string>& argv) {
  std::string command = join_words(argv);
  if (const auto cut = std::min(command.find('\n'), std::size_t{100}); cut < command.size()) command = command.substr(0, cut) + " ...";
  return command;
}

// Why a setup or teardown failed ("" when it did not), with the first lines of its output.
std::string CommandRunner::hook_failure(const ChildResult& r) {
  std::string error;
  if (r.spawn_error != 0) {
    error = "cannot start: " + uv_error_text(r.spawn_error);
  } else if (r.timed_out) {
    error = "timed out";
  } else if (r.term_signal != 0) {
    error = "killed by " + ops::signal_name(r.term_signal);
  } else if (r.exit_status != 0) {
    error = "exited " + std::to_string(r.exit_status);
  }
  if (error.empty()) return error;
  std::string tail;
  for (const auto& line : first_lines(r, k_first_lines)) tail += (tail.empty() ? "; its output: " : " | ") + line;
  return error + tail;
}

void CommandRunner::teardown(std::function<void()> done) {
  if (!m_teardown_due || m_spec.teardown.empty() || m_teardown) {
    done();
    return;
  }
  std::string gone;
  if (!refresh_workspace_path(gone)) {
    spdlog::warn("[command] teardown not run: {} (teardown = {})", gone, brief_command(m_spec.teardown));
    done();
    return;
  }
  // Bounded: [command] timeout, else k_teardown_timeout_ms (a teardown that hangs must not
  // hold the run, and the workspace, forever).
  const std::uint32_t timeout_ms = m_spec.timeout_ms > 0 ? m_spec.timeout_ms : model::k_teardown_timeout_ms;
  spdlog::debug("command teardown: {}", join_words(m_spec.teardown));
  m_teardown = std::make_unique<Child>(m_loop.raw());
  m_teardown->start(hook_spec(m_spec.teardown, "teardown", timeout_ms), [this, done = std::move(done)](ChildResult& r) {
    if (std::string error = hook_failure(r); !error.empty()) {
      spdlog::warn("[command] teardown {} (teardown = {})", error, brief_command(m_spec.teardown));
    }
    done();
  });
}

void CommandRunner::start_step(std::uint64_t build, int kind, std::uint32_t step, const std::string& root,
                               const bool& cancelled, std::function<void(StepVerdict)> done) {
  // A shared or per-group root is made once; a per-build root before each build's first step.
  const bool per_build = m_scenario.run.isolation.kind == model::IsolationKind::per_build;
  if (step > 0 || (!per_build && m_made_roots.contains(root))) {
    spawn(build, kind, step, root, cancelled, std::move(done));
    return;
  }
  // The build's cache root (its TMPDIR) must exist before its first command runs.
  const fs::Root* workspace = &m_workspace;
  auto made = std::make_shared<int>(0);
  core::queue_work(
      m_loop, [workspace, root, made] { *made = workspace->make_dirs(root); },
      [this, build, kind, step, root, made, per_build, &cancelled, done = std::move(done)](int) mutable {
        if (cancelled) {
          StepVerdict v;
          v.interrupted = true;
          done(std::move(v));
          return;
        }
        if (*made == 0 && !per_build) m_made_roots.insert(root);
        if (*made < 0) {
          StepVerdict v;
          v.ok = false;
          v.failure = model::failure_reason(model::FailureCategory::io, "cannot create the build's TMPDIR " + root + ": " + errno_text(-*made));
          done(std::move(v));
          return;
        }
        spawn(build, kind, step, root, cancelled, std::move(done));
      });
}

void CommandRunner::spawn(std::uint64_t build, int kind, std::uint32_t step, const std::string& root,
                          const bool& cancelled, std::function<void(StepVerdict)> done) {
  const auto& kind_model = m_scenario.kinds[static_cast<std::size_t>(kind)];
  if (std::string gone; !refresh_workspace_path(gone)) {
    StepVerdict v;
    v.ok = false;
    v.failure = model::failure_reason(model::FailureCategory::io, gone);
    done(std::move(v));
    return;
  }
  Values values;
  values.build = build;
  values.kind = kind_model.name;
  values.step = step;
  values.token = token_for(build, kind_model.name, step);
  values.tmpdir = m_workspace_path + "/" + root;
  values.workdir = m_workspace_path;
  values.realworkdir = m_real_path;
  const bool own_step_command = m_spec.per == model::CommandPer::step && step < kind_model.steps.size() &&
                                !kind_model.steps[step].command.empty();
  const auto& words = own_step_command ? kind_model.steps[step].command : m_spec.run;
  Child::Spec spec;
  spec.argv = expand_all(words, values);
  spec.env = m_base_env;
  spec.env.push_back("TMPDIR=" + tmpdir_for(root));
  spec.env.push_back("CACHESTRESS_BUILD=" + std::to_string(build));
  spec.env.push_back("CACHESTRESS_KIND=" + values.kind);
  spec.env.push_back("CACHESTRESS_STEP=" + std::to_string(step));
  spec.env.push_back("CACHESTRESS_TOKEN=" + values.token);
  for (const auto& [key, value] : m_spec.env) spec.env.push_back(key + "=" + expand(value, values));
  spec.cwd = m_spec.cwd.empty() ? m_workspace_path : expand(m_spec.cwd, values);
  spec.timeout_ms = m_scenario.run.build_timeout_ms > 0 ? m_scenario.run.build_timeout_ms : m_spec.timeout_ms;
  // A build's background processes end with it, as in a RUN step: left running they kept a
  // pipe open (a 1 s drain counted in its time) and wrote into the workspace after its removal.
  spec.end_group_on_exit = true;

  InFlight& in_flight = m_children[build];
  in_flight.child = std::make_unique<Child>(m_loop.raw());
  in_flight.argv = spec.argv;
  in_flight.program = words.front();
  in_flight.values = std::move(values);
  spec.past_limit = [this, build](model::OutputStream stream, std::string_view kept, std::string_view chunk) {
    scan_past_limit(m_children.at(build), stream, kept, chunk);
  };
  in_flight.child->start(std::move(spec), [this, build, &cancelled, done = std::move(done)](ChildResult& result) {
    // Keep the child alive until this callback returns; the next step may start a new one.
    auto node = m_children.extract(build);
    if (cancelled && result.spawn_error == 0) {
      // Ended by our interrupt (whatever it exited with): not a failure, so no failure log.
      StepVerdict v;
      v.interrupted = true;
      done(std::move(v));
      return;
    }
    done(judge(node.mapped(), result));
  });
}

void CommandRunner::scan_past_limit(InFlight& step, model::OutputStream stream, std::string_view kept, std::string_view chunk) {
  if (!step.scan) {
    const auto& v = step.values;
    step.scan = std::make_unique<OutputScan>(m_checks, m_signatures, StepOutput{v.kind, v.step, v.token, {}, {}, &v});
  }
  step.scan->feed(stream, kept, chunk);
}

StepVerdict CommandRunner::judge(InFlight& step, ChildResult& r) {
  const Values& values = step.values;
  const auto& argv = step.argv;
  const std::uint64_t build = values.build;
  const std::string& kind_name = values.kind;
  OutputScan* scan = step.scan.get();
  if (scan != nullptr) scan->finish();
  StepVerdict v;
  if (r.spawn_error != 0 && ops::out_of_resources(-r.spawn_error, true)) {
    v.failure = ops::resource_failure(step.program, -r.spawn_error);
  } else if (r.spawn_error != 0) {
    // The program as written ({build}, not 17), so the failure of every build groups as one.
    std::string why = step.program + ": " + uv_error_text(r.spawn_error);
    // posix_spawn reports its chdir's error as its own: name the other suspect.
    const bool path_error = r.spawn_error == UV_ENOENT || r.spawn_error == UV_ENOTDIR || r.spawn_error == UV_EACCES;
    if (path_error && !m_spec.cwd.empty()) why += " (the program, or the working directory [command] cwd = " + m_spec.cwd + ")";
    v.failure = model::failure_reason(model::FailureCategory::spawn, why);
  } else if (r.timed_out) {
    const bool flag = m_scenario.run.build_timeout_ms > 0;
    v.failure = ops::timeout_text(flag ? "--build-timeout" : "[command] timeout", flag ? m_scenario.run.build_timeout_ms : m_spec.timeout_ms,
                                  r.term_signal != 0 ? r.term_signal : SIGTERM);
  } else if (r.term_signal != 0) {
    v.failure = model::failure_reason(model::FailureCategory::signal, "killed by " + ops::signal_name(r.term_signal));
  } else if (r.exit_status != 0) {
    v.failure = model::failure_reason(model::FailureCategory::exit, "status " + std::to_string(r.exit_status));
  } else {
    // Judged on the whole output: what was kept, and what the scan saw stream past it.
    const auto checked = evaluate(m_checks, {kind_name, values.step, values.token, r.out, r.err, &values,
                                             scan != nullptr ? &scan->found() : nullptr});
    if (checked.passed) return v;
    v.failure = model::failure_reason(model::FailureCategory::check, checked.failed);  // the check as written
    v.polluter = checked.polluter;
  }
  v.ok = false;
  if (r.spawn_error == 0) {
    if (auto category = m_signatures.classify(r.out, r.err, scan != nullptr ? &scan->signatures_seen() : nullptr)) {
      v.signature = *category;
      v.failure += " [" + *category + "]";
    }
  }
  v.first_lines = first_lines(r, k_first_lines);
  std::string text = "# cachestress command backend: build " + std::to_string(build) + " kind " + kind_name + " step " +
                     std::to_string(values.step) + "\n# command: " + join_words(argv) + "\n# verdict: " + v.failure + "\n";
  text += stream_log("stdout", r.out, r.out_dropped, scan, model::OutputStream::stdout_);
  text += stream_log("stderr", r.err, r.err_dropped, scan, model::OutputStream::stderr_);
  keep_log(build, std::move(text), v);
  return v;
}

void CommandRunner::keep_log(std::uint64_t build, std::string text, StepVerdict& verdict) {
  if (m_failure_dir.empty()) return;
  verdict.log_path = m_failure_dir + "/" + std::to_string(build) + ".log";
  // Written on the threadpool (the loop never waits on the disk); the run's loop does not
  // end before it is done, so the report never names a log that is not there yet.
  core::queue_work(
      m_loop,
      [dir = m_failure_dir, path = verdict.log_path, text = std::move(text)] {
        if (int err = make_parents(dir); err != 0) {
          spdlog::warn("cannot create {}: {}", dir, errno_text(err));
          return;
        }
        try {
          if (!fs::write_new_file(path, text)) spdlog::warn("{} already exists: not replaced", path);
        } catch (const std::exception& e) {
          spdlog::warn("{}", e.what());
        }
      },
      [](int) {});
}

void CommandRunner::stop(std::uint64_t build, int signum) noexcept {
  if (auto it = m_children.find(build); it != m_children.end()) it->second.child->stop(signum);
}

void CommandRunner::stop_all(int signum) noexcept {
  for (auto& [build, step] : m_children) step.child->stop(signum);
  if (m_setup) m_setup->stop(signum);
}

void CommandRunner::kill_all(int signum) noexcept {
  for (auto& [build, step] : m_children) step.child->kill(signum);
  if (m_setup) m_setup->kill(signum);
  if (m_teardown) m_teardown->kill(signum);
}

}  // namespace cachestress::command
