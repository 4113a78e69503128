// `cachestress report RUN.json [MORE.json...] -o report.html`: reads every report first (a
// bad one is exit 2 before anything is written), then writes the page atomically (exit 3
// when it cannot be written).
#include "engine/cli/report_command.hpp"

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/fs/output_file.hpp"
#include "engine/html/html_report.hpp"
#include "engine/report/report.hpp"
#include "engine/report/report_reader.hpp"

namespace cachestress::cli {

Command add_report_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> inputs;
    std::string out;
  };
  auto options = std::make_shared<Options>();
  auto* command = app.add_subcommand("report", "render reports (a run, a sweep, or several runs) as one HTML page");
  command->add_option("reports", options->inputs, "JSON reports written by cachestress (--out or results/)")->required();
  command->add_option("-o,--out", options->out, "the HTML file to write (replaced atomically)")->required();
  command->footer("Exit codes: 0 written, 2 a report is missing or invalid, 3 the output cannot be written.");

  return {command, [options] {
            std::vector<html::ReportSource> sources;
            for (const auto& path : options->inputs) sources.push_back({path, report::read_report_file(path)});
            fs::check_output_path(options->out);
            std::string page;
            try {
              page = html::render_html_report(sources);
            } catch (const nlohmann::json::exception& e) {
              // The reader skips malformed fields; this is only a safety net.
              throw InputError(std::string("report has an unexpected structure: ") + e.what());
            }
            fs::write_atomically(options->out, page);
            spdlog::info("HTML report written to {}", options->out);
            return 0;
          }};
}

}  // namespace cachestress::cli
