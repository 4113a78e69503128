// Report formats beside the JSON report, and reports that survive an interrupted sweep.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <csignal>
#include <string>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {
namespace {

std::size_t lines(const std::string& text) {
  std::size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace

TEST_CASE("one run writes several formats: the first to stdout, every file format beside the report", "[e2e][formats]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "8", "--out", tmp / "r.json", "--format", "csv,md", "--format", "bmf,gbench", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Catch::StartsWith("scenario,run,repetition,"));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"r.bmf.json", "r.csv", "r.gbench.json", "r.json", "r.md"});
  CHECK(read_text(tmp / "r.csv") == result.out);
  CHECK(lines(read_text(tmp / "r.csv")) == 2);
  CHECK_THAT(read_text(tmp / "r.md"), Catch::Contains("| builds/s |"));
  const auto report = read_json_file(tmp / "r.json");
  const auto gbench = read_json_file(tmp / "r.gbench.json");
  REQUIRE(gbench["benchmarks"].size() == 1);
  CHECK(gbench["benchmarks"][0]["iterations"] == report["cells"][0]["summary"]["builds"]["completed"]);
  const auto bmf = read_json_file(tmp / "r.bmf.json");
  CHECK(bmf["locked"]["throughput"]["value"] == report["cells"][0]["summary"]["builds_per_s"]);
}

TEST_CASE("exports never show a placeholder 0 as a measurement", "[e2e][formats]") {
  // The spawn scenario runs commands: lock waits are not measured. md showed "0 µs", bmf and
  // gbench stored 0, as if builds had not waited.
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "spawn", "--builds", "20", "--out", tmp / "s.json", "--format", "md,csv,bmf,gbench", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto spawn = run_binary(spec);
  INFO(spawn.err);
  REQUIRE(spawn.exit_code == 0);
  CHECK_THAT(spawn.out, Catch::Contains("| not measured | not measured |"));
  const auto bmf = read_json_file(tmp / "s.bmf.json");
  REQUIRE(bmf.contains("spawn"));
  CHECK(bmf["spawn"].contains("throughput"));
  CHECK_FALSE(bmf["spawn"].contains("lock-wait-p50-us"));
  const auto gbench = read_json_file(tmp / "s.gbench.json");
  CHECK(gbench["benchmarks"][0].contains("builds_per_s"));
  CHECK_FALSE(gbench["benchmarks"][0].contains("lock_wait_p99_us"));
  const std::string csv = read_text(tmp / "s.csv");
  const std::string header = csv.substr(0, csv.find("\r\n"));
  const std::string row = csv.substr(header.size() + 2, csv.find("\r\n", header.size() + 2) - header.size() - 2);
  auto field = [](const std::string& line, std::size_t index) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < index; ++i) start = line.find(',', start) + 1;
    return line.substr(start, line.find(',', start) - start);
  };
  std::size_t column = 0;
  while (field(header, column) != "lock_wait_us.p50") ++column;
  CHECK(field(row, column).empty());
  // Every build failed (a private mount refused under these semantics): no build time to show.
  spec.args = {"--scenario", "locked", "--builds", "4", "--sharing", "private", "--out", tmp / "f.json", "--format", "md",
               "--allow-failed-builds", "-q"};
  auto failed = run_binary(spec);
  INFO(failed.err);
  const auto report = read_json_file(tmp / "f.json");
  REQUIRE(report["cells"][0]["summary"]["builds"]["completed"] == 0);
  CHECK_THAT(failed.out, Catch::Contains("| none | none | none |"));
}

TEST_CASE("formats after the first need a report to sit beside, a bad format costs no run", "[e2e][formats]") {
  TempDir tmp;
  RunSpec spec;
  spec.cwd = tmp.path();
  spec.env["TMPDIR"] = tmp.path();
  spec.args = {"--scenario", "locked", "--builds", "4", "--format", "text,csv"};
  auto no_report = run_binary(spec);
  CHECK(no_report.exit_code == 2);
  CHECK_THAT(no_report.err, Catch::Contains("--out"));
  spec.args = {"--scenario", "locked", "--builds", "4", "--format", "csv,yaml", "--out", tmp / "r.json"};
  auto unknown = run_binary(spec);
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("yaml"));
  CHECK(list_dir(tmp.path()).empty());
  // A single format needs no file: gbench JSON straight to stdout.
  spec.args = {"--scenario", "locked", "--builds", "4", "--format", "gbench", "-q"};
  auto alone = run_binary(spec);
  CHECK(alone.exit_code == 0);
  CHECK(parse_json(alone.out)["benchmarks"].size() == 1);
}

