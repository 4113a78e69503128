// The short soak CI runs (the ten-minute one is tests/soak/, label soak).
#include <catch2/catch.hpp>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {

TEST_CASE("a short soak at concurrency 256 keeps descriptors, threads and memory flat", "[e2e][soak]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "soak", "--duration", "20", "--interval-ms", "500", "--out", tmp / "soak.json", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto doc = read_json_file(tmp / "soak.json");
  CHECK(doc["cells"][0]["summary"]["builds"]["failed"] == 0);
  CHECK(doc["cells"][0]["summary"]["errors"]["io"] == 0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizer's quarantine holds freed memory on purpose: RSS is not the program's here.
  WARN("sanitizer build: RSS not checked");
  check_flat_resources(doc, 5.0, 0.05, 8, false);
#else
  check_flat_resources(doc, 5.0, 0.05, 8, true);
#endif
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"soak.json"});
}

}  // namespace cachestress::e2e
