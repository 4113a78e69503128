#include "engine/worker/line_splitter.hpp"

namespace cachestress::worker {

bool LineSplitter::feed(std::string_view bytes, const std::function<bool(std::string_view line)>& on_line) {
  while (!m_failed && !m_stopped && !bytes.empty()) {
    const auto newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    if (m_partial.size() + piece.size() > m_max_line) {
      m_failed = true;
      m_partial.clear();
      break;
    }
    if (newline == std::string_view::npos) {
      m_partial.append(piece);
      break;
    }
    bytes.remove_prefix(newline + 1);
    bool keep_going;
    if (m_partial.empty()) {
      keep_going = on_line(piece);  // the common case: no copy
    } else {
      m_partial.append(piece);
      const std::string line = std::move(m_partial);
      m_partial.clear();
      keep_going = on_line(line);
    }
    if (!keep_going) m_stopped = true;
  }
  return !m_failed;
}

}  // namespace cachestress::worker