TEST_CASE("an output that is another output or an input file is refused before anything is written", "[e2e][formats]") {
  TempDir tmp;
  const std::string scenario = tmp / "my.toml";
  auto shown = run_binary({"show", "locked"});
  REQUIRE(shown.exit_code == 0);
  write_text(scenario, shown.out);
  write_text(tmp / "r.json", "earlier\n");
  const std::vector<std::vector<std::string>> clashes{
      {"--scenario", "locked", "--out", tmp / "r.json", "--junit", tmp / "r.json"},
      {"--scenario", "locked", "--out", tmp / "r.json", "--format", "csv", "--junit", tmp / "r.csv"},
      {"--scenario", scenario, "--out", scenario},
      {"--scenario", scenario, "--out", tmp.path() + "/sub/../my.toml"},
      {"report", tmp / "r.json", "-o", tmp / "r.json"},
  };
  for (auto args : clashes) {
    INFO(args.back());
    RunSpec spec;
    spec.args = args;
    spec.env["TMPDIR"] = tmp.path();
    auto result = run_binary(spec);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::Contains("the same file as"));
    CHECK(read_text(scenario) == shown.out);
    CHECK(read_text(tmp / "r.json") == "earlier\n");
    CHECK(list_dir(tmp.path()) == std::vector<std::string>{"my.toml", "r.json"});
  }
}

TEST_CASE("a report path named like an export asked for is refused: the JSON would sit under the export's name", "[e2e][formats]") {
  TempDir tmp;
  RunSpec spec;
  spec.env["TMPDIR"] = tmp.path();
  spec.args = {"--scenario", "locked", "--builds", "4", "--format", "csv", "--out", tmp / "r.csv"};
  auto result = run_binary(spec);
  CHECK(result.exit_code == 2);  // it wrote the JSON to r.csv and the CSV to r.csv.csv
  CHECK_THAT(result.err, Catch::Contains("--out " + tmp / "r.json" + " writes both"));
  CHECK(list_dir(tmp.path()).empty());
}

TEST_CASE("a sweep's markdown heading lists every value of a swept setting, not the first cell's", "[e2e][formats]") {
  TempDir tmp;
  RunSpec spec;
  spec.env["TMPDIR"] = tmp.path();
  spec.args = {"--scenario", "locked", "--builds", "4", "--sweep", "concurrency=1,3", "--format", "md", "-q"};
  auto md = run_binary(spec);
  CHECK(md.exit_code == 0);
  CHECK_THAT(md.out, Catch::Contains("· concurrency 1, 3 ·") && Catch::Contains("· seed 1"));
}

TEST_CASE("a report sent to a device (--out /dev/null) has nothing written beside it", "[e2e][formats]") {
  TempDir tmp;
  // A link to /dev/null: a regression would write null.md here, not in /dev.
  const std::string null_link = tmp / "null";
  REQUIRE(::symlink("/dev/null", null_link.c_str()) == 0);
  RunSpec spec;
  spec.cwd = tmp.path();
  spec.env["TMPDIR"] = tmp.path();
  spec.args = {"--scenario", "locked", "--builds", "4", "--format", "md", "--out", null_link};
  auto md = run_binary(spec);
  CHECK(md.exit_code == 0);
  CHECK_THAT(md.out, Catch::StartsWith("### cachestress `locked`"));  // the first format: stdout
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"null"});
  // A second file format has nowhere to go: refused before the run, like one without --out.
  spec.args = {"--scenario", "locked", "--builds", "4", "--format", "text,csv", "--out", null_link};
  auto csv = run_binary(spec);
  CHECK(csv.exit_code == 2);
  CHECK_THAT(csv.err, Catch::Contains("--format csv") && Catch::Contains("is not a file they can sit beside"));
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"null"});
}

