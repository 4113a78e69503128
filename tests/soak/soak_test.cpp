// The ten-minute soak (label soak; run with `ctest --preset soak`, not in the default suite).
#include <catch2/catch.hpp>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {

TEST_CASE("a ten-minute soak at concurrency 256 stays within 5% after the first minute", "[soak]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "soak", "--out", tmp / "soak.json", "-q"};
  spec.env["TMPDIR"] = tmp.path();
  spec.timeout = std::chrono::seconds(900);
  auto result = run_binary(spec);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto doc = read_json_file(tmp / "soak.json");
  CHECK(doc["cells"][0]["summary"]["builds"]["failed"] == 0);
  CHECK(doc["cells"][0]["summary"]["errors"]["io"] == 0);
  check_flat_resources(doc, 60.0, 0.05, 8, true);
  CHECK(list_dir(tmp.path()) == std::vector<std::string>{"soak.json"});
}

}  // namespace cachestress::e2e
