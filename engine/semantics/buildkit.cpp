// BuildKit: key = id or cleaned target (plus uid/gid when set); private = a pool of
// instances that persist; locked = poll every 100 ms with no FIFO order; a shared request
// that finds the only instance held by a locked/private user gets a fresh instance.
// No kernel lock: buildkitd coordinates in its own memory.
#include <array>
#include <cstdio>

#include "engine/semantics/profile.hpp"

namespace cachestress::semantics {
namespace {

// A key as one safe path component: keep [A-Za-z0-9._-], %XX-escape the rest.
std::string escape_component(const std::string& key) {
  std::string out;
  for (unsigned char c : key) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (plain || (c == '.' && !out.empty())) {
      out += static_cast<char>(c);
    } else {
      std::array<char, 4> hex{};
      std::snprintf(hex.data(), hex.size(), "%%%02X", c);
      out += hex.data();
    }
  }
  return out;
}

class BuildkitProfile final : public Profile {
 public:
  model::Semantics id() const override { return model::Semantics::buildkit; }

  MountLayout layout(const model::Mount& mount) const override {
    // domain.md: the key is the id, by default the cleaned target.
    std::string key = mount.id;
    if (key.empty()) {
      key = "/";
      key += clean_rooted(mount.target);
    }
    if (mount.uid != 0 || mount.gid != 0) key += ":" + std::to_string(mount.uid) + ":" + std::to_string(mount.gid);
    return {key, "buildkit-cache/" + escape_component(key), {}};
  }
  LockStyle lock_style() const override { return LockStyle::poll_100ms; }
  PrivateStyle private_style() const override { return PrivateStyle::instance_pool; }
  std::string rejection(const model::Mount&) const override { return {}; }
};

}  // namespace

const Profile& buildkit_profile() {
  static const BuildkitProfile k_profile;
  return k_profile;
}

}  // namespace cachestress::semantics
