#pragma once
// Confined file operations. Cache ids, arguments and whatever a (possibly hostile) simulated
// build planted inside a cache directory must never make us write, remove or follow anything
// outside our workspace (cf. CVE-2024-9675, CVE-2024-23651/23652). Every operation therefore
// resolves its path relative to an owned directory fd with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): the kernel, not a string check, keeps it inside.
//
// Root methods run on worker threads: they never throw and return 0 (or an fd) or -errno.
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace cachestress::fs {

// Longest relative path the Root methods accept (below PATH_MAX, leaving room for the NUL).
inline constexpr std::size_t k_max_relative_path = 4000;

// True when rel is a non-empty relative path whose components are not "", ".", "..", contain
// no NUL and are each <= 255 bytes, total <= k_max_relative_path. A leading "/" (absolute) or a
// trailing "/" (empty last component) is rejected: callers strip them.
bool is_safe_relative(std::string_view rel) noexcept;

// An owned directory; every operation resolves paths beneath it and never follows symlinks.
// Every method rejects an unsafe rel (see is_safe_relative) with -EINVAL, except
// remove_tree("") which means "everything inside the root".
class Root {
 public:
  // Opens an existing directory that is not itself a symlink (trailing "/" is stripped first,
  // as it would make the kernel follow a final symlink). Throws EnvironmentError on failure.
  static Root open(const std::string& absolute_dir);
  // Takes ownership of a directory fd handed to us (a fork server's child inherits the
  // runner's workspace this way: no path to follow). `path` is only what messages call it.
  static Root adopt(int fd, std::string path) noexcept { return Root(fd, std::move(path)); }

  Root(Root&& other) noexcept;
  Root& operator=(Root&& other) noexcept;
  Root(const Root&) = delete;
  Root& operator=(const Root&) = delete;
  ~Root();

  int fd() const noexcept { return m_fd; }  // -1 once moved from
  const std::string& path() const noexcept { return m_path; }
  // "/proc/<pid>/fd/<fd>": this directory, whatever its path is now. A child may chdir
  // into it; a tool that enters its own mount namespace (buildah) cannot use it as a path.
  std::string proc_path() const;
  // Where this directory is now, as the kernel names it (readlink of our descriptor): it
  // follows renames of any parent. Empty when it was removed or cannot be named.
  std::string current_path() const;

  // mkdir -p beneath the root; an existing directory is fine. A symlink anywhere on the way
  // (final component included) fails with -ELOOP; a non-directory with -ENOTDIR. A directory
  // removed under the walk by a concurrent remove_tree is made again (up to 32 attempts).
  [[nodiscard]] int make_dirs(std::string_view rel, mode_t mode = 0755) const noexcept;

  // Returns an fd or -errno. O_CLOEXEC|O_NOFOLLOW are always added. O_PATH is refused (-EINVAL).
  // Only regular files and directories are handed out: a FIFO, socket or device node planted
  // in a cache gives -ENXIO (opened with O_NONBLOCK so a FIFO cannot hang a worker thread).
  [[nodiscard]] int open_file(std::string_view rel, int flags, mode_t mode = 0644) const noexcept;

  // open_file(rel, flags | O_CREAT) after make_dirs of its parent; a parent removed between
  // the two (a prune racing a lock) is made again, up to 32 attempts, as containers/storage's
  // lockfile recreates a lock file's removed directory instead of failing the build.
  [[nodiscard]] int create_file(std::string_view rel, int flags, mode_t mode = 0644) const noexcept;

  // unlinkat in the parent (opened beneath the root); a symlink is removed itself, never
  // followed. A directory gives -EISDIR.
  [[nodiscard]] int remove_file(std::string_view rel) const noexcept;

  // renameat2 beneath the root (flags e.g. RENAME_NOREPLACE). A symlink is moved, not followed.
  [[nodiscard]] int rename(std::string_view from, std::string_view to, unsigned flags = 0) const noexcept;

  // Number of entries of a directory beneath the root, excluding "." and "..".
  [[nodiscard]] int count_entries(std::string_view rel, std::size_t& entries) const noexcept;

  // rm -rf of rel, or of everything inside the root when rel is empty (the root stays).
  // Never follows symlinks (they are unlinked) and never descends into another mount (-EXDEV,
  // like rm --one-file-system). Iterative, with a bounded number of open fds, so depth is
  // unlimited. Directories the owner cannot read or write (e.g. a Go module cache, 0555) are
  // made owner-accessible first. A missing rel is success. Returns 0 or the first -errno but
  // keeps removing what it can.
  [[nodiscard]] int remove_tree(std::string_view rel) const noexcept;

 private:
  Root(int fd, std::string path) noexcept;
  int make_dirs_walk(char* components, mode_t mode) const noexcept;  // one attempt of make_dirs

  int m_fd = -1;
  std::string m_path;
};

// Creates a fresh private (0700) workspace "cachestress-XXXXXX" under base_dir and returns its
// absolute, symlink-free path. Throws EnvironmentError naming the path and the errno text.
std::string make_workspace(const std::string& base_dir);

// Validates a user-given --workdir: it must not be a symlink; if it exists it must be an empty
// directory we can write; otherwise its parent must exist and it is created (0700). Returns the
// absolute path and sets *created when it made the directory (so the run removes it again).
// Throws EnvironmentError naming the path and the reason.
std::string prepare_user_workdir(const std::string& dir, bool* created = nullptr);

}  // namespace cachestress::fs
