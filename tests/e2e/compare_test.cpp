// `cachestress compare BASE.json NEW.json`: the verdicts CI relies on and their exit codes.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {
namespace {

// A short `locked` run written to dir/name; extra flags appended.
std::string locked_report(const TempDir& tmp, const std::string& name, const std::string& concurrency,
                          std::vector<std::string> extra = {}) {
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "32", "--concurrency", concurrency, "--out", tmp / name, "-q"};
  spec.args.insert(spec.args.end(), extra.begin(), extra.end());
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return tmp / name;
}

const nlohmann::json& metric(const nlohmann::json& comparison, const std::string& name) {
  for (const auto& m : comparison["cells"][0]["metrics"]) {
    if (m["metric"] == name) return m;
  }
  FAIL("no metric " << name);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("single runs at concurrency 4 vs 16: shown, inconclusive (exit 4) unless --inconclusive says otherwise", "[e2e][compare]") {
  TempDir tmp;
  const auto c4 = locked_report(tmp, "c4.json", "4");
  const auto c16 = locked_report(tmp, "c16.json", "16");

  auto text = run_binary({"compare", c4, c16});
  INFO(text.out << text.err);
  CHECK(text.exit_code == 4);  // one run a side cannot tell a change from noise
  CHECK_THAT(text.out, Catch::Contains("lock_wait_us.p99") && Catch::Contains("INCONCLUSIVE"));
  CHECK_THAT(text.out, Catch::Contains("config.concurrency: 4 -> 16"));
  CHECK_THAT(text.out, Catch::Contains("repetitions:") && Catch::Contains("runs a side would decide"));
  CHECK(run_binary({"compare", c4, c16, "--inconclusive", "pass"}).exit_code == 0);
  CHECK(run_binary({"compare", c4, c16, "--inconclusive", "fail"}).exit_code == 1);
  CHECK(run_binary({"compare", c4, c16, "--inconclusive", "maybe"}).exit_code == 2);

  auto json = run_binary({"compare", c4, c16, "--format", "json"});
  CHECK(json.exit_code == 4);
  const auto doc = parse_json(json.out);
  CHECK(doc["regression"] == false);
  CHECK(doc["inconclusive"] == true);
  const auto& wait = metric(doc, "lock_wait_us.p99");
  CHECK(wait["verdict"] == "inconclusive");
  CHECK(wait["better"] == "lower");
  CHECK(wait["p_value"].is_null());
  CHECK(wait["repetitions_needed"].get<int>() >= 4);
  // Each side shows its own report's figure (not an order of the two: single runs are noisy).
  const auto p99_of = [](const std::string& path) {
    return parse_json(read_text(path))["cells"][0]["summary"]["lock_wait_us"]["p99"].get<double>();
  };
  CHECK(wait["base"].get<double>() == Approx(p99_of(c4)));
  CHECK(wait["new"].get<double>() == Approx(p99_of(c16)));

  auto md = run_binary({"compare", c4, c16, "--format", "md"});
  CHECK(md.exit_code == 4);
  CHECK_THAT(md.out, Catch::StartsWith("### cachestress compare: **inconclusive**"));
  CHECK_THAT(md.out, Catch::Contains("| `lock_wait_us.p99` |"));
}

TEST_CASE("two --repeat 2 runs with a +300% lock wait do not pass unless --inconclusive pass", "[e2e][compare]") {
  TempDir tmp;
  const auto base = locked_report(tmp, "base.json", "2", {"--repeat", "2"});
  const auto fresh = locked_report(tmp, "new.json", "16", {"--repeat", "2"});
  auto result = run_binary({"compare", base, fresh, "--format", "json"});
  INFO(result.out << result.err);
  const auto doc = parse_json(result.out);
  const auto& wait = metric(doc, "lock_wait_us.p50");
  REQUIRE(wait["change"].get<double>() > 1);  // the premise: a large rise
  CHECK(result.exit_code == 4);
  CHECK(wait["verdict"] == "inconclusive");
  CHECK(run_binary({"compare", base, fresh, "--inconclusive", "pass"}).exit_code == 0);
}

TEST_CASE("a report compared with itself exits 0", "[e2e][compare]") {
  TempDir tmp;
  const auto report = locked_report(tmp, "r.json", "4");
  for (const char* format : {"text", "md", "json"}) {
    auto result = run_binary({"compare", report, report, "--format", format});
    INFO(format << ": " << result.out << result.err);
    CHECK(result.exit_code == 0);
  }
  CHECK_THAT(run_binary({"compare", report, report}).out, Catch::Contains("result: no regression"));
}

TEST_CASE("with six repetitions a side the tests decide: regression, exit 1", "[e2e][compare]") {
  TempDir tmp;
  const auto base = locked_report(tmp, "base.json", "2", {"--repeat", "6"});
  const auto fresh = locked_report(tmp, "new.json", "16", {"--repeat", "6"});
  auto result = run_binary({"compare", base, fresh, "--format", "json"});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 1);
  const auto doc = parse_json(result.out);
  CHECK(doc["cells"][0]["base_runs"] == 6);
  CHECK(doc["cells"][0]["new_runs"] == 6);
  const auto& wait = metric(doc, "lock_wait_us.p50");
  REQUIRE(wait["p_adjusted"].is_number());
  CHECK(wait["p_adjusted"].get<double>() < 0.05);  // 6 vs 6 separated: 2/924 before Holm
  CHECK(wait["effect_low"].get<double>() > 0.1);  // the whole interval beyond the minimum effect
  CHECK(wait["verdict"] == "regression");
  CHECK_THAT(doc["method"].get<std::string>(), Catch::Contains("Mann-Whitney") && Catch::Contains("Holm"));
  // The other way round the wait fell: an improvement.
  auto reverse = run_binary({"compare", fresh, base, "--format", "json"});
  CHECK(metric(parse_json(reverse.out), "lock_wait_us.p50")["verdict"] == "improvement");
}

