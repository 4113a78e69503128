#pragma once
// The wait graph of locked caches, walked the same way for in-process builds and for
// workers: an edge says "build W waits for cache L, which build H holds". Following edges
// from a build either ends (a plain wait: somebody holds the lock and will let go) or comes
// back to the build (a deadlock: every build of the cycle waits for the next).
#include <algorithm>
#include <cstddef>
#include <deque>
#include <map>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/scenario.hpp"
#include "engine/ops/failure_text.hpp"

namespace cachestress::backend {

template <typename BuildPtr>
struct WaitEdge {
  std::string label;  // the cache waited for, as reports name it ("id=cache-a")
  BuildPtr holder;    // the build in flight holding it
};

// Follows edges from `start` (edge_of(build) -> std::optional<WaitEdge<BuildPtr>>) for at
// most max_hops. Returns the labels of the cycle through `start`, start's own wait first,
// or nothing when the chain ends or loops without it.
template <typename BuildPtr, typename EdgeOf>
std::optional<std::vector<std::string>> cycle_through(BuildPtr start, std::size_t max_hops, EdgeOf edge_of) {
  std::vector<std::string> labels;
  BuildPtr current = start;
  for (std::size_t hops = 0; hops <= max_hops; ++hops) {
    std::optional<WaitEdge<BuildPtr>> edge = edge_of(current);
    if (!edge) return std::nullopt;
    labels.push_back(std::move(edge->label));
    if (edge->holder == start) return labels;
    current = edge->holder;
  }
  return std::nullopt;
}

// The reason a timed-out wait fails with: the whole cycle when there is one (any length),
// else the plain timeout.
template <typename BuildPtr, typename EdgeOf>
std::string wait_failure(BuildPtr start, std::size_t max_hops, EdgeOf edge_of, std::string timeout_text) {
  if (auto cycle = cycle_through(start, max_hops, edge_of)) return ops::deadlock_cycle_text(std::move(*cycle));
  return timeout_text;
}

}  // namespace cachestress::backend

namespace cachestress::backend {

// The order in which the scenario's builds take locked caches: an edge A -> B when some
// step holds A while it takes B. When the kernel refuses a wait (fcntl's EDEADLK) before the
// runner has seen every edge of the live graph, this names the cycle the wait closes: the
// shortest path from the cache wanted back to one it holds.
class LockOrder {
 public:
  explicit LockOrder(const model::Scenario& scenario) {
    for (const auto& kind : scenario.kinds) {
      for (const auto& step : kind.steps) {
        std::vector<std::string> taken;
        for (const auto& mount : step.mounts) {
          if (mount.sharing != model::Sharing::locked) continue;
          const std::string label = mount.label();
          for (const auto& earlier : taken) {
            auto& next = m_next[earlier];
            if (std::find(next.begin(), next.end(), label) == next.end()) next.push_back(label);
          }
          taken.push_back(label);
        }
      }
    }
  }

  // The labels of the shortest cycle "wait for `wanted` while holding one of `held`",
  // starting with `wanted`; nothing when the scenario has none.
  std::optional<std::vector<std::string>> cycle(const std::string& wanted, const std::vector<std::string>& held) const {
    std::map<std::string, std::string> came_from{{wanted, {}}};
    std::deque<std::string> queue{wanted};
    while (!queue.empty()) {
      const std::string at = queue.front();
      queue.pop_front();
      if (at != wanted && std::find(held.begin(), held.end(), at) != held.end()) {
        std::vector<std::string> path{at};
        for (std::string step = came_from[at]; !step.empty(); step = came_from[step]) path.push_back(step);
        std::reverse(path.begin(), path.end());
        return path;
      }
      auto next = m_next.find(at);
      if (next == m_next.end()) continue;
      for (const auto& label : next->second) {
        if (came_from.emplace(label, at).second) queue.push_back(label);
      }
    }
    return std::nullopt;
  }

 private:
  std::map<std::string, std::vector<std::string>> m_next;
};

}  // namespace cachestress::backend
