#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "engine/core/error.hpp"
#include "engine/report/report.hpp"

namespace cachestress::report {

void write_atomically(const std::string& path, const std::string& text) {
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
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    throw EnvironmentError("cannot write " + path + ": " + errno_text(err));
  }
}

}  // namespace cachestress::report
