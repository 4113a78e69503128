#pragma once
// [faults] enospc_tmpfs_kb: the workspace becomes a small tmpfs, so the builds' writes run
// out of space for real (ENOSPC from the kernel, not a simulated error). The tmpfs is mounted
// in a private mount namespace of this process (unshare(CLONE_NEWNS), then "/" made
// recursively private), so the host never sees it and it cannot outlive the process; the
// report is written outside it. In a chroot, where "/" is not a mount point, the workspace is
// bound onto itself and that bind made private instead (if the chroot's enclosing mount is
// shared with the host, the host sees that self-bind, not the tmpfs, until the run ends). Needs CAP_SYS_ADMIN (root): without it the run stops with an
// environment error (exit 3) before anything is created.
#include <cstdint>
#include <string>

namespace cachestress::fault {

class TmpfsWorkspace {
 public:
  // Mounts a tmpfs of size_kb KiB (mode 0700) on the existing empty directory `path`.
  // Throws EnvironmentError (naming the step and errno) on failure; nothing stays mounted.
  TmpfsWorkspace(const std::string& path, std::uint32_t size_kb);
  ~TmpfsWorkspace();
  TmpfsWorkspace(const TmpfsWorkspace&) = delete;
  TmpfsWorkspace& operator=(const TmpfsWorkspace&) = delete;

  // Lazily unmounts (open descriptors keep the tmpfs alive until they close; the directory
  // underneath is empty and can be removed at once). Idempotent.
  void detach() noexcept;

  std::uint32_t size_kb() const noexcept { return m_size_kb; }

 private:
  std::string m_path;
  std::uint32_t m_size_kb = 0;
  bool m_mounted = false;
  bool m_self_bound = false;  // chroot: the workspace bound onto itself under the tmpfs
};

}  // namespace cachestress::fault
