#include "engine/worker/holder_marker.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <utility>

#include "engine/lock/kernel_lock.hpp"

namespace cachestress::worker {
namespace {

constexpr int k_attempts = 8;
constexpr int k_dying_polls = 200;            // x k_dying_poll_us: how long an exiting holder may take
constexpr useconds_t k_dying_poll_us = 1000;             // a marker that keeps appearing and vanishing: give up
constexpr std::size_t k_max_content = 512;  // a build id, a kind name (<= 255 bytes) and a newline
constexpr model::LockKind k_liveness_lock = model::LockKind::flock;  // per open file: threads too

int write_content(int fd, const std::string& text) {
  if (::ftruncate(fd, 0) != 0) return -errno;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

std::string read_content(int fd) {
  std::string text(k_max_content, '\0');
  ssize_t n;
  do {
    n = ::pread(fd, text.data(), text.size(), 0);
  } while (n < 0 && errno == EINTR);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

bool is_unlinked(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && st.st_nlink == 0;
}

}  // namespace

HolderMarker::HolderMarker(HolderMarker&& other) noexcept
    : m_root(other.m_root), m_path(std::move(other.m_path)), m_fd(std::exchange(other.m_fd, -1)) {}

HolderMarker& HolderMarker::operator=(HolderMarker&& other) noexcept {
  if (this != &other) {
    release();
    m_root = other.m_root;
    m_path = std::move(other.m_path);
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

std::string HolderMarker::content(std::uint64_t build, std::string_view kind) {
  return std::to_string(build) + " " + std::string(kind.substr(0, 255)) + "\n";
}

HolderMarker::Holder HolderMarker::parse(std::string_view text) {
  Holder holder;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const auto space = text.find(' ');
  const std::string_view number = text.substr(0, space);
  std::uint64_t build = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), build);
  if (ec == std::errc() && end == number.data() + number.size() && !number.empty()) holder.build = build;
  if (space != std::string_view::npos && space + 1 < text.size()) holder.kind = std::string(text.substr(space + 1));
  return holder;
}

HolderMarker::Claim HolderMarker::claim(const fs::Root& root, std::string path, std::uint64_t build,
                                        std::string_view kind) {
  release();
  const std::string text = content(build, kind);
  // Unique among live processes and threads: nobody else ever writes this temporary name.
  const std::string temp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(::gettid());
  for (int attempt = 0; attempt < k_attempts; ++attempt) {
    // Its directory may have been pruned since the lock was taken: made again, as the
    // lock file's is (a pruned lock directory failed the build with "lock ENOENT").
    int fd = root.create_file(temp, O_RDWR | O_TRUNC, 0644);
    if (fd < 0) return {fd, std::nullopt};
    int rc = lock::try_acquire(fd, k_liveness_lock);
    if (rc == 0) rc = write_content(fd, text);
    if (rc == 0) rc = root.rename(temp, path, RENAME_NOREPLACE);
    if (rc == 0) {
      m_root = &root;
      m_path = std::move(path);
      m_fd = fd;
      return {};
    }
    (void)root.remove_file(temp);
    ::close(fd);
    if (rc == -ENOENT) continue;  // pruned between the create and the rename: again
    if (rc != -EEXIST) return {rc, std::nullopt};

    // Someone's marker is there: a live holder (its flock is held) or a dead one's leftover.
    fd = root.open_file(path, O_RDWR);
    if (fd == -ENOENT) continue;  // its holder just released: try again
    if (fd < 0) return {fd, std::nullopt};
    rc = lock::try_acquire(fd, k_liveness_lock);
    // A holder that is exiting lost its lock before its marker's flock: the kernel drops
    // POSIX (fcntl) locks as it closes each descriptor, but an flock only at the deferred
    // final release of the file. So the waiter it woke can find the flock still held for a
    // moment. Give a dying holder that moment before calling it alive.
    for (int poll = 0; rc == -EAGAIN && poll < k_dying_polls; ++poll) {
      ::usleep(k_dying_poll_us);
      rc = lock::try_acquire(fd, k_liveness_lock);
    }
    if (rc == 0 && is_unlinked(fd)) {
      // Its holder released normally (marker removed first) while we already held the
      // lock: the two holds overlapped.
      Holder other = parse(read_content(fd));
      ::close(fd);
      return {0, std::move(other)};
    }
    if (rc == 0) {
      // Its owner died without cleaning up (the kernel dropped its flock): take it over.
      rc = write_content(fd, text);
      if (rc < 0) {
        ::close(fd);
        return {rc, std::nullopt};
      }
      m_root = &root;
      m_path = std::move(path);
      m_fd = fd;
      return {};
    }
    if (rc != -EAGAIN) {
      ::close(fd);
      return {rc, std::nullopt};
    }
    Holder other = parse(read_content(fd));
    ::close(fd);
    return {0, std::move(other)};
  }
  return {-EBUSY, std::nullopt};
}

void HolderMarker::release() noexcept {
  if (m_fd < 0) return;
  // Remove first, unlock second: an unlocked marker in place would read as a dead holder's.
  (void)m_root->remove_file(m_path);
  ::close(m_fd);
  m_fd = -1;
  m_root = nullptr;
  m_path.clear();
}

}  // namespace cachestress::worker
