#include "engine/command/output_check.hpp"

#include <algorithm>
#include <charconv>

#include "engine/core/error.hpp"

namespace cachestress::command {
namespace {

bool is_kind_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

std::string_view stream_text(model::OutputStream stream, const StepOutput& output, std::string& both) {
  switch (stream) {
    case model::OutputStream::stdout_: return output.out;
    case model::OutputStream::stderr_: return output.err;
    case model::OutputStream::both: break;
  }
  both.assign(output.out);
  if (!both.empty() && both.back() != '\n') both += '\n';
  both.append(output.err);
  return both;
}

const char* stream_name(model::OutputStream stream) {
  switch (stream) {
    case model::OutputStream::stdout_: return "stdout";
    case model::OutputStream::stderr_: return "stderr";
    case model::OutputStream::both: return "output";
  }
  return "output";
}

std::string shown(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 80)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  return out + (text.size() > 80 ? "...\"" : "\"");
}

}  // namespace

std::optional<std::string> regex_problem(const std::string& pattern) {
  if (has_placeholders(pattern)) {
    if (auto problem = placeholder_problem(pattern)) return problem;
  }
  try {
    // With placeholders: valid whatever a build's values are (they are escaped).
    std::regex compiled(has_placeholders(pattern) ? expand_regex(pattern, Values{}) : pattern, std::regex::ECMAScript);
    (void)compiled;
  } catch (const std::regex_error& e) {
    return std::string("invalid regex: ") + e.what();
  }
  return std::nullopt;
}

std::vector<CompiledCheck> compile_checks(const std::vector<model::OutputCheck>& checks) {
  std::vector<CompiledCheck> out;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    CompiledCheck c{checks[i], nullptr, has_placeholders(checks[i].regex) || has_placeholders(checks[i].substring)};
    if (!checks[i].regex.empty()) {
      if (auto problem = regex_problem(checks[i].regex)) {
        throw InputError("command.check[" + std::to_string(i) + "].regex: " + *problem);
      }
      if (!c.templated) c.regex = std::make_shared<const std::regex>(checks[i].regex, std::regex::ECMAScript | std::regex::optimize);
    }
    out.push_back(std::move(c));
  }
  return out;
}

bool any_line_matches(const std::regex& pattern, std::string_view text) {
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const auto line = text.substr(start, end - start);
    if (std::regex_search(line.begin(), line.end(), pattern)) return true;
    if (end == text.size()) break;
    start = end + 1;
  }
  return false;
}

std::optional<Polluter> foreign_token(std::string_view text, std::string_view own_token) {
  for (std::size_t at = text.find("cst:"); at != std::string_view::npos; at = text.find("cst:", at + 1)) {
    std::size_t i = at + 4;
    std::uint64_t build = 0;
    auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), build);
    if (ec != std::errc{} || end == text.data() + text.size() || *end != ':') continue;
    i = static_cast<std::size_t>(end - text.data()) + 1;
    const std::size_t kind_start = i;
    while (i < text.size() && is_kind_char(text[i])) ++i;
    if (i == kind_start || i >= text.size() || text[i] != ':') continue;
    const auto kind = text.substr(kind_start, i - kind_start);
    std::size_t k = i + 1;
    while (k < text.size() && text[k] >= '0' && text[k] <= '9') ++k;
    if (k == i + 1) continue;
    const auto token = text.substr(at, k - at);
    // Another step of the same build is not foreign: compare the "cst:<build>:" prefix.
    const auto own_prefix = own_token.substr(0, own_token.find(':', 4) + 1);
    if (token == own_token || (!own_prefix.empty() && token.starts_with(own_prefix))) continue;
    return Polluter{std::string(kind), build};
  }
  return std::nullopt;
}

bool reads(model::OutputStream check_stream, model::OutputStream stream) {
  return check_stream == model::OutputStream::both || check_stream == stream;
}

std::optional<Needle> needle_for(const CompiledCheck& compiled, const StepOutput& step) {
  const auto& check = compiled.check;
  if (!check.kind.empty() && check.kind != step.kind) return std::nullopt;
  if (check.step >= 0 && static_cast<std::uint32_t>(check.step) != step.step) return std::nullopt;
  const bool expand_here = compiled.templated && step.values != nullptr;
  Needle needle;
  if (check.own_token) {
    needle.substring = step.own_token;
  } else if (!check.regex.empty()) {
    // A templated regex is compiled per step with its values (no values: placeholders empty).
    needle.regex = compiled.regex ? compiled.regex
                                  : std::make_shared<const std::regex>(expand_regex(check.regex, step.values ? *step.values : Values{}),
                                                                       std::regex::ECMAScript);
  } else {
    needle.substring = expand_here ? expand(check.substring, *step.values) : check.substring;
  }
  return needle;
}

CheckResult evaluate(const std::vector<CompiledCheck>& checks, const StepOutput& output) {
  std::string both;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const auto needle = needle_for(checks[i], output);
    if (!needle) continue;
    const auto& check = checks[i].check;
    const std::string_view text = stream_text(check.stream, output, both);
    const bool ok = (needle->regex ? any_line_matches(*needle->regex, text) : text.find(needle->substring) != std::string_view::npos) ||
                    (output.past_limit != nullptr && output.past_limit->check_seen[i]);
    if (ok) continue;
    CheckResult result;
    result.passed = false;
    // The message shows the check as written ({build}, not 17): one group for every build.
    const std::string name = stream_name(check.stream);
    if (check.own_token) {
      result.failed = name + " does not contain this build's token {token}";
    } else if (needle->regex) {
      result.failed = name + " has no line matching /" + check.regex + "/";
    } else {
      result.failed = name + " does not contain " + shown(check.substring);
    }
    // Evidence: another build's token, else a declared foreign value; in what was kept, then
    // past it, in the streams the check reads.
    const PastLimit::Stream* past[2] = {};
    if (output.past_limit != nullptr) {
      if (reads(check.stream, model::OutputStream::stdout_)) past[0] = &output.past_limit->streams[0];
      if (reads(check.stream, model::OutputStream::stderr_)) past[1] = &output.past_limit->streams[1];
    }
    result.polluter = foreign_token(text, output.own_token);
    for (const auto* stream : past) {
      if (!result.polluter && stream != nullptr) result.polluter = stream->token;
    }
    for (const auto& [value, kind] : check.foreign) {
      if (result.polluter) break;
      bool seen = text.find(value) != std::string_view::npos;
      for (const auto* stream : past) {
        seen = seen || (stream != nullptr && std::find(stream->values.begin(), stream->values.end(), value) != stream->values.end());
      }
      if (seen) result.polluter = Polluter{kind, std::nullopt};
    }
    return result;
  }
  return {};
}

}  // namespace cachestress::command
