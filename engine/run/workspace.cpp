#include "engine/run/workspace.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>
#include <spdlog/spdlog.h>

#include "engine/core/error.hpp"

namespace cachestress::run {

Workspace::Workspace(const std::string& workdir, bool keep, std::uint32_t tmpfs_kb) : m_keep(keep) {
  m_created = workdir.empty();
  // Unset or empty: /tmp, as mktemp(1) and glibc's tmpfile take an empty TMPDIR.
  const char* tmpdir = std::getenv("TMPDIR");
  const bool given = tmpdir != nullptr && *tmpdir != '\0';
  m_path = m_created ? fs::make_workspace(given ? tmpdir : "/tmp") : fs::prepare_user_workdir(workdir, &m_created);
  try {
    // The parent and our own identity, taken now: removal and the moved() check go through
    // them, never through the path again.
    const auto slash = m_path.rfind('/');
    const std::string parent = slash == 0 ? "/" : m_path.substr(0, slash);
    m_leaf = m_path.substr(slash + 1);
    m_parent_fd = ::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st{};
    if (m_parent_fd < 0 || ::fstatat(m_parent_fd, m_leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      throw EnvironmentError("cannot open the workspace's parent " + parent + ": " + errno_text(errno));
    }
    m_dev = st.st_dev;
    m_ino = st.st_ino;
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

Workspace::~Workspace() {
  remove_now();
  if (m_parent_fd >= 0) ::close(m_parent_fd);
}

std::string Workspace::child_path() const {
  return m_root->proc_path();
}

std::optional<std::string> Workspace::moved() {
  if (m_moved) return *m_moved;
  // Compared with what the root fd is now (the tmpfs root under the enospc fault).
  struct stat ours{}, by_path{};
  if (!m_root || ::fstat(m_root->fd(), &ours) != 0) return std::nullopt;
  if (::stat(m_path.c_str(), &by_path) == 0 && by_path.st_dev == ours.st_dev && by_path.st_ino == ours.st_ino) {
    m_moved = std::optional<std::string>{};
  } else {
    m_moved = "the workspace " + m_path +
              " was moved during the run: its path no longer leads to it (a parent directory was renamed or replaced, "
              "e.g. by a symlink). The run kept working in the directory it made, through its own descriptor: nothing "
              "outside it was written or removed; its results are not reported";
  }
  return *m_moved;
}

namespace {

// A mount point as /proc/self/mountinfo writes it: space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    const std::string_view code = field.substr(i + 1, 3);
    if (field[i] == '\\' && code.size() == 3 && code.find_first_not_of("01234567") == std::string_view::npos) {
      out += static_cast<char>((code[0] - '0') * 64 + (code[1] - '0') * 8 + (code[2] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

}  // namespace

// What a tool the run started left mounted inside the workspace (buildah's overlay storage
// when SIGKILLed mid-build): detached, deepest first, so the workspace can go. Found by the
// workspace's path as our descriptor sees it now, and unmounted through that descriptor: a
// workspace renamed mid-run has no mount found under its old name, and nothing outside it is
// touched. The mounted filesystems' contents are not removed, only their mount points.
void Workspace::detach_mounts() noexcept {
  char target[4096];
  const std::string through_fd = m_root->proc_path();
  const ssize_t n = ::readlink(through_fd.c_str(), target, sizeof target - 1);
  if (n <= 0) return;
  const std::string prefix = std::string(target, static_cast<std::size_t>(n)) + "/";
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::vector<std::string> inside;
  for (std::string line; std::getline(mountinfo, line);) {
    // id parent major:minor root MOUNT-POINT ...
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    if (!(fields >> id >> parent >> device >> root >> mount_point)) continue;
    const std::string path = unescape_mountinfo(mount_point);
    if (path.starts_with(prefix)) inside.push_back(path.substr(prefix.size()));
  }
  std::sort(inside.begin(), inside.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& relative : inside) {
    if (::umount2((through_fd + "/" + relative).c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
      spdlog::debug("detached {} left mounted in the workspace", relative);
    }
  }
}

void Workspace::remove_contents() noexcept {
  if (m_keep || m_removed || !m_root) return;
  detach_mounts();
  (void)m_root->remove_tree("");
}

void Workspace::remove_self() noexcept {
  if (m_keep || m_removed) return;
  (void)moved();  // decided while the directory is still there
  m_removed = true;
  if (m_tmpfs) m_tmpfs->detach();  // the directory underneath is empty: rmdir works
  if (m_created && !remove_dir_through_parent()) {
    spdlog::warn("could not remove workspace {}: {}", m_path, errno_text(errno));
  }
}

bool Workspace::remove_dir_through_parent() noexcept {
  // Only the directory we made: whatever now sits under its name (after a rename) stays.
  if (m_parent_fd < 0) return ::rmdir(m_path.c_str()) == 0;  // failed while being made: nothing ran yet
  struct stat st{};
  if (::fstatat(m_parent_fd, m_leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  if (st.st_dev != m_dev || st.st_ino != m_ino) {
    errno = ESTALE;
    return false;
  }
  return ::unlinkat(m_parent_fd, m_leaf.c_str(), AT_REMOVEDIR) == 0;
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
    if (!m_created || remove_dir_through_parent()) {
      m_removed = true;
      return;
    }
    if (errno != ENOTEMPTY && errno != EEXIST) break;
    ::usleep(10000);  // a batch still running off the loop created something after the walk
  }
  remove_now();
}

}  // namespace cachestress::run