TEST_CASE("compare reads schema_version 1 reports", "[e2e][compare]") {
  TempDir tmp;
  const auto report = locked_report(tmp, "r.json", "4");
  // A version 1 single run: the cell's fields at the top level.
  auto v2 = read_json_file(report);
  nlohmann::json v1 = v2["cells"][0];
  for (const char* key : {"schema_version", "tool", "created_at", "command_line", "environment"}) v1[key] = v2[key];
  v1["schema_version"] = 1;
  for (const char* key : {"index", "repeat", "values"}) v1.erase(key);
  write_text(tmp / "v1.json", v1.dump());
  auto result = run_binary({"compare", tmp / "v1.json", report});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.out, Catch::Contains("result: no regression"));
}

TEST_CASE("compare input errors exit 2: missing file, other scenario, other schema, not a report", "[e2e][compare]") {
  TempDir tmp;
  const auto locked = locked_report(tmp, "locked.json", "4");

  auto missing = run_binary({"compare", locked, tmp / "nope.json"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("nope.json"));

  RunSpec shared;
  shared.args = {"--scenario", "shared", "--builds", "8", "--out", tmp / "shared.json", "-q"};
  shared.env["TMPDIR"] = tmp.path();
  REQUIRE(run_binary(shared).exit_code == 0);
  auto other = run_binary({"compare", locked, tmp / "shared.json"});
  CHECK(other.exit_code == 2);
  CHECK_THAT(other.err, Catch::Contains("different scenarios") && Catch::Contains("--force"));
  auto forced = run_binary({"compare", locked, tmp / "shared.json", "--force"});
  CHECK((forced.exit_code == 1 || forced.exit_code == 4));  // compared, not refused
  CHECK_THAT(forced.out, Catch::Contains("scenario shared"));

  auto doc = read_json_file(locked);
  doc["schema_version"] = 3;
  write_text(tmp / "future.json", doc.dump());
  auto future = run_binary({"compare", locked, tmp / "future.json"});
  CHECK(future.exit_code == 2);
  CHECK_THAT(future.err, Catch::Contains("schema_version"));

  write_text(tmp / "bmf.json", R"({"locked": {"throughput": {"value": 1.0}}})");
  CHECK(run_binary({"compare", tmp / "bmf.json", locked}).exit_code == 2);
  write_text(tmp / "broken.json", "{\"schema_version\": 1,");
  CHECK(run_binary({"compare", locked, tmp / "broken.json"}).exit_code == 2);
  CHECK(run_binary({"compare", locked, locked, "--threshold", "ten"}).exit_code == 2);
  CHECK(run_binary({"compare", locked, locked, "--format", "xml"}).exit_code == 2);
}

TEST_CASE("a report the schema refuses is an input error for compare and report, naming the field, no page is written",
          "[e2e][compare][report]") {
  // A hand-edited -1 (or 1.5) collisions used to be judged: "REGRESSION (rose from 0)", exit 1,
  // and report drew a page with "collisions -1".
  TempDir tmp;
  const auto good = locked_report(tmp, "good.json", "4");
  struct Edit {
    std::string pointer;
    nlohmann::json value;
    std::string message;
  };
  const std::vector<Edit> edits{
      {"/cells/0/summary/collisions/total", -1, "cells[0].summary.collisions.total: expected a count (a whole number >= 0), got -1"},
      {"/cells/0/summary/collisions/total", 1.5, "cells[0].summary.collisions.total: expected a count (a whole number >= 0), got 1.5"},
      {"/cells/0/summary/builds_per_s", -5, "cells[0].summary.builds_per_s: expected a number >= 0, got -5"},
      {"/cells/0/summary/lock_wait_us/count", 2.5, "cells[0].summary.lock_wait_us.count: expected a count"},
      {"/cells/0/values", nlohmann::json::array(), "cells[0].values: expected an object"},
      {"/cells", nlohmann::json::array(), "schema_version 2 report has no cells"},
  };
  for (const auto& edit : edits) {
    INFO(edit.pointer << " = " << edit.value.dump());
    auto doc = read_json_file(good);
    doc[nlohmann::json::json_pointer(edit.pointer)] = edit.value;
    write_text(tmp / "bad.json", doc.dump());
    const auto compared = run_binary({"compare", good, tmp / "bad.json"});
    CHECK(compared.exit_code == 2);
    CHECK_THAT(compared.err, Catch::Contains(tmp / "bad.json: " + edit.message));
    CHECK(compared.out.empty());
    const auto page = run_binary({"report", tmp / "bad.json", "-o", tmp / "page.html"});
    CHECK(page.exit_code == 2);
    CHECK_THAT(page.err, Catch::Contains(edit.message));
    CHECK_FALSE(std::filesystem::exists(tmp / "page.html"));
  }
}

TEST_CASE("compare and report say where a report's JSON breaks, and refuse what is not a regular file without reading it",
          "[e2e][compare][report]") {
  TempDir tmp;
  const auto good = locked_report(tmp, "good.json", "4");
  write_text(tmp / "nan.json", "{\n  \"schema_version\": NaN}");
  const auto nan = run_binary({"compare", good, tmp / "nan.json"});
  CHECK(nan.exit_code == 2);
  CHECK_THAT(nan.err, Catch::Contains(tmp / "nan.json:2:21: not valid JSON: "));
  // /dev/zero was read until memory ran out; a FIFO nobody writes to hung the open.
  REQUIRE(::mkfifo((tmp / "fifo.json").c_str(), 0600) == 0);
  for (const std::string& input : {std::string("/dev/zero"), tmp / "fifo.json", tmp.path()}) {
    INFO(input);
    const auto started = std::chrono::steady_clock::now();
    const auto compared = run_binary({"compare", good, input});
    CHECK(compared.exit_code == 2);
    CHECK_THAT(compared.err, Catch::Contains(input + ": not a regular file"));
    const auto page = run_binary({"report", input, "-o", tmp / "page.html"});
    CHECK(page.exit_code == 2);
    CHECK_THAT(page.err, Catch::Contains(input + ": not a regular file"));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
  }
  CHECK_FALSE(std::filesystem::exists(tmp / "page.html"));
}

}  // namespace cachestress::e2e
