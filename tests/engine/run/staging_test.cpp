// Staged builds (Backend::stage_build): once every slot is taken, the runner hands the next
// builds to the backend ahead of time, and the backend starts each the moment a build in
// flight ends. A test-only backend ("relay") does exactly that on the loop, so what is
// checked here is the runner's side: never more builds at a time than --concurrency, every
// build counted once, the same builds as without staging, and latency counted from the real
// start.
#include <catch2/catch.hpp>
#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.hpp"
#include "engine/run/runner.hpp"
#include "engine/scenario/loader.hpp"
#include "tests/support/temp_dir.hpp"

namespace cachestress::run {
namespace {

using backend::BuildEnd;
using backend::BuildTicket;

// What the test reads after the run (the runner destroys its backend when the run ends).
struct Tally {
  bool accept_staging = true;
  int stage_calls = 0;
  int running = 0;
  int max_running = 0;
  std::size_t max_staged = 0;
  int started_after_stop = 0;                   // builds begun once admissions had stopped
  std::vector<std::uint64_t> started_ids;       // in the order they really started
  std::map<std::uint64_t, int> kind_of;         // every build's kind, by id
  std::vector<std::uint64_t> durations_us;      // each build, start to end, as this backend saw it
};

// Runs every build as a 2 ms timer; a staged build starts as the build before it ends.
class RelayBackend final : public backend::Backend {
 public:
  RelayBackend(backend::Context& context, Tally& tally) : m_ctx(context), m_tally(tally) {}

  void start_build(const BuildTicket& ticket) override { begin(ticket); }

  bool stage_build(const BuildTicket& ticket) override {
    ++m_tally.stage_calls;
    if (!m_tally.accept_staging) return false;
    m_staged.push_back(ticket);
    m_tally.max_staged = std::max(m_tally.max_staged, m_staged.size());
    return true;
  }

  void interrupt(std::uint64_t id, int /*signum*/) override {
    auto staged = std::find_if(m_staged.begin(), m_staged.end(), [id](const BuildTicket& t) { return t.id == id; });
    if (staged != m_staged.end()) {
      m_staged.erase(staged);
      m_ctx.host.build_ended(id, {BuildEnd::interrupted, {}, false});
      return;
    }
    end(id, BuildEnd::interrupted);
  }

  void unstage() override {
    while (!m_staged.empty()) {
      const std::uint64_t id = m_staged.front().id;
      m_staged.pop_front();
      m_ctx.host.build_ended(id, {BuildEnd::interrupted, {}, false});
    }
  }

  bool writes_files() const override { return false; }

 private:
  void begin(const BuildTicket& ticket) {
    if (m_ctx.host.stopping()) ++m_tally.started_after_stop;
    m_tally.started_ids.push_back(ticket.id);
    m_tally.kind_of[ticket.id] = ticket.kind;
    m_tally.max_running = std::max(m_tally.max_running, ++m_tally.running);
    auto timer = std::make_unique<core::Timer>(m_ctx.loop, [this, id = ticket.id] { end(id, BuildEnd::completed); });
    timer->start(2);
    m_timers[ticket.id] = std::move(timer);
    m_began[ticket.id] = core::now_us();
  }

  void end(std::uint64_t id, BuildEnd how) {
    m_timers.erase(id);
    m_tally.durations_us.push_back(core::now_us() - m_began[id]);
    --m_tally.running;
    if (!m_staged.empty() && how == BuildEnd::completed) {
      // The next build starts as this one ends, before the runner hears of either.
      BuildTicket next = m_staged.front();
      m_staged.pop_front();
      begin(next);
      m_ctx.host.build_started(next.id, core::now_us());
    }
    m_ctx.host.build_ended(id, {how, {}, false});
  }

  backend::Context& m_ctx;
  Tally& m_tally;
  std::deque<BuildTicket> m_staged;
  std::map<std::uint64_t, std::unique_ptr<core::Timer>> m_timers;
  std::map<std::uint64_t, std::uint64_t> m_began;
};

model::Scenario relay_scenario(unsigned builds, unsigned concurrency, const std::string& extra_run = "") {
  return scenario::parse_scenario("description = \"relay\"\n[run]\nbuilds = " + std::to_string(builds) +
                                      "\nconcurrency = " + std::to_string(concurrency) + "\nseed = 3\n" + extra_run +
                                      R"(
[[build]]
name = "small"
weight = 3
[[build.step]]
mount = { target = "/cache", sharing = "locked" }
ops = [{ op = "read", file = "x" }]
[[build]]
name = "large"
[[build.step]]
mount = { target = "/cache", sharing = "locked" }
ops = [{ op = "read", file = "x" }]
)",
                                  "relay.toml", "relay");
}

struct RelayRun {
  RunOutcome outcome;
  Tally tally;
};

RelayRun run_relay(model::Scenario scenario, bool accept_staging) {
  test_support::TempDir tmp("staging");
  RelayRun result;
  result.tally.accept_staging = accept_staging;
  RunOptions options;
  options.scenario = std::move(scenario);
  options.workdir = tmp / "ws";
  options.backend = [&result](backend::Context& context) { return std::make_unique<RelayBackend>(context, result.tally); };
  Runner runner(std::move(options));
  result.outcome = runner.run();
  return result;
}

std::uint64_t count(const RunOutcome& outcome, metrics::Counter c) { return outcome.metrics->counter(c); }

}  // namespace

