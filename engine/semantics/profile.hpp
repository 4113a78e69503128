#pragma once
// A semantics profile decides how a cache mount maps to a directory under a cache root and
// how its sharing mode is enforced. One profile per file; profile_for() is the registry.
// The oracle for each is ../shared/docs/domain.md (Buildah internal/volumes/volumes.go,
// Buildah 1.28 as shipped by Debian 12, BuildKit solver/llbsolver/mounts/mount.go).
#include <string>

#include "engine/model/scenario.hpp"

namespace cachestress::semantics {

// filepath.Clean of a path rooted at "/", without the leading slash: empty and "." parts
// dropped, ".." removes the part before it and never climbs above the root. "/a//b/../c/"
// gives "a/c"; "/" and "//" give "".
std::string clean_rooted(std::string_view path);

struct MountLayout {
  std::string key;        // identity sharing coordinates on (shown in reports)
  std::string cache_dir;  // relative to the cache root
  std::string lock_file;  // relative to the cache root; empty when no kernel lock is taken
};

// How `sharing=locked` waits.
enum class LockStyle {
  kernel_gate,  // Buildah: per-process mutex per lock path (FIFO gate) + blocking kernel lock
  poll_100ms,   // BuildKit: in-memory holder check every 100 ms, no FIFO order
};

// How `sharing=private` behaves.
enum class PrivateStyle {
  rejected,       // Buildah: the build fails with rejection()
  instance_pool,  // BuildKit: reuse a free instance or create one; instances persist
};

class Profile {
 public:
  virtual ~Profile() = default;
  virtual model::Semantics id() const = 0;
  virtual MountLayout layout(const model::Mount& mount) const = 0;
  virtual LockStyle lock_style() const = 0;
  virtual PrivateStyle private_style() const = 0;
  // The error the real tool gives for this mount, or empty when it accepts it.
  virtual std::string rejection(const model::Mount& mount) const = 0;
};

const Profile& profile_for(model::Semantics semantics);

// Exposed for tests: Buildah's key, sha256(id-or-target:uid:gid) in hex, first 16 chars.
std::string buildah_cache_key(const model::Mount& mount);

}  // namespace cachestress::semantics
