#pragma once
// Splits a byte stream (the worker's event pipe, read in arbitrary chunks) into lines, with a
// bound: a line longer than the limit is an error, so a runaway child cannot make the parent
// buffer without end.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace cachestress::worker {

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line) : m_max_line(max_line) {}

  // Appends bytes and calls on_line for every completed line (without its '\n'). on_line
  // returns false to stop for good: the rest of the input, now and later, is ignored.
  // Returns false when a line exceeds the limit; the splitter then stays failed likewise.
  bool feed(std::string_view bytes, const std::function<bool(std::string_view line)>& on_line);

  bool failed() const noexcept { return m_failed; }
  // Bytes of an unterminated last line (at end of stream: a truncated event).
  std::size_t pending() const noexcept { return m_partial.size(); }

 private:
  std::size_t m_max_line;
  std::string m_partial;
  bool m_failed = false;
  bool m_stopped = false;
};

}  // namespace cachestress::worker
