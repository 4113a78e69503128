#pragma once
// The run's workspace, one owner: made (a fresh directory under $TMPDIR, or the user's
// --workdir), optionally a small tmpfs ([faults] enospc_tmpfs_kb), and removed exactly
// once: at the end of the run on the threadpool (remove_contents, then remove_self on the
// loop), at once on a second signal or a setup failure (remove_now), or by the destructor
// when a run never got going. A user's existing --workdir is emptied, never removed; --keep
// keeps everything.
//
// After it is made, nothing resolves the workspace by its path: the run works through the
// root fd, children get child_path() (a path through this process's own descriptor), and the
// directory is removed through a descriptor of its parent. A parent renamed or replaced by a
// symlink mid-run therefore redirects nothing; moved() tells the run it happened.
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/fault/tmpfs_workspace.hpp"
#include "engine/fs/safe_fs.hpp"

namespace cachestress::run {

class Workspace {
 public:
  // workdir empty: a fresh directory under $TMPDIR. Throws EnvironmentError; nothing is
  // left behind when it does.
  Workspace(const std::string& workdir, bool keep, std::uint32_t tmpfs_kb);
  // Joins a workspace another process made and removes (cachestress-mpi: every rank but the
  // first): opened, never emptied or removed from here. Throws EnvironmentError.
  static std::unique_ptr<Workspace> join(const std::string& path);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  const fs::Root& root() const noexcept { return *m_root; }
  bool joined() const noexcept { return m_joined; }
  const std::string& path() const noexcept { return m_path; }
  bool keep() const noexcept { return m_keep; }
  std::uint32_t tmpfs_kb() const noexcept { return m_tmpfs ? m_tmpfs->size_kb() : 0; }

  // "/proc/<our pid>/fd/<root fd>": the workspace for a child process. The kernel resolves
  // it to the directory we hold open, wherever that has been moved, so renaming a parent or
  // replacing it with a symlink cannot redirect a child (it needs the same uid as us to
  // resolve it, and stays valid while this run lives).
  std::string child_path() const;

  // A message when the workspace's path no longer leads to the workspace (a parent was
  // renamed or replaced mid-run), else nothing. Checked once before the directory goes.
  std::optional<std::string> moved();

  // Removes everything beneath (blocking: a threadpool job, or after the loop stopped).
  void remove_contents() noexcept;
  // Then the directory itself when we made it (the tmpfs detached first). Idempotent.
  void remove_self() noexcept;
  // Both, now, unless --keep.
  void remove_now() noexcept;
  // Both, now, while threads of this process may still be writing into it (a second
  // signal aborts without waiting for them): tries again until it is gone or `tries` ran out.
  void remove_racing_writers(int tries) noexcept;

 private:
  Workspace() = default;
  bool m_joined = false;
  // unlinkat beneath the parent fd, only if the name still is our directory (errno set).
  bool remove_dir_through_parent() noexcept;
  // Detaches what a tool left mounted inside the workspace (workspace.cpp says how).
  void detach_mounts() noexcept;

  std::string m_path;
  int m_parent_fd = -1;     // the directory holding the workspace, opened when it was made
  std::string m_leaf;       // the workspace's name in it
  dev_t m_dev = 0;          // the workspace directory itself (beneath any tmpfs)
  ino_t m_ino = 0;
  std::optional<std::optional<std::string>> m_moved;  // moved(), once known
  bool m_keep = false;
  bool m_created = false;  // we made it, so we remove it (not just its contents)
  bool m_removed = false;
  std::unique_ptr<fault::TmpfsWorkspace> m_tmpfs;
  std::unique_ptr<fs::Root> m_root;
};

}  // namespace cachestress::run
