#pragma once
// What a command printed past the part of its stdout and stderr that is kept in memory
// (Child::k_max_capture each): the step's checks, failure signatures and other builds' tokens
// are looked for in those bytes as they stream in, so a long build is judged on its whole
// output, not its first MiB; and the last bytes are kept (where a tool prints its error) for
// the failure log. Made only when a stream outgrows its limit. Loop thread only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/command/output_check.hpp"
#include "engine/command/signatures.hpp"

namespace cachestress::command {

class OutputScan {
 public:
  static constexpr std::size_t k_tail_bytes = 256 * 1024;  // kept of each stream's end
  static constexpr std::size_t k_max_line = 64 * 1024;     // a longer line is matched on its start

  // `step`: kind, step number, own token and values of the step (its out and err unused).
  OutputScan(const std::vector<CompiledCheck>& checks, const Signatures& signatures, const StepOutput& step);

  // Bytes of `stream` (stdout_ or stderr_) past its kept part `kept`, which is complete by
  // the first call (a substring or line that spans the boundary is still found).
  void feed(model::OutputStream stream, std::string_view kept, std::string_view chunk);
  // The streams ended: their last lines, unterminated, are matched too. Once, before reading.
  void finish();

  const PastLimit& found() const noexcept { return m_found; }
  // By signature index: matched a line past the limit.
  const std::vector<bool>& signatures_seen() const noexcept { return m_signature_seen; }
  // The last bytes of a stream (at most k_tail_bytes), and how many bytes past the kept part
  // came before them (neither kept nor in the tail).
  std::string_view tail(model::OutputStream stream) const;
  std::uint64_t skipped(model::OutputStream stream) const;

 private:
  struct Looked {
    std::size_t check;  // index into the checks
    Needle needle;
    model::OutputStream stream;
  };
  struct StreamState {
    bool started = false;
    std::string window;  // the last bytes seen, so a substring spanning two chunks is found
    std::string line;    // the current line so far (at most k_max_line)
    std::string tail;
    std::uint64_t bytes = 0;  // past the kept part
  };

  void match_line(int stream, std::string_view line);

  std::vector<Looked> m_looked;
  std::vector<std::pair<std::string, std::string>> m_foreign_values;  // value, kind (any check's)
  const Signatures& m_signatures;
  std::string m_own_token;
  std::size_t m_window = 0;
  bool m_regexes = false;  // any regex check or signature: lines are matched
  StreamState m_streams[2];
  PastLimit m_found;
  std::vector<bool> m_signature_seen;
};

}  // namespace cachestress::command
