#include "engine/metrics/summary_fields.hpp"

#include <algorithm>

#include "engine/metrics/collector.hpp"
#include "engine/metrics/metric_table.hpp"

namespace cachestress::metrics {

const std::vector<std::string>& summary_field_paths() {
  static const std::vector<std::string> k_paths = [] {
    std::vector<std::string> paths;
    for (const auto& counter : k_counters) paths.emplace_back(counter.name);
    for (const auto& rate : k_rates) paths.emplace_back(rate.name);
    for (const auto& hist : k_histograms) {
      for (const char* stat : k_histogram_stats) paths.push_back(std::string(hist.name) + "." + stat);
    }
    paths.emplace_back("lock_wait_us.waited");
    paths.emplace_back("lock_fairness.jain_index");
    paths.emplace_back("lock_fairness.longest_wait_us");
    paths.emplace_back("lock_fairness.longest_wait_build");
    return paths;
  }();
  return k_paths;
}

std::string canonical_summary_field(std::string_view path) {
  constexpr std::string_view k_prefix = "summary.";
  if (path.starts_with(k_prefix)) path.remove_prefix(k_prefix.size());
  const auto& paths = summary_field_paths();
  if (std::find(paths.begin(), paths.end(), path) == paths.end()) return {};
  return std::string(path);
}

double summary_value(const RunMetrics& metrics, std::string_view path) {
  // A placeholder is 0 whatever the field would compute from no data (a Jain index of no
  // waits is 1): results/README.md "Not measured".
  if (!metrics.measured(path)) return 0;
  for (std::size_t i = 0; i < k_counters.size(); ++i) {
    if (path == k_counters[i].name) return static_cast<double>(metrics.counters[i]);
  }
  for (std::size_t i = 0; i < k_rates.size(); ++i) {
    if (path == k_rates[i].name) return metrics.rate(static_cast<Rate>(i));
  }
  if (path == "lock_wait_us.waited") return static_cast<double>(metrics.lock_waited);
  if (path == "lock_fairness.jain_index") return metrics.jain_index();
  if (path == "lock_fairness.longest_wait_us") return static_cast<double>(metrics.longest_wait_us);
  if (path == "lock_fairness.longest_wait_build") return static_cast<double>(metrics.longest_wait_build);
  for (std::size_t i = 0; i < k_histograms.size(); ++i) {
    std::string_view name = k_histograms[i].name;
    if (!path.starts_with(name) || path.size() <= name.size() || path[name.size()] != '.') continue;
    std::string_view stat = path.substr(name.size() + 1);
    const Histogram& h = metrics.histograms[i];
    if (stat == "count") return static_cast<double>(h.count());
    if (stat == "mean") return h.mean();
    if (stat == "max") return static_cast<double>(h.max());
    if (stat == "p50") return static_cast<double>(h.percentile(50));
    if (stat == "p90") return static_cast<double>(h.percentile(90));
    if (stat == "p99") return static_cast<double>(h.percentile(99));
    if (stat == "p999") return static_cast<double>(h.percentile(99.9));
  }
  return 0;
}

std::string_view sampled_distribution(std::string_view path) {
  for (const auto& histogram : k_histograms) {
    const std::string_view name = histogram.name;
    if (!path.starts_with(name) || path.size() <= name.size() || path[name.size()] != '.') continue;
    const std::string_view statistic = path.substr(name.size() + 1);
    return statistic == "count" || statistic == "waited" ? std::string_view() : name;  // how many: 0 is one
  }
  return {};
}

bool has_samples(const RunMetrics& metrics, std::string_view path) {
  const std::string_view distribution = sampled_distribution(path);
  for (std::size_t i = 0; i < k_histograms.size() && !distribution.empty(); ++i) {
    if (distribution == k_histograms[i].name) return metrics.histograms[i].count() > 0;
  }
  return true;
}

}  // namespace cachestress::metrics
