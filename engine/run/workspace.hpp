#pragma once
// The run's workspace, one owner: made (a fresh directory under $TMPDIR, or the user's
// --workdir), optionally a small tmpfs ([faults] enospc_tmpfs_kb), and removed exactly
// once: at the end of the run on the threadpool (remove_contents, then remove_self on the
// loop), at once on a second signal or a setup failure (remove_now), or by the destructor
// when a run never got going. A user's existing --workdir is emptied, never removed; --keep
// keeps everything.
#include <cstdint>
#include <memory>
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
  std::string m_path;
  bool m_joined = false;
  bool m_keep = false;
  bool m_created = false;  // we made it, so we remove it (not just its contents)
  bool m_removed = false;
  std::unique_ptr<fault::TmpfsWorkspace> m_tmpfs;
  std::unique_ptr<fs::Root> m_root;
};

}  // namespace cachestress::run
