// Buildah 1.28 as shipped by Debian 12: caches at buildah-cache/<id, or target without its
// leading slash>, the lock file inside the cache directory itself, private exits 125.
#include "engine/semantics/profile.hpp"

// GCC 12 reports a false -Wrestrict inside libstdc++'s string copy here (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

namespace cachestress::semantics {
namespace {

class Buildah128Profile final : public Profile {
 public:
  model::Semantics id() const override { return model::Semantics::buildah_1_28; }

  MountLayout layout(const model::Mount& mount) const override {
    // filepath.Clean, rooted, so ".." never climbs above the cache parent (CVE-2024-9675).
    std::string key = clean_rooted(mount.id.empty() ? std::string_view(mount.target) : std::string_view(mount.id));
    if (key.empty()) key = "_";  // a target that cleans to "/" (the loader refuses "/" itself)
    std::string dir("buildah-cache/");
    dir.append(key);
    std::string lock_file(dir);
    lock_file.append("/buildah-cache-lockfile");
    return {std::move(key), std::move(dir), std::move(lock_file)};
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
