#include "engine/worker/protocol.hpp"

#include <nlohmann/json.hpp>

#include <type_traits>

#include "engine/worker/json_fields.hpp"

namespace cachestress::worker::protocol {
namespace {

using nlohmann::json;

// ---- encoding ------------------------------------------------------------------------

std::string cut(std::string_view text) { return std::string(text.substr(0, k_max_text_bytes)); }

void put_optional(json& j, const char* key, const std::optional<std::uint64_t>& v) {
  if (v) j[key] = *v;
}
void put_optional(json& j, const char* key, const std::optional<std::string>& v) {
  if (v) j[key] = cut(*v);
}

json to_json(const Event& event, std::uint64_t at_us, bool cut_paths) {
  auto path = [cut_paths](const std::string& p) { return cut_paths ? cut(p) : p; };
  json j = json::object();
  j["ev"] = name_of(event);
  j["at_us"] = at_us;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Hello>) {
          j["pid"] = e.pid;
          j["root"] = path(e.root);
        } else if constexpr (std::is_same_v<T, Waiting>) {
          j["step"] = e.step;
          j["mount"] = e.mount;
        } else if constexpr (std::is_same_v<T, Granted>) {
          j["step"] = e.step;
          j["mount"] = e.mount;
          j["sharing"] = model::to_string(e.sharing);
          j["wait_us"] = e.wait_us;
          j["waited"] = e.waited;
          j["instance"] = e.instance;
          j["created"] = e.created;
        } else if constexpr (std::is_same_v<T, Released>) {
          j["step"] = e.step;
          j["mount"] = e.mount;
          j["sharing"] = model::to_string(e.sharing);
          j["hold_us"] = e.hold_us;
        } else if constexpr (std::is_same_v<T, Op>) {
          j["step"] = e.step;
          j["kind"] = model::to_string(e.kind);
          j["file"] = path(e.file);
          j["bytes"] = e.bytes;
        } else if constexpr (std::is_same_v<T, Collision>) {
          j["step"] = e.step;
          j["kind"] = to_string(e.kind);
          j["file"] = path(e.file);
          put_optional(j, "polluter_build", e.polluter_build);
          put_optional(j, "polluter_kind", e.polluter_kind);
        } else if constexpr (std::is_same_v<T, LockOverlap>) {
          j["step"] = e.step;
          j["mount"] = e.mount;
          j["file"] = path(e.file);
          put_optional(j, "other_build", e.other_build);
          put_optional(j, "other_kind", e.other_kind);
        } else if constexpr (std::is_same_v<T, StepDone>) {
          j["step"] = e.step;
          j["latency_us"] = e.latency_us;
        } else if constexpr (std::is_same_v<T, Failed>) {
          j["reason"] = cut(e.reason);
          j["io_error"] = e.io_error;
        } else if constexpr (std::is_same_v<T, Done>) {
          // "ev" only
        } else {
          static_assert(sizeof(T) == 0, "every event type is encoded");  // dependent: fires only if reached
        }
      },
      event);
  return j;
}

std::string dump_line(const json& j) {
  // replace: a path with invalid UTF-8 must not throw in the worker's event writer.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- decoding ------------------------------------------------------------------------

std::optional<CollisionKind> parse_collision_kind(std::string_view text) {
  if (text == "foreign") return CollisionKind::foreign;
  if (text == "missing") return CollisionKind::missing;
  if (text == "torn") return CollisionKind::torn;
  return std::nullopt;
}

Event decode_fields(const std::string& ev, FlatObject& f) {
  if (ev == "hello") return Hello{f.i64("pid"), f.text("root")};
  if (ev == "waiting") return Waiting{f.u32("step"), f.u32("mount")};
  if (ev == "granted") {
    Granted g;
    g.step = f.u32("step");
    g.mount = f.u32("mount");
    g.sharing = f.choice("sharing", &model::parse_sharing);
    g.wait_us = f.u64("wait_us");
    g.waited = f.boolean("waited");
    g.instance = f.u32("instance");
    g.created = f.boolean("created");
    return g;
  }
  if (ev == "released") {
    Released r;
    r.step = f.u32("step");
    r.mount = f.u32("mount");
    r.sharing = f.choice("sharing", &model::parse_sharing);
    r.hold_us = f.u64("hold_us");
    return r;
  }
  if (ev == "op") {
    Op o;
    o.step = f.u32("step");
    o.kind = f.choice("kind", &model::parse_op_kind);
    o.file = f.text("file");
    o.bytes = f.u64("bytes");
    return o;
  }
  if (ev == "collision") {
    Collision c;
    c.step = f.u32("step");
    c.kind = f.choice("kind", &parse_collision_kind);
    c.file = f.text("file");
    c.polluter_build = f.optional_u64("polluter_build");
    c.polluter_kind = f.optional_text("polluter_kind");
    return c;
  }
  if (ev == "lock_overlap") {
    LockOverlap o;
    o.step = f.u32("step");
    o.mount = f.u32("mount");
    o.file = f.text("file");
    o.other_build = f.optional_u64("other_build");
    o.other_kind = f.optional_text("other_kind");
    return o;
  }
  if (ev == "step_done") {
    StepDone s;
    s.step = f.u32("step");
    s.latency_us = f.u64("latency_us");
    return s;
  }
  if (ev == "failed") {
    Failed x;
    x.reason = f.text("reason");
    x.io_error = f.boolean("io_error");
    return x;
  }
  if (ev == "done") return Done{};
  throw ProtocolError("unknown event \"" + FlatObject::shorten(ev) + "\"");
}

}  // namespace

const char* name_of(const Event& event) {
  static constexpr const char* k_names[] = {"hello",        "waiting",   "granted",   "released", "op",  "collision",
                                            "lock_overlap", "step_done", "failed",   "done"};
  static_assert(std::size(k_names) == std::variant_size_v<Event>);
  return k_names[event.index()];
}

const char* to_string(CollisionKind kind) {
  switch (kind) {
    case CollisionKind::foreign: return "foreign";
    case CollisionKind::missing: return "missing";
    case CollisionKind::torn: return "torn";
  }
  return "?";
}

std::string encode_event(const Event& event, std::uint64_t at_us) {
  std::string line = dump_line(to_json(event, at_us, false));
  // Paths are bounded (fs::k_max_relative_path) but escaping can grow them: cut, never exceed.
  if (line.size() > k_max_line_bytes) line = dump_line(to_json(event, at_us, true));
  line += '\n';
  return line;
}

Line decode_line(std::string_view line) {
  if (line.size() > k_max_line_bytes) throw ProtocolError("line longer than " + std::to_string(k_max_line_bytes) + " bytes");
  // Exactly one object, nothing around it (no padding, no "\r" from a CRLF writer).
  if (line.empty() || line.front() != '{' || line.back() != '}') throw ProtocolError("not a JSON object line");
  FlatObject fields(line);
  const std::string ev = fields.text("ev");
  const std::uint64_t at_us = fields.u64("at_us");
  Event event = decode_fields(ev, fields);
  fields.finish();
  return {std::move(event), at_us};
}

}  // namespace cachestress::worker::protocol
