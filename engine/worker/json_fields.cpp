#include "engine/worker/json_fields.hpp"

#include <limits>

namespace cachestress::worker {

using nlohmann::json;
using protocol::ProtocolError;

namespace {

constexpr std::size_t k_max_message_text = 64;

std::string quoted(const char* key) { return std::string("\"") + key + "\""; }

std::uint64_t as_u64(const json& v, const char* key) {
  // A non-negative integer literal that fits 64 bits: no sign, no fraction, no exponent.
  if (!v.is_number_unsigned()) throw ProtocolError(quoted(key) + " must be a non-negative integer");
  return v.get<std::uint64_t>();
}

std::string as_text(const json& v, const char* key) {
  if (!v.is_string()) throw ProtocolError(quoted(key) + " must be a string");
  return v.get<std::string>();
}

}  // namespace

FlatObject::FlatObject(std::string_view text) {
  // The callback sees every key as it is read: a duplicate (which nlohmann would silently
  // resolve to the last value) and any nesting are rejected.
  std::set<std::string, std::less<>> keys;
  bool duplicate = false, nested = false;
  json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && !keys.insert(parsed.get<std::string>()).second) duplicate = true;
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) && depth > 0) nested = true;
    return true;
  };
  m_object = json::parse(text, callback, false);
  if (m_object.is_discarded()) throw ProtocolError("not valid JSON");
  if (!m_object.is_object()) throw ProtocolError("not a JSON object");
  if (nested) throw ProtocolError("nested value: only flat objects are accepted");
  if (duplicate) throw ProtocolError("duplicate key");
}

const json* FlatObject::find(const char* key) {
  auto it = m_object.find(key);
  if (it == m_object.end()) return nullptr;
  m_read.insert(key);
  return &*it;
}

const json& FlatObject::need(const char* key) {
  const json* v = find(key);
  if (v == nullptr) throw ProtocolError("missing key " + quoted(key));
  return *v;
}

std::uint64_t FlatObject::u64(const char* key) { return as_u64(need(key), key); }

std::uint32_t FlatObject::u32(const char* key) {
  const std::uint64_t v = u64(key);
  if (v > std::numeric_limits<std::uint32_t>::max()) throw ProtocolError(quoted(key) + " out of range");
  return static_cast<std::uint32_t>(v);
}

std::int64_t FlatObject::i64(const char* key) {
  const json& v = need(key);
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw ProtocolError(quoted(key) + " out of range");
    }
    return static_cast<std::int64_t>(v.get<std::uint64_t>());
  }
  if (!v.is_number_integer()) throw ProtocolError(quoted(key) + " must be an integer");
  return v.get<std::int64_t>();
}

bool FlatObject::boolean(const char* key) {
  const json& v = need(key);
  if (!v.is_boolean()) throw ProtocolError(quoted(key) + " must be true or false");
  return v.get<bool>();
}

std::string FlatObject::text(const char* key) { return as_text(need(key), key); }

std::optional<std::uint64_t> FlatObject::optional_u64(const char* key) {
  const json* v = find(key);
  return v == nullptr ? std::nullopt : std::optional(as_u64(*v, key));
}

std::optional<std::string> FlatObject::optional_text(const char* key) {
  const json* v = find(key);
  return v == nullptr ? std::nullopt : std::optional(as_text(*v, key));
}

void FlatObject::finish() const {
  for (auto it = m_object.begin(); it != m_object.end(); ++it) {
    if (!m_read.contains(it.key())) throw ProtocolError("unknown key \"" + shorten(it.key()) + "\"");
  }
}

std::string FlatObject::shorten(std::string_view text) {
  // Control characters are escaped: an error message is one line (found by the fuzzer).
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < k_max_message_text; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char k_hex[] = "0123456789abcdef";
      out += "\\x";
      out += k_hex[c >> 4];
      out += k_hex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > k_max_message_text) out += "...";
  return out;
}

}  // namespace cachestress::worker
