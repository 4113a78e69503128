#pragma once
// --backend command: each step of a build is the user's command (a real `buildah build`,
// a test suite...), run by engine/command/'s CommandRunner as a child process on the loop;
// its exit status and output checks are the step's verdict.
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "engine/backend/backend.hpp"
#include "engine/command/command_runner.hpp"

namespace cachestress::backend {

class CommandBackend final : public Backend {
 public:
  explicit CommandBackend(Context& context);
  ~CommandBackend() override;

  void prepare(std::function<void(std::string error)> ready) override;
  void interrupt_prepare(int signum) override;
  void start_build(const BuildTicket& ticket) override;
  void interrupt(std::uint64_t build, int signum) override;
  void kill_all_now() noexcept override;
  void teardown(std::function<void()> done) override;

 private:
  struct Build;
  void begin_step(Build& build);
  void on_step_done(Build& build, command::StepVerdict verdict);
  void finish(Build& build, BuildResult result);

  Context& m_ctx;
  command::CommandRunner m_command;
  std::unordered_map<std::uint64_t, std::unique_ptr<Build>> m_builds;
};

}  // namespace cachestress::backend
