// The live progress line: on a terminal only, never with -q, never in captured output.
#include <catch2/catch.hpp>
#include <unistd.h>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {

TEST_CASE("no progress line when stdout is not a terminal", "[e2e][progress]") {
  TempDir tmp;
  RunSpec spec;
  spec.args = {"--scenario", "convoy", "--builds", "40", "--interval-ms", "50"};
  spec.env["TMPDIR"] = tmp.path();
  auto result = run_binary(spec);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, !Catch::Contains("ETA"));
  CHECK(result.out.find('\r') == std::string::npos);
  CHECK(result.err.find('\r') == std::string::npos);
}

TEST_CASE("on a terminal the progress line updates in place and -q silences it", "[e2e][progress]") {
  if (::access("/usr/bin/script", X_OK) != 0) {
    WARN("util-linux script not installed: no pseudo-terminal to test with");
    return;
  }
  TempDir tmp;
  const std::string command = std::string(CACHESTRESS_BINARY) + " --scenario convoy --builds 40 --interval-ms 50";
  RunSpec spec;
  spec.args = {};  // run `script` instead of the binary: it gives the child a pseudo-terminal
  spec.env["TMPDIR"] = tmp.path();
  spec.env["NO_COLOR"] = "1";
  auto run_in_pty = [&](const std::string& cmd) {
    RunSpec pty = spec;
    pty.program = "/usr/bin/script";
    pty.args = {"-qec", cmd, tmp / "typescript"};
    auto r = run_binary(pty);
    REQUIRE(r.exit_code == 0);
    return read_text(tmp / "typescript");
  };
  const std::string shown = run_in_pty(command);
  CHECK_THAT(shown, Catch::Contains("ETA") && Catch::Contains("builds/s") && Catch::Contains("\r\033[K"));
  CHECK_THAT(shown, !Catch::Contains("\033[31m"));  // NO_COLOR respected
  CHECK_THAT(shown, Catch::Contains("expectations:"));  // the summary still follows
  const std::string quiet = run_in_pty(command + " -q");
  CHECK_THAT(quiet, !Catch::Contains("ETA"));
}

}  // namespace cachestress::e2e
