// What a command printed past the kept part of its output: checks, signatures and other
// builds' tokens found there, also across the boundary and across chunks; the tail kept.
#include <catch2/catch.hpp>

#include "engine/command/output_scan.hpp"

namespace cachestress::command {
namespace {

using model::OutputStream;

model::OutputCheck substring_check(std::string text, OutputStream stream = OutputStream::stdout_) {
  model::OutputCheck c;
  c.substring = std::move(text);
  c.stream = stream;
  return c;
}

model::OutputCheck regex_check(std::string pattern, OutputStream stream = OutputStream::stdout_) {
  model::OutputCheck c;
  c.regex = std::move(pattern);
  c.stream = stream;
  return c;
}

const StepOutput k_step{"reader", 1, "cst:4:reader:1", {}, {}, nullptr, nullptr};

}  // namespace

TEST_CASE("a substring past the kept part is found across the boundary and across chunks", "[unit][command]") {
  const auto checks = compile_checks({substring_check("hello"), substring_check("never"), substring_check("warn", OutputStream::stderr_)});
  const Signatures none({});
  OutputScan scan(checks, none, k_step);
  scan.feed(OutputStream::stdout_, "kept ... hel", "l");  // "hel" was kept, "l" and "o" came later
  scan.feed(OutputStream::stdout_, "kept ... hel", "o and more");
  scan.feed(OutputStream::stdout_, "kept ... hel", "warn");  // on stdout: not the stderr check's
  scan.finish();
  CHECK(scan.found().check_seen == std::vector<bool>{true, false, false});

  // evaluate: a check that fails on what was kept passes on what the scan saw past it.
  const Values values{4, "reader", 1, "cst:4:reader:1", "", "", ""};
  StepOutput kept{"reader", 1, "cst:4:reader:1", "kept ... hel", "", &values, nullptr};
  CHECK_FALSE(evaluate({checks[0]}, kept).passed);
  kept.past_limit = &scan.found();
  CHECK(evaluate({checks[0]}, kept).passed);
  CHECK(evaluate(checks, kept).failed == "stdout does not contain \"never\"");
}

TEST_CASE("a regex past the kept part is matched per whole line, the last one unterminated too", "[unit][command]") {
  const auto checks = compile_checks({regex_check("^step [0-9]+ done$", OutputStream::both), regex_check("^tail$")});
  const Signatures signatures({{"^E: Could not get lock", "apt-lock"}, {"never", "other"}});
  OutputScan scan(checks, signatures, k_step);
  scan.feed(OutputStream::stderr_, "noise\nstep 1", "2 do");  // the line began in the kept part
  scan.feed(OutputStream::stderr_, "noise\nstep 1", "ne\nE: Could not ");
  scan.feed(OutputStream::stderr_, "noise\nstep 1", "get lock /var/lib/dpkg\n");
  scan.feed(OutputStream::stdout_, "x", "\nta");
  CHECK_FALSE(scan.found().check_seen[1]);  // "ta" is not a line yet
  scan.feed(OutputStream::stdout_, "x", "il");
  scan.finish();                            // the stream ended: "tail" is its last line
  CHECK(scan.found().check_seen == std::vector<bool>{true, true});
  CHECK(scan.signatures_seen() == std::vector<bool>{true, false});
  CHECK(signatures.classify("fine\n", "fine\n", &scan.signatures_seen()) == "apt-lock");
  CHECK_FALSE(signatures.classify("fine\n", "fine\n"));
}

TEST_CASE("another build's token or a declared foreign value past the kept part names the writer", "[unit][command]") {
  auto check = substring_check("hello", OutputStream::both);
  check.foreign = {{"world", "writer"}};
  const auto checks = compile_checks({check});
  const Signatures none({});
  OutputScan scan(checks, none, k_step);
  scan.feed(OutputStream::stdout_, "...", "own cst:4:reader:0 is not foreign; cst:1");
  scan.feed(OutputStream::stdout_, "...", "7:writer.v2:0 is");
  scan.feed(OutputStream::stderr_, "...", "wor");
  scan.feed(OutputStream::stderr_, "...", "ld");
  scan.finish();
  const auto& found = scan.found();
  REQUIRE(found.streams[0].token);
  CHECK(found.streams[0].token->build == 17u);
  CHECK(found.streams[0].token->kind == "writer.v2");
  CHECK(found.streams[1].values == std::vector<std::string>{"world"});

  const Values values{4, "reader", 1, "cst:4:reader:1", "", "", ""};
  const auto failed = evaluate(checks, {"reader", 1, "cst:4:reader:1", "...", "...", &values, &found});
  CHECK_FALSE(failed.passed);
  REQUIRE(failed.polluter);
  CHECK(failed.polluter->build == 17u);  // a token is better evidence than a value
}

TEST_CASE("the scan keeps the last bytes of each stream and counts those between", "[unit][command]") {
  const Signatures none({});
  OutputScan scan({}, none, k_step);
  const std::string chunk(100 * 1024, 'x');
  for (int i = 0; i < 10; ++i) scan.feed(OutputStream::stdout_, "kept", chunk);
  scan.feed(OutputStream::stdout_, "kept", "the error\n");
  scan.finish();
  CHECK(scan.tail(OutputStream::stdout_).size() == OutputScan::k_tail_bytes);
  CHECK(scan.tail(OutputStream::stdout_).ends_with("xthe error\n"));
  CHECK(scan.skipped(OutputStream::stdout_) == 10 * chunk.size() + 10 - OutputScan::k_tail_bytes);
  CHECK(scan.tail(OutputStream::stderr_).empty());
  CHECK(scan.skipped(OutputStream::stderr_) == 0);
}

}  // namespace cachestress::command
