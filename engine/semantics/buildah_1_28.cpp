// Buildah 1.28 as shipped by Debian 12: caches at buildah-cache/<id, or target without its
// leading slash>, the lock file inside the cache directory itself, private exits 125.
#include "engine/semantics/profile.hpp"

namespace cachestress::semantics {
namespace {

class Buildah128Profile final : public Profile {
 public:
  model::Semantics id() const override { return model::Semantics::buildah_1_28; }

  MountLayout layout(const model::Mount& mount) const override {
    std::string key = mount.id.empty() ? mount.target.substr(mount.target.find_first_not_of('/')) : mount.id;
    std::string dir = "buildah-cache/" + key;
    return {key, dir, dir + "/buildah-cache-lockfile"};
  }
  LockStyle lock_style() const override { return LockStyle::kernel_gate; }
  PrivateStyle private_style() const override { return PrivateStyle::rejected; }
  std::string rejection(const model::Mount& mount) const override {
    if (mount.sharing != model::Sharing::private_) return {};
    return "buildah 1.28: sharing=private is not supported (exit 125)";
  }
};

}  // namespace

const Profile& buildah_1_28_profile() {
  static const Buildah128Profile k_profile;
  return k_profile;
}

}  // namespace cachestress::semantics
