#pragma once
#include "engine/cli/commands.hpp"

namespace cachestress::cli {

// `cachestress report RUN.json [MORE.json...] -o report.html`: the HTML report.
Command add_report_command(CLI::App& app);

}  // namespace cachestress::cli
