#pragma once
#include "engine/cli/command_line.hpp"

namespace cachestress::cli {

// `cachestress report RUN.json [MORE.json...] -o report.html`: the HTML report; returns 0,
// throws InputError (a report is missing or invalid) or EnvironmentError (cannot write).
int run_report_command(const ReportFlags& flags);

}  // namespace cachestress::cli
