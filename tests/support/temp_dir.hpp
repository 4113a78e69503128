#pragma once
// The one temporary directory of every test: a fresh directory under $TMPDIR (or /tmp),
// removed with everything in it on destruction (read-only directories a test left behind
// included).
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace cachestress::test_support {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "cachestress-test") {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + pattern);
    m_path = pattern;
  }
  ~TempDir() {
    namespace stdfs = std::filesystem;
    std::error_code ignored;
    for (auto it = stdfs::recursive_directory_iterator(m_path, ignored); it != stdfs::recursive_directory_iterator();
         it.increment(ignored)) {
      if (it->is_directory(ignored) && !it->is_symlink(ignored)) {
        stdfs::permissions(it->path(), stdfs::perms::owner_all, stdfs::perm_options::add, ignored);
      }
    }
    stdfs::remove_all(m_path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const noexcept { return m_path; }
  std::string operator/(const std::string& name) const { return m_path + "/" + name; }
  std::string file(const std::string& name) const { return m_path + "/" + name; }

 private:
  std::string m_path;
};

}  // namespace cachestress::test_support
