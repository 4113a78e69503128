#pragma once
// Scenario files: TOML text <-> model::Scenario. The format is documented in scenarios/README.md.
// One job per file: parser.cpp (parse_scenario), catalogue.cpp (load_scenario, catalogue),
// toml_writer.cpp (to_toml), equality.cpp (same_scenario); run_settings.hpp holds [run].
// Every problem is an InputError (exit 2) whose message is one line:
//   "<source>:<line>:<column>: <field path>: <what was expected>"
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/scenario.hpp"

namespace cachestress::scenario {

// Scenario files (and built-ins) larger than this are rejected before parsing.
inline constexpr std::size_t k_max_scenario_bytes = 1024 * 1024;

// Parses TOML text into a Scenario. `source_name` is used in messages (a path or "builtin:NAME");
// `name` becomes Scenario::name and `source_name` Scenario::source.
model::Scenario parse_scenario(std::string_view toml_text, std::string_view source_name, std::string_view name);

// A built-in NAME (see catalogue()) or a path (contains '/' or ends in .toml). Files are read as a
// stream, so /dev/stdin and pipes work. A file's scenario name is its file name without ".toml".
model::Scenario load_scenario(std::string_view name_or_path);

// The resolved scenario as TOML that parse_scenario() loads back to a same_scenario() equal one:
// every field written explicitly, defaults and expectations included.
std::string to_toml(const model::Scenario& scenario);

// What the builds do, as one value: sha256 (hex) of to_toml() with the run settings, sweep,
// name and description left out (each is a config field or sweep value of its own). Two
// reports with equal digests ran the same builds, steps, mounts, operations, [command],
// [faults] and [expect]; a scenario file edited between a baseline and a candidate differs.
std::string workload_sha256(const model::Scenario& scenario);

// For `cachestress list`: name + description of every built-in, sorted by name.
struct CatalogueEntry {
  std::string name;
  std::string description;
};
std::vector<CatalogueEntry> catalogue();

// Structural equality of what a scenario does: description, run, builds and expectations
// (expectations compared as a set keyed by field). Not name/source: those say where it was
// loaded from, not what it is, and are not part of the TOML text.
bool same_scenario(const model::Scenario& a, const model::Scenario& b);

}  // namespace cachestress::scenario
