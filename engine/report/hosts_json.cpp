#include "engine/report/hosts_json.hpp"

#include <algorithm>

namespace cachestress::report {
namespace {

using nlohmann::json;

// Beside `object[field]` (a build id), adds <prefix>rank and <prefix>host.
void name_rank(json& object, const char* field, const std::string& prefix, const run::MultiHost& multi) {
  if (!object.contains(field) || !object[field].is_number_unsigned()) return;
  const auto build = object[field].get<std::uint64_t>();
  object[prefix + "rank"] = build % static_cast<std::uint64_t>(multi.ranks);
  object[prefix + "host"] = multi.host_of(build);
}

}  // namespace

void add_hosts(json& doc, const run::MultiHost& multi, const metrics::RunMetrics& merged) {
  json lost = json::array();
  for (const auto& l : multi.lost) lost.push_back({{"rank", l.rank}, {"host", l.host}, {"last_heard_s", l.last_heard_s}});
  doc["mpi"] = {{"ranks", multi.ranks},
                {"hosts", [&] {
                   std::vector<std::string> hosts = multi.rank_hosts;
                   std::sort(hosts.begin(), hosts.end());
                   hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
                   return hosts.size();
                 }()},
                {"concurrency_per_rank", multi.concurrency_per_rank},
                {"note", "config.concurrency is per rank; summary adds every rank (histograms by bucket)"},
                {"lost_ranks", lost}};
  json cross = json::array();
  for (const auto& c : merged.cross_host_examples) {
    json example = {{"kind", metrics::to_string(c.kind)}, {"file", c.file}, {"step", c.step},
                    {"polluter_build", c.polluter_build}, {"victim_build", c.victim_build}};
    name_rank(example, "polluter_build", "polluter_", multi);
    name_rank(example, "victim_build", "victim_", multi);
    cross.push_back(std::move(example));
  }
  doc["mpi"]["cross_host_collisions"] = merged.cross_host_collisions;
  doc["mpi"]["cross_host_examples"] = std::move(cross);
  doc["mpi"]["cross_host_lock_overlap"] =
      multi.cross_host_lock_overlap_measured ? json(merged.cross_host_lock_overlaps) : json("not measured");
  json hosts = json::array();
  for (const auto& f : multi.per_rank) {
    hosts.push_back({{"host", f.host},
                     {"rank", f.rank},
                     {"builds_completed", f.builds_completed},
                     {"builds_failed", f.builds_failed},
                     {"builds_per_s", f.duration_s > 0 ? static_cast<double>(f.builds_completed) / f.duration_s : 0.0},
                     {"duration_s", f.duration_s},
                     {"lock_acquisitions", f.lock_acquisitions},
                     {"lock_wait_p50_us", f.lock_wait_p50_us},
                     {"lock_wait_p99_us", f.lock_wait_p99_us},
                     {"collisions", f.collisions},
                     {"clock_offset_us", f.clock_offset_us},
                     {"clock_uncertainty_us", f.clock_uncertainty_us}});
  }
  doc["hosts"] = std::move(hosts);

  for (auto& cell : doc["interference"]) {
    name_rank(cell["example"], "polluter_build", "polluter_", multi);
    name_rank(cell["example"], "victim_build", "victim_", multi);
  }
  for (auto& pair : doc["double_holders"]) {
    name_rank(pair["first"], "build", "", multi);
    name_rank(pair["second"], "build", "", multi);
  }
  for (auto& failure : doc["failures"]) name_rank(failure, "example_build", "example_", multi);
  for (auto& death : doc["holder_deaths"]) {
    name_rank(death, "build", "", multi);
    name_rank(death, "next_build", "next_", multi);
  }
  for (auto& event : doc["lock_events"]) name_rank(event, "build", "", multi);
}

}  // namespace cachestress::report
