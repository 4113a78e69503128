// A backend written for this test alone, handed to the runner in one place (RunOptions::
// backend): proof that a backend is one unit behind one interface. The "ledger" backend keeps
// its caches in memory: each build's step writes its id into every cache it mounts, yields to
// the loop, then reads it back; a sibling's id there is a foreign collision, reported through
// the Recorder like every other backend's.
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <string>

#include "engine/backend/backend.hpp"
#include "engine/backend/recorder.hpp"
#include "engine/run/runner.hpp"
#include "engine/scenario/loader.hpp"
#include "tests/support/temp_dir.hpp"

namespace cachestress::backend {
namespace {

// What the test reads after the run (the runner destroys its backend when the run ends).
struct Tally {
  int started = 0;
  int interrupts = 0;
};

class LedgerBackend final : public Backend {
 public:
  LedgerBackend(Context& context, Tally& tally) : m_ctx(context), m_tally(tally) {}

  void start_build(const BuildTicket& ticket) override {
    auto build = std::make_unique<Build>(ticket, m_ctx.loop, *this);
    Build& ref = *build;
    m_builds.emplace(ticket.id, std::move(build));
    ++m_tally.started;
    step(ref);
  }

  void interrupt(std::uint64_t id, int /*signum*/) override {
    ++m_tally.interrupts;
    end(*m_builds.at(id), {BuildEnd::interrupted, {}, false});
  }

  bool writes_files() const override { return false; }

 private:
  struct Build {
    Build(const BuildTicket& t, core::Loop& loop, LedgerBackend& owner)
        : ticket(t), read_back(loop, [this, &owner] { owner.check(*this); }) {}
    BuildTicket ticket;
    std::uint32_t step = 0;
    core::Timer read_back;
  };

  std::string cache_of(const Build& build, const model::Mount& mount) const { return build.ticket.root + "|" + mount.label(); }

  void step(Build& build) {
    const auto& steps = m_ctx.scenario.kinds[static_cast<std::size_t>(build.ticket.kind)].steps;
    if (build.step >= steps.size()) {
      end(build, {BuildEnd::completed, {}, false});
      return;
    }
    for (const auto& mount : steps[build.step].mounts) m_ledger[cache_of(build, mount)] = build.ticket.id;
    build.read_back.start(1);  // a sibling may write meanwhile
  }

  void check(Build& build) {
    const BuildRef ref{build.ticket.id, build.ticket.kind, build.ticket.root};
    const auto& current = m_ctx.scenario.kinds[static_cast<std::size_t>(build.ticket.kind)].steps[build.step];
    for (const auto& mount : current.mounts) {
      const std::uint64_t writer = m_ledger[cache_of(build, mount)];
      m_ctx.recorder.op_done(0, 8);
      if (writer != build.ticket.id) {
        const std::string& kind = m_ctx.scenario.kinds[0].name;  // one kind in this test
        m_ctx.recorder.collision(ref, metrics::CollisionKind::foreign, cache_of(build, mount), build.step,
                                 std::pair{writer, std::string_view(kind)});
      }
    }
    m_ctx.recorder.step_done(1000);
    ++build.step;
    step(build);
  }

  void end(Build& build, BuildResult result) {
    const std::uint64_t id = build.ticket.id;
    m_builds.erase(id);
    m_ctx.host.build_ended(id, std::move(result));
  }

  Context& m_ctx;
  Tally& m_tally;
  std::map<std::uint64_t, std::unique_ptr<Build>> m_builds;
  std::map<std::string, std::uint64_t> m_ledger;
};

model::Scenario ledger_scenario(const std::string& isolation) {
  return scenario::parse_scenario(R"(description = "two steps on one cache"
[run]
builds = 40
concurrency = 8
isolation = ")" + isolation + R"("

[[build]]
name = "writer"
[[build.step]]
mount = [{ target = "/cache", sharing = "shared" }]
ops = [{ op = "read", file = "x" }]
[[build.step]]
mount = [{ target = "/cache", sharing = "shared" }]
ops = [{ op = "read", file = "x" }]
)",
                                  "ledger.toml", "ledger");
}

struct LedgerRun {
  run::RunOutcome outcome;
  Tally tally;
};

LedgerRun run_ledger(const std::string& isolation) {
  test_support::TempDir tmp("test_backend");
  LedgerRun result;
  run::RunOptions options;
  options.scenario = ledger_scenario(isolation);
  options.workdir = tmp / "ws";
  // The one place the test backend is registered for this run.
  options.backend = [&result](Context& context) { return std::make_unique<LedgerBackend>(context, result.tally); };
  run::Runner runner(std::move(options));
  result.outcome = runner.run();
  return result;
}

}  // namespace

TEST_CASE("a test-only backend runs a scenario end to end through the runner", "[unit][backend]") {
  SECTION("one shared cache: siblings overwrite each other, and the runner counts every build") {
    auto [outcome, tally] = run_ledger("shared");
    const auto& m = *outcome.metrics;
    CHECK(m.counter(metrics::Counter::builds_started) == 40);
    CHECK(m.counter(metrics::Counter::builds_completed) == 40);
    CHECK(m.counter(metrics::Counter::steps_completed) == 80);
    CHECK(m.counter(metrics::Counter::ops_completed) == 80);
    CHECK(m.counter(metrics::Counter::collisions_foreign) > 0);
    CHECK(tally.started == 40);
    CHECK(tally.interrupts == 0);
  }
  SECTION("a cache per build: nobody sees a sibling") {
    auto [outcome, tally] = run_ledger("per-build");
    const auto& m = *outcome.metrics;
    CHECK(m.counter(metrics::Counter::builds_completed) == 40);
    CHECK(m.counter(metrics::Counter::collisions_foreign) == 0);
  }
}

}  // namespace cachestress::backend
