#include "engine/run/environment.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <uv.h>

#include <array>
#include <cstdio>

namespace cachestress::run {
namespace {

std::string filesystem_name(const std::string& path) {
  struct statfs info {};
  if (path.empty() || ::statfs(path.c_str(), &info) != 0) return "unknown";
  switch (static_cast<unsigned long>(info.f_type)) {
    case EXT4_SUPER_MAGIC: return "ext4";
    case TMPFS_MAGIC: return "tmpfs";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    case NFS_SUPER_MAGIC: return "nfs";
    case 0x65735546UL: return "fuse";
    case 0x2fc12fc1UL: return "zfs";
    default: break;
  }
  std::array<char, 32> hex{};
  std::snprintf(hex.data(), hex.size(), "0x%lx", static_cast<unsigned long>(info.f_type));
  return hex.data();
}

}  // namespace

Environment read_environment(const std::string& workdir) {
  Environment env;
  env.libuv_version = uv_version_string();
  struct utsname names {};
  if (::uname(&names) == 0) env.kernel = std::string(names.sysname) + " " + names.release;
  env.workdir_filesystem = filesystem_name(workdir);
  env.cpus = uv_available_parallelism();
  env.hostname = host_name();
  return env;
}

std::string host_name() {
  std::array<char, 256> host{};
  return ::gethostname(host.data(), host.size() - 1) == 0 ? std::string(host.data()) : std::string();
}

}  // namespace cachestress::run
