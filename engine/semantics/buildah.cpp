// Current upstream Buildah: hashed keys under buildah-cache-<uid>, lock files kept apart
// under buildah-cache-lockfiles/<key>/, fcntl write lock plus a per-process mutex,
// sharing=private rejected.
#include <openssl/sha.h>
#include <unistd.h>

#include <array>
#include <cstdio>

#include "engine/semantics/profile.hpp"

namespace cachestress::semantics {

std::string buildah_cache_key(const model::Mount& mount) {
  // The mode is not part of the key: the first creator of a cache decides it.
  std::string material = (mount.id.empty() ? mount.target : mount.id) + ":" + std::to_string(mount.uid) + ":" +
                         std::to_string(mount.gid);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest.data());
  std::string hex;
  for (std::size_t i = 0; i < 8; ++i) {
    std::array<char, 3> byte{};
    std::snprintf(byte.data(), byte.size(), "%02x", digest[i]);
    hex += byte.data();
  }
  return hex;
}

namespace {

class BuildahProfile final : public Profile {
 public:
  model::Semantics id() const override { return model::Semantics::buildah; }

  MountLayout layout(const model::Mount& mount) const override {
    std::string parent = "buildah-cache-" + std::to_string(::geteuid());
    std::string key = buildah_cache_key(mount);
    return {key, parent + "/" + key, parent + "/buildah-cache-lockfiles/" + key + "/buildah-cache-lockfile"};
  }
  LockStyle lock_style() const override { return LockStyle::kernel_gate; }
  PrivateStyle private_style() const override { return PrivateStyle::rejected; }
  std::string rejection(const model::Mount& mount) const override {
    if (mount.sharing != model::Sharing::private_) return {};
    return "buildah: unrecognized value \"private\" for field `sharing` (podman#27188)";
  }
};

}  // namespace

const Profile& buildah_profile() {
  static const BuildahProfile k_profile;
  return k_profile;
}

}  // namespace cachestress::semantics
