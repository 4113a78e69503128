#pragma once
// The summary field paths an `[expect]` entry may name, e.g. "collisions.foreign" or
// "lock_wait_us.p99". A leading "summary." is accepted and ignored.
#include <string>
#include <string_view>
#include <vector>

namespace cachestress::metrics {

// Every valid path, in report order (used for validation messages and docs).
const std::vector<std::string>& summary_field_paths();

// The canonical path ("summary." stripped) if it names a summary field, else empty.
std::string canonical_summary_field(std::string_view path);

struct RunMetrics;
// The value of a canonical summary field in a finished run (the one place that maps
// field names to measurements; reports and expectations both read through it).
double summary_value(const RunMetrics& metrics, std::string_view canonical_path);
// False for a statistic of a distribution without samples (lock_wait_us.p99 of a run that took
// no lock): its 0 is a placeholder, not a measurement. A count is always one.
bool has_samples(const RunMetrics& metrics, std::string_view canonical_path);
// The distribution whose samples a statistic needs ("lock_wait_us" of "lock_wait_us.p99");
// empty for a count of one (count, waited: 0 is a measurement) and a field of none. The one
// rule of has_samples here and of report::has_samples on a report read back.
std::string_view sampled_distribution(std::string_view canonical_path);

}  // namespace cachestress::metrics
