#pragma once
// Output checks of the command backend (bats' `expect_output --substring`, or a regex per
// line), and the evidence a failed check leaves: a token of another build, or a value a
// check declares as another kind's ("world" belongs to locked-across-steps).
#include <cstdint>
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
  std::optional<std::regex> regex;
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

struct StepOutput {
  std::string_view kind;
  std::uint32_t step = 0;
  std::string_view own_token;
  std::string_view out;
  std::string_view err;
  // This step's placeholder values: a check's substring or regex may use them ({build},
  // {token}, {step}, ...; template.hpp), so step 1 can look for what step 0 wrote.
  const Values* values = nullptr;
};

// Judges every check that applies to this kind and step; the first failure decides.
CheckResult evaluate(const std::vector<CompiledCheck>& checks, const StepOutput& output);

// The first token of a build other than `own_build` in `text` ("cst:<build>:<kind>:<step>").
std::optional<Polluter> foreign_token(std::string_view text, std::string_view own_token);

}  // namespace cachestress::command
