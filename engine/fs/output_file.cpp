#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string_view>

#include "engine/core/error.hpp"
#include "engine/fs/output_file.hpp"

namespace cachestress::fs {

namespace {

// Writes text to a fresh temp file beside path and returns its name (synced, mode 0644).
std::string write_temp_beside(const std::string& path, const std::string& text) {
  std::string temp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(temp.data());
  if (fd < 0) throw EnvironmentError("cannot write " + path + ": " + errno_text(errno));
  std::string_view rest = text;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      throw EnvironmentError("cannot write " + path + ": " + errno_text(err));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    throw EnvironmentError("cannot write " + path + ": " + errno_text(err));
  }
  return temp;
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// True when path is written in place rather than replaced: a device (/dev/null), a FIFO, a
// symlink to one, or any symlink in /dev or /proc (/dev/stdout, /proc/self/fd/1 redirected to
// a file: that link is the system's, never to be replaced). A symlink elsewhere to a regular
// file is replaced like a file, atomically: the link, not what it points at (a link planted
// in a shared results folder must not get another file overwritten).
bool is_special(const std::string& path) {
  struct stat link {};
  if (::lstat(path.c_str(), &link) != 0 || S_ISREG(link.st_mode)) return false;
  if (!S_ISLNK(link.st_mode)) return true;
  const std::string where = std::filesystem::absolute(path).lexically_normal().string();
  if (where.starts_with("/dev/") || where.starts_with("/proc/")) return true;
  struct stat target {};
  return ::stat(path.c_str(), &target) == 0 && !S_ISREG(target.st_mode);
}

void write_in_place(const std::string& path, const std::string& text) {
  const int std_fd = is_open_as(path, STDOUT_FILENO) ? STDOUT_FILENO : is_open_as(path, STDERR_FILENO) ? STDERR_FILENO : -1;
  const int fd = std_fd >= 0 ? ::fcntl(std_fd, F_DUPFD_CLOEXEC, 0) : ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) throw EnvironmentError("cannot write " + path + ": " + errno_text(errno));
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw EnvironmentError("cannot write " + path + ": " + errno_text(err));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd) != 0) throw EnvironmentError("cannot write " + path + ": " + errno_text(errno));
}

}  // namespace

void write_atomically(const std::string& path, const std::string& text) {
  if (is_special(path)) {
    write_in_place(path, text);
    return;
  }
  const std::string temp = write_temp_beside(path, text);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    throw EnvironmentError("cannot write " + path + ": " + errno_text(err));
  }
}

bool write_new_file(const std::string& path, const std::string& text) {
  const std::string temp = write_temp_beside(path, text);
  // link() fails with EEXIST instead of replacing: no race with a concurrent run.
  const int rc = ::link(temp.c_str(), path.c_str());
  const int err = errno;
  ::unlink(temp.c_str());
  if (rc == 0) return true;
  if (err == EEXIST) return false;
  throw EnvironmentError("cannot write " + path + ": " + errno_text(err));
}

bool is_stream(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || S_ISDIR(info.st_mode)) return false;
  return !S_ISREG(info.st_mode) || is_special(path);  // a file reached through /dev/stdout
}

bool is_open_as(const std::string& path, int fd) {
  struct stat named {};
  struct stat open {};
  return ::stat(path.c_str(), &named) == 0 && ::fstat(fd, &open) == 0 && named.st_dev == open.st_dev &&
         named.st_ino == open.st_ino;
}

namespace {

// The file a path names: absolute, `..` and symlinks resolved as far as the path exists.
std::string resolved(const std::string& path) {
  std::error_code error;
  auto absolute = std::filesystem::weakly_canonical(path, error);
  return error ? path : absolute.string();
}

}  // namespace

void check_distinct(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].path.empty() || is_stream(outputs[i].path)) continue;
    const std::string file = resolved(outputs[i].path);
    auto clash = [&](const NamedPath& other, const char* as) {
      if (other.path.empty() || resolved(other.path) != file) return;
      throw InputError(outputs[i].flag + " " + outputs[i].path + ": the same file as " + other.flag + " " + other.path +
                       as);
    };
    for (std::size_t j = i + 1; j < outputs.size(); ++j) clash(outputs[j], " (two outputs would overwrite each other)");
    for (const auto& input : inputs) clash(input, ", which it reads (it would be overwritten)");
  }
}

void check_outside(const std::vector<NamedPath>& outputs, const NamedPath& workspace) {
  if (workspace.path.empty()) return;
  const std::string dir = resolved(workspace.path);
  for (const auto& output : outputs) {
    if (output.path.empty() || is_stream(output.path)) continue;
    const std::string file = resolved(output.path);
    if (file == dir || (file.starts_with(dir) && (dir == "/" || file[dir.size()] == '/'))) {
      throw InputError(output.flag + " " + output.path + ": inside " + workspace.flag + " " + workspace.path +
                       ", which the run empties when it ends");
    }
  }
}

void check_output_path(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    throw EnvironmentError("cannot write report " + path + ": is a directory");
  }
  if (is_special(path)) {
    // Written in place (see write_atomically): only the file itself must be writable.
    if (::access(path.c_str(), W_OK) != 0) throw EnvironmentError("cannot write report " + path + ": " + errno_text(errno));
    return;
  }
  const std::string dir = parent_of(path);
  if (::stat(dir.c_str(), &info) != 0) throw EnvironmentError("cannot write report " + path + ": " + dir + ": " + errno_text(errno));
  if (!S_ISDIR(info.st_mode)) throw EnvironmentError("cannot write report " + path + ": " + dir + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw EnvironmentError("cannot write report " + path + ": " + dir + ": " + errno_text(errno));
  }
  // access() says yes for root in /proc and /sys, where no file can be made: make the temp
  // file the write will make, and remove it, so that costs no run either.
  std::string probe = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) throw EnvironmentError("cannot write report " + path + ": " + errno_text(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace cachestress::fs
