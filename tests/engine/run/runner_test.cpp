#include "engine/run/runner.hpp"
#include "engine/scenario/run_settings.hpp"
#include "tests/support/temp_dir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "engine/core/error.hpp"
#include "engine/metrics/expectations.hpp"
#include "engine/scenario/loader.hpp"
#include "engine/semantics/profile.hpp"

namespace cachestress::run {
namespace {

namespace stdfs = std::filesystem;
using metrics::CollisionKind;
using metrics::Counter;

using TempDir = test_support::TempDir;

// Points $TMPDIR somewhere else for the scope of a test.
class TmpdirOverride {
 public:
  explicit TmpdirOverride(const std::string& dir) {
    if (const char* old = std::getenv("TMPDIR")) m_old = old;
    ::setenv("TMPDIR", dir.c_str(), 1);
  }
  TmpdirOverride(const TmpdirOverride&) = delete;
  TmpdirOverride& operator=(const TmpdirOverride&) = delete;
  ~TmpdirOverride() {
    if (m_old) {
      ::setenv("TMPDIR", m_old->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
  }

 private:
  std::optional<std::string> m_old;
};

std::size_t entries_in(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : stdfs::directory_iterator(dir)) ++n;
  return n;
}

// One step that mounts `target` with `sharing`, writes, holds and reads its own write back.
std::string hold_scenario(const std::string& semantics, const std::string& sharing, unsigned builds,
                          unsigned concurrency, unsigned hold_ms, const std::string& isolation = "shared",
                          const std::string& backend = "inproc") {
  return "description = \"test\"\n"
         "[run]\n"
         "builds = " + std::to_string(builds) + "\n"
         "concurrency = " + std::to_string(concurrency) + "\n"
         "seed = 7\n"
         "semantics = \"" + semantics + "\"\n"
         "isolation = \"" + isolation + "\"\n"
         "backend = \"" + backend + "\"\n"
         "[[build]]\n"
         "name = \"builder\"\n"
         "[[build.step]]\n"
         "mount = { target = \"/var/cache/build\", sharing = \"" + sharing + "\" }\n"
         "ops = [\n"
         "  { op = \"write\", file = \"index\", value = \"index\", size = 256 },\n"
         "  { op = \"hold\", ms = " + std::to_string(hold_ms) + " },\n"
         "  { op = \"read\", file = \"index\", expect = \"own\" },\n"
         "]\n";
}

// hold_scenario's Buildah step without its hold, with `isolation`: one batch of operations.
std::string hold_scenario_without_hold(const std::string& sharing, unsigned builds, unsigned concurrency, const std::string& isolation) {
  auto toml = hold_scenario("buildah", sharing, builds, concurrency, 0, isolation);
  toml.erase(toml.find("  { op = \"hold\""), std::string("  { op = \"hold\", ms = 0 },\n").size());
  REQUIRE(toml.find("hold") == std::string::npos);
  return toml;
}

// hold_scenario's Buildah step without its hold: one batch of operations.
std::string no_hold_scenario(const std::string& sharing, unsigned builds, unsigned concurrency) {
  return hold_scenario_without_hold(sharing, builds, concurrency, "shared");
}

// The locked step without its hold (one hop off the loop), with `lock_kind`.
std::string one_hop_scenario(unsigned builds, unsigned concurrency, const std::string& lock_kind) {
  auto toml = no_hold_scenario("locked", builds, concurrency);
  toml.insert(toml.find("[[build]]"), "lock_kind = \"" + lock_kind + "\"\n");
  return toml;
}

RunOutcome run(model::Scenario scenario, const std::string& workdir, bool keep = false) {
  RunOptions options;
  options.scenario = std::move(scenario);
  options.workdir = workdir;
  options.keep = keep;
  Runner runner(std::move(options));
  return runner.run();
}

RunOutcome run_toml(const std::string& toml, const std::string& workdir, bool keep = false) {
  return run(scenario::parse_scenario(toml, "test.toml", "test"), workdir, keep);
}

std::uint64_t count(const RunOutcome& outcome, Counter c) { return outcome.metrics->counter(c); }

// `toml` (a scenario with builds = 0 at concurrency 16) run for 0.3 s: the builds in flight
// when the duration ends complete, none is interrupted, and every build counted as started
// completed. More than two rounds of the 16 slots completed, so lanes had been starting
// builds in place of ended ones (staging) before the end. A floor in rounds, not a rate: a
// sanitizer build on a loaded machine once managed 94 builds in the 0.3 s.
void check_duration_run_ends_clean(std::string toml, const std::string& workdir) {
  toml.insert(toml.find("[[build]]"), "duration = 0.3\n");
  auto timed = run_toml(toml, workdir);
  CHECK(count(timed, Counter::builds_completed) > 2 * 16);
  CHECK(count(timed, Counter::builds_interrupted) == 0);
  CHECK(count(timed, Counter::builds_started) == count(timed, Counter::builds_completed));
}

// Every one of `builds` one-hop builds started, completed, took the lock and was timed
// once, and no two were ever inside the cache together.
void check_each_build_once(const RunOutcome& outcome, std::uint64_t builds) {
  REQUIRE(outcome.metrics);
  CHECK(count(outcome, Counter::builds_started) == builds);
  CHECK(count(outcome, Counter::builds_completed) == builds);
  CHECK(count(outcome, Counter::collisions_total) == 0);
  CHECK(count(outcome, Counter::collisions_lock_overlap) == 0);
  CHECK(count(outcome, Counter::lock_acquisitions) == builds);
  CHECK(outcome.metrics->histogram(metrics::Hist::build_latency_us).count() == builds);
}

// ---- (a) locked users never overlap --------------------------------------------------------

TEST_CASE("runner: locked users never overlap and have to wait", "[unit][run][runner]") {
  const std::string semantics = GENERATE(as<std::string>{}, "buildah", "buildah-1.28", "buildkit");
  CAPTURE(semantics);
  TempDir tmp;
  // BuildKit polls every 100 ms, so fewer builds keep it fast.
  const unsigned builds = semantics == "buildkit" ? 6 : 16;
  auto outcome = run_toml(hold_scenario(semantics, "locked", builds, 8, 15), tmp.path() + "/ws");
  REQUIRE(outcome.metrics);
  CHECK_FALSE(outcome.interrupted);
  CHECK(count(outcome, Counter::builds_started) == builds);
  CHECK(count(outcome, Counter::builds_completed) == builds);
  CHECK(count(outcome, Counter::builds_failed) == 0);
  CHECK(count(outcome, Counter::collisions_lock_overlap) == 0);
  // Inside one locked step, a build always reads back its own write.
  CHECK(count(outcome, Counter::collisions_total) == 0);
  CHECK(count(outcome, Counter::lock_acquisitions) == builds);
  CHECK(count(outcome, Counter::lock_waited) > 0);
  CHECK(outcome.metrics->lock_waited == count(outcome, Counter::lock_waited));
  // Only one holder at a time: never two builds inside the cache.
  CHECK(count(outcome, Counter::mounts_overlapped) == 0);
  // Serialised holds: the run takes at least builds x hold.
  CHECK(outcome.metrics->duration_s >= builds * 0.015 * 0.9);
}

TEST_CASE("runner: locked users never overlap with every kernel lock kind", "[unit][run][runner]") {
  const std::string lock_kind = GENERATE(as<std::string>{}, "ofd", "fcntl", "flock");
  CAPTURE(lock_kind);
  TempDir tmp;
  auto toml = hold_scenario("buildah", "locked", 12, 8, 10);
  toml.insert(toml.find("[[build]]"), "lock_kind = \"" + lock_kind + "\"\n");
  // lock_kind lives in [run]: the insertion point above is still inside it.
  auto outcome = run_toml(toml, tmp.path() + "/ws");
  CHECK(count(outcome, Counter::builds_completed) == 12);
  CHECK(count(outcome, Counter::collisions_lock_overlap) == 0);
  CHECK(count(outcome, Counter::collisions_total) == 0);
  CHECK(count(outcome, Counter::lock_waited) > 0);
}

TEST_CASE("runner: a locked step without a hold (one hop off the loop) reports real, never overlapping holds", "[unit][run][runner]") {
  // Lock, ops and unlock run on the waiter thread in one go; the grant and release the loop
  // reports afterwards must be the times that thread held the kernel lock.
  const std::string lock_kind = GENERATE(as<std::string>{}, "ofd", "fcntl", "flock");
  CAPTURE(lock_kind);
  TempDir tmp;
  auto outcome = run_toml(one_hop_scenario(200, 16, lock_kind), tmp.path() + "/ws");
  REQUIRE(outcome.metrics);
  CHECK(count(outcome, Counter::builds_completed) == 200);
  CHECK(count(outcome, Counter::builds_failed) == 0);
  CHECK(count(outcome, Counter::collisions_total) == 0);
  CHECK(count(outcome, Counter::collisions_lock_overlap) == 0);
  CHECK(count(outcome, Counter::mounts_overlapped) == 0);
  CHECK(count(outcome, Counter::lock_acquisitions) == 200);
  CHECK(count(outcome, Counter::lock_waited) > 0);  // 16 at once on one cache: they queued
  const auto& events = outcome.metrics->lock_events.events();
  REQUIRE(events.size() == 200);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> holds;
  for (const auto& e : events) {
    REQUIRE(e.granted_us);
    REQUIRE(e.released_us);
    CHECK(e.wait_start_us <= *e.granted_us);
    CHECK(*e.granted_us < *e.released_us);  // the write and read back took time under the lock
    holds.emplace_back(*e.granted_us, *e.released_us);
  }
  std::sort(holds.begin(), holds.end());
  for (std::size_t i = 1; i < holds.size(); ++i) {
    INFO("hold " << i << " granted at " << holds[i].first << " us, the previous released at " << holds[i - 1].second);
    CHECK(holds[i].first >= holds[i - 1].second);
  }
}

TEST_CASE("runner: at --concurrency 1 one-hop builds chained by the waiter thread still run one after the other", "[unit][run][runner]") {
  // Each build is one locked section, so the waiter thread that lets a build's lock go
  // starts the next staged build itself; the loop hears of them a few at a time. Still, as
  // with the loop starting each: a build starts only once the one before it let go, never
  // waits, and each build's wait, grant and release are the times its thread saw.
  const std::string lock_kind = GENERATE(as<std::string>{}, "ofd", "fcntl", "flock");
  CAPTURE(lock_kind);
  TempDir tmp;
  auto outcome = run_toml(one_hop_scenario(300, 1, lock_kind), tmp.path() + "/ws");
  check_each_build_once(outcome, 300);
  CHECK(count(outcome, Counter::lock_waited) == 0);  // one build at a time: nobody queued
  CHECK(count(outcome, Counter::steps_completed) == 300);
  auto events = outcome.metrics->lock_events.events();
  REQUIRE(events.size() == 300);
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.wait_start_us < b.wait_start_us; });
  for (std::size_t i = 0; i < events.size(); ++i) {
    REQUIRE(events[i].granted_us);
    REQUIRE(events[i].released_us);
    CHECK(events[i].wait_start_us <= *events[i].granted_us);
    if (i == 0) continue;
    INFO("build " << events[i].build << " began waiting at " << events[i].wait_start_us << " us, build "
                  << events[i - 1].build << " let go at " << *events[i - 1].released_us);
    CHECK(events[i].wait_start_us >= *events[i - 1].released_us);
  }
}

TEST_CASE("runner: at --concurrency 16 one-hop builds started by the thread whose build ended never exceed 16 at once", "[unit][run][runner]") {
  // Every slot taken, the runner stages the next builds; the waiter thread that lets a
  // build's lock go starts one in its place, and the loop hears of both a few builds later.
  // By the times the threads saw, a build is waiting or holding from its start to its
  // release, so at no moment may more than 16 be between the two; and each is counted once.
  const std::string lock_kind = GENERATE(as<std::string>{}, "ofd", "fcntl", "flock");
  CAPTURE(lock_kind);
  TempDir tmp;
  auto outcome = run_toml(one_hop_scenario(600, 16, lock_kind), tmp.path() + "/ws");
  check_each_build_once(outcome, 600);
  const auto& events = outcome.metrics->lock_events.events();
  REQUIRE(events.size() == 600);
  std::vector<std::pair<std::uint64_t, int>> edges;  // (time, +1 start / -1 release)
  for (const auto& e : events) {
    REQUIRE(e.released_us);
    edges.emplace_back(e.wait_start_us, +1);
    edges.emplace_back(*e.released_us, -1);
  }
  std::sort(edges.begin(), edges.end());  // at one microsecond, a release before a start
  int at_once = 0, most = 0;
  for (const auto& [at, step] : edges) most = std::max(most, at_once += step);
  CHECK(most <= 16);
  CHECK(most >= 8);  // they did pile up: the check above is not met by running one at a time
}

TEST_CASE("runner: at --concurrency 16 a duration run takes staged one-hop builds back: none interrupted, none uncounted", "[unit][run][runner]") {
  const std::string lock_kind = GENERATE(as<std::string>{}, "ofd", "fcntl", "flock");
  CAPTURE(lock_kind);
  TempDir tmp;
  check_duration_run_ends_clean(one_hop_scenario(0, 16, lock_kind), tmp.path() + "/ws");
}

// Sends the log to a string for its scope, at the -vv trace level (one line per build start
// and end), and puts the previous logger back however the scope is left.
class TraceCapture {
 public:
  TraceCapture() : m_previous(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("trace", std::make_shared<spdlog::sinks::ostream_sink_mt>(m_trace));
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  TraceCapture(const TraceCapture&) = delete;
  TraceCapture& operator=(const TraceCapture&) = delete;
  ~TraceCapture() { spdlog::set_default_logger(m_previous); }
  std::string text() const { return m_trace.str(); }

 private:
  std::ostringstream m_trace;
  std::shared_ptr<spdlog::logger> m_previous;
};

TEST_CASE("runner: at --concurrency 16 one-batch shared builds started by the lane whose build ended never exceed 16 at once", "[unit][run][runner]") {
  // Every build is one batch of a shared mount: with every slot taken the runner stages the
  // next builds on the lanes, and the lane whose build ends starts one in its place; the loop
  // hears of both later. By the times the lanes saw (the trace's start and end times), no
  // more than 16 builds may be between start and end at any moment, and each is counted once.
  // With a cache root per build the runner counts a build until its root is removed: staged
  // builds are started by the runner then, and the bound holds the same.
  const std::string isolation = GENERATE(as<std::string>{}, "shared", "per-build");
  CAPTURE(isolation);
  TempDir tmp;
  RunOutcome outcome;
  std::string trace;
  {
    TraceCapture capture;
    outcome = run_toml(hold_scenario_without_hold("shared", 600, 16, isolation), tmp.path() + "/ws");
    trace = capture.text();
  }
  REQUIRE(outcome.metrics);
  CHECK(count(outcome, Counter::builds_started) == 600);
  CHECK(count(outcome, Counter::builds_completed) == 600);
  CHECK(count(outcome, Counter::collisions_lock_overlap) == 0);
  if (isolation == "shared") CHECK(count(outcome, Counter::mounts_overlapped) > 0);  // shared users do meet inside the cache
  CHECK(outcome.metrics->histogram(metrics::Hist::build_latency_us).count() == 600);
  const std::regex started(R"(build (\d+) \(builder\) started at \+([\d.]+) ms(, by the backend)?)");
  const std::regex ended(R"(build (\d+) completed after [\d.]+ ms, at \+([\d.]+) ms)");
  std::map<std::uint64_t, int> starts, ends;
  std::vector<std::pair<std::uint64_t, int>> edges;  // (microsecond, +1 start / -1 end)
  std::size_t by_lanes = 0;
  std::istringstream lines(trace);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    const auto at = [&m] { return static_cast<std::uint64_t>(std::stod(m[2].str()) * 1000 + 0.5); };
    if (std::regex_search(line, m, started)) {
      ++starts[std::stoull(m[1].str())];
      by_lanes += m[3].matched ? 1 : 0;
      edges.emplace_back(at(), +1);
    } else if (std::regex_search(line, m, ended)) {
      ++ends[std::stoull(m[1].str())];
      edges.emplace_back(at(), -1);
    }
  }
  CHECK(starts.size() == 600);
  CHECK(ends.size() == 600);
  CHECK(std::all_of(starts.begin(), starts.end(), [](const auto& s) { return s.second == 1; }));
  if (isolation == "shared") CHECK(by_lanes > 0);  // the lanes did start builds: the check below is about them
  std::sort(edges.begin(), edges.end());  // at one microsecond, an end before a start
  int at_once = 0, most = 0;
  for (const auto& [at, step] : edges) most = std::max(most, at_once += step);
  CHECK(most <= 16);
  CHECK(most >= 8);
}

TEST_CASE("runner: every staged one-batch build starts, however late the loop hears of the ends before it", "[unit][run][runner]") {
  // When every build in flight ends before the loop hears of one, with none staged left to
  // start in their places, the runner stages the rest of the builds while hearing of the
  // first end, and then no build in flight remains to start them: the runner starts them
  // itself as slots free (Backend::start_staged). Before that, 1 run in 4 of 2,000 builds
  // hung here with the staged builds never started.
  TempDir tmp;
  for (int run_no = 0; run_no < 20; ++run_no) {
    INFO("run " << run_no);
    auto outcome = run_toml(no_hold_scenario("shared", 2000, 16), tmp.path() + "/ws" + std::to_string(run_no));
    REQUIRE(outcome.metrics);
    REQUIRE(count(outcome, Counter::builds_completed) == 2000);
    REQUIRE(count(outcome, Counter::builds_started) == 2000);
  }
}

TEST_CASE("runner: a ramp longer than the duration ends at the duration, arrivals it overtook never start", "[unit][run][runner]") {
  // Ramp 3 s over 3 slots: arrivals at 0, 1 and 2 s. With a 0.4 s duration the second and
  // third used to start anyway (at +1 s and +2 s), and the run lasted 2 s.
  TempDir tmp;
  std::string toml = no_hold_scenario("shared", 0, 3);
  toml.insert(toml.find("[[build]]"), "duration = 0.4\narrival = \"ramp\"\nramp = 3\n");
  auto outcome = run_toml(toml, tmp.path() + "/ws");
  REQUIRE(outcome.metrics);
  CHECK(outcome.metrics->duration_s < 0.9);  // 0.4 s and the last build's end; the next arrival was at 1 s
  CHECK(count(outcome, Counter::builds_interrupted) == 0);
  CHECK(count(outcome, Counter::builds_started) == count(outcome, Counter::builds_completed));
  CHECK(count(outcome, Counter::builds_completed) > 0);
}

TEST_CASE("runner: at --concurrency 16 a duration run takes staged one-batch builds back: none interrupted, none uncounted", "[unit][run][runner]") {
  TempDir tmp;
  check_duration_run_ends_clean(no_hold_scenario("shared", 0, 16), tmp.path() + "/ws");
}

TEST_CASE("runner: staged one-hop builds behind a lock held outside the engine time out, and the run goes on", "[unit][run][runner]") {
  // Another process (here: another open file description) holds the cache's lock for 0.8 s.
  // Builds queued behind it hit the 0.2 s lock timeout, parked, staged or blocked in the
  // kernel; each failed build's slot is refilled by a staged build, and once the lock is
  // free the rest complete. Every build is accounted once.
  TempDir tmp;
  const std::string workdir = tmp.path() + "/ws";
  std::string toml = one_hop_scenario(0, 8, "ofd");
  toml.insert(toml.find("[[build]]"), "duration = 1.6\nlock_timeout = 0.2\n");
  std::atomic<bool> held{false};
  std::thread outsider([&] {
    // Waits for the first lock file, then holds it (OFD: it excludes the engine's OFD locks).
    for (int i = 0; i < 2000 && !held; ++i) {
      std::error_code ec;
      if (stdfs::exists(workdir, ec)) {
        for (auto it = stdfs::recursive_directory_iterator(workdir, ec); !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
          if (it->path().filename() != "buildah-cache-lockfile") continue;
          const int fd = ::open(it->path().c_str(), O_RDWR);
          if (fd < 0) continue;
          struct flock lock {};
          lock.l_type = F_WRLCK;
          lock.l_whence = SEEK_SET;
          if (::fcntl(fd, F_OFD_SETLKW, &lock) == 0) {
            held = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(800));
          }
          ::close(fd);
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  auto outcome = run_toml(toml, workdir);
  outsider.join();
  REQUIRE(held);
  REQUIRE(outcome.metrics);
  CHECK(count(outcome, Counter::builds_failed) > 0);
  CHECK(count(outcome, Counter::builds_failed) == count(outcome, Counter::failures_lock_timeout));
  CHECK(count(outcome, Counter::builds_completed) > 100);  // before and after the outsider's hold
  CHECK(count(outcome, Counter::builds_interrupted) == 0);
  CHECK(count(outcome, Counter::builds_started) ==
        count(outcome, Counter::builds_completed) + count(outcome, Counter::builds_failed));
  CHECK(count(outcome, Counter::collisions_lock_overlap) == 0);
  CHECK(count(outcome, Counter::collisions_total) == 0);
}

TEST_CASE("runner: one-hop builds parked behind a blocked lock owner time out cleanly", "[unit][run][runner]") {
  // A "holder" keeps the cache locked for 1.5 s; quick one-hop builds queue behind it: the
  // first blocks in the kernel, the next is parked prepared (handed on by the owner's waiter
  // thread when the lock allows), the rest wait at the gate. All of them hit the 0.3 s lock
  // timeout: the parked one is taken back or, if its owner already queued it, cancelled.
  const std::string lock_kind = GENERATE(as<std::string>{}, "ofd", "fcntl", "flock");
  CAPTURE(lock_kind);
  TempDir tmp;
  const std::string toml =
      "description = \"test\"\n"
      "[run]\n"
      "builds = 12\n"
      "concurrency = 12\n"
      "seed = 7\n"
      "semantics = \"buildah\"\n"
      "isolation = \"shared\"\n"
      "lock_timeout = 0.3\n"
      "lock_kind = \"" + lock_kind + "\"\n"
      "[[build]]\n"
      "name = \"holder\"\n"
      "[[build.step]]\n"
      "mount = { target = \"/var/cache/build\", sharing = \"locked\" }\n"
      "ops = [ { op = \"write\", file = \"index\", value = \"index\" }, { op = \"hold\", ms = 1500 } ]\n"
      "[[build]]\n"
      "name = \"quick\"\n"
      "weight = 3\n"
      "[[build.step]]\n"
      "mount = { target = \"/var/cache/build\", sharing = \"locked\" }\n"
      "ops = [ { op = \"write\", file = \"index\", value = \"index\" }, { op = \"read\", file = \"index\", expect = \"own\" } ]\n";
  auto outcome = run_toml(toml, tmp.path() + "/ws");
  REQUIRE(outcome.metrics);
  CHECK(count(outcome, Counter::builds_started) == 12);
  CHECK(count(outcome, Counter::builds_completed) + count(outcome, Counter::builds_failed) == 12);
  CHECK(count(outcome, Counter::builds_failed) > 0);  // someone waited behind a 1.5 s hold
  CHECK(count(outcome, Counter::builds_failed) ==
        count(outcome, Counter::failures_lock_timeout) + count(outcome, Counter::failures_deadlock));
  CHECK(count(outcome, Counter::collisions_lock_overlap) == 0);
  CHECK(count(outcome, Counter::collisions_total) == 0);
  CHECK(count(outcome, Counter::mounts_overlapped) == 0);
}

// ---- (b) shared users overlap --------------------------------------------------------------

TEST_CASE("runner: shared builds of one batch at --concurrency 8: each counted once, a duration run ends with none interrupted", "[unit][run][runner]") {
  TempDir tmp;
  auto counted = run_toml(no_hold_scenario("shared", 500, 8), tmp.path() + "/a");
  CHECK(count(counted, Counter::builds_started) == 500);
  CHECK(count(counted, Counter::builds_completed) == 500);
  CHECK(count(counted, Counter::ops_completed) == 1000);
  CHECK(count(counted, Counter::collisions_foreign) + count(counted, Counter::collisions_torn) > 0);  // they do share
  CHECK(counted.metrics->histogram(metrics::Hist::build_latency_us).count() == 500);
  // A duration: the builds in flight when it ends complete, and no other starts.
  check_duration_run_ends_clean(no_hold_scenario("shared", 0, 8), tmp.path() + "/b");
}

TEST_CASE("runner: at --concurrency 1 a duration run takes the staged builds back: none interrupted, none uncounted", "[unit][run][runner]") {
  // One-hop locked builds are staged behind the one in flight; when the duration ends, those
  // not started are taken back (Backend::unstage) instead of running after it.
  TempDir tmp;
  check_duration_run_ends_clean(one_hop_scenario(0, 1, "ofd"), tmp.path() + "/ws");
}

TEST_CASE("runner: shared users overlap", "[unit][run][runner]") {
  const std::string semantics = GENERATE(as<std::string>{}, "buildah", "buildah-1.28", "buildkit");
  CAPTURE(semantics);
  TempDir tmp;
  auto outcome = run_toml(hold_scenario(semantics, "shared", 16, 8, 50), tmp.path() + "/ws");
  CHECK(count(outcome, Counter::builds_completed) == 16);
  CHECK(count(outcome, Counter::builds_failed) == 0);
  CHECK(count(outcome, Counter::mounts_overlapped) > 0);
  CHECK(count(outcome, Counter::collisions_lock_overlap) == 0);  // shared users take no lock
  CHECK(count(outcome, Counter::lock_acquisitions) == 0);
  // Overlapping 50 ms holds: far quicker than 16 serialised ones.
  CHECK(outcome.metrics->duration_s < 16 * 0.050);
}

// ---- (c) BuildKit private ------------------------------------------------------------------

TEST_CASE("runner: buildkit private users get their own instances, bounded by concurrency", "[unit][run][runner]") {
  TempDir tmp;
  constexpr unsigned k_concurrency = 8;
  auto outcome = run_toml(hold_scenario("buildkit", "private", 24, k_concurrency, 20), tmp.path() + "/ws");
  CHECK(count(outcome, Counter::builds_completed) == 24);
  CHECK(count(outcome, Counter::builds_failed) == 0);
  CHECK(count(outcome, Counter::instances_created) >= 2);
  CHECK(count(outcome, Counter::instances_created) <= k_concurrency);
  CHECK(count(outcome, Counter::mounts_overlapped) == 0);  // each in its own instance
  CHECK(count(outcome, Counter::collisions_total) == 0);
}

// ---- (d) Buildah rejects private -----------------------------------------------------------

TEST_CASE("runner: buildah private fails every build with Buildah's error", "[unit][run][runner]") {
  const std::string semantics = GENERATE(as<std::string>{}, "buildah", "buildah-1.28");
  CAPTURE(semantics);
  TempDir tmp;
  auto scenario = scenario::parse_scenario(hold_scenario(semantics, "private", 10, 4, 1), "test.toml", "test");
  const auto& profile = semantics::profile_for(scenario.run.semantics);
  const auto expected = profile.rejection(scenario.kinds.at(0).steps.at(0).mounts.at(0));
  REQUIRE_FALSE(expected.empty());

  auto outcome = run(scenario, tmp.path() + "/ws");
  CHECK(count(outcome, Counter::builds_started) == 10);
  CHECK(count(outcome, Counter::builds_failed) == 10);
  CHECK(count(outcome, Counter::builds_completed) == 0);
  CHECK(count(outcome, Counter::steps_completed) == 0);
  CHECK(count(outcome, Counter::ops_completed) == 0);
  REQUIRE(outcome.metrics->failures.size() == 1);
  // Reported as "<category>: <the tool's own error>".
  CHECK_THAT(outcome.metrics->failures[0].reason, Catch::Matchers::EndsWith(expected));
  CHECK(outcome.metrics->failures[0].count == 10);
  CHECK(count(outcome, Counter::failures_rejected) == 10);
}

// The loader accepts any absolute target but "/" (empty and "." components included);
// Buildah 1.28 joins the cleaned target (filepath.Clean), so "/test/" is simply /test.
TEST_CASE("runner: buildah-1.28 builds with a trailing-slash target complete", "[unit][run][runner]") {
  TempDir tmp;
  auto toml = hold_scenario("buildah-1.28", "locked", 4, 2, 1);
  const std::string plain = "target = \"/var/cache/build\"";
  toml.replace(toml.find(plain), plain.size(), "target = \"/var/cache/build/\"");
  auto outcome = run_toml(toml, tmp.path() + "/ws");
  std::string failures;
  for (const auto& failure : outcome.metrics->failures) failures += failure.reason + "; ";
  INFO("failures: " << failures);
  CHECK(count(outcome, Counter::builds_completed) == 4);
  CHECK(count(outcome, Counter::builds_failed) == 0);
}

// ---- (e) isolation and interference attribution --------------------------------------------

int kind_named(const RunOutcome& outcome, const std::string& name) {
  for (std::size_t i = 0; i < outcome.kind_names.size(); ++i) {
    if (outcome.kind_names[i] == name) return static_cast<int>(i);
  }
  return metrics::k_unknown_kind;
}

TEST_CASE("runner: remote-tmpdir with a cache root per build never collides", "[unit][run][runner]") {
  TempDir tmp;
  auto scenario = scenario::load_scenario("remote-tmpdir");
  scenario.run.isolation.kind = model::IsolationKind::per_build;
  auto outcome = run(scenario, tmp.path() + "/ws");
  CHECK(count(outcome, Counter::builds_completed) == scenario.run.builds);
  CHECK(count(outcome, Counter::builds_failed) == 0);
  CHECK(count(outcome, Counter::collisions_total) == 0);
  CHECK(outcome.metrics->interference.empty());
  // The built-in's own expectations for this variant hold.
  std::vector<model::Expectation> applicable;
  for (const auto& e : scenario.expectations) {
    if (scenario::condition_holds(e, scenario)) applicable.push_back(e);
  }
  for (const auto& v : metrics::judge(applicable, *outcome.metrics)) {
    CAPTURE(v.expectation.field, v.expectation.text, v.value);
    CHECK(v.passed);
  }
}

TEST_CASE("runner: remote-tmpdir with one shared root reads a sibling's world", "[unit][run][runner]") {
  TempDir tmp;
  auto scenario = scenario::load_scenario("remote-tmpdir");
  scenario.run.isolation.kind = model::IsolationKind::shared;
  auto outcome = run(scenario, tmp.path() + "/ws");
  CHECK(count(outcome, Counter::builds_completed) == scenario.run.builds);
  CHECK(count(outcome, Counter::builds_failed) == 0);
  CHECK(count(outcome, Counter::collisions_lock_overlap) == 0);
  REQUIRE(count(outcome, Counter::collisions_foreign) > 0);

  const int locked_kind = kind_named(outcome, "locked-across-steps");
  const int victim_kind = kind_named(outcome, "cache-like-buildkit");
  REQUIRE(locked_kind != metrics::k_unknown_kind);
  REQUIRE(victim_kind != metrics::k_unknown_kind);

  std::uint64_t foreign_cells = 0;
  std::uint64_t from_locked = 0;
  for (const auto& cell : outcome.metrics->interference) {
    CHECK(cell.count > 0);
    CHECK(cell.example.kind == cell.kind);
    if (cell.kind != CollisionKind::foreign) continue;
    foreign_cells += cell.count;
    // A foreign read always names its writer: the token says who wrote it.
    CHECK(cell.polluter_kind != metrics::k_unknown_kind);
    CHECK(cell.example.polluter_kind == cell.polluter_kind);
    CHECK(cell.example.victim_kind == cell.victim_kind);
    CHECK(cell.example.polluter_build != cell.example.victim_build);
    if (cell.polluter_kind == locked_kind) from_locked += cell.count;
  }
  CHECK(foreign_cells == count(outcome, Counter::collisions_foreign));
  CHECK(from_locked > 0);  // the sibling locked-across-steps test writes "world" into the key

  // The cells partition every collision.
  std::uint64_t all = 0;
  for (const auto& cell : outcome.metrics->interference) all += cell.count;
  CHECK(all == count(outcome, Counter::collisions_total));
}

// ---- (f) the workspace goes unless kept ------------------------------------------------------

TEST_CASE("runner: the workspace it made under $TMPDIR is removed after the run", "[unit][run][runner]") {
  TempDir tmp;
  TmpdirOverride override_tmpdir(tmp.path());
  auto outcome = run_toml(hold_scenario("buildah", "locked", 4, 2, 1), "");
  CHECK_FALSE(outcome.workdir.empty());
  CHECK(outcome.workdir.rfind(tmp.path(), 0) == 0);  // it was made under $TMPDIR
  CHECK_FALSE(outcome.workdir_kept);
  CHECK(count(outcome, Counter::builds_completed) == 4);
  CHECK_FALSE(stdfs::exists(outcome.workdir));
  CHECK(entries_in(tmp.path()) == 0);
}

TEST_CASE("runner: keep = true keeps the workspace and its caches", "[unit][run][runner]") {
  TempDir tmp;
  TmpdirOverride override_tmpdir(tmp.path());
  auto outcome = run_toml(hold_scenario("buildah", "locked", 4, 2, 1), "", true);
  CHECK(outcome.workdir_kept);
  REQUIRE(stdfs::is_directory(outcome.workdir));
  CHECK(stdfs::is_directory(outcome.workdir + "/roots/shared"));
  CHECK(entries_in(outcome.workdir + "/roots/shared") > 0);
}

TEST_CASE("runner: an existing empty workdir is emptied again but stays", "[unit][run][runner]") {
  TempDir tmp;
  const std::string ws = tmp.path() + "/ws";
  REQUIRE(::mkdir(ws.c_str(), 0700) == 0);
  auto outcome = run_toml(hold_scenario("buildah", "shared", 6, 3, 1), ws);
  CHECK(count(outcome, Counter::builds_completed) == 6);
  REQUIRE(stdfs::is_directory(ws));
  CHECK(entries_in(ws) == 0);
}

TEST_CASE("runner: a workdir it had to create is removed again", "[unit][run][runner]") {
  TempDir tmp;
  const std::string ws = tmp.path() + "/fresh";
  auto outcome = run_toml(hold_scenario("buildah", "shared", 6, 3, 1), ws);
  CHECK(count(outcome, Counter::builds_completed) == 6);
  CHECK_FALSE(stdfs::exists(ws));
}

TEST_CASE("runner: per-build roots are removed as builds end", "[unit][run][runner]") {
  TempDir tmp;
  const std::string ws = tmp.path() + "/ws";
  auto outcome = run_toml(hold_scenario("buildah", "locked", 8, 4, 1, "per-build"), ws, true);
  CHECK(count(outcome, Counter::builds_completed) == 8);
  CHECK(count(outcome, Counter::collisions_total) == 0);
  CHECK(count(outcome, Counter::lock_waited) == 0);  // nobody shares a root, nobody waits
  REQUIRE(stdfs::is_directory(ws + "/roots"));
  CHECK(entries_in(ws + "/roots") == 0);
}

// ---- (g) fake backend ----------------------------------------------------------------------

TEST_CASE("runner: the fake backend completes every build without touching files", "[unit][run][runner]") {
  const std::string sharing = GENERATE(as<std::string>{}, "shared", "locked");
  CAPTURE(sharing);
  TempDir tmp;
  const std::string ws = tmp.path() + "/ws";
  constexpr unsigned k_builds = 40;
  auto outcome = run_toml(hold_scenario("buildah", sharing, k_builds, 6, 0, "shared", "fake"), ws, true);
  CHECK(count(outcome, Counter::builds_started) == k_builds);
  CHECK(count(outcome, Counter::builds_completed) == k_builds);
  CHECK(count(outcome, Counter::builds_failed) == 0);
  CHECK(count(outcome, Counter::steps_completed) == k_builds);
  CHECK(count(outcome, Counter::ops_completed) == 3 * k_builds);
  CHECK(count(outcome, Counter::bytes_written) == 0);
  CHECK(count(outcome, Counter::collisions_total) == 0);
  CHECK(outcome.metrics->histogram(metrics::Hist::build_latency_us).count() == k_builds);
  // No operation touched a file: at most the kernel lock files of locked mounts exist.
  REQUIRE(stdfs::is_directory(ws + "/roots"));
  std::size_t files = 0;
  for (const auto& entry : stdfs::recursive_directory_iterator(ws + "/roots")) {
    if (entry.is_regular_file() && entry.path().filename() != "buildah-cache-lockfile") ++files;
  }
  CHECK(files == 0);
}

TEST_CASE("runner: builds = N runs exactly N builds", "[unit][run][runner]") {
  const unsigned builds = GENERATE(1u, 3u, 17u);
  CAPTURE(builds);
  TempDir tmp;
  auto outcome = run_toml(hold_scenario("buildah", "shared", builds, 4, 0), tmp.path() + "/ws");
  CHECK(count(outcome, Counter::builds_started) == builds);
  CHECK(count(outcome, Counter::builds_completed) == builds);
  CHECK(outcome.kind_names == std::vector<std::string>{"builder"});
}

}  // namespace
}  // namespace cachestress::run

namespace cachestress::run {
namespace {

// Stops the run with a reason `after_ms` once admissions began, as cachestress-mpi's rank
// link does when a rank is lost.
class StopLater final : public RunObserver {
 public:
  explicit StopLater(std::uint64_t after_ms) : m_after_ms(after_ms) {}
  void ready(core::Loop& loop, RunControl& control, std::function<void()> admit) override {
    m_timer = std::make_unique<core::Timer>(loop, [&control] { control.stop_run("rank 1 was lost"); });
    m_timer->start(m_after_ms);
    m_timer->unref();
    admit();
  }
  void interval(const metrics::Collector&, double, std::uint64_t) override {}
  void ended() override { m_timer.reset(); }

 private:
  std::uint64_t m_after_ms;
  std::unique_ptr<core::Timer> m_timer;
};

}  // namespace

TEST_CASE("runner: a stop after the duration's end still ends the builds in flight", "[unit][run][runner]") {
  // The duration (0.1 s) ends while a build holds for 3 s; a lost rank's stop at 0.3 s used
  // to be ignored once the duration had stopped admissions, and the run waited for the hold
  // (under cachestress-mpi, forever, for a lock the lost rank held).
  TempDir tmp;
  auto toml = hold_scenario("buildah", "locked", 0, 1, 3000, "shared");
  toml.insert(toml.find("[[build]]"), "duration = 0.1\n");
  StopLater stop(300);
  RunOptions options;
  options.scenario = scenario::parse_scenario(toml, "test.toml", "test");
  options.workdir = tmp.path() + "/ws";
  options.observer = &stop;
  Runner runner(std::move(options));
  const auto outcome = runner.run();
  CHECK(outcome.stop_reason == "rank 1 was lost");
  CHECK(outcome.interrupted);
  CHECK(count(outcome, Counter::builds_interrupted) == 1);  // not waited for: it completed
  CHECK(count(outcome, Counter::builds_completed) == 0);
}

}  // namespace cachestress::run
