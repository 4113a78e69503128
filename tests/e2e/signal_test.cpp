// Interrupting a run: exit 128+signal, a valid partial report, the workspace removed.
#include <catch2/catch.hpp>
#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {

namespace {

// Runs a --duration 30 run of `args` in `tmp` (report: partial.json), sends SIGINT after
// 0.7 s and returns the partial report's summary: the run ended on the signal (130).
nlohmann::json summary_after_sigint(const TempDir& tmp, std::vector<std::string> args) {
  RunSpec spec;
  spec.args = std::move(args);
  spec.args.insert(spec.args.end(), {"--builds", "0", "--duration", "30", "--out", tmp / "partial.json"});
  spec.env["TMPDIR"] = tmp.path();
  spec.signal = SIGINT;
  spec.signal_after = std::chrono::milliseconds(700);
  auto result = run_binary(spec);
  REQUIRE(result.signalled);
  CHECK(result.exit_code == 130);
  return read_json_file(tmp / "partial.json")["cells"][0]["summary"];
}

// Every build that started is accounted once, none failed, and staged builds were taken
// back before any build was interrupted (they never ran): only the builds in flight at the
// signal were interrupted, never more than --concurrency.
void check_staged_taken_back(const nlohmann::json& builds, const char* concurrency) {
  CHECK(builds["completed"].get<std::uint64_t>() > 0);
  CHECK(builds["started"].get<std::uint64_t>() ==
        builds["completed"].get<std::uint64_t>() + builds["failed"].get<std::uint64_t>() +
            builds["interrupted"].get<std::uint64_t>());
  CHECK(builds["failed"] == 0);
  CHECK(builds["interrupted"].get<std::uint64_t>() <= std::stoull(concurrency));
}

}  // namespace

TEST_CASE("SIGINT or SIGTERM mid-run: partial report, workspace removed, 130/143", "[e2e][signal]") {
  for (int signum : {SIGINT, SIGTERM, SIGHUP}) {
    INFO("signal " << signum);
    TempDir tmp;
    RunSpec spec;
    spec.args = {"--scenario", "locked", "--builds", "0", "--duration", "30", "--out", tmp / "partial.json", "-v"};
    spec.env["TMPDIR"] = tmp.path();
    spec.signal = signum;
    spec.signal_after = std::chrono::milliseconds(700);
    auto result = run_binary(spec);
    REQUIRE(result.signalled);
    CHECK(result.exit_code == 128 + signum);
    auto doc = read_json_file(tmp / "partial.json");
    CHECK(doc["interrupted"] == true);
    CHECK(doc["signal"].is_string());
    CHECK(doc["cells"][0]["summary"]["builds"]["completed"].get<std::uint64_t>() > 0);
    CHECK(doc["cells"][0]["summary"]["collisions"]["lock_overlap"] == 0);
    CHECK(list_dir(tmp.path()) == std::vector<std::string>{"partial.json"});
  }
}

TEST_CASE("SIGINT during one-hop locked handoffs: builds parked behind the owner end interrupted", "[e2e][signal]") {
  // No hold: every step runs in one hop on a waiter thread, and with 16 builds on one cache
  // the next ones are parked, prepared, for the owners' threads to queue, and the next
  // builds are staged, for the thread of a build that ends to start. An interrupt
  // must take parked and staged builds back (or cancel them once queued) and still account
  // every build.
  for (const char* concurrency : {"16", "1"})
  for (const char* lock_kind : {"ofd", "fcntl", "flock"}) {
    INFO("lock_kind " << lock_kind << ", concurrency " << concurrency);
    TempDir tmp;
    const auto summary =
        summary_after_sigint(tmp, {"--scenario", write_handoff_scenario(tmp), "--concurrency", concurrency, "--lock-kind", lock_kind});
    check_staged_taken_back(summary["builds"], concurrency);
    CHECK(summary["collisions"]["total"] == 0);
    CHECK(summary["collisions"]["lock_overlap"] == 0);
    CHECK(list_dir(tmp.path()) == std::vector<std::string>{"handoff.toml", "partial.json"});
  }
}

TEST_CASE("SIGINT during one-batch shared builds: builds staged on the lanes are taken back, none uncounted", "[e2e][signal]") {
  // Every build of `shared` is one batch: the lane whose build ends starts a staged one in
  // its place. An interrupt must take the staged builds back before any build is
  // interrupted, and account every build that started.
  for (const char* concurrency : {"16", "1"}) {
    INFO("concurrency " << concurrency);
    TempDir tmp;
    check_staged_taken_back(summary_after_sigint(tmp, {"--scenario", "shared", "--concurrency", concurrency})["builds"], concurrency);
    CHECK(list_dir(tmp.path()) == std::vector<std::string>{"partial.json"});
  }
}

TEST_CASE("a second SIGINT aborts at once and still removes the workspace", "[e2e][signal]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "0", "--duration", "30", "--concurrency", "64"};
  spec.env["TMPDIR"] = tmp.path();
  spec.signal = SIGINT;
  spec.second_signal = SIGINT;
  spec.signal_after = std::chrono::milliseconds(500);
  auto result = run_binary(spec);
  REQUIRE(result.signalled);
  CHECK(result.exit_code == 130);
  CHECK(list_dir(tmp.path()).empty());
}

TEST_CASE("SIGINT with --keep keeps the workspace", "[e2e][signal]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "0", "--duration", "30", "--keep", "--workdir", tmp / "ws"};
  spec.signal = SIGINT;
  spec.signal_after = std::chrono::milliseconds(500);
  auto result = run_binary(spec);
  CHECK(result.exit_code == 130);
  CHECK_FALSE(list_dir(tmp / "ws").empty());
}

}  // namespace cachestress::e2e
