#include "engine/html/hosts_table.hpp"

#include "engine/html/svg_chart.hpp"

namespace cachestress::html {
namespace {

using nlohmann::json;

double number(const json& object, const char* key) {
  return object.contains(key) && object[key].is_number() ? object[key].get<double>() : 0.0;
}
std::string text(const json& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : std::string();
}

std::string run_hosts(const json& run, const std::string& title) {
  if (!run.is_object() || !run.contains("hosts") || !run["hosts"].is_array() || !run.contains("mpi")) return {};
  const json& mpi = run["mpi"];
  std::string html = "<h3>" + markup_escape(title) + ": " + format_number(number(mpi, "ranks")) + " ranks on " +
                     format_number(number(mpi, "hosts")) + " hosts, concurrency " + format_number(number(mpi, "concurrency_per_rank")) +
                     " per rank</h3>\n<p>Collisions between hosts: " + format_number(number(mpi, "cross_host_collisions"));
  if (mpi.contains("cross_host_examples") && mpi["cross_host_examples"].is_array() && !mpi["cross_host_examples"].empty()) {
    const json& e = mpi["cross_host_examples"][0];
    html += " (e.g. build " + format_number(number(e, "victim_build")) + " on " + markup_escape(text(e, "victim_host")) +
            " saw build " + format_number(number(e, "polluter_build")) + " on " + markup_escape(text(e, "polluter_host")) + " in " +
            markup_escape(text(e, "file")) + ")";
  }
  html += ". Lock overlap between hosts: " +
          (mpi.contains("cross_host_lock_overlap") && mpi["cross_host_lock_overlap"].is_number()
               ? format_number(mpi["cross_host_lock_overlap"].get<double>())
               : std::string("not measured")) +
          ".</p>\n";
  if (mpi.contains("lost_ranks") && mpi["lost_ranks"].is_array()) {
    for (const auto& lost : mpi["lost_ranks"]) {
      html += "<p><strong>Lost:</strong> rank " + format_number(number(lost, "rank")) + " on " + markup_escape(text(lost, "host")) +
              ", nothing heard after " + format_number(number(lost, "last_heard_s")) + " s; its builds are missing.</p>\n";
    }
  }
  html += "<table>\n<thead><tr><th>host</th><th class=\"number\">rank</th><th class=\"number\">builds</th>"
          "<th class=\"number\">builds/s</th><th class=\"number\">p50 lock wait</th><th class=\"number\">p99 lock wait</th>"
          "<th class=\"number\">collisions</th><th class=\"number\">clock offset</th></tr></thead>\n<tbody>\n";
  for (const auto& h : run["hosts"]) {
    // A rank that took no lock has no wait percentiles (reports before lock_acquisitions: shown).
    const bool waits = !h.contains("lock_acquisitions") || number(h, "lock_acquisitions") > 0;
    const auto wait = [&](const char* field) { return waits ? format_duration_us(number(h, field)) : std::string("none"); };
    html += "<tr><td>" + markup_escape(text(h, "host")) + "</td><td class=\"number\">" + format_number(number(h, "rank")) +
            "</td><td class=\"number\">" + format_number(number(h, "builds_completed")) + "</td><td class=\"number\">" +
            format_number(number(h, "builds_per_s")) + "</td><td class=\"number\">" + wait("lock_wait_p50_us") +
            "</td><td class=\"number\">" + wait("lock_wait_p99_us") + "</td><td class=\"number\">" +
            format_number(number(h, "collisions")) + "</td><td class=\"number\">" + format_number(number(h, "clock_offset_us")) +
            " µs ± " + format_number(number(h, "clock_uncertainty_us")) + "</td></tr>\n";
  }
  return html + "</tbody>\n</table>\n";
}

}  // namespace

std::string hosts_table(const std::vector<ReportSource>& sources) {
  std::string body;
  for (const auto& source : sources) {
    const json& doc = source.document;
    if (doc.contains("cells") && doc["cells"].is_array()) {
      for (std::size_t i = 0; i < doc["cells"].size(); ++i) body += run_hosts(doc["cells"][i], source.path + " run " + std::to_string(i + 1));
    } else {
      body += run_hosts(doc, source.path);
    }
  }
  if (body.empty()) return {};
  return "<section id=\"hosts\">\n<h2>Hosts (cachestress-mpi)</h2>\n" + body + "</section>\n";
}

}  // namespace cachestress::html
