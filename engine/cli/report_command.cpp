// `cachestress report RUN.json [MORE.json...] -o report.html`: reads every report first (a
// bad one is exit 2 before anything is written), then writes the page atomically (exit 3
// when it cannot be written).
#include "engine/cli/report_command.hpp"

#include <spdlog/spdlog.h>

#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/fs/output_file.hpp"
#include "engine/html/html_report.hpp"
#include "engine/report/report.hpp"
#include "engine/report/report_reader.hpp"

namespace cachestress::cli {

int run_report_command(const ReportFlags& flags) {
  std::vector<fs::NamedPath> inputs;
  for (const auto& path : flags.inputs) inputs.push_back({"report", path});
  fs::check_distinct({{"-o", flags.out}}, inputs);
  std::vector<html::ReportSource> sources;
  for (const auto& path : flags.inputs) sources.push_back({path, report::read_report_file(path)});
  fs::check_output_path(flags.out);
  std::string page;
  try {
    page = html::render_html_report(sources);
  } catch (const nlohmann::json::exception& e) {
    // The reader skips malformed fields; this is only a safety net.
    throw InputError(std::string("report has an unexpected structure: ") + e.what());
  }
  fs::write_atomically(flags.out, page);
  spdlog::info("HTML report written to {}", flags.out);
  return 0;
}

}  // namespace cachestress::cli
