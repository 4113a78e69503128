#pragma once
// The engine's file syscalls as plain functions, for the reference programs
// (reference_shared, reference_locked): the same openat2 resolution beneath a root fd, the
// same per-open safety checks, the same mkdir -p, so engine / reference measures the
// engine's own cost (loop, hops, bookkeeping) and nothing else. Also the per-build file
// steps both programs share (the engine's record, write it, read to EOF), their number
// parsing (reference_options.hpp) and their private workspace.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include "bench/reference_options.hpp"
#include "engine/oracle/token.hpp"

namespace {

constexpr std::uint64_t k_resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

enum class Checks { engine, none };

// openat2 beneath the root, never following symlinks: the engine's open_beneath().
int open_beneath(int root_fd, const char* path, int flags, mode_t mode = 0) {
  open_how how{};
  how.flags = static_cast<unsigned>(flags);
  if ((flags & O_CREAT) != 0) how.mode = mode;
  how.resolve = k_resolve;
  for (;;) {
    const long fd = ::syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != EINTR && errno != EAGAIN) return -errno;
  }
}

// The engine's Root::open_file: O_NONBLOCK against planted FIFOs and O_TRUNC held back,
// then a file-type check, the truncation (ftruncate) and F_SETFL to the caller's flags.
// With Checks::none only the openat2 is left.
int open_file(int root_fd, const char* path, int flags, Checks checks) {
  if (checks == Checks::none) return open_beneath(root_fd, path, flags | O_CLOEXEC | O_NOFOLLOW, 0644);
  const int fd = open_beneath(root_fd, path, (flags & ~O_TRUNC) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) return fd;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (ok && (flags & O_TRUNC) != 0) ok = ::ftruncate(fd, 0) == 0;
  if (!ok || ::fcntl(fd, F_SETFL, flags) != 0) {
    ::close(fd);
    return -EIO;
  }
  return fd;
}

// mkdir -p as Root::make_dirs does it: one O_PATH probe when the directory exists (every
// build but the first), else mkdirat + openat2 one component at a time.
int make_dirs(int root_fd, const std::string& rel) {
  const int probe = open_beneath(root_fd, rel.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (probe >= 0) return ::close(probe);
  if (probe != -ENOENT) return probe;
  int dir_fd = root_fd;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = rel.find('/', start);
    const std::string component = rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (::mkdirat(dir_fd, component.c_str(), 0755) != 0 && errno != EEXIST) return -errno;
    const int next = open_beneath(dir_fd, component.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd != root_fd) ::close(dir_fd);
    if (next < 0) return next;
    dir_fd = next;
    if (slash == std::string::npos) return ::close(dir_fd);
    start = slash + 1;
  }
}

// The record the engine's write op puts in the file, made by the engine's own oracle
// (engine/oracle/token: header, checksum, payload pattern), and what its read op makes of
// what it finds: the same bytes and the same checking work per build as the engine.
std::string engine_record(std::uint64_t build, const std::string& kind, std::uint32_t payload_bytes) {
  cachestress::oracle::Token token;
  token.build = build;
  token.kind = kind;
  token.value = "index";  // the scenarios' value = "index"
  std::string record;
  cachestress::oracle::encode_record(token, payload_bytes, record);
  return record;
}

cachestress::oracle::Verdict engine_verdict(std::string_view content, cachestress::model::ReadExpect expect, std::uint64_t build) {
  return cachestress::oracle::inspect(true, content, expect, build).verdict;
}

// open O_TRUNC + one write + close: how the engine's write op leaves a file.
bool write_whole(int root_fd, const char* path, const std::string& record, Checks checks) {
  const int fd = open_file(root_fd, path, O_WRONLY | O_CREAT | O_TRUNC, checks);
  if (fd < 0) return false;
  const bool ok = ::write(fd, record.data(), record.size()) == static_cast<ssize_t>(record.size());
  ::close(fd);
  return ok;
}

// open + read until EOF (the final 0-byte read included, as the engine's read does) + close.
// 0, or the negative errno of the open or a read.
int read_to_eof(int root_fd, const char* path, Checks checks, std::string& content) {
  const int fd = open_file(root_fd, path, O_RDONLY, checks);
  if (fd < 0) return fd;
  static thread_local std::array<char, 65536> buffer;
  content.clear();
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? -errno : 0;
      ::close(fd);
      return error;
    }
    content.append(buffer.data(), static_cast<std::size_t>(n));
  }
}

// A fresh private directory for this run, like the engine's workspace: under --workdir, else
// $TMPDIR, else /tmp. Exits 3 when it cannot be made.
std::string make_workspace(const char* program, const std::string& workdir) {
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string base = !workdir.empty() ? workdir : tmpdir != nullptr && *tmpdir ? tmpdir : "/tmp";
  std::string path = base + "/" + program + "-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    std::fprintf(stderr, "%s: cannot create a directory under %s: %s\n", program, base.c_str(), std::strerror(errno));
    std::exit(3);
  }
  return path;
}

}  // namespace
