#pragma once
// Write tokens: every write or append puts a self-checking record into the file, so a
// later read knows exactly who wrote what it sees and whether it is intact.
//
// Record = header line + payload:
//   "cst1 <build> <kind> <step> <seq> <payload_len> <value_len>:<value> <checksum>\n" <payload>
// The checksum (FNV-1a 64, hex) covers the header fields and the payload; the payload is a
// pattern derived from the token, so two writers' bytes never look alike.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/model/scenario.hpp"

namespace cachestress::oracle {

struct Token {
  std::uint64_t build = 0;
  std::string kind;
  std::uint32_t step = 0;
  std::uint32_t seq = 0;
  std::string value;
};

// Appends one record for `token` with `payload_size` pattern bytes to `out`.
void encode_record(const Token& token, std::uint32_t payload_size, std::string& out);

enum class Verdict { ok, foreign, missing, torn };

struct Inspection {
  Verdict verdict = Verdict::ok;
  std::optional<Token> writer;  // foreign: the writer seen; torn: a writer whose header is visible
  std::size_t records = 0;
  std::string detail;           // why torn, for failure logs
};

// Judges file content read by build `self` (present = the file existed).
// own: the last record must be self's; any: every record valid; absent: no file.
// Torn: empty file, a bad header, a checksum mismatch or trailing bytes.
Inspection inspect(bool present, std::string_view content, model::ReadExpect expect, std::uint64_t self);

const char* to_string(Verdict verdict);

}  // namespace cachestress::oracle
