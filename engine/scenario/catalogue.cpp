// Where scenarios come from: the built-ins compiled into the binary, and files (read as a
// stream, so pipes work), each handed to the parser.
#include "engine/scenario/loader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>

#include "engine/core/error.hpp"
#include "engine/scenario/embedded.hpp"
#include "engine/scenario/scenario_text.hpp"

namespace cachestress::scenario {
namespace {

// Reads a whole file as a stream (no stat: /dev/stdin and pipes have no size), at most
// one byte past the limit so parse_scenario() reports oversize files.
std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError("cannot read scenario " + quoted(path) + ": " + errno_text(errno));
  std::string text;
  std::array<char, 64 * 1024> buffer{};
  while (text.size() <= k_max_scenario_bytes) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw InputError("cannot read scenario " + quoted(path) + ": " + errno_text(err));
    }
    if (n == 0) break;
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

// The path from the root: the working directory joined to a relative path ("./" dropped).
std::string absolute_path(std::string path) {
  if (path.starts_with('/')) return path;
  while (path.starts_with("./")) path.erase(0, 2);
  std::array<char, 4096> cwd{};
  if (::getcwd(cwd.data(), cwd.size()) == nullptr) return path;
  const std::string dir(cwd.data());
  return dir == "/" ? "/" + path : dir + "/" + path;
}

}  // namespace

model::Scenario load_scenario(std::string_view name_or_path) {
  const bool is_path = name_or_path.find('/') != std::string_view::npos || name_or_path.ends_with(".toml");
  if (!is_path) {
    for (const auto& builtin : embedded_scenarios()) {
      if (builtin.name == name_or_path) {
        return parse_scenario(builtin.toml, "builtin:" + std::string(builtin.name), builtin.name);
      }
    }
    throw InputError("unknown scenario '" + escape(name_or_path, false, 200) + "' (try: cachestress list)");
  }
  const std::string path(name_or_path);
  if (path.find('\0') != std::string::npos) throw InputError("cannot read scenario " + quoted(path) + ": path contains a NUL byte");
  std::string_view stem = name_or_path.substr(name_or_path.rfind('/') + 1);  // npos + 1 == 0
  if (stem.ends_with(".toml")) stem.remove_suffix(5);
  if (stem.empty()) stem = name_or_path;
  // Messages name the file as given; the scenario records where it is, for reports and
  // for a command line that reproduces the run from any directory.
  model::Scenario scenario = parse_scenario(read_file(path), path, stem);
  scenario.source = absolute_path(path);
  return scenario;
}

std::vector<CatalogueEntry> catalogue() {
  std::vector<CatalogueEntry> entries;
  for (const auto& builtin : embedded_scenarios()) {
    auto scenario = parse_scenario(builtin.toml, "builtin:" + std::string(builtin.name), builtin.name);
    entries.push_back({scenario.name, scenario.description});
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return entries;
}

}  // namespace cachestress::scenario
