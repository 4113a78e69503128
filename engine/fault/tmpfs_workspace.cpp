#include "engine/fault/tmpfs_workspace.hpp"

#include <sched.h>
#include <sys/mount.h>

#include <cerrno>

#include "engine/core/error.hpp"

namespace cachestress::fault {

TmpfsWorkspace::TmpfsWorkspace(const std::string& path, std::uint32_t size_kb) : m_path(path), m_size_kb(size_kb) {
  // A mount namespace of our own (the calling thread's; every workspace access goes through
  // the root fd opened after this, and child processes are spawned from this thread).
  if (::unshare(CLONE_NEWNS) != 0) {
    const int err = errno;
    throw EnvironmentError(std::string("faults.enospc_tmpfs_kb needs root (CAP_SYS_ADMIN) for a private mount namespace: "
                                       "unshare(CLONE_NEWNS): ") +
                           errno_text(err));
  }
  // Shared propagation (systemd's default) would carry our mount back to the host. In a
  // chroot "/" is not a mount point (EINVAL): then the workspace is bound onto itself and
  // that bind made private, so the tmpfs on top of it propagates nowhere.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    const int err = errno;
    if (err != EINVAL) {
      throw EnvironmentError(std::string("faults.enospc_tmpfs_kb: making / private in our mount namespace: ") + errno_text(err));
    }
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      const int bind_err = errno;
      throw EnvironmentError("faults.enospc_tmpfs_kb: / is not a mount point (a chroot?) and binding " + path +
                             " onto itself failed: " + errno_text(bind_err));
    }
    m_self_bound = true;
    if (::mount(nullptr, path.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
      const int private_err = errno;
      detach();
      throw EnvironmentError("faults.enospc_tmpfs_kb: making the bind of " + path + " private: " + errno_text(private_err));
    }
  }
  const std::string options = "size=" + std::to_string(size_kb) + "k,mode=0700";
  if (::mount("cachestress-enospc", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options.c_str()) != 0) {
    const int err = errno;
    detach();
    throw EnvironmentError("faults.enospc_tmpfs_kb: mounting a " + std::to_string(size_kb) + " KiB tmpfs on " + path + ": " +
                           errno_text(err));
  }
  m_mounted = true;
}

TmpfsWorkspace::~TmpfsWorkspace() { detach(); }

void TmpfsWorkspace::detach() noexcept {
  if (m_mounted) (void)::umount2(m_path.c_str(), MNT_DETACH);
  // The self-bind goes too (its unmount reaches any peer it was propagated to on creation).
  if (m_self_bound) (void)::umount2(m_path.c_str(), MNT_DETACH);
  m_mounted = false;
  m_self_bound = false;
}

}  // namespace cachestress::fault
