#include "engine/run/workspace.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <spdlog/spdlog.h>

#include "engine/core/error.hpp"

namespace cachestress::run {

Workspace::Workspace(const std::string& workdir, bool keep, std::uint32_t tmpfs_kb) : m_keep(keep) {
  m_created = workdir.empty();
  const char* tmpdir = std::getenv("TMPDIR");
  m_path = m_created ? fs::make_workspace(tmpdir != nullptr ? tmpdir : "/tmp") : fs::prepare_user_workdir(workdir, &m_created);
  try {
    if (tmpfs_kb > 0) {
      m_tmpfs = std::make_unique<fault::TmpfsWorkspace>(m_path, tmpfs_kb);
      if (keep) spdlog::warn("--keep: the tmpfs workspace lives in this run's own mount namespace and goes with it");
    }
    m_root = std::make_unique<fs::Root>(fs::Root::open(m_path));
  } catch (...) {
    m_keep = false;
    remove_self();
    throw;
  }
}

std::unique_ptr<Workspace> Workspace::join(const std::string& path) {
  std::unique_ptr<Workspace> joined(new Workspace());
  joined->m_path = path;
  joined->m_keep = true;  // whoever made it removes it
  joined->m_joined = true;
  joined->m_root = std::make_unique<fs::Root>(fs::Root::open(path));
  return joined;
}

Workspace::~Workspace() { remove_now(); }

void Workspace::remove_contents() noexcept {
  if (m_keep || m_removed || !m_root) return;
  (void)m_root->remove_tree("");
}

void Workspace::remove_self() noexcept {
  if (m_keep || m_removed) return;
  m_removed = true;
  if (m_tmpfs) m_tmpfs->detach();  // the directory underneath is empty: rmdir works
  if (m_created && ::rmdir(m_path.c_str()) != 0) {
    spdlog::warn("could not remove workspace {}: {}", m_path, errno_text(errno));
  }
}

void Workspace::remove_now() noexcept {
  remove_contents();
  remove_self();
}

void Workspace::remove_racing_writers(int tries) noexcept {
  if (m_keep || m_removed) return;
  for (int i = 1; i < tries; ++i) {
    remove_contents();
    if (m_tmpfs) break;  // detached below: what a writer adds goes with the tmpfs
    if (!m_created || ::rmdir(m_path.c_str()) == 0) {
      m_removed = true;
      return;
    }
    if (errno != ENOTEMPTY && errno != EEXIST) break;
    ::usleep(10000);  // a batch on the threadpool created something after the walk
  }
  remove_now();
}

}  // namespace cachestress::run
