#include "engine/backend/mount_table.hpp"

#include <algorithm>

namespace cachestress::backend {

CacheState* MountTable::find(const std::string& root, const std::string& key) {
  auto caches = m_roots.find(root);
  if (caches == m_roots.end()) return nullptr;
  auto state = caches->second.find(key);
  return state == caches->second.end() ? nullptr : &state->second;
}

bool CacheState::idle() const {
  if (gate_busy || !gate_queue.empty() || section_jobs != 0) return false;
  return std::all_of(instances.begin(), instances.end(),
                     [](const CacheInstance& i) { return i.shared_holders == 0 && !i.exclusive; });
}

std::optional<std::uint32_t> grant_instance(CacheState& state, model::Sharing sharing, bool& created) {
  created = false;
  auto& instances = state.instances;
  auto make_new = [&](bool exclusive) {
    instances.push_back({exclusive ? 0u : 1u, exclusive});
    created = true;
    return static_cast<std::uint32_t>(instances.size() - 1);
  };
  switch (sharing) {
    case model::Sharing::locked: {
      if (instances.empty()) return make_new(true);
      auto& first = instances.front();
      if (first.shared_holders != 0 || first.exclusive) return std::nullopt;  // wait: any holder blocks
      first.exclusive = true;
      return 0u;
    }
    case model::Sharing::shared: {
      // Concurrent shared users meet in one directory: join the instance shared users are
      // already in, else the first one not held exclusively; if all are, fork a fresh one.
      for (std::uint32_t i = 0; i < instances.size(); ++i) {
        if (!instances[i].exclusive && instances[i].shared_holders > 0) {
          ++instances[i].shared_holders;
          return i;
        }
      }
      for (std::uint32_t i = 0; i < instances.size(); ++i) {
        if (!instances[i].exclusive) {
          ++instances[i].shared_holders;
          return i;
        }
      }
      return make_new(false);
    }
    case model::Sharing::private_: {
      // Reuse a free instance, else create one; instances persist after release.
      for (std::uint32_t i = 0; i < instances.size(); ++i) {
        if (!instances[i].exclusive && instances[i].shared_holders == 0) {
          instances[i].exclusive = true;
          return i;
        }
      }
      return make_new(true);
    }
  }
  return std::nullopt;
}

void release_instance(CacheState& state, std::uint32_t instance, model::Sharing sharing) {
  if (instance >= state.instances.size()) return;
  auto& slot = state.instances[instance];
  if (sharing == model::Sharing::shared) {
    if (slot.shared_holders > 0) --slot.shared_holders;
  } else {
    slot.exclusive = false;
  }
}

void MountTable::forget_if_idle(const std::string& root, const std::string& key, bool keep_instances) {
  auto root_it = m_roots.find(root);
  if (root_it == m_roots.end()) return;
  auto it = root_it->second.find(key);
  if (it == root_it->second.end() || !it->second.idle()) return;
  if (keep_instances && !it->second.instances.empty()) return;
  root_it->second.erase(it);
  if (root_it->second.empty()) m_roots.erase(root_it);
}

HolderRegistry::Entry HolderRegistry::enter(const std::string& dir, const Holder& holder) {
  std::lock_guard lock(m_mutex);
  auto& holders = m_holders[dir];
  Entry entry;
  entry.overlapped = !holders.empty();
  for (const auto& other : holders) {
    // Only two locked holders break a promise: shared users never take the lock, so a
    // shared user beside a locked one is the semantics (its damage shows as foreign reads).
    if (holder.sharing == model::Sharing::locked && other.sharing == model::Sharing::locked) {
      entry.conflict = other;
      break;
    }
  }
  holders.push_back(holder);
  return entry;
}

void HolderRegistry::leave(const std::string& dir, std::uint64_t build) {
  std::lock_guard lock(m_mutex);
  auto it = m_holders.find(dir);
  if (it == m_holders.end()) return;
  auto& holders = it->second;
  holders.erase(std::remove_if(holders.begin(), holders.end(), [build](const Holder& h) { return h.build == build; }),
                holders.end());
  if (holders.empty()) m_holders.erase(it);
}

}  // namespace cachestress::backend
