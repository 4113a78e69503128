#pragma once
// Output checks of the command backend (bats' `expect_output --substring`, or a regex per
// line), and the evidence a failed check leaves: a token of another build, or a value a
// check declares as another kind's ("world" belongs to locked-across-steps).
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/command/template.hpp"
#include "engine/model/command.hpp"

namespace cachestress::command {

// A check with its regex compiled once per run.
struct CompiledCheck {
  model::OutputCheck check;
  std::shared_ptr<const std::regex> regex;  // a regex check's, when it has no placeholders
  bool templated = false;  // substring or regex has placeholders: expanded per step
};

// Compiles every check; the first invalid regex throws InputError naming its index.
std::vector<CompiledCheck> compile_checks(const std::vector<model::OutputCheck>& checks);
// Why a regex does not compile, or none (used by the loader for file:line errors).
std::optional<std::string> regex_problem(const std::string& pattern);

// Lines of `text` that match `pattern` (line by line: libstdc++'s std::regex recurses per
// character, so one match over megabytes of output could exhaust the stack).
bool any_line_matches(const std::regex& pattern, std::string_view text);

// Who wrote what a failed check saw instead.
struct Polluter {
  std::string kind;                   // a build kind's name
  std::optional<std::uint64_t> build; // known when the evidence is a token
};

struct CheckResult {
  bool passed = true;
  std::string failed;  // "stdout does not contain \"hello\"" for the first failed check
  std::optional<Polluter> polluter;
};

// What the output held past the kept part of each stream (output_scan.hpp looks as it streams in).
struct PastLimit {
  std::vector<bool> check_seen;  // by check index: what it looks for, in a stream it reads
  struct Stream {
    std::optional<Polluter> token;    // the first token of another build
    std::vector<std::string> values;  // declared foreign values (any check's) seen
  };
  Stream streams[2];  // stdout, stderr
};

struct StepOutput {
  std::string_view kind;
  std::uint32_t step = 0;
  std::string_view own_token;
  std::string_view out;  // what was kept of each stream (all of it, or its first part)
  std::string_view err;
  // This step's placeholder values: a check's substring or regex may use them ({build},
  // {token}, {step}, ...; template.hpp), so step 1 can look for what step 0 wrote.
  const Values* values = nullptr;
  const PastLimit* past_limit = nullptr;  // set: what the streams held past `out` and `err`
};

// What one check looks for in one step's output, its placeholders expanded for that step:
// a substring (substring and own_token checks) or a regex matched per line.
struct Needle {
  std::string substring;
  std::shared_ptr<const std::regex> regex;
};
// The needle of a check that applies to this step's kind and step number; none otherwise.
std::optional<Needle> needle_for(const CompiledCheck& check, const StepOutput& step);
// Whether a check reads this stream (stdout_ or stderr_).
bool reads(model::OutputStream check_stream, model::OutputStream stream);

// Judges every check that applies to this kind and step; the first failure decides.
CheckResult evaluate(const std::vector<CompiledCheck>& checks, const StepOutput& output);

// The first token of a build other than `own_build` in `text` ("cst:<build>:<kind>:<step>").
std::optional<Polluter> foreign_token(std::string_view text, std::string_view own_token);

}  // namespace cachestress::command