TEST_CASE("staging at --concurrency 1: one build at a time, each counted once, in admission order", "[unit][run][staging]") {
  auto [outcome, tally] = run_relay(relay_scenario(60, 1), true);
  CHECK(tally.max_running == 1);
  CHECK(tally.max_staged > 0);   // the runner did stage ahead
  CHECK(tally.max_staged <= 128);  // ... a bounded number (run::k_staged_depth_one)
  CHECK(count(outcome, metrics::Counter::builds_started) == 60);
  CHECK(count(outcome, metrics::Counter::builds_completed) == 60);
  REQUIRE(tally.started_ids.size() == 60);
  for (std::uint64_t i = 0; i < 60; ++i) CHECK(tally.started_ids[i] == i);
  // Latency counts from the real start, not from staging (up to 59 builds of 2 ms earlier here):
  // the runner's median build is about as long as the backend's, not several builds longer.
  const auto& latency = outcome.metrics->histogram(metrics::Hist::build_latency_us);
  CHECK(latency.count() == 60);
  auto durations = tally.durations_us;
  std::nth_element(durations.begin(), durations.begin() + 30, durations.end());
  CHECK(static_cast<double>(latency.percentile(50)) <= static_cast<double>(durations[30]) * 1.5 + 500);
}

TEST_CASE("staging: the same builds, kinds and seeds whether the backend stages or not", "[unit][run][staging]") {
  auto staged = run_relay(relay_scenario(40, 1), true);
  auto declined = run_relay(relay_scenario(40, 1), false);
  CHECK(staged.tally.max_staged > 0);
  CHECK(declined.tally.stage_calls > 0);  // asked, declined: the runner admits as before
  CHECK(declined.tally.max_staged == 0);
  CHECK(staged.tally.kind_of == declined.tally.kind_of);
  CHECK(count(declined.outcome, metrics::Counter::builds_completed) == 40);
}

TEST_CASE("staging at --concurrency 4: only once every slot is taken, never more in flight", "[unit][run][staging]") {
  auto [outcome, tally] = run_relay(relay_scenario(40, 4), true);
  CHECK(tally.stage_calls > 0);
  CHECK(tally.max_staged > 0);
  CHECK(tally.max_running == 4);  // a staged build starts only in the place of one that ended
  CHECK(count(outcome, metrics::Counter::builds_started) == 40);
  CHECK(count(outcome, metrics::Counter::builds_completed) == 40);
  REQUIRE(tally.started_ids.size() == 40);
  for (std::uint64_t i = 0; i < 40; ++i) CHECK(tally.started_ids[i] == i);  // admission order
}

TEST_CASE("staging: never with arrivals spread out", "[unit][run][staging]") {
  auto ramp = run_relay(relay_scenario(10, 1, "arrival = \"ramp\"\nramp = 0.05\n"), true);
  CHECK(ramp.tally.stage_calls == 0);
  CHECK(count(ramp.outcome, metrics::Counter::builds_completed) == 10);
  auto poisson = run_relay(relay_scenario(10, 1, "arrival = \"poisson\"\nrate = 2000\n"), true);
  CHECK(poisson.tally.stage_calls == 0);
  CHECK(count(poisson.outcome, metrics::Counter::builds_completed) == 10);
}

TEST_CASE("staging with a duration: staged builds are taken back when it ends, none starts after", "[unit][run][staging]") {
  for (const int concurrency : {1, 4}) {
    CAPTURE(concurrency);
    auto [outcome, tally] = run_relay(relay_scenario(0, static_cast<unsigned>(concurrency), "duration = 0.2\n"), true);
    CHECK(tally.max_running == concurrency);
    CHECK(tally.max_staged > 0);
    CHECK(tally.running == 0);
    CHECK(tally.started_after_stop == 0);
    CHECK(count(outcome, metrics::Counter::builds_completed) > 10);
    // The builds in flight when it ended complete; the staged ones never started, uncounted.
    CHECK(count(outcome, metrics::Counter::builds_interrupted) == 0);
    CHECK(count(outcome, metrics::Counter::builds_started) == count(outcome, metrics::Counter::builds_completed));
  }
}

}  // namespace cachestress::run
