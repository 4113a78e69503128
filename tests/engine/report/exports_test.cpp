// Report formats: --format parsing, file names beside the report, and what each export holds.
#include <catch2/catch.hpp>
#include <string>

#include "engine/core/error.hpp"
#include "engine/report/exports.hpp"

namespace cachestress::report {
namespace {

nlohmann::json cell(const std::string& concurrency, std::uint64_t repeat, double builds_per_s) {
  nlohmann::json summary;
  summary["builds"] = {{"started", 10}, {"completed", 10}, {"failed", 0}};
  summary["duration_s"] = 10 / builds_per_s;
  summary["builds_per_s"] = builds_per_s;
  summary["lock_wait_us"] = {{"p50", 100}, {"p99", 200}, {"max", 300}};
  summary["build_latency_us"] = {{"p50", 1000}, {"p99", 2000}};
  summary["collisions"] = {{"total", 0}};
  return {{"values", {{"concurrency", concurrency}}},
          {"repeat", repeat},
          {"config", {{"scenario", "convoy"}, {"concurrency", std::stoi(concurrency)}}},
          {"interrupted", false},
          {"expectations", nlohmann::json::array()},
          {"summary", summary}};
}

nlohmann::json sweep() {
  return {{"schema_version", 1},
          {"tool", {{"name", "cachestress"}, {"version", "0"}}},
          {"sweep", {{"keys", {"concurrency"}}, {"repeat", 2}}},
          {"cells", {cell("2", 0, 100), cell("8", 0, 50), cell("2", 1, 110), cell("8", 1, 40)}}};
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("format lists: comma lists and repeats, in order, without duplicates", "[unit][report]") {
  CHECK(parse_formats({}) == std::vector<std::string>{"text"});
  CHECK(parse_formats({"json,csv", "md", "csv"}) == std::vector<std::string>{"json", "csv", "md"});
  CHECK_THROWS_AS(parse_formats({"csv,xml"}), InputError);
  CHECK_THROWS_AS(parse_formats({"csv,"}), InputError);
  try {
    parse_formats({"yaml"});
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("--format") && Catch::Contains("gbench"));
  }
}

TEST_CASE("file formats sit beside the JSON report", "[unit][report]") {
  CHECK(sibling_path("results/r.json", "csv") == "results/r.csv");
  CHECK(sibling_path("r.json", "md") == "r.md");
  CHECK(sibling_path("r.json", "bmf") == "r.bmf.json");
  CHECK(sibling_path("r.json", "gbench") == "r.gbench.json");
  CHECK(sibling_path("report", "csv") == "report.csv");
  CHECK(is_file_format("csv"));
  CHECK_FALSE(is_file_format("json"));
  CHECK_FALSE(is_file_format("text"));
}

TEST_CASE("csv: a header and one row per sweep cell", "[unit][report]") {
  const std::string csv = format_report(sweep(), "csv");
  CHECK(count(csv, "\r\n") == 5);
  CHECK_THAT(csv, Catch::StartsWith("scenario,run,repetition,sweep.concurrency,"));
  CHECK_THAT(csv, Catch::Contains("builds_per_s"));
}

TEST_CASE("gbench: repetitions share a name and are numbered, real_time is time per build", "[unit][report]") {
  const auto doc = nlohmann::json::parse(format_report(sweep(), "gbench"));
  REQUIRE(doc["benchmarks"].size() == 4);
  const auto& first = doc["benchmarks"][0];
  CHECK(first["name"] == "convoy/concurrency:2");
  CHECK(first["run_type"] == "iteration");
  CHECK(first["repetitions"] == 2);
  CHECK(first["repetition_index"] == 0);
  CHECK(doc["benchmarks"][2]["name"] == "convoy/concurrency:2");
  CHECK(doc["benchmarks"][2]["repetition_index"] == 1);
  CHECK(first["time_unit"] == "us");
  CHECK(first["real_time"].get<double>() == Approx(1e6 / 100));  // 100 builds/s -> 10 ms a build
  CHECK(first["iterations"] == 10);
  CHECK(doc["context"]["json_schema_version"] == 1);
}

TEST_CASE("bmf: one benchmark per cell, repetitions folded into median and bounds", "[unit][report]") {
  const auto doc = nlohmann::json::parse(format_report(sweep(), "bmf"));
  REQUIRE(doc.size() == 2);
  const auto& throughput = doc["convoy/concurrency:8"]["throughput"];
  CHECK(throughput["value"].get<double>() == Approx(45));
  CHECK(throughput["lower_value"].get<double>() == Approx(40));
  CHECK(throughput["upper_value"].get<double>() == Approx(50));
}

TEST_CASE("bmf: a repetition a signal cut short is left out of the median and bounds", "[unit][report]") {
  auto doc = sweep();
  doc["cells"][3]["interrupted"] = true;  // concurrency 8's second repetition: 40 builds/s, cut short
  const auto bmf = nlohmann::json::parse(format_report(doc, "bmf"));
  const auto& throughput = bmf["convoy/concurrency:8"]["throughput"];
  CHECK(throughput["value"].get<double>() == Approx(50));
  CHECK_FALSE(throughput.contains("lower_value"));  // one finished repetition: no bounds
}

TEST_CASE("md: a table row per cell, fit for a pull-request comment", "[unit][report]") {
  const std::string md = format_report(sweep(), "md");
  CHECK_THAT(md, Catch::StartsWith("### cachestress `convoy`"));
  CHECK(count(md, "\n| concurrency=") == 4);
  CHECK_THROWS_AS(format_report(sweep(), "text"), InputError);
}

}  // namespace cachestress::report
