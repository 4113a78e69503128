#pragma once
// The engine's lock_overlap oracle across processes. In-process the runner's HolderRegistry
// sees every holder; worker processes cannot see each other, so a build that was granted a
// locked mount claims a marker file next to the lock file (`<lock file>.holder`) naming
// itself, and gives it up before it releases the lock. Finding another *live* build's
// marker means two builds hold the mount at once: a lock_overlap.
//
// Liveness comes from the kernel, not from pids: the owner keeps an flock on its marker, so
// a marker left behind by a build that was killed (SIGKILL mid-hold) is unlocked and is taken
// over silently instead of being reported. A new marker is written under a temporary name,
// locked, then renamed into place with RENAME_NOREPLACE, so nobody ever sees it unlocked.
// An exiting holder loses an fcntl lock before its marker's flock (the kernel drops POSIX
// locks at each close, an flock at the deferred final release), so a held flock is polled
// for up to 200 ms before the holder counts as alive.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/fs/safe_fs.hpp"

namespace cachestress::worker {

class HolderMarker {
 public:
  // Who the marker names (either may be missing if its content is unreadable).
  struct Holder {
    std::optional<std::uint64_t> build;
    std::optional<std::string> kind;
  };
  struct Claim {
    int error = 0;                // -errno when the marker could not be handled at all
    std::optional<Holder> other;  // a live holder was already there (nothing claimed)
  };

  HolderMarker() = default;
  HolderMarker(HolderMarker&& other) noexcept;
  HolderMarker& operator=(HolderMarker&& other) noexcept;
  HolderMarker(const HolderMarker&) = delete;
  HolderMarker& operator=(const HolderMarker&) = delete;
  ~HolderMarker() { release(); }

  // Claims the marker at `path` (relative to root) for build/kind. Blocks never.
  [[nodiscard]] Claim claim(const fs::Root& root, std::string path, std::uint64_t build, std::string_view kind);
  // Removes our marker, then drops its flock. No-op when nothing is claimed.
  void release() noexcept;
  bool claimed() const noexcept { return m_fd >= 0; }

  // The marker's content and its parser (exposed for tests).
  static std::string content(std::uint64_t build, std::string_view kind);
  static Holder parse(std::string_view content);

 private:
  const fs::Root* m_root = nullptr;
  std::string m_path;
  int m_fd = -1;
};

}  // namespace cachestress::worker
