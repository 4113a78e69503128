// The scenario parser: TOML text to model::Scenario, every problem an InputError naming
// file, line, column and field. (Writing TOML: toml_writer.cpp; equality: equality.cpp;
// built-ins and files: catalogue.cpp.)
#include "engine/scenario/loader.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <toml++/toml.h>
#include <utility>
#include <vector>

#include "engine/command/output_check.hpp"
#include "engine/command/signatures.hpp"
#include "engine/command/template.hpp"
#include "engine/core/error.hpp"
#include "engine/metrics/summary_fields.hpp"
#include "engine/scenario/run_settings.hpp"
#include "engine/scenario/scenario_text.hpp"

namespace cachestress::scenario {
namespace {

// Limits beyond the model's k_max_*: each keeps a typo from becoming an absurd run.
constexpr int k_max_nesting = 64;          // arrays/inline tables inside each other
constexpr int k_max_key_depth = 16;        // dots in one key: toml++ recurses once per level
constexpr std::size_t k_max_path_bytes = 4000;
constexpr std::size_t k_max_build_name_bytes = 64;
constexpr std::size_t k_max_value_bytes = 255;  // an op's payload tag, embedded in every token
constexpr std::int64_t k_max_ms = 3'600'000;
constexpr double k_max_command_timeout_s = 86400;
constexpr double k_max_kill_after_s = 86400;  // faults.kill_lock_holder
constexpr const char* k_kill_after_help = "a duration in 0 or 0.001..86400 s such as 30, 30s, 500ms or 2m";
constexpr std::int64_t k_max_weight = 1'000'000;
constexpr std::int64_t k_max_id = 4'294'967'295;  // uid/gid are 32-bit

struct Position {
  std::uint32_t line = 1;
  std::uint32_t column = 1;
};

Position at(const toml::source_region& region) {
  if (region.begin.line == 0) return {};  // nodes made without a source: point at the file
  return {region.begin.line, region.begin.column};
}
Position at(const toml::node& node) { return at(node.source()); }

// toml++ 3.3.0 (Debian 12) asks a lookup table whether a non-ASCII character is whitespace
// wherever it scans for the end of a value or key, even inside some strings; for three ranges
// of code points (Latin-1 to Cyrillic among them) the lookup reaches __builtin_unreachable:
// undefined behaviour on input as plain as `x = +"é"` (found by fuzz/scenario_parser_fuzz).
// The parser is therefore handed a copy in which those characters are moved to plane 15
// (U+F0000 + (c - 0xA0)), which the table answers correctly, and everything read back is
// moved home. Lines and columns count characters, so positions in messages do not change;
// plane 15 itself is refused in scenario text (check_utf8) so the move is reversible.
constexpr char32_t k_shift_from = 0xA0;
constexpr char32_t k_shift_to = 0xF0000;

// Mirrors is_non_ascii_horizontal_whitespace() of toml++ 3.3.0: true where it is undefined.
bool toml_lookup_undefined(char32_t c) {
  if (c <= 0xA0 || c >= 0xFEFF || c == 0x3000) return false;
  const auto chunk = (static_cast<std::uint64_t>(c) - 0xA0u) / 0x3FAu;
  if ((std::uint64_t{1} << chunk) & 0x7FFFFFFFFFFFF75Eull) return false;
  return chunk != 5 && chunk != 7;
}

void put_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Decodes the UTF-8 sequence at text[i] (text is valid UTF-8) and advances i past it.
char32_t next_utf8(std::string_view text, std::size_t& i) {
  const auto c = static_cast<unsigned char>(text[i++]);
  if (c < 0x80) return c;
  const int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
  char32_t code = c & (0x3Fu >> extra);
  for (int k = 0; k < extra && i < text.size(); ++k) code = (code << 6) | (static_cast<unsigned char>(text[i++]) & 0x3Fu);
  return code;
}

// Valid UTF-8 in, the text toml++ may safely see out (or the input itself when nothing moves).
std::string shift_for_toml(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    const char32_t c = next_utf8(text, i);
    if (toml_lookup_undefined(c)) {
      put_utf8(out, k_shift_to + (c - k_shift_from));
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  return out;
}

// Undoes shift_for_toml() on anything read back from the parsed tree or its messages.
std::string unshift(std::string_view text) {
  if (text.find('\xF3') == std::string_view::npos) return std::string(text);  // plane 15 starts with F3
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t start = i;
    const char32_t c = next_utf8(text, i);
    if (c >= k_shift_to && c < k_shift_to + 0x10000 && toml_lookup_undefined(c - k_shift_to + k_shift_from)) {
      put_utf8(out, c - k_shift_to + k_shift_from);
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  return out;
}

const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// A [run] or [sweep] value as check_file_value reads it: its TOML type, and its value.
FileValue file_value(const toml::node& node) {
  FileValue value;
  value.type_name = type_name(node);
  if (const auto* i = node.as_integer()) {
    value.kind = FileValue::Kind::integer;
    value.integer = i->get();
  } else if (const auto* f = node.as_floating_point()) {
    value.kind = FileValue::Kind::floating;
    value.floating = f->get();
  } else if (const auto* text = node.as_string()) {
    value.kind = FileValue::Kind::string;
    value.string = unshift(text->get());
    value.shown = quoted(text->get());
  }
  return value;
}

bool is_bare_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string child(const std::string& path, std::string_view key) {
  std::string segment = is_bare_key(key) ? std::string(key) : quoted(key);
  return path.empty() ? segment : path + "." + segment;
}

std::string indexed(const std::string& path, std::size_t index) { return path + "[" + std::to_string(index) + "]"; }

std::string join(std::span<const std::string_view> words) {
  std::string out;
  for (auto word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

// A path's components between slashes, empty ones included ("a//b/" is a, "", b, "").
std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// Why an id, target or file name is unsafe to join under a cache directory, or nullopt.
std::optional<std::string> path_problem(std::string_view path) {
  if (path.size() > k_max_path_bytes) return "longer than " + std::to_string(k_max_path_bytes) + " bytes";
  if (path.find('\0') != std::string_view::npos) return "contains a NUL byte";
  for (const auto component : components(path)) {
    if (component == "..") return "contains a \"..\" component";
    if (component.size() > model::k_max_name_bytes) {
      return "has a component longer than " + std::to_string(model::k_max_name_bytes) + " bytes";
    }
  }
  return std::nullopt;
}

// True when every component is empty or "." ("", ".", "./", ".//."): the path names the
// directory it is joined to, not something in it.
bool names_nothing(std::string_view path) {
  const auto parts = components(path);
  return std::all_of(parts.begin(), parts.end(), [](std::string_view c) { return c.empty() || c == "."; });
}

bool has_control_chars(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7F;
  });
}

// Keys an operation table may have, by kind; anything else is an error.
std::vector<std::string_view> op_keys(model::OpKind kind) {
  switch (kind) {
    case model::OpKind::write:
    case model::OpKind::append: return {"op", "file", "value", "size", "chunk", "mount"};
    case model::OpKind::read: return {"op", "file", "expect", "mount"};
    case model::OpKind::remove:
    case model::OpKind::list: return {"op", "file", "mount"};
    case model::OpKind::hold: return {"op", "ms", "jitter_ms"};
    case model::OpKind::prune:
    case model::OpKind::reset: return {"op", "mount"};
    case model::OpKind::trylock: return {"op", "file", "mount"};
    case model::OpKind::extract: return {"op", "file", "count", "size", "mount"};
  }
  return {"op"};
}
constexpr std::array<std::string_view, 10> k_any_op_key{"op", "file", "value", "size", "chunk", "mount", "expect", "ms", "jitter_ms", "count"};
constexpr const char* k_op_names = "write, read, append, delete, list, hold, prune, reset, trylock, extract";
constexpr std::uint32_t k_max_extract_files = 10000;

class Parser {
 public:
  explicit Parser(std::string_view source) : m_source(source) {}

  model::Scenario parse(std::string_view text, std::string_view name) {
    prescan(text);
    toml::table root = parse_toml(shift_for_toml(text));
    m_has_command_section = root.contains("command");
    model::Scenario scenario = read_root(root);
    scenario.name = std::string(name);
    scenario.source = std::string(m_source);
    return scenario;
  }

 private:
  [[noreturn]] void fail(Position where, std::string_view path, std::string_view what) const {
    throw InputError(escape(m_source, false, 200) + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                     ": " + unshift(path) + ": " + unshift(what));
  }

  // Catches, with a position, what toml++ handles badly or reports vaguely: size, NUL bytes,
  // invalid UTF-8, and nesting deep enough to exhaust the stack (toml++ recurses per level).
  void prescan(std::string_view text) const {
    if (text.size() > k_max_scenario_bytes) {
      fail({}, "file", "larger than 1 MiB (scenario files are limited to " + std::to_string(k_max_scenario_bytes) + " bytes)");
    }
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      fail({}, "file", "empty (expected a TOML scenario: description = \"...\" and at least one [[build]])");
    }
    check_utf8(text);
    check_nesting(text);
  }

  void check_utf8(std::string_view text) const {
    Position pos;
    std::size_t i = 0;
    while (i < text.size()) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c == 0) fail(pos, "file", "NUL byte (expected UTF-8 text)");
      std::size_t length = 1;
      std::uint32_t code = c;
      std::uint32_t minimum = 0;
      if (c >= 0x80) {
        if ((c & 0xE0) == 0xC0) {
          length = 2, code = c & 0x1Fu, minimum = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
          length = 3, code = c & 0x0Fu, minimum = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
          length = 4, code = c & 0x07u, minimum = 0x10000;
        } else {
          fail(pos, "file", "invalid UTF-8 byte (expected UTF-8 text)");
        }
        if (i + length > text.size()) fail(pos, "file", "truncated UTF-8 sequence (expected UTF-8 text)");
        for (std::size_t k = 1; k < length; ++k) {
          const auto next = static_cast<unsigned char>(text[i + k]);
          if ((next & 0xC0) != 0x80) fail(pos, "file", "invalid UTF-8 sequence (expected UTF-8 text)");
          code = (code << 6) | (next & 0x3Fu);
        }
        if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
          fail(pos, "file", "invalid UTF-8 sequence (expected UTF-8 text)");
        }
        if (code >= k_shift_to && code < k_shift_to + 0x10000) {
          fail(pos, "file", "private-use character of plane 15 (U+F0000..U+FFFFF) is not accepted in scenario text");
        }
      }
      if (c == '\n') {
        ++pos.line;
        pos.column = 1;
      } else {
        ++pos.column;
      }
      i += length;
    }
  }

