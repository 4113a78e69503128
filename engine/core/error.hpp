#pragma once
#include <stdexcept>
#include <string>

namespace cachestress {

// Exit codes are a documented contract (README "Exit codes").
enum class ExitCode : int {
  ok = 0,
  expectation_failed = 1,
  input_error = 2,
  environment_error = 3,
  interrupted = 130,
};

// Bad usage or bad input (scenario file, flag value): exit 2, nothing started.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The machine cannot run us (workdir not writable, out of space, rlimits): exit 3.
class EnvironmentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Formats a libuv error code as "name: message" (e.g. "ENOENT: no such file or directory").
std::string uv_error_text(int code);

// Formats an errno value the same way ("EACCES: permission denied").
std::string errno_text(int err);

}  // namespace cachestress
