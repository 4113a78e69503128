// libFuzzer target: scenario TOML bytes -> scenario::parse_scenario (and back through to_toml).
// The property is in fuzz/scenario_parser_check.hpp; an InputError is the expected outcome of
// bad input, anything else (another exception, a crash, a sanitizer report, a broken round
// trip, a malformed error message) aborts and becomes a finding. See fuzz/README.md.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/scenario_parser_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string finding =
      cachestress::fuzz::check_scenario_parser(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!finding.empty()) {
    std::fprintf(stderr, "scenario_parser_fuzz: %s\n", finding.c_str());
    std::abort();
  }
  return 0;
}
