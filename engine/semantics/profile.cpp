// The registry of semantics profiles: one line per profile.
#include "engine/semantics/profile.hpp"

#include <string_view>
#include <vector>

namespace cachestress::semantics {

std::string clean_rooted(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (auto part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

const Profile& buildah_profile();
const Profile& buildah_1_28_profile();
const Profile& buildkit_profile();

const Profile& profile_for(model::Semantics semantics) {
  switch (semantics) {
    case model::Semantics::buildah: return buildah_profile();
    case model::Semantics::buildah_1_28: return buildah_1_28_profile();
    case model::Semantics::buildkit: return buildkit_profile();
  }
  return buildah_profile();
}

}  // namespace cachestress::semantics
