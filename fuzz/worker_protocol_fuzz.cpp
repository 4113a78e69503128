// libFuzzer target: bytes -> the worker protocol decoders (event lines via LineSplitter and
// decode_event, a whole plan via decode_plan), and back through their encoders. The property
// is in fuzz/worker_protocol_check.hpp: a ProtocolError is the expected outcome of bad input;
// anything else (another exception, a crash, a sanitizer report, a broken round trip, a
// multi-line error) aborts and becomes a finding. See fuzz/README.md.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/worker_protocol_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string finding =
      cachestress::fuzz::check_worker_protocol(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!finding.empty()) {
    std::fprintf(stderr, "worker_protocol_fuzz: %s\n", finding.c_str());
    std::abort();
  }
  return 0;
}
