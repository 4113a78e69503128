#include "engine/fs/safe_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "engine/core/error.hpp"

namespace cachestress::fs {
namespace {

constexpr std::size_t k_max_component = 255;  // NAME_MAX
constexpr std::uint64_t k_resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
// openat2 may report EAGAIN when it cannot rule out a rename race; retrying is the documented answer.
constexpr int k_eagain_retries = 8;
// remove_tree keeps about this many directory fds open however deep the tree: many workers
// may remove trees at once under a 1024 RLIMIT_NOFILE.
constexpr std::size_t k_open_window = 16;
// Longest path handed to one openat2 when re-walking a deep tree (PATH_MAX is 4096 with the NUL).
constexpr std::size_t k_walk_chunk = 4000;

// Owns one fd; closes it on scope exit so no early return can leak it.
class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.m_fd, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return m_fd; }
  bool valid() const noexcept { return m_fd >= 0; }
  int release() noexcept { return std::exchange(m_fd, -1); }
  void reset(int fd = -1) noexcept {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = fd;
  }

 private:
  int m_fd = -1;
};

// openat2 with our resolve flags; returns an fd or -errno.
int open_beneath(int dirfd, const char* path, int flags, mode_t mode, std::uint64_t extra_resolve = 0) noexcept {
  open_how how{};
  // Through unsigned so a stray sign bit cannot smear into the upper 32 bits (openat2 rejects those).
  how.flags = static_cast<unsigned>(flags);
  // openat2, unlike openat, rejects a mode without O_CREAT/O_TMPFILE.
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) how.mode = mode;
  how.resolve = k_resolve | extra_resolve;
  for (int attempt = 0;; ++attempt) {
    const long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    const int err = errno;
    if (err == EINTR || (err == EAGAIN && attempt < k_eagain_retries)) continue;
    return -err;
  }
}

int open_dir_path(int dirfd, const char* path, std::uint64_t extra_resolve = 0) noexcept {
  // No O_NOFOLLOW: with it a final symlink would give ENOTDIR; without it RESOLVE_NO_SYMLINKS says ELOOP.
  return open_beneath(dirfd, path, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, extra_resolve);
}

// A NUL-terminated copy of a validated rel, split at its last '/' on demand; no heap so the
// noexcept methods cannot fail on allocation.
class RelPath {
 public:
  explicit RelPath(std::string_view rel) noexcept {
    std::memcpy(m_buf, rel.data(), rel.size());
    m_buf[rel.size()] = '\0';
  }
  const char* c_str() const noexcept { return m_buf; }
  char* data() noexcept { return m_buf; }

  // Opens the directory holding the last component (or uses root_fd); leaf() names it.
  // Returns the dirfd to use, or -errno.
  int open_parent(int root_fd, Fd& owned) noexcept {
    char* slash = std::strrchr(m_buf, '/');
    if (slash == nullptr) {
      m_leaf = m_buf;
      return root_fd;
    }
    *slash = '\0';
    m_leaf = slash + 1;
    const int fd = open_dir_path(root_fd, m_buf);
    if (fd < 0) return fd;
    owned.reset(fd);
    return fd;
  }
  const char* leaf() const noexcept { return m_leaf; }

 private:
  char m_buf[k_max_relative_path + 1];
  const char* m_leaf = m_buf;
};

bool is_dot_or_dotdot(const char* name) noexcept {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

// ------------------------------------------------------------------------------------------
// remove_tree

struct Entry {
  std::string name;
  unsigned char type = DT_UNKNOWN;
};

struct Frame {
  std::string name;  // name inside the parent frame (unused for the top frame of remove_tree(""))
  Fd fd;             // -1 while evicted from the open window
  dev_t dev = 0;     // identity, to recognise this directory again when climbing back via ".."
  ino_t ino = 0;
  std::vector<Entry> pending;
};

// Reads all entries now, so the fd can be closed (and later reopened as O_PATH) without
// losing our place in the directory.
int read_entries(int fd, std::vector<Entry>& out) {
  Fd dup_fd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!dup_fd.valid()) return -errno;
  DIR* dir = ::fdopendir(dup_fd.get());
  if (dir == nullptr) return -errno;
  dup_fd.release();  // owned by dir now
  int result = 0;
  for (;;) {
    errno = 0;
    const dirent* ent = ::readdir(dir);
    if (ent == nullptr) {
      if (errno != 0) result = -errno;
      break;
    }
    if (is_dot_or_dotdot(ent->d_name)) continue;
    out.push_back(Entry{ent->d_name, ent->d_type});
  }
  ::closedir(dir);
  return result;
}

