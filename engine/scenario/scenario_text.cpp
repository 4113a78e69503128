#include "engine/scenario/scenario_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <tuple>

#include "engine/core/printable.hpp"

namespace cachestress::scenario {

std::string escape(std::string_view text, bool quote, std::size_t max_bytes) {
  bool truncated = false;
  if (text.size() > max_bytes) {
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 sequences
    text = text.substr(0, cut);
    truncated = true;
  }
  std::string out;
  if (quote) out += '"';
  // Quotes and backslashes first (printable leaves them alone), then the one terminal escaper.
  std::string body;
  for (char ch : text) {
    if (quote && (ch == '"' || ch == '\\')) body += '\\';
    body += ch;
  }
  out += core::printable(body);
  if (truncated) out += "...";
  if (quote) out += '"';
  return out;
}
std::string quoted(std::string_view text) { return escape(text, true, 80); }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<std::pair<model::Comparison, double>> parse_comparison(std::string_view text) {
  constexpr std::array<std::pair<std::string_view, model::Comparison>, 7> k_operators{{
      {"==", model::Comparison::eq}, {"!=", model::Comparison::ne}, {"<=", model::Comparison::le},
      {">=", model::Comparison::ge}, {"=", model::Comparison::eq},  {"<", model::Comparison::lt},
      {">", model::Comparison::gt},
  }};
  text = trim(text);
  auto comparison = model::Comparison::eq;
  for (const auto& [spelling, op] : k_operators) {  // two-character operators are listed first
    if (text.starts_with(spelling)) {
      comparison = op;
      text = trim(text.substr(spelling.size()));
      break;
    }
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return std::pair{comparison, value};
}

bool expectation_order(const model::Expectation& a, const model::Expectation& b) {
  const std::string a_when = model::condition_text(a), b_when = model::condition_text(b);
  return std::tie(a_when, a.field) < std::tie(b_when, b.field);
}

std::vector<model::Expectation> sorted_by_field(std::vector<model::Expectation> expectations) {
  std::stable_sort(expectations.begin(), expectations.end(), expectation_order);
  return expectations;
}

}  // namespace cachestress::scenario
