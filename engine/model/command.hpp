#pragma once
// The `[command]` section: how the command backend runs a user's command per build or per
// step (engine/command). Plain data, validated by the loader; format in scenarios/README.md.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cachestress::model {

// Once per build ({step} is 0), or once per step of the build's kind.
enum class CommandPer { build, step };
enum class OutputStream { stdout_, stderr_, both };

// One output check in the style of bats' `expect_output --substring`: a step succeeds only
// when its exit code is 0 and every check that applies to it holds.
struct OutputCheck {
  std::string kind;        // applies to this build kind only; empty: every kind
  std::int64_t step = -1;  // applies to this step only; -1: every step
  OutputStream stream = OutputStream::stdout_;
  std::string substring;   // exactly one of substring, regex, own_token
  std::string regex;       // ECMAScript, matched against each line
  bool own_token = false;  // the output must contain this build's own {token}
  // Evidence for a failed check: a value seen in the output names the kind that writes it
  // ("world" -> "locked-across-steps"), counted as a foreign collision. Tokens of other
  // builds ({token}) in the output always name their writer.
  std::vector<std::pair<std::string, std::string>> foreign;
};

// A regex seen in a failed build's output names a failure category ("apt-lock").
struct FailureSignature {
  std::string regex;
  std::string category;
};

// [command] teardown's bound when [command] timeout is 0 (none): a teardown must end.
inline constexpr std::uint32_t k_teardown_timeout_ms = 60000;

struct CommandSpec {
  CommandPer per = CommandPer::step;
  std::vector<std::string> run;    // argv template (split from a string, or an array as given)
  std::vector<std::string> setup;  // run once before the first build; empty: none
  // Run once at the end of the run, after the last build ended and before the workspace is
  // removed (also after an interrupt or a failed setup, once setup was started): stops what
  // setup started. Bounded by `timeout` (else k_teardown_timeout_ms); its failure is a warning.
  std::vector<std::string> teardown;
  std::string cwd;                 // template; empty: the run's workspace ({workdir})
  std::uint32_t timeout_ms = 0;    // per command: SIGTERM then SIGKILL; 0 = none
  std::vector<std::pair<std::string, std::string>> env;  // extra variables (templates)
  std::vector<OutputCheck> checks;
  std::vector<FailureSignature> signatures;
};

}  // namespace cachestress::model
