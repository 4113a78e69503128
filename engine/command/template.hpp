#pragma once
// Command templates: a string split into argv the way a shell splits words, but with no
// shell (no variables, globs, pipes or redirections: `sh -c '...'` asks for one), and
// {placeholders} expanded inside each word after splitting, so a value with spaces stays
// one argument. A placeholder is `{` + lowercase letters + `}`; other braces (`{ a; }`,
// `${HOME}`) are literal, and `{{` / `}}` are literal braces too.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cachestress::command {

// The placeholders a template may use, in one place (messages list them).
inline constexpr const char* k_placeholders = "{build}, {kind}, {step}, {token}, {tmpdir}, {workdir}, {realworkdir}";

// Words of `text`: blanks separate words; '...' is literal; "..." is literal except \" and
// \\; outside quotes a backslash makes the next character literal. Returns the error
// ("unterminated '") instead when the text cannot be split.
struct Split {
  std::vector<std::string> words;
  std::string error;
};
Split split_words(std::string_view text);

// The first problem with a template word's placeholders ("unknown placeholder {x}"), or none.
std::optional<std::string> placeholder_problem(std::string_view word);

struct Values {
  std::uint64_t build = 0;
  std::string kind;
  std::uint32_t step = 0;
  std::string token;
  std::string tmpdir;
  // The workspace through the run's own descriptor (/proc/<pid>/fd/<n>): nothing can
  // redirect it. realworkdir: its path as read at spawn, for tools that enter their own
  // mount namespace (buildah's --root), where a /proc/<pid>/fd path does not resolve.
  std::string workdir;
  std::string realworkdir;
};

// The token a build's step may write so a reader can name its writer:
// "cst:<build>:<kind>:<step>" (kind names never contain ':').
std::string token_for(std::uint64_t build, std::string_view kind, std::uint32_t step);

// One word with its placeholders replaced (the word must have passed placeholder_problem).
std::string expand(std::string_view word, const Values& values);
std::vector<std::string> expand_all(const std::vector<std::string>& words, const Values& values);
// The same for a regex: every value is escaped, so it matches only itself.
std::string expand_regex(std::string_view pattern, const Values& values);
// Whether `text` has a known placeholder (an output check's text is then expanded per step).
bool has_placeholders(std::string_view text);

// argv written back as one string that split_words() turns into the same words.
std::string join_words(const std::vector<std::string>& words);

}  // namespace cachestress::command