TEST_CASE("an interrupted sweep leaves a valid report and exports of the finished cells", "[e2e][formats][signal]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "0", "--duration", "0.5", "--sweep", "concurrency=1,2,4,8",
               "--out", tmp / "sweep.json", "--format", "text,csv,gbench"};
  spec.env["TMPDIR"] = tmp.path();
  spec.signal = SIGINT;
  spec.signal_when = "run 3/4";  // logged when the third cell starts, after two were written
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.signalled);
  CHECK(result.exit_code == 130);
  const auto doc = read_json_file(tmp / "sweep.json");
  CHECK(doc["interrupted"] == true);
  CHECK(doc["signal"] == "SIGINT");
  CHECK(doc["sweep"]["cells_planned"] == 4);
  const auto& cells = doc["cells"];
  // Two cells finished; the third is in the report too, cut short (the signal reached its
  // run) or whole (it came before that run took the signal over): never a fourth.
  REQUIRE(cells.size() == 3);
  CHECK(cells[0]["interrupted"] == false);
  CHECK(cells[1]["interrupted"] == false);
  CHECK(cells[1]["summary"]["builds"]["completed"].get<std::uint64_t>() > 0);
  CHECK(lines(read_text(tmp / "sweep.csv")) == 1 + cells.size());
  CHECK(read_json_file(tmp / "sweep.gbench.json")["benchmarks"].size() == cells.size());
  // No temp file is left behind by the atomic writes.
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"sweep.csv", "sweep.gbench.json", "sweep.json"});
}

}  // namespace cachestress::e2e

namespace cachestress::e2e {
namespace {

// "number" for integers and floats alike: JSON readers do not tell them apart.
std::string json_kind(const nlohmann::json& value) {
  return value.is_number() ? "number" : value.type_name();
}

}  // namespace

TEST_CASE("gbench and bmf exports have the documented shapes of tests/fixtures", "[e2e][formats]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "locked", "--builds", "6", "--sweep", "concurrency=1,2", "--repeat", "2",
               "--out", tmp / "r.json", "--format", "gbench,bmf", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE((result.exit_code == 0 || result.exit_code == 1));  // locked expects waits at concurrency 1

  // Google Benchmark: every key of a documented entry, with its type; repetitions numbered.
  const auto documented = nlohmann::json::parse(read_text(source_path("tests/fixtures/gbench_documented.json")));
  const auto ours = read_json_file(tmp / "r.gbench.json");
  for (const auto& [key, value] : documented["context"].items()) {
    if (key == "load_avg") continue;  // not measured
    INFO("context." << key);
    REQUIRE(ours["context"].contains(key));
    CHECK(json_kind(ours["context"][key]) == json_kind(value));
  }
  REQUIRE(ours["benchmarks"].size() == 4);
  for (const auto& entry : ours["benchmarks"]) {
    for (const auto& [key, value] : documented["benchmarks"][0].items()) {
      if (key == "bytes") continue;  // the fixture's own user counter
      INFO(entry["name"] << "." << key);
      REQUIRE(entry.contains(key));
      CHECK(json_kind(entry[key]) == json_kind(value));
    }
    CHECK(entry["repetitions"] == 2);
    CHECK(entry["time_unit"] == "us");
  }
  CHECK(ours["benchmarks"][0]["name"] == ours["benchmarks"][2]["name"]);
  CHECK(ours["benchmarks"][0]["repetition_index"] == 0);
  CHECK(ours["benchmarks"][2]["repetition_index"] == 1);

  // Bencher Metric Format: benchmark -> measure -> {value, lower_value, upper_value}, numbers.
  const auto bmf_documented = nlohmann::json::parse(read_text(source_path("tests/fixtures/bmf_documented.json")));
  const auto& documented_metric = bmf_documented["parser/small"]["latency"];  // value and both bounds
  const auto bmf = read_json_file(tmp / "r.bmf.json");
  REQUIRE(bmf.size() == 2);  // one benchmark per combination, repetitions folded
  for (const auto& [benchmark, measures] : bmf.items()) {
    REQUIRE(measures.contains("throughput"));
    for (const auto& [slug, metric] : measures.items()) {
      INFO(benchmark << " " << slug);
      CHECK(slug.size() <= 64);
      REQUIRE(metric.is_object());
      for (const auto& [key, value] : metric.items()) {
        CHECK(documented_metric.contains(key));
        CHECK(value.is_number());
      }
      CHECK(metric.contains("value"));
      CHECK(metric["lower_value"].get<double>() <= metric["value"].get<double>());
      CHECK(metric["value"].get<double>() <= metric["upper_value"].get<double>());
    }
  }
}

}  // namespace cachestress::e2e
