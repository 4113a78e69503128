// libFuzzer target: argv (NUL-separated) -> cli::parse_command_line, parsing only. The input
// and the property: fuzz/command_line_check.hpp. Any finding aborts (fuzz/README.md).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/command_line_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string finding =
      cachestress::fuzz::check_command_line(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!finding.empty()) {
    std::fprintf(stderr, "command_line_fuzz: %s\n", finding.c_str());
    std::abort();
  }
  return 0;
}
