// Output checks (bats' expect_output --substring, or a regex per line) and the evidence a
// failed check leaves about who wrote what the build saw instead.
#include <catch2/catch.hpp>

#include "engine/command/output_check.hpp"
#include "engine/command/signatures.hpp"
#include "engine/core/error.hpp"

namespace cachestress::command {
namespace {

model::OutputCheck substring(std::string text) {
  model::OutputCheck c;
  c.substring = std::move(text);
  return c;
}

}  // namespace

TEST_CASE("a substring check passes when stdout contains it and fails naming what was missing", "[unit][command]") {
  const auto checks = compile_checks({substring("hello")});
  CHECK(evaluate(checks, {"k", 0, "cst:1:k:0", "STEP 2/2\nhello\n", ""}).passed);
  const auto failed = evaluate(checks, {"k", 0, "cst:1:k:0", "world\n", "hello on stderr does not count\n"});
  CHECK_FALSE(failed.passed);
  CHECK(failed.failed == "stdout does not contain \"hello\"");
  CHECK_FALSE(failed.polluter);
}

TEST_CASE("checks apply only to their kind and step and to their stream", "[unit][command]") {
  auto c = substring("hello");
  c.kind = "reader";
  c.step = 1;
  auto on_stderr = substring("warning");
  on_stderr.stream = model::OutputStream::stderr_;
  on_stderr.kind = "writer";
  const auto checks = compile_checks({c, on_stderr});
  CHECK(evaluate(checks, {"reader", 0, "", "nothing", ""}).passed);       // step 0: not checked
  CHECK_FALSE(evaluate(checks, {"reader", 1, "", "nothing", ""}).passed);
  CHECK(evaluate(checks, {"other", 1, "", "nothing", ""}).passed);        // another kind
  CHECK(evaluate(checks, {"writer", 3, "", "", "a warning\n"}).passed);
  CHECK_FALSE(evaluate(checks, {"writer", 3, "", "a warning\n", ""}).passed);
}

TEST_CASE("a regex check matches line by line", "[unit][command]") {
  model::OutputCheck c;
  c.regex = "^hello [0-9]+$";
  c.stream = model::OutputStream::both;
  const auto checks = compile_checks({c});
  CHECK(evaluate(checks, {"k", 0, "", "x\n", "hello 42\n"}).passed);
  CHECK_FALSE(evaluate(checks, {"k", 0, "", "say hello 42\n", ""}).passed);
  CHECK_THROWS_AS(compile_checks({[] {
                    model::OutputCheck bad;
                    bad.regex = "([";
                    return bad;
                  }()}),
                  InputError);
  // Megabytes of output never recurse per character over the whole text.
  const std::string big(4 * 1024 * 1024, 'x');
  CHECK_FALSE(evaluate(checks, {"k", 0, "", big, big}).passed);
}

TEST_CASE("a failed check names the writer: a declared foreign value or another build's token", "[unit][command]") {
  auto c = substring("hello");
  c.foreign = {{"world", "locked-across-steps"}};
  const auto checks = compile_checks({c});
  auto by_value = evaluate(checks, {"cache-like-buildkit", 1, "cst:4:cache-like-buildkit:1", "world\n", ""});
  REQUIRE(by_value.polluter);
  CHECK(by_value.polluter->kind == "locked-across-steps");
  CHECK_FALSE(by_value.polluter->build);

  model::OutputCheck token;
  token.own_token = true;
  const auto own = compile_checks({token});
  CHECK(evaluate(own, {"r", 1, "cst:4:r:1", "x cst:4:r:1 y", ""}).passed);
  auto by_token = evaluate(own, {"r", 1, "cst:4:r:1", "cst:17:writer.v2:0\n", ""});
  REQUIRE(by_token.polluter);
  CHECK(by_token.polluter->kind == "writer.v2");
  CHECK(by_token.polluter->build == 17u);
  // The same build's earlier step is not foreign, and a token of build 41 is not build 4's.
  CHECK_FALSE(evaluate(own, {"r", 1, "cst:4:r:1", "cst:4:r:0", ""}).polluter);
  CHECK(evaluate(own, {"r", 1, "cst:4:r:1", "cst:41:r:0", ""}).polluter->build == 41u);
}

TEST_CASE("failure signatures name the first matching category, stderr first", "[unit][command]") {
  Signatures signatures({{"Could not get lock", "apt-lock"}, {"Blocking waiting for file lock", "cargo-lock"}, {"lock", "any-lock"}});
  CHECK(signatures.classify("", "E: Could not get lock /var/lib/dpkg/lock-frontend\n") == "apt-lock");
  CHECK(signatures.classify("    Blocking waiting for file lock on package cache\n", "") == "cargo-lock");
  CHECK(signatures.classify("unlocked\n", "") == "any-lock");
  CHECK_FALSE(signatures.classify("fine\n", "also fine\n"));
  CHECK(valid_category("apt-lock"));
  CHECK_FALSE(valid_category("apt lock"));
  CHECK_FALSE(valid_category(""));
}

}  // namespace cachestress::command

namespace cachestress::command {

TEST_CASE("a check with {build} looks for this build's value and its message keeps the placeholder", "[unit][command]") {
  model::OutputCheck sub;
  sub.substring = "built-{build}";
  sub.step = 1;
  model::OutputCheck re;
  re.regex = "^read [0-9]+ from {token}$";
  re.step = 1;
  const auto checks = compile_checks({sub, re});
  Values v7{7, "k", 1, "cst:7:k:1", "", "", ""};
  CHECK(evaluate(checks, {"k", 1, "cst:7:k:1", "built-7\nread 3 from cst:7:k:1\n", "", &v7}).passed);
  const auto other = evaluate(checks, {"k", 1, "cst:7:k:1", "built-8\nread 3 from cst:7:k:1\n", "", &v7});
  CHECK_FALSE(other.passed);
  CHECK(other.failed == "stdout does not contain \"built-{build}\"");
  const auto wrong_token = evaluate(checks, {"k", 1, "cst:7:k:1", "built-7\nread 3 from cst:8:k:1\n", "", &v7});
  CHECK_FALSE(wrong_token.passed);
  CHECK(wrong_token.failed == "stdout has no line matching /^read [0-9]+ from {token}$/");
}

}  // namespace cachestress::command
