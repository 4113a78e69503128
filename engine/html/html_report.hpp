#pragma once
// `cachestress report`: one self-contained HTML page (inline CSS and SVG, no script, no
// network; a Content-Security-Policy forbids loading anything) from one or more reports.
#include <string>
#include <vector>

#include "engine/html/report_data.hpp"

namespace cachestress::html {

// The whole page. Deterministic: the same reports give the same bytes.
std::string render_html_report(const std::vector<ReportSource>& sources);

}  // namespace cachestress::html
