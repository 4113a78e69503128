#pragma once
// The property the scenario-parser fuzzer checks, in one place so that the unit test that
// replays the seed corpus and the regressions (tests/engine/scenario/fuzz_corpus_test.cpp)
// checks exactly what the fuzzer checks:
//   1. parse_scenario() either returns a scenario or throws InputError; nothing else escapes.
//   2. An InputError message is one line, "<source>:<line>:<column>: <field path>: <what>",
//      with a line inside the text (or 1 for file-level problems).
//   3. A scenario that loads round-trips: to_toml() loads back to a same_scenario() equal
//      scenario and prints the same text again (the promise of `cachestress show`).
// Crashes, sanitizer reports and hangs are the fuzzer's own findings.
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

#include "engine/core/error.hpp"
#include "engine/scenario/loader.hpp"

namespace cachestress::fuzz {

inline constexpr std::string_view k_fuzz_source = "fuzz.toml";

namespace detail {

// Parses "<digits>" at text[pos], advancing pos; false when there are none.
inline bool read_number(std::string_view text, std::size_t& pos, std::size_t& value) {
  const std::size_t start = pos;
  value = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 10) {
    value = value * 10 + static_cast<std::size_t>(text[pos] - '0');
    ++pos;
  }
  return pos > start;
}

// Empty when `message` is a well-formed one-line error about `text`, else what is wrong.
inline std::string check_message(std::string_view text, std::string_view message) {
  const std::string shown = "message \"" + std::string(message.substr(0, 300)) + "\"";
  if (message.find_first_of("\n\r") != std::string_view::npos) return "InputError spans several lines: " + shown;
  const std::string prefix = std::string(k_fuzz_source) + ":";
  if (!message.starts_with(prefix)) return "InputError does not start with the source name: " + shown;
  std::size_t pos = prefix.size();
  std::size_t line = 0;
  std::size_t column = 0;
  if (!read_number(message, pos, line) || pos >= message.size() || message[pos++] != ':' ||
      !read_number(message, pos, column) || message.substr(pos, 2) != ": ") {
    return "InputError lacks <line>:<column>: " + shown;
  }
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  if (line < 1 || line > lines || column < 1) {
    return "InputError points outside the text (" + std::to_string(lines) + " lines): " + shown;
  }
  pos += 2;
  const std::size_t path_end = message.find(": ", pos);
  if (path_end == std::string_view::npos || path_end == pos) return "InputError lacks a field path: " + shown;
  return {};
}

}  // namespace detail

// Empty when the property holds for `text`, else a description of the finding.
inline std::string check_scenario_parser(std::string_view text) {
  model::Scenario loaded;
  try {
    loaded = scenario::parse_scenario(text, k_fuzz_source, "fuzz");
  } catch (const InputError& e) {
    return detail::check_message(text, e.what());
  } catch (const std::exception& e) {
    return std::string("parse_scenario threw something other than InputError: ") + e.what();
  }

  const std::string printed = scenario::to_toml(loaded);
  // A resolved scenario spells every default out, so a near-1 MiB input may print larger
  // than a file may be: that is a limit, not a round-trip failure.
  if (printed.size() > scenario::k_max_scenario_bytes) return {};
  model::Scenario reloaded;
  try {
    reloaded = scenario::parse_scenario(printed, k_fuzz_source, "fuzz");
  } catch (const std::exception& e) {
    return std::string("to_toml() output does not load back: ") + e.what() + "\n--- printed ---\n" + printed;
  }
  if (!scenario::same_scenario(loaded, reloaded)) return "to_toml() output loads back to a different scenario:\n" + printed;
  if (const std::string again = scenario::to_toml(reloaded); again != printed) {
    return "to_toml() is not stable across a round trip:\n--- first ---\n" + printed + "--- second ---\n" + again;
  }
  return {};
}

}  // namespace cachestress::fuzz
