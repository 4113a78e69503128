#pragma once
// Every setting of a run is declared once, in the table of run_settings.cpp: its name (the
// [run] key and the --sweep / [sweep] name), flag, type, unit, range, help text, and whether
// it may be swept. The run flags, the [run] section of scenario files, `show`, sweep values,
// range checks, scenario equality and the report's command_line are all derived from it, so
// a value means the same, and is refused for the same reason, wherever it is given.
// Adding a setting: a field in model::RunConfig (its initializer is the default), one row
// in the table, and the code that uses it.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/scenario.hpp"

namespace cachestress::scenario {

enum class SettingType {
  integer,   // a whole number in min..max
  number,    // a real number in 0..max_number (finite), such as seconds or a rate
  duration,  // seconds like `number`, or text with a unit: "30s", "500ms", "2m"
  choice,    // one of `choices`
};

// A setting's value in the table's terms: integer for integer settings, number for number
// and duration settings (in the row's unit), text (the canonical spelling) for choices.
struct SettingValue {
  std::uint64_t integer = 0;
  double number = 0;
  std::string text{};
  bool operator==(const SettingValue&) const = default;
};

struct RunSetting {
  std::string_view key{};      // [run] key, --sweep / [sweep] name
  std::string_view flag{};     // option of `cachestress run`
  SettingType type = SettingType::integer;
  std::string_view unit{};     // "s", "ms", "builds", "/s" or "" (help text, messages)
  std::uint64_t min = 0;     // integer settings: inclusive range
  std::uint64_t max = 0;
  double max_number = 0;     // number and duration settings: 0..max_number
  // > 0: a value is 0 or at least this (a timeout kept in whole ms: 0.0004 s would read as 0, "off")
  double min_positive = 0;
  std::string_view choices{};  // choice settings: the accepted spellings, as messages list them
  std::string_view help{};
  bool sweepable = true;
  bool in_run_section = true;  // a [run] key (sharing is per mount: flag and sweep only)
  // Reads the setting; nullopt when the scenario has no single value (mixed sharing).
  std::optional<SettingValue> (*get)(const model::Scenario&) = nullptr;
  // Writes a value that passed the range check; false when a choice's text is not accepted.
  bool (*set)(model::Scenario&, const SettingValue&) = nullptr;
};

// The table, in the order `show` writes [run] and --help lists the flags.
std::span<const RunSetting> run_settings();
// The row named `key` (a [run] / sweep name), or nullptr.
const RunSetting* find_setting(std::string_view key);
// The names a sweep may vary, in table order.
const std::vector<std::string_view>& sweep_keys();

// Whether an [expect] entry's condition holds for a resolved scenario: choices through
// model::applies, numeric settings ("concurrency>=2") read through the table.
bool condition_holds(const model::Expectation& expectation, const model::Scenario& scenario);

// "0..100000" for integers, "0..604800" for numbers: the range as messages state it.
std::string range_text(const RunSetting& setting);
// The flag's --help text: help, range or choices, unit.
std::string flag_help(const RunSetting& setting);

// Where a text value was given, which decides how its message is worded:
//   flag:  "--concurrency: must be between 1 and 100000 (got 0)"
//   sweep: "concurrency: expected an integer in 1..100000 (got \"0\")"
enum class Origin { flag, sweep };

// Checks `text` against the row (type, range, choices; NaN and infinity are never in range)
// and applies it. Throws InputError naming the flag or setting.
void apply_text(model::Scenario& scenario, const RunSetting& setting, std::string_view text, Origin origin);

// A value as a scenario file holds it (the loader reads the TOML node into this).
struct FileValue {
  enum class Kind { integer, floating, string, other } kind = Kind::other;
  std::int64_t integer = 0;
  double floating = 0;
  std::string string;
  std::string shown;                  // a string as messages quote it (escaped)
  const char* type_name = "nothing";  // for "(got TYPE)"
};
// Checks a file value against the row; on failure returns nullopt and sets `error` to what
// follows "<file>:<line>:<column>: run.<key>: ", e.g. "expected an integer in 1..100000 (got 0)".
std::optional<SettingValue> check_file_value(const RunSetting& setting, const FileValue& value, std::string& error);

// The rules that join settings, checked once flags or sweep values have applied (a file's
// own [run] is checked by the loader, naming its keys). Throws InputError naming the flags:
// "--builds 0 needs a --duration", "--arrival poisson needs --rate > 0", ...
void check_joined_settings(const model::Scenario& scenario);

// The canonical text of a value, which apply_text reads back to the same value.
std::string value_text(const RunSetting& setting, const SettingValue& value);

// Equality of every [run] setting.
bool same_run_settings(const model::Scenario& a, const model::Scenario& b);

// Arguments of `cachestress run` (after "run") that reproduce `resolved` exactly from
// `scenario_ref` (a built-in name or an absolute path): --scenario, every setting, each
// sweep axis as --sweep KEY=V1,V2, and --repeat when it or the file's own repeat is not 1.
std::vector<std::string> reproduce_args(const model::Scenario& resolved, std::string_view scenario_ref,
                                        std::uint32_t file_repeat);

// Applies key=value of a sweep to the scenario. Throws InputError
// "KEY: expected ... (got "VALUE")", or "unknown setting ..." for a key that cannot be swept.
void apply_setting(model::Scenario& scenario, std::string_view key, std::string_view value);

// Parses "key=v1,v2,v3" (a --sweep argument) into an axis; checks every value.
model::SweepAxis parse_sweep_flag(std::string_view text, const model::Scenario& scenario);

// The first value of an axis that sets what an earlier one already did ("1,1", "1s,1000ms"):
// its index, or nothing. Such a cell would run twice under one name, and compare would pool
// the two as one combination's repetitions.
std::optional<std::size_t> repeated_sweep_value(const model::SweepAxis& axis, const model::Scenario& scenario);
// Each value of the axis as value_text writes it ("08" -> "8", "500ms" -> "0.5"): the report's
// cell values, which compare matches by text, are the same for the same setting.
void canonical_sweep_values(model::SweepAxis& axis, const model::Scenario& scenario);

// "30" or "30s" (seconds), "500ms", "2m"; nothing when malformed, negative or over max_s.
// (Durations are kept in whole milliseconds: a nonzero one below 1 ms is refused, never rounded to 0.)
std::optional<std::uint32_t> parse_duration_ms(std::string_view text, double max_s);

// Shortest text that reads back (std::from_chars) to exactly `value`.
std::string format_double(double value);

}  // namespace cachestress::scenario
