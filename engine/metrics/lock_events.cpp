#include "engine/metrics/lock_events.hpp"

namespace cachestress::metrics {

std::string lock_event_key(std::string_view root, std::string_view cache_dir) {
  std::string key;
  key.reserve(root.size() + 1 + cache_dir.size());
  key += root;
  key += '/';
  key += cache_dir;
  return key;
}

void LockEventSample::waiting(std::string_view root, std::string_view cache_dir, std::uint64_t build, int kind,
                              std::uint64_t t_us) {
  if (m_events.size() >= k_capacity) return;
  std::string key = lock_event_key(root, cache_dir);
  m_open[{build, key}] = m_events.size();
  m_events.push_back({std::move(key), build, kind, t_us, std::nullopt, std::nullopt});
}

LockEvent* LockEventSample::open_event(std::string_view root, std::string_view cache_dir, std::uint64_t build) {
  if (m_open.empty()) return nullptr;  // the common case once the sample is complete
  auto it = m_open.find(std::pair{build, lock_event_key(root, cache_dir)});
  return it == m_open.end() ? nullptr : &m_events[it->second];
}

void LockEventSample::granted(std::string_view root, std::string_view cache_dir, std::uint64_t build, std::uint64_t t_us) {
  if (LockEvent* event = open_event(root, cache_dir, build)) event->granted_us = t_us;
}

void LockEventSample::released(std::string_view root, std::string_view cache_dir, std::uint64_t build, std::uint64_t t_us) {
  if (m_open.empty()) return;
  auto it = m_open.find(std::pair{build, lock_event_key(root, cache_dir)});
  if (it == m_open.end()) return;
  m_events[it->second].released_us = t_us;
  m_open.erase(it);
}

}  // namespace cachestress::metrics
