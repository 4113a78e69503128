// libFuzzer target: a report file's bytes -> what compare and report read. The input and
// the property: fuzz/report_reader_check.hpp. Any finding aborts (fuzz/README.md).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/report_reader_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string finding =
      cachestress::fuzz::check_report_reader(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!finding.empty()) {
    std::fprintf(stderr, "report_reader_fuzz: %s\n", finding.c_str());
    std::abort();
  }
  return 0;
}
