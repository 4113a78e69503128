#pragma once
// Facts about the machine a run happened on, recorded in every report.
#include <string>

namespace cachestress::run {

struct Environment {
  std::string libuv_version;
  std::string kernel;              // uname -sr
  std::string workdir_filesystem;  // e.g. ext4, tmpfs, xfs, overlayfs
  unsigned cpus = 0;
  std::string hostname;
};

// This machine's host name (gethostname); empty when it cannot be read.
std::string host_name();

// Reads the environment; `workdir` names the filesystem the caches lived on.
Environment read_environment(const std::string& workdir);

}  // namespace cachestress::run
