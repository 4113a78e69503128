#include "engine/backend/recorder.hpp"

namespace cachestress::backend {
namespace {

constexpr std::size_t k_max_actor_memory = 65536;  // bound on torn/missing attribution

}  // namespace

Recorder::Recorder(metrics::Collector& collector, const model::Scenario& scenario) : m_collector(collector) {
  for (std::size_t i = 0; i < scenario.kinds.size(); ++i) m_kind_by_name.emplace(scenario.kinds[i].name, static_cast<int>(i));
}

int Recorder::kind_index(std::string_view name) const {
  auto it = m_kind_by_name.find(std::string(name));
  return it == m_kind_by_name.end() ? metrics::k_unknown_kind : it->second;
}

void Recorder::remember(LastActor& actors, const std::string& path, const BuildRef& build) {
  if (actors.size() >= k_max_actor_memory && !actors.contains(path)) actors.clear();
  actors[path] = {build.id, build.kind};
}

void Recorder::waiting(const BuildRef& build, std::string_view cache_dir, std::uint64_t at_us) {
  m_collector.lock_events().waiting(build.root, cache_dir, build.id, build.kind, at_us);
}

void Recorder::granted(const BuildRef& build, std::string_view cache_dir, std::uint64_t wait_us, bool waited,
                       std::uint64_t at_us) {
  m_collector.record_lock_wait(wait_us, waited, build.id, build.kind);
  m_collector.lock_events().granted(build.root, cache_dir, build.id, at_us);
}

void Recorder::released(const BuildRef& build, std::string_view cache_dir, std::uint64_t hold_us, std::uint64_t at_us) {
  m_collector.record(metrics::Hist::lock_hold_us, hold_us);
  m_collector.lock_events().released(build.root, cache_dir, build.id, at_us);
}

void Recorder::instance_created() { m_collector.add(metrics::Counter::instances_created); }

void Recorder::mount_overlapped() { m_collector.add(metrics::Counter::mounts_overlapped); }

void Recorder::will_write(const std::string& path, const BuildRef& build) { remember(m_last_writer, path, build); }

void Recorder::removed(const std::string& path, const BuildRef& build) { remember(m_last_deleter, path, build); }

void Recorder::op_done(std::uint64_t bytes_written, std::uint64_t bytes_read) {
  m_collector.add(metrics::Counter::ops_completed);
  m_collector.add(metrics::Counter::bytes_written, bytes_written);
  m_collector.add(metrics::Counter::bytes_read, bytes_read);
}

void Recorder::collision(const BuildRef& victim, metrics::CollisionKind kind, const std::string& file, std::uint32_t step,
                         std::optional<std::pair<std::uint64_t, std::string_view>> polluter) {
  metrics::Collision c;
  c.kind = kind;
  c.victim_kind = victim.kind;
  c.victim_build = victim.id;
  c.file = file;
  c.step = step;
  if (polluter && polluter->first != victim.id) {
    c.polluter_build = polluter->first;
    c.polluter_kind = kind_index(polluter->second);
  } else if (kind != metrics::CollisionKind::foreign) {
    // The file cannot say who removed or tore it; the record of actors can.
    const auto& actors = kind == metrics::CollisionKind::missing ? m_last_deleter : m_last_writer;
    if (auto it = actors.find(file); it != actors.end() && it->second.first != victim.id) {
      c.polluter_build = it->second.first;
      c.polluter_kind = it->second.second;
    }
  }
  m_collector.collision(c);
}

void Recorder::lock_overlap(const BuildRef& victim, const std::string& dir, std::uint32_t step,
                            std::optional<std::pair<std::uint64_t, int>> other) {
  metrics::Collision c;
  c.kind = metrics::CollisionKind::lock_overlap;
  c.victim_kind = victim.kind;
  c.victim_build = victim.id;
  c.file = dir;
  c.step = step;
  if (other) {
    c.polluter_build = other->first;
    c.polluter_kind = other->second;
  }
  m_collector.collision(c);
}

void Recorder::step_done(std::uint64_t latency_us) {
  m_collector.record(metrics::Hist::step_latency_us, latency_us);
  m_collector.add(metrics::Counter::steps_completed);
}

void Recorder::io_error() { m_collector.add(metrics::Counter::io_errors); }

}  // namespace cachestress::backend
