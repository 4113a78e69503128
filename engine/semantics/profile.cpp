// The registry of semantics profiles: one line per profile.
#include "engine/semantics/profile.hpp"

namespace cachestress::semantics {

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
