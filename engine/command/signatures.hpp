#pragma once
// Failure signatures: a regex seen in a failed command's output names a category
// ("Could not get lock" -> apt-lock), counted per category in the report.
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/command.hpp"

namespace cachestress::command {

class Signatures {
 public:
  // Throws InputError on an invalid regex (the loader has already reported it with file:line).
  explicit Signatures(const std::vector<model::FailureSignature>& signatures);
  // The category of the first signature (in file order) matching a line of stderr, then of
  // stdout, or (by index) a line past what was kept of them (output_scan.hpp); none when
  // nothing matches.
  std::optional<std::string> classify(std::string_view out, std::string_view err,
                                      const std::vector<bool>* seen_past_limit = nullptr) const;
  bool empty() const noexcept { return m_entries.empty(); }
  std::size_t size() const noexcept { return m_entries.size(); }
  // Whether signature `index` matches this one line.
  bool line_matches(std::size_t index, std::string_view line) const;

 private:
  struct Entry {
    std::regex regex;
    std::string category;
  };
  std::vector<Entry> m_entries;
};

// Whether a category name is acceptable: 1-64 of a-z A-Z 0-9 . _ -
bool valid_category(std::string_view category);

}  // namespace cachestress::command