// Depth-first removal with an explicit stack. Only the deepest k_open_window frames (plus the
// top one) keep an fd: many workers may remove trees at once and RLIMIT_NOFILE is often 1024.
class TreeRemover {
 public:
  // parent_fd: directory holding the tree; leaf: the tree's name, or nullptr for "the contents
  // of parent_fd itself".
  TreeRemover(int parent_fd, const char* leaf) : m_parent_fd(parent_fd), m_leaf(leaf) {}

  int run() {
    if (m_leaf == nullptr) {
      Fd fd(open_beneath(m_parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
      if (!fd.valid()) return fd.get();
      if (const int err = push(std::move(fd), std::string()); err < 0) return err;
    } else {
      const int err = enter(m_parent_fd, m_leaf, DT_UNKNOWN);
      if (err < 0) return err;
    }
    while (!m_stack.empty()) {
      Frame& top = m_stack.back();
      if (!top.pending.empty()) {
        const Entry entry = std::move(top.pending.back());
        top.pending.pop_back();
        note(enter(top.fd.get(), entry.name.c_str(), entry.type));
        continue;
      }
      // Done with the top frame: make sure its parent has an fd again, then rmdir it there.
      const std::size_t done = m_stack.size() - 1;
      if (done >= 2 && !m_stack[done - 1].fd.valid()) {
        if (const int err = reopen_parent(done); err < 0) {
          // The path back up changed under us (concurrent rename); give up rather than guess.
          note(err);
          return m_first_error;
        }
      }
      const std::string name = std::move(top.name);
      m_stack.pop_back();
      m_open_from = std::min(m_open_from, std::max<std::size_t>(1, m_stack.size()));
      if (m_stack.empty() && m_leaf == nullptr) break;  // the root itself stays
      const int dirfd = m_stack.empty() ? m_parent_fd : m_stack.back().fd.get();
      if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) note(-errno);
    }
    return m_first_error;
  }

 private:
  void note(int err) noexcept {
    if (err < 0 && m_first_error == 0) m_first_error = err;
  }

  // Removes a non-directory, or opens a directory and pushes it. 0 or -errno (ENOENT is 0:
  // someone else removed it first).
  int enter(int dirfd, const char* name, unsigned char type) {
    if (type != DT_DIR && type != DT_UNKNOWN) {
      if (::unlinkat(dirfd, name, 0) == 0) return 0;
      const int err = errno;
      if (err == ENOENT) return 0;
      if (err != EISDIR) return -err;
      // Replaced by a directory since readdir: descend after all.
    }
    // NO_XDEV: a mount inside the tree is not ours to empty. O_NOFOLLOW + O_DIRECTORY turns a
    // final symlink into ENOTDIR rather than following it.
    constexpr int k_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = open_beneath(dirfd, name, k_flags, 0, RESOLVE_NO_XDEV);
    if (fd == -EACCES) {
      // An unreadable directory (mode 0): fix it without following a symlink, then retry.
      if (::fchmodat(dirfd, name, S_IRWXU, AT_SYMLINK_NOFOLLOW) == 0) {
        fd = open_beneath(dirfd, name, k_flags, 0, RESOLVE_NO_XDEV);
      }
    }
    if (fd == -ENOTDIR || fd == -ELOOP) {
      // Not a directory (file, symlink, fifo...): unlink the entry itself.
      if (::unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return 0;
      return -errno;
    }
    if (fd == -ENOENT) return 0;
    if (fd < 0) return fd;
    return push(Fd(fd), std::string(name));
  }

  int push(Fd fd, std::string name) {
    Frame frame;
    frame.name = std::move(name);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return -errno;
    frame.dev = st.st_dev;
    frame.ino = st.st_ino;
    // Let the owner unlink inside directories made read-only (a Go module cache is 0555).
    if ((st.st_mode & S_IRWXU) != S_IRWXU) (void)::fchmod(fd.get(), (st.st_mode & 07777) | S_IRWXU);
    if (const int err = read_entries(fd.get(), frame.pending); err < 0) return err;
    frame.fd = std::move(fd);
    m_stack.push_back(std::move(frame));
    // Slide the open window: close its bottom frame once it holds too many.
    const std::size_t top = m_stack.size() - 1;
    if (top >= 1 && top - m_open_from + 1 > k_open_window) {
      m_stack[m_open_from].fd.reset();
      ++m_open_from;
    }
    return 0;
  }

  // Gives the evicted parent of frame `child` an fd again. ".." of the child is its current
  // parent; when that has the identity we recorded on the way down it is the very directory
  // we descended from (still beneath the root), found in O(1). Otherwise something was moved:
  // walk the names down from frame 0 with the usual resolve rules instead.
  int reopen_parent(std::size_t child) {
    const std::size_t parent = child - 1;
    Frame& frame = m_stack[parent];
    Fd up(::openat(m_stack[child].fd.get(), "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (up.valid() && ::fstat(up.get(), &st) == 0 && st.st_dev == frame.dev && st.st_ino == frame.ino) {
      frame.fd = std::move(up);
    } else if (const int err = open_by_names(parent); err < 0) {
      return err;
    }
    m_open_from = parent;
    return 0;
  }

  int open_by_names(std::size_t target) {
    Fd walker;
    int base = m_stack[0].fd.get();
    std::size_t i = 1;
    std::string path;
    while (i <= target) {
      // PATH_MAX-sized chunks: one openat2 walks many levels.
      path.clear();
      while (i <= target && path.size() + 1 + m_stack[i].name.size() <= k_walk_chunk) {
        if (!path.empty()) path += '/';
        path += m_stack[i].name;
        ++i;
      }
      const int fd = open_dir_path(base, path.c_str(), RESOLVE_NO_XDEV);
      if (fd < 0) return fd;
      walker.reset(fd);
      base = fd;
    }
    struct stat st {};
    if (::fstat(walker.get(), &st) != 0) return -errno;
    if (st.st_dev != m_stack[target].dev || st.st_ino != m_stack[target].ino) return -ESTALE;
    m_stack[target].fd = std::move(walker);
    return 0;
  }

  int m_parent_fd;
  const char* m_leaf;
  std::vector<Frame> m_stack;
  // Frames [m_open_from, top] are open, plus frame 0 always; 1 <= m_open_from <= top + 1.
  std::size_t m_open_from = 1;
  int m_first_error = 0;
};

// ------------------------------------------------------------------------------------------
// Workspace helpers (main thread, may throw)

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw EnvironmentError(what + " '" + path + "': " + errno_text(err));
}

[[noreturn]] void fail_reason(const std::string& what, const std::string& path, const std::string& reason) {
  throw EnvironmentError(what + " '" + path + "': " + reason);
}

// A trailing '/' makes the kernel follow a final symlink even with O_NOFOLLOW; drop it.
std::string strip_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string real_path(const std::string& what, const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) fail(what, path, errno);
  std::string result(resolved);
  std::free(resolved);
  return result;
}

// Explains why a no-follow directory open failed with ENOTDIR/ELOOP.
[[noreturn]] void fail_not_directory(const std::string& what, const std::string& path, int err) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) fail_reason(what, path, "is a symlink (refused: it could point anywhere)");
    if (!S_ISDIR(st.st_mode)) fail_reason(what, path, "exists and is not a directory");
  }
  fail(what, path, err);
}

}  // namespace

