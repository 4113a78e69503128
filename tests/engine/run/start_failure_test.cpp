// Builds that end inside their own start (a backend that cannot start them: out of
// descriptors, a dead fork server). Each such end admitted the next build from inside the
// call, so a long run of them recursed until the stack overflowed (SIGSEGV at ~5,700 builds
// under --backend process with `ulimit -n 64`), and a --duration run never let its timer fire.
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "engine/backend/backend.hpp"
#include "engine/model/failure.hpp"
#include "engine/run/runner.hpp"
#include "engine/scenario/loader.hpp"
#include "tests/support/temp_dir.hpp"

namespace cachestress::backend {
namespace {

// Ends every build at once, inside start_build; after `stop_after` starts (0: never) it asks
// the runner to stop instead, as the process backend does when its fork server died.
class RefusingBackend final : public Backend {
 public:
  RefusingBackend(Context& context, std::uint64_t stop_after) : m_ctx(context), m_stop_after(stop_after) {}

  void start_build(const BuildTicket& ticket) override {
    ++m_started;
    if (m_stop_after != 0 && m_started > m_stop_after) {
      m_ctx.host.build_ended(ticket.id, {BuildEnd::interrupted, {}, false});
      m_ctx.host.stop_run("the test backend cannot start builds any more");
      return;
    }
    m_ctx.host.build_ended(ticket.id, {BuildEnd::failed, model::failure_reason(model::FailureCategory::resources, "refused"), false});
  }
  void interrupt(std::uint64_t, int) override {}
  bool writes_files() const override { return false; }

 private:
  Context& m_ctx;
  std::uint64_t m_stop_after;
  std::uint64_t m_started = 0;
};

run::RunOutcome run_refused(const std::string& run_table, std::uint64_t stop_after = 0) {
  test_support::TempDir tmp("start_failure");
  run::RunOptions options;
  options.scenario = scenario::parse_scenario("description = \"refused\"\n[run]\n" + run_table +
                                                  "\n[[build]]\nname = \"b\"\n[[build.step]]\n"
                                                  "mount = { target = \"/c\" }\nops = [ { op = \"read\", file = \"x\" } ]\n",
                                              "refused.toml", "refused");
  options.workdir = tmp / "ws";
  options.backend = [stop_after](Context& context) { return std::make_unique<RefusingBackend>(context, stop_after); };
  run::Runner runner(std::move(options));
  return runner.run();
}

}  // namespace

TEST_CASE("builds that end inside their own start do not recurse: 100,000 in a row", "[unit][runner]") {
  const auto outcome = run_refused("builds = 100000\nconcurrency = 64");
  CHECK(outcome.metrics->counter(metrics::Counter::builds_started) == 100000);
  CHECK(outcome.metrics->counter(metrics::Counter::builds_failed) == 100000);
  CHECK(outcome.metrics->counter(metrics::Counter::failures_resources) == 100000);
}

TEST_CASE("builds that end inside their own start let a --duration run end on time", "[unit][runner]") {
  const auto outcome = run_refused("builds = 0\nduration = 0.3\nconcurrency = 16");
  CHECK(outcome.metrics->counter(metrics::Counter::builds_failed) > 0);
  CHECK(outcome.metrics->counter(metrics::Counter::builds_failed) == outcome.metrics->counter(metrics::Counter::builds_started));
  CHECK(outcome.metrics->duration_s < 5.0);  // it never ended before: the duration timer could not fire
  CHECK_FALSE(outcome.interrupted);
}

TEST_CASE("a backend that cannot start builds any more stops the run with its reason", "[unit][runner]") {
  const auto outcome = run_refused("builds = 0\nduration = 30\nconcurrency = 4", 10);
  CHECK(outcome.interrupted);
  CHECK(outcome.signal == 0);
  CHECK(outcome.stop_reason == "the test backend cannot start builds any more");
  CHECK(outcome.metrics->counter(metrics::Counter::builds_failed) == 10);
  CHECK(outcome.metrics->counter(metrics::Counter::builds_interrupted) == 1);
  CHECK(outcome.metrics->duration_s < 5.0);  // stopped, not run for its 30 s
}

}  // namespace cachestress::backend
