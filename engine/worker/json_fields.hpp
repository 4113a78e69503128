#pragma once
// Strict reading of one flat JSON object (an event line, the plan): duplicate keys, nested
// values, unknown keys, wrong types and out-of-range numbers are ProtocolErrors. Shared by
// the event decoder and the plan decoder so both reject input the same way.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "engine/worker/protocol.hpp"

namespace cachestress::worker {

class FlatObject {
 public:
  // Parses text as exactly one JSON object whose values are scalars (strings, numbers, booleans).
  explicit FlatObject(std::string_view text);

  std::uint64_t u64(const char* key);
  std::uint32_t u32(const char* key);
  std::int64_t i64(const char* key);
  bool boolean(const char* key);
  std::string text(const char* key);
  std::optional<std::uint64_t> optional_u64(const char* key);
  std::optional<std::string> optional_text(const char* key);

  // A string that parse() maps to an enum value (model::parse_sharing and the like).
  template <class T>
  T choice(const char* key, std::optional<T> (*parse)(std::string_view)) {
    const std::string value = text(key);
    auto parsed = parse(value);
    if (!parsed) throw protocol::ProtocolError(std::string("\"") + key + "\" has an unknown value \"" + shorten(value) + "\"");
    return *parsed;
  }

  // Throws when a key was never read: unknown keys are errors, not extensions.
  void finish() const;

  // Cuts text for an error message.
  static std::string shorten(std::string_view text);

 private:
  const nlohmann::json& need(const char* key);
  const nlohmann::json* find(const char* key);

  nlohmann::json m_object;
  std::set<std::string, std::less<>> m_read;
};

}  // namespace cachestress::worker
