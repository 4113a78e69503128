#include "engine/command/output_scan.hpp"

#include <algorithm>
#include <regex>

namespace cachestress::command {
namespace {

// Another build's token ("cst:<build>:<kind>:<step>") fits in this many bytes.
constexpr std::size_t k_token_window = 256;

int index_of(model::OutputStream stream) { return stream == model::OutputStream::stderr_ ? 1 : 0; }
model::OutputStream stream_of(int index) { return index == 1 ? model::OutputStream::stderr_ : model::OutputStream::stdout_; }

std::string_view last_bytes(std::string_view text, std::size_t n) { return text.substr(text.size() - std::min(text.size(), n)); }

}  // namespace

OutputScan::OutputScan(const std::vector<CompiledCheck>& checks, const Signatures& signatures, const StepOutput& step)
    : m_signatures(signatures), m_own_token(step.own_token), m_window(k_token_window) {
  m_found.check_seen.resize(checks.size());
  for (std::size_t i = 0; i < checks.size(); ++i) {
    auto needle = needle_for(checks[i], step);
    if (!needle) continue;
    m_regexes = m_regexes || needle->regex != nullptr;
    m_window = std::max(m_window, needle->substring.size());
    for (const auto& [value, kind] : checks[i].check.foreign) {
      m_foreign_values.emplace_back(value, kind);
      m_window = std::max(m_window, value.size());
    }
    m_looked.push_back({i, std::move(*needle), checks[i].check.stream});
  }
  m_signature_seen.resize(signatures.size());
  m_regexes = m_regexes || !signatures.empty();
}

void OutputScan::feed(model::OutputStream stream, std::string_view kept, std::string_view chunk) {
  const int s = index_of(stream);
  StreamState& state = m_streams[s];
  if (!state.started) {
    // Carry the kept part's end over, so what spans the boundary is found whole.
    state.started = true;
    state.window = last_bytes(kept, m_window);
    const auto newline = kept.rfind('\n');
    state.line = kept.substr(newline == std::string_view::npos ? 0 : newline + 1, k_max_line);
  }
  state.bytes += chunk.size();
  state.tail.append(chunk);
  if (state.tail.size() > 2 * k_tail_bytes) state.tail.erase(0, state.tail.size() - k_tail_bytes);

  // Substrings, tokens and foreign values: in the chunk with the window before it.
  const std::string text = state.window + std::string(chunk);
  for (const auto& looked : m_looked) {
    if (looked.needle.regex || m_found.check_seen[looked.check] || !reads(looked.stream, stream)) continue;
    if (text.find(looked.needle.substring) != std::string::npos) m_found.check_seen[looked.check] = true;
  }
  auto& found = m_found.streams[s];
  if (!found.token) found.token = foreign_token(text, m_own_token);
  for (const auto& [value, kind] : m_foreign_values) {
    if (std::find(found.values.begin(), found.values.end(), value) != found.values.end()) continue;
    if (text.find(value) != std::string::npos) found.values.push_back(value);
  }
  state.window = last_bytes(text, m_window);

  // Regexes and signatures: per line.
  if (!m_regexes) return;
  for (std::size_t start = 0;;) {
    const auto newline = chunk.find('\n', start);
    const auto piece = chunk.substr(start, newline == std::string_view::npos ? std::string_view::npos : newline - start);
    if (state.line.size() < k_max_line) state.line.append(piece.substr(0, k_max_line - state.line.size()));
    if (newline == std::string_view::npos) break;
    match_line(s, state.line);
    state.line.clear();
    start = newline + 1;
  }
}

void OutputScan::finish() {
  for (int s = 0; s < 2; ++s) {
    if (m_streams[s].started && !m_streams[s].line.empty()) match_line(s, m_streams[s].line);
    m_streams[s].line.clear();
  }
}

void OutputScan::match_line(int s, std::string_view line) {
  for (const auto& looked : m_looked) {
    if (!looked.needle.regex || m_found.check_seen[looked.check] || !reads(looked.stream, stream_of(s))) continue;
    if (std::regex_search(line.begin(), line.end(), *looked.needle.regex)) m_found.check_seen[looked.check] = true;
  }
  for (std::size_t i = 0; i < m_signature_seen.size(); ++i) {
    if (!m_signature_seen[i] && m_signatures.line_matches(i, line)) m_signature_seen[i] = true;
  }
}

std::string_view OutputScan::tail(model::OutputStream stream) const {
  return last_bytes(m_streams[index_of(stream)].tail, k_tail_bytes);
}

std::uint64_t OutputScan::skipped(model::OutputStream stream) const {
  return m_streams[index_of(stream)].bytes - tail(stream).size();
}

}  // namespace cachestress::command