bool is_safe_relative(std::string_view rel) noexcept {
  if (rel.empty() || rel.size() > k_max_relative_path || rel.front() == '/') return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = rel.find('/', start);
    const std::string_view part = rel.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == ".." || part.size() > k_max_component) return false;
    if (part.find('\0') != std::string_view::npos) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

Root::Root(int fd, std::string path) noexcept : m_fd(fd), m_path(std::move(path)) {}

Root::Root(Root&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)), m_path(std::move(other.m_path)) {}

Root& Root::operator=(Root&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = std::exchange(other.m_fd, -1);
    m_path = std::move(other.m_path);
  }
  return *this;
}

Root::~Root() {
  if (m_fd >= 0) ::close(m_fd);
}

std::string Root::proc_path() const {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(m_fd);
}

std::string Root::current_path() const {
  char buffer[PATH_MAX + 1];
  const std::string link = "/proc/self/fd/" + std::to_string(m_fd);
  const ssize_t n = ::readlink(link.c_str(), buffer, PATH_MAX);
  if (n <= 0 || buffer[0] != '/') return {};
  std::string path(buffer, static_cast<std::size_t>(n));
  if (path.ends_with(" (deleted)")) return {};
  return path;
}

Root Root::open(const std::string& absolute_dir) {
  const std::string path = strip_trailing_slashes(absolute_dir);
  if (path.empty() || path.front() != '/') fail_reason("workspace root", absolute_dir, "is not an absolute path");
  const int fd = ::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOTDIR || err == ELOOP) fail_not_directory("cannot open workspace root", path, err);
    fail("cannot open workspace root", path, err);
  }
  return Root(fd, path);
}

