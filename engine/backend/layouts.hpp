#pragma once
// Every scenario mount's layout (cache key, directory, lock file), worked out once per run:
// a layout is a pure function of the mount (Buildah hashes it with SHA-256), so no build
// and no event computes it again.
#include <cstddef>
#include <vector>

#include "engine/model/scenario.hpp"
#include "engine/semantics/profile.hpp"

namespace cachestress::backend {

class Layouts {
 public:
  Layouts(const model::Scenario& scenario, const semantics::Profile& profile) {
    for (const auto& kind : scenario.kinds) {
      auto& kind_layouts = m_layouts.emplace_back();
      for (const auto& step : kind.steps) {
        auto& step_layouts = kind_layouts.emplace_back();
        for (const auto& mount : step.mounts) step_layouts.push_back(profile.layout(mount));
      }
    }
  }
  const std::vector<semantics::MountLayout>& step(std::size_t kind, std::size_t step) const {
    return m_layouts[kind][step];
  }
  // nullptr when the indices are outside the scenario (a worker's event is checked here).
  const semantics::MountLayout* find(std::size_t kind, std::size_t step, std::size_t mount) const {
    if (kind >= m_layouts.size() || step >= m_layouts[kind].size() || mount >= m_layouts[kind][step].size()) return nullptr;
    return &m_layouts[kind][step][mount];
  }

 private:
  std::vector<std::vector<std::vector<semantics::MountLayout>>> m_layouts;  // [kind][step][mount]
};

}  // namespace cachestress::backend
