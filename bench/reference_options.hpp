#pragma once
// The command line of the reference programs (reference_locked, reference_shared,
// reference_spawn): "--flag value" pairs, -h/--help, and exit 2 naming the flag on bad input.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

namespace {

// Each program defines its own: prints the message and its usage, exits 2.
[[noreturn]] void usage_error(const std::string& message);

template <typename T>
T parse_number(std::string_view flag, std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    usage_error(std::string(flag) + ": not a number: " + std::string(text));
  }
  return value;
}

// Calls take(flag, value) for each "--flag value" pair in order. -h/--help prints `usage` and
// exits 0; a flag without a value, or one take() refuses (returns false), exits 2.
template <typename Take>
void for_each_flag(int argc, char** argv, const char* usage, Take take) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error(std::string(flag) + ": needs a value");
    const std::string_view value = argv[++i];
    if (!take(flag, value)) usage_error("unknown flag or value: " + std::string(flag) + " " + std::string(value));
  }
}

}  // namespace
