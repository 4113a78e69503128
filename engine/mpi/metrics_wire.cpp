#include "engine/mpi/metrics_wire.hpp"

#include <nlohmann/json.hpp>
#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace cachestress::mpi {
namespace {

using nlohmann::json;
using Histograms = decltype(metrics::RunMetrics::histograms);
static_assert(std::is_trivially_copyable_v<Histograms>, "histograms travel as raw bytes");

json collision_json(const metrics::Collision& c) {
  return {static_cast<int>(c.kind), c.polluter_kind, c.polluter_build, c.victim_kind, c.victim_build, c.file, c.step};
}
metrics::Collision collision_from(const json& j) {
  return {static_cast<metrics::CollisionKind>(j.at(0).get<int>()), j.at(1).get<int>(), j.at(2).get<std::uint64_t>(),
          j.at(3).get<int>(), j.at(4).get<std::uint64_t>(), j.at(5).get<std::string>(), j.at(6).get<std::uint32_t>()};
}
json optional_json(const std::optional<std::uint64_t>& v) { return v ? json(*v) : json(nullptr); }
std::optional<std::uint64_t> optional_from(const json& j) {
  return j.is_null() ? std::nullopt : std::optional<std::uint64_t>(j.get<std::uint64_t>());
}

json to_wire_json(const metrics::RunMetrics& m) {
  json j;
  j["counters"] = m.counters;
  j["waits"] = {m.lock_waited, m.wait_sum_us, m.wait_sum_squares, m.longest_wait_us, m.longest_wait_build, m.longest_wait_kind};
  json& cells = j["interference"] = json::array();
  for (const auto& c : m.interference) cells.push_back({c.polluter_kind, c.victim_kind, static_cast<int>(c.kind), c.count, collision_json(c.example)});
  json& pairs = j["double_holders"] = json::array();
  for (const auto& c : m.double_holders) pairs.push_back(collision_json(c));
  json& intervals = j["intervals"] = json::array();
  for (const auto& i : m.intervals) {
    intervals.push_back({i.t_s, i.builds_completed, i.steps_completed, i.collisions, i.lock_wait_p99_us, i.in_flight, i.open_fds,
                         i.threads, i.rss_kb});
  }
  json& failures = j["failures"] = json::array();
  for (const auto& f : m.failures) failures.push_back({f.reason, f.count, f.example_build, f.example_kind, f.example_log, f.example_lines});
  json& events = j["lock_events"] = json::array();
  for (const auto& e : m.lock_events.events()) {
    events.push_back({e.key, e.build, e.kind, e.wait_start_us, optional_json(e.granted_us), optional_json(e.released_us)});
  }
  j["signatures"] = m.signatures;
  json& deaths = j["holder_deaths"] = json::array();
  for (const auto& d : m.holder_deaths) {
    deaths.push_back({d.build, d.kind, d.reason, d.lock, optional_json(d.next_build), d.next_kind, d.next_wait_us, d.key});
  }
  j["fault_killed"] = m.fault_killed_builds;
  j["duration_s"] = m.duration_s;
  j["cross_host"] = {m.cross_host_collisions, m.cross_host_lock_overlaps};
  json& cross = j["cross_host_examples"] = json::array();
  for (const auto& c : m.cross_host_examples) cross.push_back(collision_json(c));
  return j;
}

void from_wire_json(const json& j, metrics::RunMetrics& m) {
  const auto& counters = j.at("counters");
  if (counters.size() != m.counters.size()) throw std::runtime_error("metrics from another cachestress-mpi build");
  for (std::size_t i = 0; i < m.counters.size(); ++i) m.counters[i] = counters[i].get<std::uint64_t>();
  const auto& w = j.at("waits");
  m.lock_waited = w.at(0).get<std::uint64_t>();
  m.wait_sum_us = w.at(1).get<double>();
  m.wait_sum_squares = w.at(2).get<double>();
  m.longest_wait_us = w.at(3).get<std::uint64_t>();
  m.longest_wait_build = w.at(4).get<std::uint64_t>();
  m.longest_wait_kind = w.at(5).get<int>();
  for (const auto& c : j.at("interference")) {
    m.interference.push_back({c.at(0).get<int>(), c.at(1).get<int>(), static_cast<metrics::CollisionKind>(c.at(2).get<int>()),
                              c.at(3).get<std::uint64_t>(), collision_from(c.at(4))});
  }
  for (const auto& c : j.at("double_holders")) m.double_holders.push_back(collision_from(c));
  for (const auto& i : j.at("intervals")) {
    m.intervals.push_back({i.at(0).get<double>(), i.at(1).get<std::uint64_t>(), i.at(2).get<std::uint64_t>(),
                           i.at(3).get<std::uint64_t>(), i.at(4).get<std::uint64_t>(), i.at(5).get<std::uint64_t>(),
                           i.at(6).get<std::uint64_t>(), i.at(7).get<std::uint64_t>(), i.at(8).get<std::uint64_t>()});
  }
  for (const auto& f : j.at("failures")) {
    m.failures.push_back({f.at(0).get<std::string>(), f.at(1).get<std::uint64_t>(), f.at(2).get<std::uint64_t>(),
                          f.at(3).get<int>(), f.at(4).get<std::string>(), f.at(5).get<std::vector<std::string>>()});
  }
  for (const auto& e : j.at("lock_events")) {
    m.lock_events.adopt({e.at(0).get<std::string>(), e.at(1).get<std::uint64_t>(), e.at(2).get<int>(),
                         e.at(3).get<std::uint64_t>(), optional_from(e.at(4)), optional_from(e.at(5))});
  }
  m.signatures = j.at("signatures").get<std::map<std::string, std::uint64_t>>();
  for (const auto& d : j.at("holder_deaths")) {
    m.holder_deaths.push_back({d.at(0).get<std::uint64_t>(), d.at(1).get<int>(), d.at(2).get<std::string>(),
                               d.at(3).get<std::string>(), optional_from(d.at(4)), d.at(5).get<int>(),
                               d.at(6).get<std::uint64_t>(), d.at(7).get<std::string>()});
  }
  m.fault_killed_builds = j.at("fault_killed").get<std::vector<std::uint64_t>>();
  m.duration_s = j.at("duration_s").get<double>();
  m.cross_host_collisions = j.at("cross_host").at(0).get<std::uint64_t>();
  m.cross_host_lock_overlaps = j.at("cross_host").at(1).get<std::uint64_t>();
  for (const auto& c : j.at("cross_host_examples")) m.cross_host_examples.push_back(collision_from(c));
}

}  // namespace

// Layout: the histograms' bytes, then the JSON text.
std::string encode_metrics(const metrics::RunMetrics& m) {
  std::string bytes(sizeof(Histograms), '\0');
  std::memcpy(bytes.data(), &m.histograms, sizeof(Histograms));
  // A failure reason can quote a command's output: bytes that are not UTF-8 cross as U+FFFD
  // rather than abort the rank (the report escapes its own text before this, in sweep_to_json).
  bytes += to_wire_json(m).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return bytes;
}

std::unique_ptr<metrics::RunMetrics> decode_metrics(std::string_view bytes) {
  if (bytes.size() < sizeof(Histograms)) throw std::runtime_error("metrics message too short");
  auto m = std::make_unique<metrics::RunMetrics>();  // histograms are large: off the stack
  std::memcpy(&m->histograms, bytes.data(), sizeof(Histograms));
  try {
    from_wire_json(json::parse(bytes.substr(sizeof(Histograms))), *m);
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("metrics message: ") + e.what());
  }
  return m;
}

}  // namespace cachestress::mpi
