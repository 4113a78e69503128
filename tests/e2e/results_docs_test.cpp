// results/README.md documents, and results/schema.json requires, every summary field the
// metric table declares: adding a metric without documenting it fails here. A field added
// within a schema_version is optional instead (older reports of that version lack it), and
// results/README.md must list it as such.
#include <catch2/catch.hpp>
#include <algorithm>
#include <string>
#include <vector>

#include "engine/metrics/metric_table.hpp"
#include "engine/metrics/summary_fields.hpp"
#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {

TEST_CASE("every summary field is documented in results/README.md and required by results/schema.json", "[e2e][report]") {
  const std::string readme = read_text(source_path("results/README.md"));
  const auto schema = nlohmann::json::parse(read_text(source_path("results/schema.json")));
  const auto& summary = schema["$defs"]["summary"];
  const auto& histogram = schema["$defs"]["histogram_fields"];
  auto required = [](const nlohmann::json& object, const std::string& key) {
    const auto& list = object.contains("required") ? object["required"] : nlohmann::json::array();
    return std::find(list.begin(), list.end(), key) != list.end();
  };
  auto is_histogram = [](const std::string& name) {
    for (const auto& h : metrics::k_histograms) {
      if (name == h.name) return true;
    }
    return false;
  };
  const std::vector<std::string> added_within_version = {"failed_build_latency_us"};
  for (const auto& path : metrics::summary_field_paths()) {
    INFO(path);
    const auto dot = path.find('.');
    const std::string group = path.substr(0, dot);
    if (std::find(added_within_version.begin(), added_within_version.end(), group) != added_within_version.end()) {
      CHECK_FALSE(required(summary, group));
      CHECK(summary["properties"].contains(group));
      CHECK_THAT(readme, Catch::Contains("optional in `schema.json`") && Catch::Contains("`" + group + "` in each summary"));
    } else {
      CHECK(required(summary, group));
    }
    if (dot == std::string::npos) {
      CHECK_THAT(readme, Catch::Contains("| `" + path + "` |"));
      continue;
    }
    const std::string leaf = path.substr(dot + 1);
    if (is_histogram(group) && leaf != "waited") {
      // Statistics are documented once for every histogram.
      CHECK_THAT(readme, Catch::Contains("| `" + group + "` |") && Catch::Contains("`" + leaf + "`"));
      CHECK(required(histogram, leaf));
    } else {
      CHECK_THAT(readme, Catch::Contains("| `" + path + "` |"));
      CHECK(required(summary["properties"][group], leaf));
    }
  }
}

TEST_CASE("every field of a run in a real report has a row in results/README.md and a schema property", "[e2e][report]") {
  const std::string readme = read_text(source_path("results/README.md"));
  const auto schema = nlohmann::json::parse(read_text(source_path("results/schema.json")));
  const auto& run_properties = schema["$defs"]["run"]["properties"];
  const auto& cell_properties = schema["$defs"]["cell"]["properties"];
  // A process-backend run: it writes every field a run can have outside cachestress-mpi.
  auto run = run_json({"--scenario", "locked", "--builds", "8", "--backend", "process"});
  REQUIRE(run.exit_code == 0);
  for (const auto& [key, value] : run.doc["cells"][0].items()) {
    INFO(key);
    CHECK_THAT(readme, Catch::Contains("| `" + key + "` |"));
    CHECK((run_properties.contains(key) || cell_properties.contains(key)));
  }
  for (const auto& [key, value] : run.doc["cells"][0]["faults"].items()) {
    INFO(key);
    CHECK(schema["$defs"]["faults"]["properties"].contains(key));
    CHECK_THAT(readme, Catch::Contains("`" + key + "` ("));
  }
}

}  // namespace cachestress::e2e

#include <regex>

#include "engine/scenario/run_settings.hpp"

namespace cachestress::e2e {

TEST_CASE("every isolation the tool accepts is one results/schema.json and results/README.md allow", "[e2e][report]") {
  // --isolation per-host wrote reports that failed the schema's isolation pattern.
  const auto schema = nlohmann::json::parse(read_text(source_path("results/schema.json")));
  const std::string readme = read_text(source_path("results/README.md"));
  std::string pattern;
  const std::function<void(const nlohmann::json&)> find = [&](const nlohmann::json& node) {
    if (!node.is_object() && !node.is_array()) return;
    if (node.is_object() && node.contains("isolation") && node["isolation"].is_object() && node["isolation"].contains("pattern")) {
      pattern = node["isolation"]["pattern"].get<std::string>();
    }
    for (const auto& child : node) find(child);
  };
  find(schema);
  REQUIRE_FALSE(pattern.empty());
  const std::string choices(scenario::find_setting("isolation")->choices);  // "per-build, shared, per-group:K (...), per-host"
  std::size_t count = 0;
  for (std::size_t start = 0; start < choices.size();) {
    auto end = choices.find(", ", start);
    if (end == std::string::npos) end = choices.size();
    std::string value = choices.substr(start, end - start);
    value = value.substr(0, value.find(' '));
    INFO(value);
    const std::string example = value.ends_with(":K") ? value.substr(0, value.size() - 1) + "3" : value;
    CHECK(std::regex_match(example, std::regex(pattern)));
    CHECK_THAT(readme, Catch::Contains("`" + value + "`"));
    ++count;
    start = end + 2;
  }
  CHECK(count == 4);
}

}  // namespace cachestress::e2e
