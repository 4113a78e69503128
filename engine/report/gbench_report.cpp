// Google Benchmark JSON (the --benchmark_format=json shape), so Google Benchmark's
// tools/compare.py and github-action-benchmark (tool: googlecpp) read our results unchanged.
//
// One benchmark entry per run or sweep cell; repetitions of a cell share a name, as
// --benchmark_repetitions does, which is what compare.py's U test groups on. An "iteration"
// is a completed build: real_time is wall time per completed build (1 / builds_per_s), so
// lower is better as for any Google Benchmark time. cachestress does not measure CPU time:
// cpu_time repeats real_time. The figures people read are user counters beside it.
#include "engine/report/export_formatters.hpp"
#include "engine/report/report_rows.hpp"

namespace cachestress::report {
namespace {

struct Counter {
  const char* name;
  const char* path;  // summary field
};

constexpr Counter k_counters[] = {
    {"builds_per_s", "builds_per_s"},
    {"lock_wait_p50_us", "lock_wait_us.p50"},
    {"lock_wait_p99_us", "lock_wait_us.p99"},
    {"lock_wait_max_us", "lock_wait_us.max"},
    {"build_latency_p50_us", "build_latency_us.p50"},
    {"build_latency_p99_us", "build_latency_us.p99"},
    {"collisions", "collisions.total"},
    {"builds_failed", "builds.failed"},
};

nlohmann::ordered_json context_json(const nlohmann::json& document) {
  const auto environment = document.value("environment", nlohmann::json::object());
  const auto tool = document.value("tool", nlohmann::json::object());
  nlohmann::ordered_json context;
  context["date"] = document.value("created_at", std::string());
  context["host_name"] = environment.value("hostname", std::string());
  context["executable"] = "cachestress";
  context["num_cpus"] = environment.value("cpus", 0);
  context["mhz_per_cpu"] = 0;  // not measured
  context["cpu_scaling_enabled"] = false;
  context["caches"] = nlohmann::ordered_json::array();
  context["load_avg"] = nlohmann::ordered_json::array();
  context["library_build_type"] = "release";
  context["json_schema_version"] = 1;
  // Custom context, as benchmark::AddCustomContext adds it.
  context["cachestress_version"] = tool.value("version", std::string());
  context["cachestress_scenario"] = report_scenario(document);
  context["cachestress_command_line"] = document.value("command_line", std::string());
  context["kernel"] = environment.value("kernel", std::string());
  context["libuv_version"] = environment.value("libuv_version", std::string());
  return context;
}

}  // namespace

std::string to_gbench(const nlohmann::json& document) {
  nlohmann::ordered_json out;
  out["context"] = context_json(document);
  nlohmann::ordered_json benchmarks = nlohmann::ordered_json::array();
  std::vector<std::string> families;  // distinct names, in report order
  for (const ReportRow& row : report_rows(document)) {
    std::size_t family = 0;
    while (family < families.size() && families[family] != row.name) ++family;
    if (family == families.size()) families.push_back(row.name);

    const double completed = summary_number(row.cell, "builds.completed");
    const double duration_us = summary_number(row.cell, "duration_s") * 1e6;
    const double per_build_us = completed > 0 ? duration_us / completed : 0;
    nlohmann::ordered_json entry;
    entry["name"] = row.name;
    entry["family_index"] = family;
    entry["per_family_instance_index"] = 0;
    entry["run_name"] = row.name;
    entry["run_type"] = "iteration";
    entry["repetitions"] = row.repetitions;
    entry["repetition_index"] = row.repetition_index;
    entry["threads"] = 1;
    entry["iterations"] = static_cast<std::uint64_t>(completed);
    entry["real_time"] = per_build_us;
    entry["cpu_time"] = per_build_us;
    entry["time_unit"] = "us";
    if (completed == 0) {
      entry["error_occurred"] = true;
      entry["error_message"] = "no build completed";
    }
    // A counter that is no measurement is left out: a tool would store its placeholder 0.
    for (const Counter& counter : k_counters) {
      if (is_measurement(row.cell, counter.path)) entry[counter.name] = summary_number(row.cell, counter.path);
    }
    benchmarks.push_back(std::move(entry));
  }
  out["benchmarks"] = std::move(benchmarks);
  return out.dump(2) + "\n";
}

}  // namespace cachestress::report