int Root::make_dirs(std::string_view rel, mode_t mode) const noexcept {
  if (!is_safe_relative(rel)) return -EINVAL;
  RelPath path(rel);
  {
    // Common case: it already exists; one syscall.
    const int fd = open_dir_path(m_fd, path.c_str());
    if (fd >= 0) {
      ::close(fd);
      return 0;
    }
    if (fd != -ENOENT) return fd;
  }
  // A concurrent prune or reset can remove a directory between our mkdirat and open (or the
  // parent we hold): like `mkdir -p` racing `rm -rf`, walk again from the root (bounded)
  // rather than fail a mount on the emulation's own interleaving.
  constexpr int k_attempts = 32;
  int rc = -ENOENT;
  for (int attempt = 0; attempt < k_attempts && rc == -ENOENT; ++attempt) {
    RelPath fresh(rel);
    rc = make_dirs_walk(fresh.data(), mode);
  }
  return rc;
}

int Root::make_dirs_walk(char* component, mode_t mode) const noexcept {
  // Walk one component at a time; each step opens what mkdirat made (or found) beneath the
  // previous fd, so a symlink swapped in anywhere fails with ELOOP instead of being followed.
  Fd current;
  int dirfd = m_fd;
  for (;;) {
    char* slash = std::strchr(component, '/');
    if (slash != nullptr) *slash = '\0';
    if (::mkdirat(dirfd, component, mode) != 0 && errno != EEXIST) return -errno;
    const int fd = open_dir_path(dirfd, component);
    if (fd < 0) return fd;
    current.reset(fd);
    dirfd = fd;
    if (slash == nullptr) return 0;
    component = slash + 1;
  }
}

int Root::create_file(std::string_view rel, int flags, mode_t mode) const noexcept {
  const auto slash = rel.rfind('/');
  int fd = -ENOENT;
  for (int attempt = 0; attempt < 32 && fd == -ENOENT; ++attempt) {
    if (slash != std::string_view::npos) {
      if (const int rc = make_dirs(rel.substr(0, slash)); rc < 0) return rc;
    }
    fd = open_file(rel, flags | O_CREAT, mode);
  }
  return fd;
}

int Root::open_file(std::string_view rel, int flags, mode_t mode) const noexcept {
  if (!is_safe_relative(rel) || (flags & O_PATH) != 0) return -EINVAL;
  RelPath path(rel);
  // O_NONBLOCK so a planted FIFO cannot block this worker; cleared again below. O_TRUNC
  // waits until we know the file is ours alone (see the hard-link check).
  const int open_flags = (flags & ~O_TRUNC) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
  Fd fd(open_beneath(m_fd, path.c_str(), open_flags, mode));
  if (!fd.valid()) return fd.get();
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return -errno;
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return -ENXIO;
  const bool writes = (flags & O_ACCMODE) != O_RDONLY;
  if (writes && S_ISREG(st.st_mode) && st.st_nlink > 1) {
    // A hard link planted in the cache would let a write reach a file outside the
    // workspace: break the link and write a fresh file of our own in its place.
    fd.reset();
    Fd parent;
    const int dirfd = path.open_parent(m_fd, parent);
    if (dirfd < 0) return dirfd;
    if (::unlinkat(dirfd, path.leaf(), 0) != 0 && errno != ENOENT) return -errno;
    fd.reset(open_beneath(m_fd, path.c_str(), open_flags | O_CREAT | O_EXCL, mode));
    if (!fd.valid()) return fd.get();
    if (::fstat(fd.get(), &st) != 0) return -errno;
  }
  if (writes && (flags & O_TRUNC) != 0 && S_ISREG(st.st_mode) && ::ftruncate(fd.get(), 0) != 0) return -errno;
  // F_SETFL only changes O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME and O_NONBLOCK, so the
  // caller's own flags restore exactly what was asked, without an F_GETFL first.
  if ((flags & O_NONBLOCK) == 0 && ::fcntl(fd.get(), F_SETFL, flags) != 0) return -errno;
  return fd.release();
}

