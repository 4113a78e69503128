// `cachestress report`: the fields the charts need are in the JSON a real run writes, and a
// real sweep becomes a page with all five charts drawn from data. (tests/browser/ opens the
// page in Chromium.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {
namespace {

std::string figure_of(const std::string& html, const std::string& id) {
  const auto start = html.find("<figure id=\"" + id + "\"");
  if (start == std::string::npos) return {};
  return html.substr(start, html.find("</figure>", start) - start);
}

}  // namespace

TEST_CASE("a run's report carries the lock wait cdf and its lock acquisitions", "[e2e][report]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "12", "--concurrency", "4", "--out", tmp / "run.json", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto doc = read_json_file(tmp / "run.json");
  const auto& wait = doc["cells"][0]["summary"]["lock_wait_us"];

  const auto& cdf = wait["cdf"];
  REQUIRE(cdf.is_array());
  REQUIRE(!cdf.empty());
  double last_value = -1, last_fraction = 0;
  for (const auto& point : cdf) {
    CHECK(point[0].get<double>() > last_value);
    CHECK(point[1].get<double>() >= last_fraction);
    last_value = point[0].get<double>();
    last_fraction = point[1].get<double>();
  }
  CHECK(last_fraction == 1.0);
  CHECK(last_value == wait["max"].get<double>());

  // Fewer acquisitions than the sample holds: every one is there, followed to its release.
  const auto& events = doc["cells"][0]["lock_events"];
  REQUIRE(events.size() == wait["count"].get<std::size_t>());
  std::map<std::string, std::vector<std::pair<double, double>>> held;
  for (const auto& event : events) {
    CHECK(event["kind"] == "builder");
    CHECK_THAT(event["key"].get<std::string>(), Catch::StartsWith("roots/"));
    REQUIRE(event["granted_s"].is_number());
    REQUIRE(event["released_s"].is_number());
    CHECK(event["granted_s"].get<double>() >= event["wait_start_s"].get<double>());
    CHECK(event["released_s"].get<double>() >= event["granted_s"].get<double>());
    held[event["key"]].emplace_back(event["granted_s"].get<double>(), event["released_s"].get<double>());
  }
  // sharing=locked: the holders of one cache follow each other, never overlap.
  for (auto& [key, spans] : held) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) CHECK(spans[i].first >= spans[i - 1].second);
  }
}

TEST_CASE("report draws all five charts from a sweep over sharing and concurrency", "[e2e][report]") {
  TempDir tmp;
  RunSpec sweep;
  sweep.args = {"--scenario", "locked", "--builds", "12", "--interval-ms", "10", "--sweep", "sharing=shared,locked",
                "--sweep", "concurrency=2,6", "--out", tmp / "sweep.json", "-q"};
  sweep.env["TMPDIR"] = tmp.path();
  auto swept = run_binary(sweep);
  INFO(swept.err);
  // shared breaks the scenario's own expectation (no collisions): that is the point of it.
  REQUIRE((swept.exit_code == 0 || swept.exit_code == 1));
  auto result = run_binary({"report", tmp / "sweep.json", "-o", tmp / "report.html"});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const std::string html = read_text(tmp / "report.html");
  for (const char* id : {"chart-throughput", "chart-wait-cdf", "chart-timeline", "chart-interference", "chart-intervals"}) {
    INFO(id);
    const std::string figure = figure_of(html, id);
    REQUIRE(!figure.empty());
    CHECK_THAT(figure, Catch::Contains("<svg"));
    // Drawn from data, not the placeholder a chart shows when its data is absent.
    CHECK(figure.find("class=\"note\"") == std::string::npos);
  }
  CHECK_THAT(figure_of(html, "chart-throughput"), Catch::Contains("class=\"series\""));
  CHECK_THAT(figure_of(html, "chart-throughput"), Catch::Contains("no lock taken: shared"));
  CHECK_THAT(figure_of(html, "chart-timeline"), Catch::Contains("class=\"holder"));
  CHECK_THAT(figure_of(html, "chart-interference"), Catch::Contains("class=\"heat\""));
  CHECK(html.find("<script") == std::string::npos);
}

TEST_CASE("report needs readable reports and a writable output", "[e2e][report]") {
  TempDir tmp;
  write_text(tmp / "not.json", "{ this is not json");
  auto result = run_binary({"report", tmp / "missing.json", "-o", tmp / "out.html"});
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("missing.json"));
  result = run_binary({"report", tmp / "not.json", "-o", tmp / "out.html"});
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("not.json"));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"not.json"});  // nothing half-written

  RunSpec run;
  run.args = {"--scenario", "locked", "--builds", "2", "--out", tmp / "run.json", "-q"};
  run.env["TMPDIR"] = tmp.path();
  REQUIRE(run_binary(run).exit_code <= 1);
  result = run_binary({"report", tmp / "run.json", "-o", tmp / "no-such-dir/out.html"});
  CHECK(result.exit_code == 3);
  CHECK_THAT(result.err, Catch::Contains("no-such-dir"));
  result = run_binary({"report", tmp / "run.json"});
  CHECK(result.exit_code == 2);  // -o is required
}

}  // namespace cachestress::e2e
