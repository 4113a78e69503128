#include "engine/oracle/token.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace cachestress::oracle {
namespace {

constexpr std::string_view k_magic = "cst1 ";
constexpr std::uint64_t k_fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t k_fnv_prime = 1099511628211ull;

// The record checksum: FNV-1a's xor-multiply over 8-byte words, with a shift that carries
// high bits down (a multiply only carries them up), then the tail byte by byte. One step per
// 8 bytes, where byte-wise FNV-1a made the checksum most of a record's cost; every step is a
// bijection of the state, so two records that differ in one word never share a checksum.
std::uint64_t checksum_of(std::string_view bytes, std::uint64_t hash = k_fnv_offset) {
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + i, sizeof word);
    hash = (hash ^ word) * k_fnv_prime;
    hash ^= hash >> 29;
  }
  for (; i < bytes.size(); ++i) {
    hash ^= static_cast<unsigned char>(bytes[i]);
    hash *= k_fnv_prime;
  }
  return hash;
}

char pattern_byte(const Token& token, std::uint32_t i) {
  return static_cast<char>('a' + (token.build * 31 + token.seq * 7 + i) % 26);
}

// Every pattern_byte(token, i) of the payload, with one division instead of one per byte:
// the letters go round the alphabet from the first one, unless the 64-bit sum wraps on the way.
void fill_pattern(const Token& token, std::string& payload) {
  const std::uint64_t base = token.build * 31 + token.seq * 7;
  if (base + payload.size() < base) {
    for (std::uint32_t i = 0; i < payload.size(); ++i) payload[i] = pattern_byte(token, i);
    return;
  }
  // Every 26 bytes the alphabet starts over at the same letter: copied in runs of 26.
  static constexpr std::string_view k_twice = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
  const std::size_t first = static_cast<std::size_t>(base % 26);
  for (std::size_t i = 0; i < payload.size(); i += 26) {
    std::memcpy(payload.data() + i, k_twice.data() + first, std::min<std::size_t>(26, payload.size() - i));
  }
}

// Reads a decimal number followed by `sep`; advances `text`.
template <typename T>
bool take_number(std::string_view& text, char sep, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc{} || end == text.data() + text.size() || *end != sep) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()) + 1);
  return true;
}

bool take_word(std::string_view& text, std::string& out) {
  auto space = text.find(' ');
  if (space == std::string_view::npos || space == 0) return false;
  out.assign(text.substr(0, space));
  text.remove_prefix(space + 1);
  return true;
}

// Parses one record at the front of `text`; on success advances past it.
// Returns false with a reason when the bytes are not a whole, intact record.
bool take_record(std::string_view& text, Token& token, std::string& why) {
  std::string_view rest = text;
  if (!rest.starts_with(k_magic)) {
    why = "no record header";
    return false;
  }
  std::string_view header_start = rest;
  rest.remove_prefix(k_magic.size());
  std::uint32_t payload = 0;
  std::size_t value_len = 0;
  if (!take_number(rest, ' ', token.build) || !take_word(rest, token.kind) || !take_number(rest, ' ', token.step) ||
      !take_number(rest, ' ', token.seq) || !take_number(rest, ' ', payload) || !take_number(rest, ':', value_len) ||
      value_len >= rest.size()) {
    why = "malformed record header";
    return false;
  }
  token.value.assign(rest.substr(0, value_len));
  rest.remove_prefix(value_len);
  if (rest.front() != ' ') {
    why = "malformed record header";
    return false;
  }
  std::string_view covered = header_start.substr(0, static_cast<std::size_t>(rest.data() - header_start.data()));
  rest.remove_prefix(1);
  std::uint64_t checksum = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), checksum, 16);
  if (ec != std::errc{} || end == rest.data() + rest.size() || *end != '\n') {
    why = "malformed checksum";
    return false;
  }
  // Only the canonical spelling counts: the checksum's own digits are not covered by it, so
  // "6Bc8" or a leading zero must not pass for "6bc8".
  std::array<char, 17> canonical{};
  const char* canonical_end = std::to_chars(canonical.data(), canonical.data() + canonical.size(), checksum, 16).ptr;
  if (std::string_view(rest.data(), static_cast<std::size_t>(end - rest.data())) !=
      std::string_view(canonical.data(), static_cast<std::size_t>(canonical_end - canonical.data()))) {
    why = "malformed checksum";
    return false;
  }
  rest.remove_prefix(static_cast<std::size_t>(end - rest.data()) + 1);
  if (rest.size() < payload) {
    why = "partial payload";
    return false;
  }
  if (checksum_of(rest.substr(0, payload), checksum_of(covered)) != checksum) {
    why = "checksum mismatch (mixed writers)";
    return false;
  }
  rest.remove_prefix(payload);
  text = rest;
  return true;
}

}  // namespace

void encode_record(const Token& token, std::uint32_t payload_size, std::string& out) {
  std::size_t start = out.size();
  out += k_magic;
  out += std::to_string(token.build);
  out += ' ';
  out += token.kind;
  out += ' ';
  out += std::to_string(token.step);
  out += ' ';
  out += std::to_string(token.seq);
  out += ' ';
  out += std::to_string(payload_size);
  out += ' ';
  out += std::to_string(token.value.size());
  out += ':';
  out += token.value;
  std::string payload(payload_size, '\0');
  fill_pattern(token, payload);
  std::uint64_t checksum = checksum_of(payload, checksum_of(std::string_view(out).substr(start)));
  std::array<char, 17> hex{};
  auto [end, ec] = std::to_chars(hex.data(), hex.data() + hex.size(), checksum, 16);
  (void)ec;
  out += ' ';
  out.append(hex.data(), end);
  out += '\n';
  out += payload;
}

Inspection inspect(bool present, std::string_view content, model::ReadExpect expect, std::uint64_t self) {
  Inspection result;
  if (!present) {
    if (expect != model::ReadExpect::absent) result.verdict = Verdict::missing;
    return result;
  }
  if (content.empty()) {
    // A writer truncated the file and has not written yet (or never will).
    result.verdict = expect == model::ReadExpect::absent ? Verdict::foreign : Verdict::torn;
    result.detail = "empty file";
    return result;
  }
  std::string_view rest = content;
  Token last;
  while (!rest.empty()) {
    Token token;
    std::string why;
    if (!take_record(rest, token, why)) {
      result.verdict = Verdict::torn;
      result.detail = why + " after " + std::to_string(result.records) + " intact record(s)";
      // The first header in the damaged bytes names a writer involved, when one is visible.
      auto header = rest.find(k_magic);
      if (result.records > 0) {
        result.writer = last;
      } else if (header != std::string_view::npos) {
        std::string_view at = rest.substr(header + k_magic.size());
        Token seen;
        if (take_number(at, ' ', seen.build) && take_word(at, seen.kind)) result.writer = seen;
      }
      return result;
    }
    last = std::move(token);
    ++result.records;
  }
  if (expect == model::ReadExpect::absent || (expect == model::ReadExpect::own && last.build != self)) {
    result.verdict = Verdict::foreign;
    result.writer = std::move(last);
  }
  return result;
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::ok: return "ok";
    case Verdict::foreign: return "foreign";
    case Verdict::missing: return "missing";
    case Verdict::torn: return "torn";
  }
  return "?";
}

}  // namespace cachestress::oracle
