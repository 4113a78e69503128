#include "engine/worker/child_mounts.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>

#include "engine/core/loop.hpp"
#include "engine/lock/kernel_lock.hpp"

namespace cachestress::worker {
namespace {

// BuildKit private instances are probed in order; a pool this large means something is wrong.
constexpr std::uint32_t k_max_instances = 4096;

using core::now_us;

}  // namespace

bool ChildMounts::exists(const std::string& dir) const {
  const int fd = m_workspace.open_file(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

int ChildMounts::lock_blocking(const std::string& lock_path, ChildMount& out,
                               const std::function<void()>& before_blocking) {
  const int fd = m_workspace.create_file(lock_path, O_RDWR);
  if (fd < 0) return fd;
  int rc = lock::try_acquire(fd, m_lock_kind);
  if (rc == -EAGAIN) {
    out.waited = true;
    if (before_blocking) before_blocking();
    do {
      rc = lock::acquire_blocking(fd, m_lock_kind);
    } while (rc == -EINTR);
  }
  if (rc < 0) {
    ::close(fd);
    return rc;
  }
  out.lock_fd = fd;
  return 0;
}

int ChildMounts::take_instance(const std::string& cache_dir, bool shared, ChildMount& out) {
  if (int rc = m_workspace.make_dirs(cache_dir); rc < 0) return rc;
  for (std::uint32_t i = 0; i < k_max_instances; ++i) {
    const int fd = m_workspace.create_file(cache_dir + "/" + std::to_string(i) + ".lock", O_RDWR);
    if (fd < 0) return fd;
    const int rc = shared ? lock::try_acquire_shared(fd, m_lock_kind) : lock::try_acquire(fd, m_lock_kind);
    if (rc == 0) {
      out.instance = i;
      out.lock_fd = fd;
      return 0;
    }
    ::close(fd);
    // Held: BuildKit reuses a free instance (private) or one not held exclusively (shared),
    // else makes a new one.
    if (rc != -EAGAIN) return rc;
  }
  return -EMFILE;
}

int ChildMounts::acquire(const model::Mount& mount, ChildMount& out, const std::function<void()>& before_blocking) {
  const auto layout = m_profile.layout(mount);
  const std::string cache_dir = m_root + "/" + layout.cache_dir;
  const bool pool = m_profile.private_style() == semantics::PrivateStyle::instance_pool;
  const std::uint64_t asked_us = now_us();
  out.sharing = mount.sharing;
  std::string lock_path;
  int rc = 0;
  if (pool) {
    if (mount.sharing != model::Sharing::locked) {
      rc = take_instance(cache_dir, mount.sharing == model::Sharing::shared, out);
    } else if (mount.sharing == model::Sharing::locked) {
      lock_path = cache_dir + "/0.lock";
      rc = lock_blocking(lock_path, out, before_blocking);
    }
    out.instance_dir = cache_dir + "/" + std::to_string(out.instance);
  } else {
    if (mount.sharing == model::Sharing::locked) {
      lock_path = m_root + "/" + layout.lock_file;
      rc = lock_blocking(lock_path, out, before_blocking);
    }
    out.instance_dir = cache_dir;
  }
  if (rc < 0) return rc;
  out.granted_us = now_us();
  out.wait_us = mount.sharing == model::Sharing::locked ? out.granted_us - asked_us : 0;
  out.created = pool && !exists(out.instance_dir);

  if (mount.sharing == model::Sharing::locked) {
    auto claim = out.marker.claim(m_workspace, lock_path + ".holder", m_build, m_kind);
    if (claim.error < 0) {
      release(out);
      return claim.error;
    }
    out.overlap = std::move(claim.other);
  }
  return 0;
}

void ChildMounts::release(ChildMount& mount) noexcept {
  mount.marker.release();
  if (mount.lock_fd >= 0) {
    (void)lock::release(mount.lock_fd, m_lock_kind);
    ::close(mount.lock_fd);
    mount.lock_fd = -1;
  }
}

}  // namespace cachestress::worker
