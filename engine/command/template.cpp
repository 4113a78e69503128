#include "engine/command/template.hpp"

#include <array>

namespace cachestress::command {
namespace {

constexpr std::array<std::string_view, 7> k_names{"build", "kind", "step", "token", "tmpdir", "workdir", "realworkdir"};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

static std::size_t placeholder_at(std::string_view word, std::size_t i);

Split split_words(std::string_view text) {
  Split result;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_blank(c)) {
      if (in_word) result.words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      const auto end = text.find('\'', i + 1);
      if (end == std::string_view::npos) return {{}, "unterminated ' (single quote)"};
      word.append(text.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      std::size_t k = i + 1;
      for (; k < text.size() && text[k] != '"'; ++k) {
        if (text[k] == '\\' && k + 1 < text.size() && (text[k + 1] == '"' || text[k + 1] == '\\')) ++k;
        word += text[k];
      }
      if (k >= text.size()) return {{}, "unterminated \" (double quote)"};
      i = k;
    } else if (c == '\\') {
      if (i + 1 >= text.size()) return {{}, "a backslash at the end escapes nothing"};
      word += text[++i];
    } else {
      word += c;
    }
  }
  if (in_word) result.words.push_back(std::move(word));
  return result;
}

// A placeholder is `{` + lowercase letters + `}`; anything else with braces (a shell's
// `{ ...; }` or `${HOME}`) is literal text. Returns the name's length, or 0 when not one.
static std::size_t placeholder_at(std::string_view word, std::size_t i) {
  std::size_t k = i + 1;
  while (k < word.size() && word[k] >= 'a' && word[k] <= 'z') ++k;
  return k > i + 1 && k < word.size() && word[k] == '}' ? k - i - 1 : 0;
}

std::optional<std::string> placeholder_problem(std::string_view word) {
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (word[i] == '{' && i + 1 < word.size() && word[i + 1] == '{') {
      ++i;
      continue;
    }
    if (word[i] != '{') continue;
    const std::size_t length = placeholder_at(word, i);
    if (length == 0) continue;
    const auto name = word.substr(i + 1, length);
    bool known = false;
    for (auto k : k_names) known = known || k == name;
    if (!known) {
      return "unknown placeholder {" + std::string(name) + "} (expected one of " + k_placeholders + "; {{ is a literal {)";
    }
    i += length + 1;
  }
  return std::nullopt;
}

std::string token_for(std::uint64_t build, std::string_view kind, std::uint32_t step) {
  return "cst:" + std::to_string(build) + ":" + std::string(kind) + ":" + std::to_string(step);
}

static std::string regex_escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

static std::string expand_with(std::string_view word, const Values& v, bool for_regex) {
  std::string out;
  out.reserve(word.size() + 16);
  for (std::size_t i = 0; i < word.size(); ++i) {
    const char c = word[i];
    if ((c == '{' || c == '}') && i + 1 < word.size() && word[i + 1] == c) {
      out += for_regex ? std::string("\\") + c : std::string(1, c);
      ++i;
      continue;
    }
    const std::size_t length = c == '{' ? placeholder_at(word, i) : 0;
    if (length == 0) {
      out += c;
      continue;
    }
    const auto name = word.substr(i + 1, length);
    std::string value;
    if (name == "build") value = std::to_string(v.build);
    else if (name == "kind") value = v.kind;
    else if (name == "step") value = std::to_string(v.step);
    else if (name == "token") value = v.token;
    else if (name == "tmpdir") value = v.tmpdir;
    else if (name == "workdir") value = v.workdir;
    else if (name == "realworkdir") value = v.realworkdir;
    out += for_regex ? regex_escaped(value) : value;
    i += length + 1;
  }
  return out;
}

std::string expand(std::string_view word, const Values& v) { return expand_with(word, v, false); }

std::string expand_regex(std::string_view pattern, const Values& v) { return expand_with(pattern, v, true); }

bool has_placeholders(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      ++i;
      continue;
    }
    if (text[i] == '{' && placeholder_at(text, i) > 0) return true;
  }
  return false;
}

std::vector<std::string> expand_all(const std::vector<std::string>& words, const Values& values) {
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const auto& w : words) out.push_back(expand(w, values));
  return out;
}

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    const bool plain = !w.empty() && w.find_first_of(" \t\n\r'\"\\") == std::string::npos;
    if (plain) {
      out += w;
    } else if (w.find('\'') == std::string::npos) {
      out += "'" + w + "'";
    } else {
      out += '"';
      for (char c : w) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
  }
  return out;
}

}  // namespace cachestress::command