  // A rough TOML lexer (strings and comments skipped): counts bracket depth and dots per key.
  // Runs after check_utf8, so every byte >= 0x80 belongs to a valid sequence.
  void check_nesting(std::string_view text) const {
    Position pos;
    std::size_t i = 0;
    auto advance = [&] {
      const auto c = static_cast<unsigned char>(text[i++]);
      if (c == '\n') {
        ++pos.line;
        pos.column = 1;
      } else if ((c & 0xC0) != 0x80) {
        ++pos.column;
      }
    };
    auto skip_string = [&](char quote) {
      const bool multiline = text.substr(i, 3) == std::string(3, quote);
      for (int k = 0; k < (multiline ? 3 : 1); ++k) advance();
      while (i < text.size()) {
        const char c = text[i];
        if (!multiline && c == '\n') return;
        if (quote == '"' && c == '\\' && i + 1 < text.size()) {
          advance();
          advance();
          continue;
        }
        if (c == quote && (!multiline || text.substr(i, 3) == std::string(3, quote))) {
          for (int k = 0; k < (multiline ? 3 : 1); ++k) advance();
          return;
        }
        advance();
      }
    };
    int depth = 0;
    int dots = 0;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '#') {
        while (i < text.size() && text[i] != '\n') advance();
      } else if (c == '"' || c == '\'') {
        skip_string(c);  // quoted key segments keep the dot count going
      } else if (c == '.') {
        if (++dots > k_max_key_depth) {
          fail(pos, "file", "key nested deeper than " + std::to_string(k_max_key_depth) + " levels");
        }
        advance();
      } else if (c == '[' || c == '{') {
        if (++depth > k_max_nesting) {
          fail(pos, "file", "nested deeper than " + std::to_string(k_max_nesting) + " levels");
        }
        dots = 0;
        advance();
      } else {
        if (c == ']' || c == '}') depth = std::max(0, depth - 1);
        if (!is_bare_key(std::string_view(&text[i], 1)) && c != ' ' && c != '\t') dots = 0;
        advance();
      }
    }
  }

  toml::table parse_toml(std::string_view text) const {
#if TOML_EXCEPTIONS
    try {
      return toml::parse(text, m_source);
    } catch (const toml::parse_error& error) {
      fail(at(error.source()), "syntax", escape(error.description(), false, 300));
    }
#else
    toml::parse_result result = toml::parse(text, m_source);
    if (!result) fail(at(result.error().source()), "syntax", escape(result.error().description(), false, 300));
    return std::move(result).table();
#endif
  }

  // Fails on the first (in document order) key of `table` not in `allowed`.
  void check_keys(const toml::table& table, const std::string& path, std::span<const std::string_view> allowed) const {
    if (auto unknown = first_unknown(table, allowed)) {
      fail(at(unknown->source()), child(path, unknown->str()), "unknown key (expected one of: " + join(allowed) + ")");
    }
  }

  static const toml::key* first_unknown(const toml::table& table, std::span<const std::string_view> allowed) {
    const toml::key* first = nullptr;
    for (const auto& [key, value] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
      const auto& p = key.source().begin;
      if (!first || p.line < first->source().begin.line ||
          (p.line == first->source().begin.line && p.column < first->source().begin.column)) {
        first = &key;
      }
    }
    return first;
  }

  const toml::table& table(const toml::node& node, const std::string& path) const {
    const auto* result = node.as_table();
    if (!result) fail(at(node), path, std::string("expected a table (got ") + type_name(node) + ")");
    return *result;
  }

  // An array whose elements are all tables; `header` shows the [[...]] spelling in messages.
  const toml::array& tables(const toml::node& node, const std::string& path, std::string_view header) const {
    const auto* array = node.as_array();
    if (!array) {
      fail(at(node), path, "expected an array of tables, written " + std::string(header) + " (got " + type_name(node) + ")");
    }
    for (std::size_t i = 0; i < array->size(); ++i) table((*array)[i], indexed(path, i));
    return *array;
  }

  std::int64_t integer(const toml::node& node, const std::string& path, std::int64_t lo, std::int64_t hi) const {
    const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    const auto* value = node.as_integer();
    if (!value) fail(at(node), path, "expected an integer in " + range + " (got " + type_name(node) + ")");
    const std::int64_t x = value->get();
    if (x < lo || x > hi) fail(at(node), path, "expected an integer in " + range + " (got " + std::to_string(x) + ")");
    return x;
  }

  std::uint32_t u32(const toml::node& node, const std::string& path, std::int64_t lo, std::int64_t hi) const {
    return static_cast<std::uint32_t>(integer(node, path, lo, hi));
  }

  // min_positive > 0: the value is 0 or at least that (seconds kept in whole ms).
  double number(const toml::node& node, const std::string& path, double hi, double min_positive = 0) const {
    const std::string range = (min_positive > 0 ? "0 or " + format_double(min_positive) : std::string("0")) + ".." + format_double(hi);
    double x = 0;
    if (const auto* i = node.as_integer()) {
      x = static_cast<double>(i->get());
    } else if (const auto* f = node.as_floating_point()) {
      x = f->get();
    } else {
      fail(at(node), path, "expected a number of seconds in " + range + " (got " + type_name(node) + ")");
    }
    if (!std::isfinite(x) || x < 0 || x > hi || (x > 0 && x < min_positive)) {
      fail(at(node), path, "expected a number in " + range + " (got " + format_double(x) + ")");
    }
    return x;
  }

  std::string string(const toml::node& node, const std::string& path) const {
    const auto* value = node.as_string();
    if (!value) fail(at(node), path, std::string("expected a string (got ") + type_name(node) + ")");
    return unshift(value->get());
  }

  template <typename E>
  E choice(const toml::node& node, const std::string& path, std::optional<E> (*parse_text)(std::string_view),
           std::string_view choices) const {
    const auto* value = node.as_string();
    if (!value) fail(at(node), path, "expected one of " + std::string(choices) + " (got " + type_name(node) + ")");
    auto parsed = parse_text(value->get());
    if (!parsed) fail(at(node), path, "expected one of " + std::string(choices) + " (got " + quoted(value->get()) + ")");
    return *parsed;
  }

  const toml::node& required(const toml::table& table, const std::string& path, std::string_view key,
                             std::string_view what) const {
    const auto* node = table.get(key);
    if (!node) fail(at(table), child(path, key), "missing (required: " + std::string(what) + ")");
    return *node;
  }

  model::Scenario read_root(const toml::table& root) const {
    static constexpr std::array<std::string_view, 7> k_keys{"description", "run", "faults", "build", "expect", "sweep", "command"};
    check_keys(root, "", k_keys);
    model::Scenario scenario;
    const auto& description = required(root, "", "description", "a one-line string");
    scenario.description = string(description, "description");
    if (scenario.description.empty() || has_control_chars(scenario.description)) {
      fail(at(description), "description", "expected a non-empty one-line string (got " + quoted(scenario.description) + ")");
    }
    if (const auto* run = root.get("run")) scenario.run = read_run(table(*run, "run"));
    if (const auto* faults = root.get("faults")) scenario.faults = read_faults(table(*faults, "faults"));
    const auto& builds = tables(required(root, "", "build", "at least one [[build]]"), "build", "[[build]]");
    if (builds.empty()) fail(at(builds), "build", "expected at least one [[build]]");
    for (std::size_t i = 0; i < builds.size(); ++i) {
      const std::string path = indexed("build", i);
      scenario.kinds.push_back(read_build(*builds[i].as_table(), path));
      for (std::size_t k = 0; k < i; ++k) {
        if (scenario.kinds[k].name == scenario.kinds[i].name) {
          fail(at(*builds[i].as_table()->get("name")), path + ".name",
               "duplicate build name " + quoted(scenario.kinds[i].name) + " (also build[" + std::to_string(k) + "])");
        }
      }
    }
    if (const auto* command = root.get("command")) {
      scenario.command = read_command(table(*command, "command"), scenario);
    }
    check_commands_have_section(builds, scenario);
    if (const auto* expect = root.get("expect")) scenario.expectations = read_expectations(table(*expect, "expect"));
    if (const auto* sweep = root.get("sweep")) read_sweep(table(*sweep, "sweep"), scenario);
    return scenario;
  }

  // [sweep]: setting = [values...] for each swept setting, plus repeat = K.
  void read_sweep(const toml::table& sweep, model::Scenario& scenario) const {
    std::size_t cells = 1;
    for (const auto& [key, node] : sweep) {
      const std::string path = child("sweep", key.str());
      if (key.str() == "repeat") {
        scenario.repeat = u32(node, path, 1, model::k_max_repeat);
        continue;
      }
      const auto& keys = sweep_keys();
      if (std::find(keys.begin(), keys.end(), key.str()) == keys.end()) {
        std::vector<std::string_view> allowed(keys.begin(), keys.end());
        allowed.push_back("repeat");
        fail(at(key.source()), path, "unknown key (expected one of: " + join(allowed) + ")");
      }
      const auto* values = node.as_array();
      if (!values || values->empty()) fail(at(node), path, "expected a non-empty array of values, such as [1, 2, 4]");
      model::SweepAxis axis;
      axis.key = std::string(key.str());
      const RunSetting& setting = *find_setting(axis.key);  // a sweep key is a setting's
      for (std::size_t i = 0; i < values->size(); ++i) {
        const auto& value = *values->get(i);
        // Typed as in [run]: concurrency = ["2"] is refused there, so here too.
        std::string error;
        const auto checked = check_file_value(setting, file_value(value), error);
        if (!checked) fail(at(value), indexed(path, i), error);
        // The canonical text (value_text): 8 and "1500ms" are kept as "8" and "1.5", so a cell
        // reads the same however its value was written (compare matches cells by this text).
        std::string text = value_text(setting, *checked);
        model::Scenario probe = scenario;
        try {
          apply_setting(probe, axis.key, text);
        } catch (const InputError& e) {
          fail(at(value), indexed(path, i), e.what());
        }
        axis.values.push_back(std::move(text));
      }
      if (const auto repeated = repeated_sweep_value(axis, scenario)) {
        fail(at(*values->get(*repeated)), indexed(path, *repeated),
             "repeats an earlier value (each cell runs once; use repeat = K for more)");
      }
      cells *= axis.values.size();
      if (cells > model::k_max_sweep_cells) {
        fail(at(node), path, "expected at most " + std::to_string(model::k_max_sweep_cells) + " sweep cells in all");
      }
      scenario.sweep.push_back(std::move(axis));
    }
  }

  // [run]: every key is a row of the run settings table (run_settings.cpp).
  model::RunConfig read_run(const toml::table& run) const {
    std::vector<std::string_view> keys;
    for (const auto& setting : run_settings()) {
      if (setting.in_run_section) keys.push_back(setting.key);
    }
    check_keys(run, "run", keys);
    model::Scenario scenario;
    for (const auto& setting : run_settings()) {
      const auto* n = setting.in_run_section ? run.get(setting.key) : nullptr;
      if (!n) continue;
      std::string error;
      const auto checked = check_file_value(setting, file_value(*n), error);
      if (!checked) fail(at(*n), "run." + std::string(setting.key), error);
      setting.set(scenario, *checked);
    }
    const model::RunConfig& config = scenario.run;

    // Cross-field rules: point at the value that is set, else at the one that demands it.
    if (config.builds == 0 && config.duration_s <= 0) {
      const auto* n = run.get("duration");
      fail(at(n ? *n : *run.get("builds")), "run.duration", "expected > 0 when run.builds = 0 (run until the duration ends)");
    }
    if (config.arrival == model::Arrival::poisson && config.rate_per_s <= 0) {
      const auto* n = run.get("rate");
      fail(at(n ? *n : *run.get("arrival")), "run.rate", "expected > 0 arrivals/s when run.arrival = \"poisson\"");
    }
    if (config.arrival == model::Arrival::ramp && config.ramp_s <= 0) {
      const auto* n = run.get("ramp");
      fail(at(n ? *n : *run.get("arrival")), "run.ramp", "expected > 0 seconds when run.arrival = \"ramp\"");
    }
    return config;
  }

  model::Faults read_faults(const toml::table& faults) const {
    static constexpr std::array<std::string_view, 3> k_keys{"stale_lock", "enospc_tmpfs_kb", "kill_lock_holder"};
    check_keys(faults, "faults", k_keys);
    model::Faults result;
    if (const auto* n = faults.get("stale_lock")) {
      const auto* value = n->as_boolean();
      if (!value) fail(at(*n), "faults.stale_lock", std::string("expected true or false (got ") + type_name(*n) + ")");
      result.stale_lock = value->get();
    }
    if (const auto* n = faults.get("enospc_tmpfs_kb")) {
      // 0 is off (tmpfs itself would read size=0 as "no limit"); on, a floor keeps it a filesystem.
      const auto* value = n->as_integer();
      const std::int64_t kb = value ? value->get() : -1;
      if (kb != 0 && (kb < model::k_min_tmpfs_kb || kb > model::k_max_tmpfs_kb)) {
        fail(at(*n), "faults.enospc_tmpfs_kb",
             "expected 0 (off) or KiB in " + std::to_string(model::k_min_tmpfs_kb) + ".." + std::to_string(model::k_max_tmpfs_kb) +
                 " (got " + (value ? std::to_string(kb) : std::string(type_name(*n))) + ")");
      }
      result.enospc_tmpfs_kb = static_cast<std::uint32_t>(kb);
    }
    if (const auto* n = faults.get("kill_lock_holder")) {
      // Seconds after the grant as a number, or a duration string ("50ms").
      if (const auto* text = n->as_string()) {
        const auto ms = parse_duration_ms(text->get(), k_max_kill_after_s);
        if (!ms) fail(at(*n), "faults.kill_lock_holder", std::string("expected ") + k_kill_after_help + " (got " + quoted(text->get()) + ")");
        result.kill_lock_holder_ms = *ms;
      } else {
        result.kill_lock_holder_ms =
            static_cast<std::uint32_t>(std::llround(number(*n, "faults.kill_lock_holder", k_max_kill_after_s, 0.001) * 1000));
      }
    }
    return result;
  }

  model::BuildKind read_build(const toml::table& build, const std::string& path) const {
    static constexpr std::array<std::string_view, 3> k_keys{"name", "weight", "step"};
    check_keys(build, path, k_keys);
    const bool command_file = m_has_command_section;
    model::BuildKind kind;
    const auto& name = required(build, path, "name", "a build name of 1-64 characters A-Z a-z 0-9 . _ -");
    kind.name = string(name, path + ".name");
    const bool valid = !kind.name.empty() && kind.name.size() <= k_max_build_name_bytes &&
                       std::all_of(kind.name.begin(), kind.name.end(), [](char c) {
                         return is_bare_key(std::string_view(&c, 1)) || c == '.';
                       });
    if (!valid) fail(at(name), path + ".name", "expected 1-64 characters A-Z a-z 0-9 . _ - (got " + quoted(kind.name) + ")");
    if (const auto* n = build.get("weight")) kind.weight = u32(*n, path + ".weight", 1, k_max_weight);
    // With a [command] section a build may have no steps: it runs [command] run once.
    if (command_file && !build.get("step")) return kind;
    const auto& steps = tables(required(build, path, "step", "at least one [[build.step]]"), path + ".step", "[[build.step]]");
    if (steps.empty()) fail(at(steps), path + ".step", "expected at least one [[build.step]]");
    for (std::size_t i = 0; i < steps.size(); ++i) kind.steps.push_back(read_step(*steps[i].as_table(), indexed(path + ".step", i)));
    return kind;
  }

  model::Step read_step(const toml::table& step, const std::string& path) const {
    static constexpr std::array<std::string_view, 5> k_keys{"gap_ms", "mount", "ops", "op", "command"};
    check_keys(step, path, k_keys);
    model::Step result;
    if (const auto* n = step.get("gap_ms")) result.gap_ms = u32(*n, path + ".gap_ms", 0, k_max_ms);
    if (const auto* n = step.get("command")) {
      result.command = argv_template(*n, path + ".command");
      // A command step needs no operations: backend command runs the command instead.
      if (!step.get("ops") && !step.get("op") && !step.get("mount")) return result;
    }

    // mount = {...} is one mount; mount = [...] / [[build.step.mount]] is a list (indexed paths).
    const auto* mounts = step.get("mount");
    if (mounts && mounts->is_table()) {
      result.mounts.push_back(read_mount(*mounts->as_table(), path + ".mount"));
    } else if (mounts && mounts->is_array()) {
      const auto& list = tables(*mounts, path + ".mount", "[[build.step.mount]]");
      for (std::size_t i = 0; i < list.size(); ++i) result.mounts.push_back(read_mount(*list[i].as_table(), indexed(path + ".mount", i)));
    } else if (mounts) {
      fail(at(*mounts), path + ".mount", std::string("expected a table or an array of tables (got ") + type_name(*mounts) + ")");
    }

    const auto* ops = step.get("ops");
    const auto* op_tables = step.get("op");
    if (ops && op_tables) {
      const auto& later = at(*ops).line > at(*op_tables).line ? *ops : *op_tables;
      fail(at(later), path + (&later == ops ? ".ops" : ".op"), "use either ops = [...] or [[build.step.op]], not both");
    }
    const std::string ops_path = path + (op_tables ? ".op" : ".ops");
    if (!ops && !op_tables) fail(at(step), ops_path, "missing (required: at least one operation)");
    const auto& list = tables(ops ? *ops : *op_tables, ops_path, "ops = [ {...} ] or [[build.step.op]]");
    if (list.empty()) fail(at(list), ops_path, "expected at least one operation");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string op_path = indexed(ops_path, i);
      const auto& op_table = *list[i].as_table();
      model::Operation op = read_op(op_table, op_path);
      if (op.kind != model::OpKind::hold) {
        if (result.mounts.empty()) {
          fail(at(mounts ? *mounts : static_cast<const toml::node&>(step)), path + ".mount",
               std::string("expected at least one mount (operation ") + std::to_string(i) + " is a " +
                   model::to_string(op.kind) + "; only steps of hold operations may have none)");
        }
        if (op.mount >= result.mounts.size()) {
          fail(at(*op_table.get("mount")), op_path + ".mount",
               "expected an index into this step's " + std::to_string(result.mounts.size()) + " mount(s), 0.." +
                   std::to_string(result.mounts.size() - 1) + " (got " + std::to_string(op.mount) + ")");
        }
      }
      result.ops.push_back(std::move(op));
    }
    return result;
  }

  model::Mount read_mount(const toml::table& mount, const std::string& path) const {
    static constexpr std::array<std::string_view, 5> k_keys{"target", "id", "uid", "gid", "sharing"};
    check_keys(mount, path, k_keys);
    model::Mount result;
    const auto& target = required(mount, path, "target", "an absolute path such as \"/cache\"");
    result.target = string(target, path + ".target");
    if (!result.target.starts_with('/') || names_nothing(std::string_view(result.target).substr(1))) {
      fail(at(target), path + ".target", "expected an absolute path below \"/\", such as \"/cache\" (got " + quoted(result.target) + ")");
    }
    if (auto problem = path_problem(std::string_view(result.target).substr(1))) {
      fail(at(target), path + ".target", "expected a safe path: " + *problem + " (got " + quoted(result.target) + ")");
    }
    if (const auto* n = mount.get("id")) {
      result.id = string(*n, path + ".id");
      if (result.id.starts_with('/')) fail(at(*n), path + ".id", "expected a relative id, not starting with \"/\" (got " + quoted(result.id) + ")");
      if (auto problem = path_problem(result.id)) {
        fail(at(*n), path + ".id", "expected a safe id: " + *problem + " (got " + quoted(result.id) + ")");
      }
      if (!result.id.empty() && names_nothing(result.id)) {
        fail(at(*n), path + ".id", "expected an id that names a cache, not \".\" (got " + quoted(result.id) + ")");
      }
    }
    if (const auto* n = mount.get("uid")) result.uid = u32(*n, path + ".uid", 0, k_max_id);
    if (const auto* n = mount.get("gid")) result.gid = u32(*n, path + ".gid", 0, k_max_id);
    if (const auto* n = mount.get("sharing")) result.sharing = choice(*n, path + ".sharing", &model::parse_sharing, "shared, private, locked");
    return result;
  }

  model::Operation read_op(const toml::table& op_table, const std::string& path) const {
    model::Operation op;
    op.kind = choice(required(op_table, path, "op", std::string("one of ") + k_op_names), path + ".op", &model::parse_op_kind,
                     k_op_names);
    const auto allowed = op_keys(op.kind);
    if (const auto* key = first_unknown(op_table, allowed)) {
      const bool known = std::find(k_any_op_key.begin(), k_any_op_key.end(), key->str()) != k_any_op_key.end();
      const std::string takes = std::string(model::to_string(op.kind)) + " takes: " + join(allowed);
      fail(at(key->source()), child(path, key->str()),
           known ? "does not apply to op = \"" + std::string(model::to_string(op.kind)) + "\" (" + takes + ")"
                 : "unknown key (" + takes + ")");
    }
    const bool needs_file = op.kind != model::OpKind::list && op.kind != model::OpKind::hold &&
                            op.kind != model::OpKind::prune && op.kind != model::OpKind::reset;
    const toml::node* file = needs_file ? &required(op_table, path, "file", "a file name relative to the mount") : op_table.get("file");
    if (file) {
      op.file = string(*file, path + ".file");
      // Its last component is what is written, read or deleted: "", "." or a trailing "/"
      // name a directory (the mount itself for "."), and every build failed with EINVAL.
      const std::string_view last = std::string_view(op.file).substr(op.file.rfind('/') + 1);
      if (needs_file && (last.empty() || last == ".")) {
        fail(at(*file), path + ".file", "expected a file name relative to the mount, not a directory (got " + quoted(op.file) + ")");
      }
      if (op.file.starts_with('/')) fail(at(*file), path + ".file", "expected a relative file name, not starting with \"/\" (got " + quoted(op.file) + ")");
      if (auto problem = path_problem(op.file)) {
        fail(at(*file), path + ".file", "expected a safe file name: " + *problem + " (got " + quoted(op.file) + ")");
      }
      // The engine walks a file's directories one component at a time: "a/./b" and "a//b"
      // were accepted here and then failed every build with EINVAL.
      const auto parts = components(op.file);
      if (!names_nothing(op.file) && std::any_of(parts.begin(), parts.end(), [](std::string_view c) { return c.empty() || c == "."; })) {
        fail(at(*file), path + ".file", "expected a file name without empty or \".\" components (got " + quoted(op.file) + ")");
      }
    }
    if (const auto* n = op_table.get("mount")) op.mount = u32(*n, path + ".mount", 0, std::numeric_limits<std::uint32_t>::max());
    if (const auto* n = op_table.get("value")) {
      op.value = string(*n, path + ".value");
      if (op.value.size() > k_max_value_bytes || has_control_chars(op.value)) {
        fail(at(*n), path + ".value", "expected at most " + std::to_string(k_max_value_bytes) +
                                          " bytes without control characters (got " + quoted(op.value) + ")");
      }
    }
    if (const auto* n = op_table.get("size")) op.size = u32(*n, path + ".size", 0, model::k_max_payload);
    if (const auto* n = op_table.get("chunk")) op.chunk = u32(*n, path + ".chunk", 0, model::k_max_payload);
    if (const auto* n = op_table.get("expect")) op.expect = choice(*n, path + ".expect", &model::parse_read_expect, "any, own, absent");
    if (const auto* n = op_table.get("ms")) op.hold_ms = u32(*n, path + ".ms", 0, k_max_ms);
    if (const auto* n = op_table.get("jitter_ms")) op.jitter_ms = u32(*n, path + ".jitter_ms", 0, k_max_ms);
    if (op.kind == model::OpKind::extract) {
      op.count = u32(required(op_table, path, "count", "the number of files in the package"), path + ".count", 1, k_max_extract_files);
    }
    return op;
  }

  // ---- [command] ------------------------------------------------------------------------

  // A template: a string split into words without a shell, or an array of words as given.
  std::vector<std::string> argv_template(const toml::node& node, const std::string& path) const {
    std::vector<std::string> words;
    if (const auto* text = node.as_string()) {
      auto split = command::split_words(text->get());
      if (!split.error.empty()) fail(at(node), path, "cannot split into words: " + split.error);
      words = std::move(split.words);
    } else if (const auto* list = node.as_array()) {
      for (std::size_t i = 0; i < list->size(); ++i) words.push_back(string(*list->get(i), indexed(path, i)));
    } else {
      fail(at(node), path, std::string("expected a command: a string or an array of strings (got ") + type_name(node) + ")");
    }
    if (words.empty() || words.front().empty()) fail(at(node), path, "expected a command, such as \"buildah build ...\" (got nothing)");
    for (const auto& word : words) {
      if (word.find('\0') != std::string::npos) fail(at(node), path, "NUL byte in a command word");
      if (auto problem = command::placeholder_problem(word)) fail(at(node), path, *problem + " in " + quoted(word));
    }
    return words;
  }

  std::string plain_template(const toml::node& node, const std::string& path) const {
    std::string text = string(node, path);
    if (text.find('\0') != std::string::npos) fail(at(node), path, "NUL byte");
    if (auto problem = command::placeholder_problem(text)) fail(at(node), path, *problem + " in " + quoted(text));
    return text;
  }

  std::string regex_text(const toml::node& node, const std::string& path) const {
    std::string text = string(node, path);
    if (text.empty()) fail(at(node), path, "expected a non-empty regex");
    if (auto problem = command::regex_problem(text)) fail(at(node), path, *problem + " (got " + quoted(text) + ")");
    return text;
  }

  void check_kind_name(const toml::node& node, const std::string& path, const std::string& name,
                       const model::Scenario& scenario) const {
    for (const auto& kind : scenario.kinds) {
      if (kind.name == name) return;
    }
    fail(at(node), path, "no [[build]] is named " + quoted(name));
  }

  model::CommandSpec read_command(const toml::table& section, const model::Scenario& scenario) const {
    static constexpr std::array<std::string_view, 9> k_keys{"per", "run", "setup", "teardown", "cwd", "timeout", "env", "check", "signature"};
    check_keys(section, "command", k_keys);
    model::CommandSpec spec;
    if (const auto* n = section.get("per")) {
      const std::string per = string(*n, "command.per");
      if (per == "build") spec.per = model::CommandPer::build;
      else if (per == "step") spec.per = model::CommandPer::step;
      else fail(at(*n), "command.per", "expected one of build, step (got " + quoted(per) + ")");
    }
    if (const auto* n = section.get("run")) spec.run = argv_template(*n, "command.run");
    if (spec.run.empty()) {
      // Needed unless every build runs its own step commands.
      bool needed = spec.per == model::CommandPer::build;
      for (const auto& kind : scenario.kinds) {
        needed = needed || kind.steps.empty();
        for (const auto& step : kind.steps) needed = needed || step.command.empty();
      }
      if (needed) fail(at(section), "command.run", "missing (required: the command template, unless every step has its own command)");
    }
    if (const auto* n = section.get("setup")) spec.setup = argv_template(*n, "command.setup");
    if (const auto* n = section.get("teardown")) spec.teardown = argv_template(*n, "command.teardown");
    if (const auto* n = section.get("cwd")) spec.cwd = plain_template(*n, "command.cwd");
    if (const auto* n = section.get("timeout")) {
      spec.timeout_ms = static_cast<std::uint32_t>(std::llround(number(*n, "command.timeout", k_max_command_timeout_s, 0.001) * 1000));
    }
    if (const auto* n = section.get("env")) {
      for (const auto& [key, value] : table(*n, "command.env")) {
        const std::string name(key.str());
        const std::string path = child("command.env", name);
        const bool valid = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
                           std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
        if (!valid) fail(at(key.source()), path, "expected a variable name of A-Z a-z 0-9 _ not starting with a digit");
        if (name == "TMPDIR" || name.starts_with("CACHESTRESS_")) {
          fail(at(key.source()), path, "set by cachestress itself (TMPDIR follows isolation and env_policy)");
        }
        spec.env.emplace_back(name, plain_template(value, path));
      }
    }
    if (const auto* n = section.get("check")) {
      const auto& list = tables(*n, "command.check", "[[command.check]]");
      for (std::size_t i = 0; i < list.size(); ++i) spec.checks.push_back(read_check(*list[i].as_table(), indexed("command.check", i), scenario));
    }
    if (const auto* n = section.get("signature")) {
      const auto& list = tables(*n, "command.signature", "[[command.signature]]");
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string path = indexed("command.signature", i);
        const auto& entry = *list[i].as_table();
        static constexpr std::array<std::string_view, 2> k_signature_keys{"regex", "category"};
        check_keys(entry, path, k_signature_keys);
        model::FailureSignature signature;
        signature.regex = regex_text(required(entry, path, "regex", "a regex, such as \"Could not get lock\""), path + ".regex");
        const auto& category = required(entry, path, "category", "a category name, such as \"apt-lock\"");
        signature.category = string(category, path + ".category");
        if (!command::valid_category(signature.category)) {
          fail(at(category), path + ".category", "expected 1-64 characters A-Z a-z 0-9 . _ - (got " + quoted(signature.category) + ")");
        }
        spec.signatures.push_back(std::move(signature));
      }
    }
    return spec;
  }

  model::OutputCheck read_check(const toml::table& entry, const std::string& path, const model::Scenario& scenario) const {
    static constexpr std::array<std::string_view, 7> k_check_keys{"kind", "step", "stream", "substring", "regex", "own_token", "foreign"};
    check_keys(entry, path, k_check_keys);
    model::OutputCheck check;
    if (const auto* n = entry.get("kind")) {
      check.kind = string(*n, path + ".kind");
      check_kind_name(*n, path + ".kind", check.kind, scenario);
    }
    if (const auto* n = entry.get("step")) check.step = integer(*n, path + ".step", 0, 1'000'000);
    if (const auto* n = entry.get("stream")) {
      const std::string stream = string(*n, path + ".stream");
      if (stream == "stdout") check.stream = model::OutputStream::stdout_;
      else if (stream == "stderr") check.stream = model::OutputStream::stderr_;
      else if (stream == "both") check.stream = model::OutputStream::both;
      else fail(at(*n), path + ".stream", "expected one of stdout, stderr, both (got " + quoted(stream) + ")");
    }
    int given = 0;
    if (const auto* n = entry.get("substring")) {
      check.substring = string(*n, path + ".substring");
      if (check.substring.empty()) fail(at(*n), path + ".substring", "expected a non-empty string");
      if (auto problem = command::placeholder_problem(check.substring)) fail(at(*n), path + ".substring", *problem);
      ++given;
    }
    if (const auto* n = entry.get("regex")) {
      check.regex = regex_text(*n, path + ".regex");
      ++given;
    }
    if (const auto* n = entry.get("own_token")) {
      const auto* flag = n->as_boolean();
      if (!flag || !flag->get()) fail(at(*n), path + ".own_token", "expected true (or leave it out)");
      check.own_token = true;
      ++given;
    }
    if (given != 1) fail(at(entry), path, "expected exactly one of substring, regex, own_token = true");
    if (const auto* n = entry.get("foreign")) {
      for (const auto& [key, value] : table(*n, path + ".foreign")) {
        const std::string fpath = child(path + ".foreign", key.str());
        if (key.str().empty()) fail(at(key.source()), fpath, "expected a non-empty value to look for");
        const std::string kind = string(value, fpath);
        check_kind_name(value, fpath, kind, scenario);
        check.foreign.emplace_back(std::string(key.str()), kind);
      }
    }
    return check;
  }

  // A step's command needs the [command] section that says how commands run.
  void check_commands_have_section(const toml::array& builds, const model::Scenario& scenario) const {
    if (scenario.command) return;
    for (std::size_t i = 0; i < scenario.kinds.size(); ++i) {
      const auto& kind = scenario.kinds[i];
      for (std::size_t k = 0; k < kind.steps.size(); ++k) {
        if (kind.steps[k].command.empty()) continue;
        const auto& step = *(*builds[i].as_table()->get("step")->as_array())[k].as_table();
        fail(at(*step.get("command")), indexed(indexed("build", i) + ".step", k) + ".command",
             "a step command needs a [command] section (backend command)");
      }
    }
  }

  struct ExpectEntry {
    model::Expectation expectation;
    Position where;
    std::string path;
  };

  // A condition table's key: a choice and one of its values ("isolation=per-build",
  // "backend!=process"), or a numeric run setting compared with a number ("concurrency>=2").
  // Several joined by "&&" must all hold ("concurrency>=2 && sharing=locked").
  void read_conditions(std::string_view key, const toml::node& node, const std::string& path, model::Expectation& e) const {
    for (std::size_t from = 0;;) {
      const auto and_at = key.find("&&", from);
      const std::string_view part = trim(key.substr(from, and_at == std::string_view::npos ? std::string_view::npos : and_at - from));
      if (part.empty() || part.find_first_of("<>!=") == std::string_view::npos) {
        fail(at(node), path, "expected conditions joined by &&, each a setting compared with a value, such as "
                             "\"concurrency>=2 && sharing=locked\" (got " + quoted(std::string(key)) + ")");
      }
      e.when.push_back(read_condition(part, node, path));
      if (and_at == std::string_view::npos) return;
      from = and_at + 2;
    }
  }

  model::Condition read_condition(std::string_view key, const toml::node& node, const std::string& path) const {
    model::Condition c;
    const auto op_at = key.find_first_of("<>!=");
    c.key = std::string(trim(key.substr(0, op_at)));
    const std::string_view rest = trim(key.substr(op_at));
    const RunSetting* setting = find_setting(c.key);
    if (!model::is_condition_key(c.key) && setting != nullptr && setting->type != SettingType::choice) {
      const auto parsed = parse_comparison(rest);
      if (!parsed) fail(at(node), path, "expected run." + c.key + " compared with a number, such as \"" + c.key + ">=2\"");
      c.comparison = parsed->first;
      c.value = format_double(parsed->second);
      return c;
    }
    if (!model::is_condition_key(c.key)) {
      fail(at(node), path, "expected a condition on one of " + std::string(model::k_condition_keys) +
                               " (= or !=), such as \"isolation=per-build\", or a numeric run setting compared with a "
                               "number, such as \"concurrency>=2\"");
    }
    const bool ne = rest.starts_with("!=");
    if (!ne && !rest.starts_with("=")) fail(at(node), path, "a condition on run." + c.key + " takes = or != (got " + quoted(std::string(rest)) + ")");
    c.comparison = ne ? model::Comparison::ne : model::Comparison::eq;
    c.value = std::string(trim(rest.substr(ne ? 2 : rest.starts_with("==") ? 2 : 1)));
    bool valid = false;
    if (c.key == "sharing") valid = c.value == "mixed" || model::parse_sharing(c.value).has_value();
    if (c.key == "isolation") valid = c.value == "per-group" || model::parse_isolation(c.value).has_value();
    if (c.key == "semantics") valid = model::parse_semantics(c.value).has_value();
    if (c.key == "backend") valid = model::parse_backend(c.value).has_value();
    if (c.key == "arrival") valid = model::parse_arrival(c.value).has_value();
    if (c.key == "lock_kind") valid = model::parse_lock_kind(c.value).has_value();
    if (c.key == "env_policy") valid = model::parse_env_policy(c.value).has_value();
    if (!valid) fail(at(node), path, "unknown value " + quoted(c.value) + " for run." + c.key);
    return c;
  }

  std::vector<model::Expectation> read_expectations(const toml::table& expect) const {
    std::vector<ExpectEntry> entries;
    read_expectation_entries(expect, "expect", {}, entries);
    // toml++ tables are ordered by key; order by canonical field so a "summary." prefix
    // does not change where an expectation lands (round trips compare in order).
    std::stable_sort(entries.begin(), entries.end(), [](const ExpectEntry& a, const ExpectEntry& b) {
      return expectation_order(a.expectation, b.expectation);
    });
    for (std::size_t i = 1; i < entries.size(); ++i) {
      const auto& a = entries[i - 1];
      const auto& b = entries[i];
      if (expectation_order(a.expectation, b.expectation) || expectation_order(b.expectation, a.expectation)) continue;
      const bool b_later = b.where.line > a.where.line || (b.where.line == a.where.line && b.where.column > a.where.column);
      const ExpectEntry& later = b_later ? b : a;
      const ExpectEntry& earlier = b_later ? a : b;
      fail(later.where, later.path, "duplicate expectation on " + later.expectation.field + " (also " + earlier.path + ")");
    }
    std::vector<model::Expectation> result;
    for (auto& entry : entries) result.push_back(std::move(entry.expectation));
    return result;
  }

  void read_expectation_entries(const toml::table& expect, const std::string& table_path, const model::Expectation& base,
                                std::vector<ExpectEntry>& entries) const {
    for (const auto& [key, node] : expect) {
      const std::string path = child(table_path, key.str());
      if (base.when.empty() && key.str().find_first_of("<>!=&") != std::string_view::npos) {
        model::Expectation conditional;
        read_conditions(key.str(), node, path, conditional);
        read_expectation_entries(table(node, path), path, conditional, entries);
        continue;
      }
      model::Expectation e = base;
      e.field = metrics::canonical_summary_field(key.str());
      if (e.field.empty()) {
        fail(at(key.source()), path,
             "unknown summary field (expected e.g. \"collisions.total\", \"builds.failed\", \"lock_wait_us.p99\"; "
             "dotted names must be quoted)");
      }
      if (const auto* i = node.as_integer()) {
        e.value = static_cast<double>(i->get());
        e.text = std::to_string(i->get());
      } else if (const auto* f = node.as_floating_point()) {
        if (!std::isfinite(f->get())) fail(at(node), path, "expected a finite number (got " + format_double(f->get()) + ")");
        e.value = f->get();
        e.text = format_double(f->get());
      } else if (const auto* s = node.as_string()) {
        const std::string written = unshift(s->get());
        auto parsed = parse_comparison(written);
        if (!parsed) {
          fail(at(node), path,
               "expected a number, or an operator ==, =, !=, <, <=, >, >= followed by a number, such as \">0\" (got " +
                   quoted(written) + ")");
        }
        e.comparison = parsed->first;
        e.value = parsed->second;
        e.text = written;
      } else {
        fail(at(node), path, std::string("expected a number or a comparison string such as \"<50000\" (got ") + type_name(node) + ")");
      }
      entries.push_back({std::move(e), at(key.source()), path});
    }
  }

  std::string_view m_source;
  bool m_has_command_section = false;
};

}  // namespace

model::Scenario parse_scenario(std::string_view toml_text, std::string_view source_name, std::string_view name) {
  return Parser(source_name).parse(toml_text, name);
}

}  // namespace cachestress::scenario
