#include "engine/command/signatures.hpp"

#include <algorithm>

#include "engine/command/output_check.hpp"
#include "engine/core/error.hpp"

namespace cachestress::command {

Signatures::Signatures(const std::vector<model::FailureSignature>& signatures) {
  for (std::size_t i = 0; i < signatures.size(); ++i) {
    if (auto problem = regex_problem(signatures[i].regex)) {
      throw InputError("command.signature[" + std::to_string(i) + "].regex: " + *problem);
    }
    m_entries.push_back({std::regex(signatures[i].regex, std::regex::ECMAScript | std::regex::optimize), signatures[i].category});
  }
}

std::optional<std::string> Signatures::classify(std::string_view out, std::string_view err,
                                                const std::vector<bool>* seen_past_limit) const {
  for (std::size_t i = 0; i < m_entries.size(); ++i) {
    const auto& entry = m_entries[i];
    if (any_line_matches(entry.regex, err) || any_line_matches(entry.regex, out)) return entry.category;
    if (seen_past_limit != nullptr && (*seen_past_limit)[i]) return entry.category;
  }
  return std::nullopt;
}

bool Signatures::line_matches(std::size_t index, std::string_view line) const {
  return std::regex_search(line.begin(), line.end(), m_entries[index].regex);
}

bool valid_category(std::string_view category) {
  return !category.empty() && category.size() <= 64 && std::all_of(category.begin(), category.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace cachestress::command
