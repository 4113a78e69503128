// Replays the fuzzers' seed corpora and every regression input (fuzz/corpus, fuzz/regressions)
// through the same check functions the libFuzzer targets call, compiled here with the normal
// toolchain: a fixed finding stays fixed in the default suite, without clang or libFuzzer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/scenario/loader.hpp"
#include "fuzz/command_line_check.hpp"
#include "fuzz/report_reader_check.hpp"
#include "fuzz/scenario_parser_check.hpp"
#include "fuzz/worker_protocol_check.hpp"

namespace {

namespace stdfs = std::filesystem;

std::vector<stdfs::path> inputs(const std::string& dir) {
  std::vector<stdfs::path> files;
  const stdfs::path root = stdfs::path(CACHESTRESS_SOURCE_DIR) / "fuzz" / dir;
  if (!stdfs::exists(root)) return files;
  for (const auto& entry : stdfs::directory_iterator(root)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string slurp(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A seed corpus is never empty; a target's regressions/ exists once it has had a finding.
template <class Check>
void replay(const std::string& dir, Check check, bool may_be_empty = false) {
  const auto files = inputs(dir);
  if (!may_be_empty) REQUIRE_FALSE(files.empty());
  for (const auto& file : files) {
    INFO("input " << file.string());
    CHECK(check(slurp(file)) == "");
  }
}

}  // namespace

TEST_CASE("scenario parser fuzz corpus and regressions hold the fuzzer's property", "[fuzz][scenario]") {
  replay("corpus/scenario_parser", cachestress::fuzz::check_scenario_parser);
  replay("regressions/scenario_parser", cachestress::fuzz::check_scenario_parser);
}

TEST_CASE("worker protocol fuzz corpus and regressions hold the fuzzer's property", "[fuzz][worker]") {
  replay("corpus/worker_protocol", cachestress::fuzz::check_worker_protocol);
  replay("regressions/worker_protocol", cachestress::fuzz::check_worker_protocol);
}

TEST_CASE("command-line fuzz corpus and regressions hold the fuzzer's property", "[fuzz][cli]") {
  replay("corpus/command_line", cachestress::fuzz::check_command_line);
  replay("regressions/command_line", cachestress::fuzz::check_command_line, true);
}

TEST_CASE("report-reader fuzz corpus and regressions hold the fuzzer's property", "[fuzz][report]") {
  replay("corpus/report_reader", cachestress::fuzz::check_report_reader);
  replay("regressions/report_reader", cachestress::fuzz::check_report_reader, true);
}

TEST_CASE("the command-line check catches what it is for", "[fuzz][cli]") {
  using cachestress::fuzz::check_command_line;
  using namespace std::string_literals;
  // Arguments split on NUL; a well-formed run, a usage error and --help all hold.
  CHECK(cachestress::fuzz::fuzz_args("--scenario\0locked"s) ==
        std::vector<std::string>{"--scenario", "locked"});
  CHECK(check_command_line("--scenario\0locked\0--builds\0" "3"s) == "");
  CHECK(check_command_line("--no-such-flag") == "");
  CHECK(check_command_line("--help") == "");
  // A parse that ends the process says so: a usage error is exit 2 with the program's prefix.
  const auto line = cachestress::fuzz::detail::parse({"--builds"});
  REQUIRE(line.exit_code);
  CHECK(*line.exit_code == 2);
  CHECK_THAT(line.error, Catch::StartsWith("cachestress: error: ") && Catch::EndsWith("(see cachestress --help)\n"));
  // A bad flag value reaches apply_run_flags as an InputError, which the check accepts.
  const auto bad = cachestress::fuzz::detail::parse({"--scenario", "locked", "--concurrency", "0"});
  REQUIRE_FALSE(bad.exit_code);
  auto scenario = cachestress::scenario::load_scenario("locked");
  CHECK_THROWS_AS(cachestress::cli::apply_run_flags(bad.run, scenario), cachestress::InputError);
}

TEST_CASE("the report-reader check catches what it is for", "[fuzz][report]") {
  using cachestress::fuzz::check_report_reader;
  CHECK(check_report_reader("not json") == "");
  CHECK(check_report_reader("{}") == "");
  // An accepted report must hold a run, and comparing it with itself changes nothing.
  const auto files = inputs("corpus/report_reader");
  REQUIRE_FALSE(files.empty());
  CHECK_NOTHROW(cachestress::report::read_report_text(slurp(files.front()), "seed.json"));
  CHECK_THROWS_WITH(cachestress::report::read_report_text("{\"schema_version\": 2, \"tool\": {\"name\": \"cachestress\"}}", "x.json"),
                    Catch::StartsWith("x.json: "));
}

TEST_CASE("non-ASCII text survives the toml++ workaround and bad input is an InputError", "[fuzz][scenario]") {
  using cachestress::InputError;
  // Characters toml++ 3.3 mishandles (Latin-1, Cyrillic, CJK punctuation, Arabic forms) come
  // back unchanged in strings, and show prints them again.
  const std::string text = "description = \"caf\xc3\xa9 \xd0\xba\xd0\xbb\xd1\x8e\xd1\x87 \xe3\x80\x81 \xef\xbb\x90\"\n"
                           "[[build]]\nname = \"b\"\n[[build.step]]\n"
                           "mount = { target = \"/c\", id = \"\xc3\xa9t\xc3\xa9\" }\n"
                           "ops = [ { op = \"write\", file = \"\xd1\x84\" } ]\n";
  const auto s = cachestress::scenario::parse_scenario(text, "t.toml", "t");
  CHECK(s.description == "caf\xc3\xa9 \xd0\xba\xd0\xbb\xd1\x8e\xd1\x87 \xe3\x80\x81 \xef\xbb\x90");
  CHECK(s.kinds.at(0).steps.at(0).mounts.at(0).id == "\xc3\xa9t\xc3\xa9");
  CHECK(s.kinds.at(0).steps.at(0).ops.at(0).file == "\xd1\x84");
  CHECK(cachestress::scenario::to_toml(s).find("caf\xc3\xa9") != std::string::npos);
  // What made toml++ reach __builtin_unreachable is now an ordinary syntax error.
  CHECK_THROWS_AS(cachestress::scenario::parse_scenario("x = +\"\xc3\xa9\"\n", "t.toml", "t"), InputError);
  // Plane 15 is refused (it carries the moved characters while toml++ parses).
  CHECK_THROWS_WITH(cachestress::scenario::parse_scenario("description = \"\xf3\xb0\x80\x80\"\n", "t.toml", "t"),
                    Catch::Contains("t.toml:1:16: file: private-use character"));
}
