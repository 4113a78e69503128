#pragma once
// The formatters behind report::format_report, one file each (engine/report/<format>_report.cpp).
// Use format_report (exports.hpp) rather than these: it is the one list of formats.
#include <nlohmann/json.hpp>
#include <string>

namespace cachestress::report {

std::string to_csv(const nlohmann::json& document);     // csv_report.cpp
std::string to_markdown(const nlohmann::json& document);  // md_report.cpp
std::string to_bmf(const nlohmann::json& document);       // bmf_report.cpp
std::string to_gbench(const nlohmann::json& document);    // gbench_report.cpp

}  // namespace cachestress::report
