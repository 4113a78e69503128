// `show`: a resolved scenario as TOML that the parser reads back to an equal scenario, every
// field written explicitly.
#include "engine/scenario/loader.hpp"

#include <openssl/sha.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

#include "engine/scenario/run_settings.hpp"
#include "engine/scenario/scenario_text.hpp"

namespace cachestress::scenario {
namespace {

std::string toml_string(std::string_view text) {
  constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += k_hex[c >> 4];
          out += k_hex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string toml_float(double value) {
  std::string text = format_double(value);
  if (text.find_first_of(".eEni") == std::string::npos) text += ".0";  // keep floats looking like floats
  return text;
}

// An expectation's right-hand side: the text as written when it still means the same thing.
std::string expectation_value(const model::Expectation& e) {
  std::int64_t integer = 0;
  auto [end, ec] = std::from_chars(e.text.data(), e.text.data() + e.text.size(), integer);
  if (ec == std::errc{} && end == e.text.data() + e.text.size() && std::to_string(integer) == e.text &&
      e.comparison == model::Comparison::eq && static_cast<double>(integer) == e.value) {
    return e.text;  // a plain integer reads back as the same integer and text
  }
  // A float reads back with format_double() as its text; without '.'/'e' TOML would see an integer.
  if (e.comparison == model::Comparison::eq && std::isfinite(e.value) && format_double(e.value) == e.text &&
      e.text.find_first_of(".e") != std::string::npos) {
    return e.text;
  }
  auto parsed = parse_comparison(e.text);
  if (parsed && parsed->first == e.comparison && parsed->second == e.value) return toml_string(e.text);
  return toml_string(std::string(model::to_string(e.comparison)) + format_double(e.value));
}

// A template as an array of words: reads back to the same words whatever they contain.
std::string toml_words(const std::vector<std::string>& words) {
  std::string out = "[";
  for (const auto& w : words) out += (out.size() > 1 ? ", " : "") + toml_string(w);
  return out + "]";
}

std::string command_toml(const model::CommandSpec& c) {
  std::string out = "\n[command]\n";
  out += "per = " + toml_string(c.per == model::CommandPer::build ? "build" : "step") + "\n";
  if (!c.run.empty()) out += "run = " + toml_words(c.run) + "\n";
  if (!c.setup.empty()) out += "setup = " + toml_words(c.setup) + "\n";
  if (!c.teardown.empty()) out += "teardown = " + toml_words(c.teardown) + "\n";
  out += "cwd = " + toml_string(c.cwd) + "\n";
  out += "timeout = " + toml_float(c.timeout_ms / 1000.0) + "\n";
  out += "env = {";
  for (std::size_t i = 0; i < c.env.size(); ++i) out += (i ? ", " : " ") + c.env[i].first + " = " + toml_string(c.env[i].second);
  out += c.env.empty() ? "}\n" : " }\n";
  for (const auto& check : c.checks) {
    out += "\n[[command.check]]\n";
    if (!check.kind.empty()) out += "kind = " + toml_string(check.kind) + "\n";
    if (check.step >= 0) out += "step = " + std::to_string(check.step) + "\n";
    const char* stream = check.stream == model::OutputStream::stdout_ ? "stdout" : check.stream == model::OutputStream::stderr_ ? "stderr" : "both";
    out += "stream = " + toml_string(stream) + "\n";
    if (check.own_token) out += "own_token = true\n";
    else if (!check.regex.empty()) out += "regex = " + toml_string(check.regex) + "\n";
    else out += "substring = " + toml_string(check.substring) + "\n";
    if (!check.foreign.empty()) {
      out += "foreign = {";
      for (std::size_t i = 0; i < check.foreign.size(); ++i) {
        out += (i ? ", " : " ") + toml_string(check.foreign[i].first) + " = " + toml_string(check.foreign[i].second);
      }
      out += " }\n";
    }
  }
  for (const auto& signature : c.signatures) {
    out += "\n[[command.signature]]\nregex = " + toml_string(signature.regex) + "\ncategory = " + toml_string(signature.category) + "\n";
  }
  return out;
}

}  // namespace

std::string to_toml(const model::Scenario& s) {
  std::string out;
  auto line = [&out](std::string_view key, const std::string& value) {
    out.append(key).append(" = ").append(value).append("\n");
  };
  out += "# Scenario " + escape(s.name, false, 200) + " resolved from " + escape(s.source, false, 200) +
         ". Every field is explicit; format: scenarios/README.md\n";
  line("description", toml_string(s.description));

  out += "\n[run]\n";
  for (const auto& setting : run_settings()) {
    if (!setting.in_run_section) continue;
    const auto value = setting.get(s);
    switch (setting.type) {
      case SettingType::integer: line(setting.key, std::to_string(value->integer)); break;
      case SettingType::number:
      case SettingType::duration: line(setting.key, toml_float(value->number)); break;
      case SettingType::choice: line(setting.key, toml_string(value->text)); break;
    }
  }

  out += "\n[faults]\n";
  line("stale_lock", s.faults.stale_lock ? "true" : "false");
  line("enospc_tmpfs_kb", std::to_string(s.faults.enospc_tmpfs_kb));
  if (s.faults.kill_lock_holder_ms) line("kill_lock_holder", toml_float(*s.faults.kill_lock_holder_ms / 1000.0));

  for (const auto& kind : s.kinds) {
    out += "\n[[build]]\n";
    line("name", toml_string(kind.name));
    line("weight", std::to_string(kind.weight));
    for (const auto& step : kind.steps) {
      out += "\n[[build.step]]\n";
      line("gap_ms", std::to_string(step.gap_ms));
      if (!step.command.empty()) line("command", toml_words(step.command));
      if (!step.command.empty() && step.mounts.empty() && step.ops.empty()) continue;
      out += "mount = [";
      for (const auto& m : step.mounts) {
        out += "\n  { target = " + toml_string(m.target) + ", id = " + toml_string(m.id) + ", uid = " + std::to_string(m.uid) +
               ", gid = " + std::to_string(m.gid) + ", sharing = " + toml_string(model::to_string(m.sharing)) + " },";
      }
      out += step.mounts.empty() ? "]\n" : "\n]\n";
      out += "ops = [";
      for (const auto& op : step.ops) {
        // Only the keys that apply to the kind: the others are errors when read back.
        out += "\n  { op = " + toml_string(model::to_string(op.kind));
        switch (op.kind) {
          case model::OpKind::write:
          case model::OpKind::append:
            out += ", file = " + toml_string(op.file) + ", value = " + toml_string(op.value) + ", size = " + std::to_string(op.size) +
                   ", chunk = " + std::to_string(op.chunk) + ", mount = " + std::to_string(op.mount);
            break;
          case model::OpKind::read:
            out += ", file = " + toml_string(op.file) + ", expect = " + toml_string(model::to_string(op.expect)) +
                   ", mount = " + std::to_string(op.mount);
            break;
          case model::OpKind::remove:
          case model::OpKind::list:
            out += ", file = " + toml_string(op.file) + ", mount = " + std::to_string(op.mount);
            break;
          case model::OpKind::hold:
            out += ", ms = " + std::to_string(op.hold_ms) + ", jitter_ms = " + std::to_string(op.jitter_ms);
            break;
          case model::OpKind::prune:
          case model::OpKind::reset: out += ", mount = " + std::to_string(op.mount); break;
          case model::OpKind::trylock:
            out += ", file = " + toml_string(op.file) + ", mount = " + std::to_string(op.mount);
            break;
          case model::OpKind::extract:
            out += ", file = " + toml_string(op.file) + ", count = " + std::to_string(op.count) + ", size = " + std::to_string(op.size) +
                   ", mount = " + std::to_string(op.mount);
            break;
        }
        out += " },";
      }
      out += step.ops.empty() ? "]\n" : "\n]\n";
    }
  }

  if (s.command) out += command_toml(*s.command);

  if (!s.sweep.empty() || s.repeat != 1) {
    out += "\n[sweep]\n";
    if (s.repeat != 1) line("repeat", std::to_string(s.repeat));
    for (const auto& axis : s.sweep) {
      std::string values;
      for (const auto& v : axis.values) {
        double number = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), number);
        const bool numeric = ec == std::errc{} && end == v.data() + v.size();
        values += (values.empty() ? "" : ", ") + (numeric ? v : toml_string(v));
      }
      line(axis.key, "[" + values + "]");
    }
  }

  out += "\n[expect]\n";
  std::string condition;
  for (const auto& e : sorted_by_field(s.expectations)) {
    const std::string when = model::condition_text(e);
    if (when != condition) {
      out += "\n[expect." + toml_string(when) + "]\n";
      condition = when;
    }
    line(toml_string(e.field), expectation_value(e));
  }
  return out;
}

std::string workload_sha256(const model::Scenario& scenario) {
  model::Scenario workload = scenario;
  workload.run = model::RunConfig{};
  // --sharing rewrites every mount: the mounts stay, as `config.sharing` also says.
  workload.sweep.clear();
  workload.repeat = 1;
  workload.name.clear();
  workload.source.clear();
  workload.description.clear();
  const std::string text = to_toml(workload);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  constexpr char k_hex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : digest) {
    hex += k_hex[byte >> 4];
    hex += k_hex[byte & 0xF];
  }
  return hex;
}

}  // namespace cachestress::scenario