int Root::remove_file(std::string_view rel) const noexcept {
  if (!is_safe_relative(rel)) return -EINVAL;
  RelPath path(rel);
  Fd parent;
  const int dirfd = path.open_parent(m_fd, parent);
  if (dirfd < 0) return dirfd;
  if (::unlinkat(dirfd, path.leaf(), 0) != 0) return -errno;
  return 0;
}

int Root::rename(std::string_view from, std::string_view to, unsigned flags) const noexcept {
  if (!is_safe_relative(from) || !is_safe_relative(to)) return -EINVAL;
  RelPath from_path(from);
  RelPath to_path(to);
  Fd from_parent;
  Fd to_parent;
  const int from_fd = from_path.open_parent(m_fd, from_parent);
  if (from_fd < 0) return from_fd;
  const int to_fd = to_path.open_parent(m_fd, to_parent);
  if (to_fd < 0) return to_fd;
  if (::renameat2(from_fd, from_path.leaf(), to_fd, to_path.leaf(), flags) != 0) return -errno;
  return 0;
}

int Root::count_entries(std::string_view rel, std::size_t& entries) const noexcept {
  if (!is_safe_relative(rel)) return -EINVAL;
  RelPath path(rel);
  Fd fd(open_beneath(m_fd, path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
  if (!fd.valid()) return fd.get();
  // getdents64 on our own fd: fdopendir would add fstat, F_GETFL and F_SETFD calls that
  // O_DIRECTORY | O_CLOEXEC already made unnecessary.
  alignas(dirent64) char buffer[32768];
  std::size_t count = 0;
  for (;;) {
    const ssize_t n = ::getdents64(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    for (ssize_t offset = 0; offset < n;) {
      const auto* ent = reinterpret_cast<const dirent64*>(buffer + offset);
      if (!is_dot_or_dotdot(ent->d_name)) ++count;
      offset += ent->d_reclen;
    }
  }
  entries = count;
  return 0;
}

int Root::remove_tree(std::string_view rel) const noexcept {
  if (!rel.empty() && !is_safe_relative(rel)) return -EINVAL;
  try {
    if (rel.empty()) return TreeRemover(m_fd, nullptr).run();
    RelPath path(rel);
    Fd parent;
    const int dirfd = path.open_parent(m_fd, parent);
    if (dirfd == -ENOENT) return 0;
    if (dirfd < 0) return dirfd;
    return TreeRemover(dirfd, path.leaf()).run();
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

std::string make_workspace(const std::string& base_dir) {
  if (base_dir.empty()) fail_reason("cannot create workspace under", base_dir, "empty path");
  const std::string base = real_path("cannot create workspace under", base_dir);
  std::string templ = base + (base.back() == '/' ? "" : "/") + "cachestress-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) fail("cannot create workspace under", base, errno);
  return templ;
}

std::string prepare_user_workdir(const std::string& dir, bool* created) {
  if (created) *created = false;
  if (dir.empty()) fail_reason("--workdir", dir, "empty path");
  const std::string path = strip_trailing_slashes(dir);
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOTDIR || err == ELOOP) fail_not_directory("--workdir", path, err);
    if (err != ENOENT) fail("--workdir", path, err);
    // Missing: create it (mkdir never follows a final symlink; a dangling one gives EEXIST).
    if (::mkdir(path.c_str(), 0700) != 0) {
      const int mkdir_err = errno;
      if (mkdir_err == ENOENT) {
        // Distinguish a missing parent from a parent that refuses new entries (e.g. /proc).
        const std::size_t slash = path.rfind('/');
        const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
        struct stat st {};
        if (::stat(parent.c_str(), &st) != 0) fail_reason("--workdir", path, "parent directory does not exist");
      }
      if (mkdir_err == EEXIST) fail_not_directory("--workdir", path, mkdir_err);
      fail("cannot create --workdir", path, mkdir_err);
    }
    if (created) *created = true;
    return real_path("cannot resolve --workdir", path);
  }
  // Existing: must be empty (we will remove everything in it) and writable.
  std::vector<Entry> entries;
  if (const int err = read_entries(fd.get(), entries); err < 0) fail("cannot list --workdir", path, -err);
  if (!entries.empty()) {
    fail_reason("--workdir", path, "is not empty (" + std::to_string(entries.size()) + " entries; refusing to use it)");
  }
  // access() also reports EROFS; root passes the permission bits regardless.
  if (::faccessat(fd.get(), ".", W_OK | X_OK, AT_EACCESS) != 0) fail("--workdir is not writable", path, errno);
  return real_path("cannot resolve --workdir", path);
}

}  // namespace cachestress::fs
