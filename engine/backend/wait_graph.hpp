#pragma once
// The wait graph of locked caches, walked the same way for in-process builds and for
// workers: an edge says "build W waits for cache L, which build H holds". Following edges
// from a build either ends (a plain wait: somebody holds the lock and will let go) or comes
// back to the build (a deadlock: every build of the cycle waits for the next).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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
