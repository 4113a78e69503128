#include "engine/worker/protocol.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "engine/scenario/loader.hpp"
#include "engine/worker/holder_marker.hpp"
#include "engine/worker/line_splitter.hpp"
#include "engine/worker/plan.hpp"

namespace cachestress::worker::protocol {
namespace {

std::string strip_newline(std::string line) {
  REQUIRE(!line.empty());
  REQUIRE(line.back() == '\n');
  line.pop_back();
  return line;
}

std::vector<Event> one_of_each() {
  return {
      Hello{4242, "roots/shared"},
      Waiting{1, 2},
      Granted{1, 2, model::Sharing::locked, 123456, true, 0, false},
      Granted{0, 0, model::Sharing::private_, 0, false, 7, true},
      Released{1, 2, model::Sharing::locked, 987},
      Op{0, model::OpKind::write, "roots/b1/buildah-cache-0/abc/world", 160},
      Op{1, model::OpKind::hold, "", 0},
      Collision{1, CollisionKind::foreign, "roots/shared/x/world", 3, "locked-across-steps"},
      Collision{2, CollisionKind::missing, "roots/shared/x/world", std::nullopt, std::nullopt},
      LockOverlap{0, 1, "roots/shared/buildah-cache/test", 9, "other"},
      LockOverlap{0, 0, "roots/shared/buildah-cache/test", std::nullopt, std::nullopt},
      StepDone{3, 55},
      Failed{"io: write EACCES", true},
      Done{},
  };
}

}  // namespace

TEST_CASE("every event round-trips through one line", "[worker][protocol]") {
  for (const Event& event : one_of_each()) {
    const std::string line = encode_event(event);
    INFO(line);
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(decode_event(strip_newline(line)) == event);
  }
}

TEST_CASE("every line carries the worker's own timestamp, at_us", "[worker][protocol]") {
  // lock_events are the worker's real holds only if the time travels with the event.
  const std::uint64_t at = 123456789012ull;
  for (const Event& event : one_of_each()) {
    const Line line = decode_line(strip_newline(encode_event(event, at)));
    CHECK(line.at_us == at);
    CHECK(line.event == event);
  }
  // A line without it is a protocol error, not a silent 0.
  CHECK_THROWS_AS(decode_line(R"({"ev":"done"})"), ProtocolError);
  CHECK_THROWS_AS(decode_line(R"({"ev":"done","at_us":-1})"), ProtocolError);
}

TEST_CASE("the documented example lines decode", "[worker][protocol]") {
  CHECK(decode_event(R"({"ev":"hello","at_us":1,"pid":12,"root":"roots/b0"})") == Event{Hello{12, "roots/b0"}});
  CHECK(decode_event(R"({"ev":"done","at_us":1})") == Event{Done{}});
  auto e = decode_event(
      R"({"ev":"collision","at_us":1,"step":1,"kind":"foreign","file":"f","polluter_build":3,"polluter_kind":"locked-across-steps"})");
  const auto& c = std::get<Collision>(e);
  CHECK(c.polluter_build == 3u);
  CHECK(c.polluter_kind == "locked-across-steps");
  CHECK(std::string(name_of(e)) == "collision");
}

TEST_CASE("the decoder rejects anything but a valid flat event", "[worker][protocol]") {
  const std::vector<std::string> bad = {
      "",
      "{}",
      "[]",
      "null",
      "42",
      R"({"ev":"hello","at_us":1,"pid":1,"root":"r"} )",                              // padding
      R"( {"ev":"done","at_us":1})",
      "{\"ev\":\"done\",\"at_us\":1}\r",                                                // CRLF writer
      R"({"ev":"nope","at_us":1})",                                                   // unknown event
      R"({"ev":7})",                                                        // wrong type of ev
      R"({"ev":"done","at_us":1,"extra":1})",                                         // unknown key
      R"({"ev":"done","at_us":1,"ev":"done"})",                                       // duplicate key
      R"({"ev":"hello","at_us":1,"pid":1})",                                          // missing key
      R"({"ev":"hello","at_us":1,"pid":"1","root":"r"})",                             // wrong type
      R"({"ev":"hello","at_us":1,"pid":1.5,"root":"r"})",
      R"({"ev":"step_done","at_us":1,"step":-1,"latency_us":0})",                     // negative
      R"({"ev":"step_done","at_us":1,"step":4294967296,"latency_us":0})",             // u32 overflow
      R"({"ev":"step_done","at_us":1,"step":0,"latency_us":18446744073709551616})",   // u64 overflow
      R"({"ev":"step_done","at_us":1,"step":0,"latency_us":1e3})",                    // exponent: a float
      R"({"ev":"granted","at_us":1,"step":0,"mount":0,"sharing":"exclusive","wait_us":0,"waited":false,"instance":0,"created":false})",
      R"({"ev":"granted","at_us":1,"step":0,"mount":0,"sharing":"locked","wait_us":0,"waited":1,"instance":0,"created":false})",
      R"({"ev":"op","at_us":1,"step":0,"kind":"frobnicate","file":"f","bytes":0})",
      R"({"ev":"collision","at_us":1,"step":0,"kind":"lock_overlap","file":"f"})",    // not a read verdict
      R"({"ev":"collision","at_us":1,"step":0,"kind":"torn","file":"f","polluter_build":null})",
      R"({"ev":"failed","at_us":1,"reason":{"nested":true},"io_error":false})",      // nesting
      R"({"ev":"failed","at_us":1,"reason":["a"],"io_error":false})",
      "{\"ev\":\"failed\",\"at_us\":1,\"reason\":\"\xff\xfe\",\"io_error\":false}",      // invalid UTF-8
      "{\"ev\":\"failed\",\"at_us\":1,\"reason\":\"a\x01\",\"io_error\":false}",         // raw control char
      R"({"ev":"done","at_us":1}{"ev":"done","at_us":1})",                                      // two objects
      R"({"ev":"done","at_us":1)",                                                    // truncated
  };
  for (const auto& line : bad) {
    INFO("line: " << line);
    CHECK_THROWS_AS(decode_event(line), ProtocolError);
  }
}

TEST_CASE("oversize lines are rejected and the encoder never writes one", "[worker][protocol]") {
  std::string huge = R"({"ev":"failed","at_us":1,"reason":")" + std::string(k_max_line_bytes, 'x') + R"(","io_error":false})";
  CHECK_THROWS_AS(decode_event(huge), ProtocolError);

  // Free text is cut; a long path full of escapes is cut rather than overflowing the line.
  const std::string reason_line = encode_event(Failed{std::string(100000, 'r'), false});
  CHECK(reason_line.size() <= k_max_line_bytes + 1);
  CHECK(std::get<Failed>(decode_event(strip_newline(reason_line))).reason.size() == k_max_text_bytes);
  const std::string path_line = encode_event(Op{0, model::OpKind::read, std::string(4000, '\x01'), 0});
  CHECK(path_line.size() <= k_max_line_bytes + 1);
  CHECK_NOTHROW(decode_event(strip_newline(path_line)));
  // Invalid UTF-8 in a path is replaced, never thrown on (the worker's writer must not fail).
  const std::string utf8_line = encode_event(Op{0, model::OpKind::read, "bad\xff", 0});
  CHECK_NOTHROW(decode_event(strip_newline(utf8_line)));
}

TEST_CASE("the line splitter joins chunks and bounds lines", "[worker][protocol]") {
  LineSplitter splitter(8);
  std::vector<std::string> lines;
  auto collect = [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  };
  CHECK(splitter.feed("ab", collect));
  CHECK(splitter.feed("c\nde\n\nf", collect));
  CHECK(lines == std::vector<std::string>{"abc", "de", ""});
  CHECK(splitter.pending() == 1);
  CHECK_FALSE(splitter.feed("123456789", collect));  // "f123456789" > 8 without a newline
  CHECK(splitter.failed());
  CHECK_FALSE(splitter.feed("\n", collect));
  CHECK(lines.size() == 3);

  LineSplitter stopping(100);
  int seen = 0;
  CHECK(stopping.feed("a\nb\nc\n", [&](std::string_view) { return ++seen < 2; }));
  CHECK(stopping.feed("d\n", [&](std::string_view) { return ++seen < 2; }));
  CHECK(seen == 2);  // stopped for good
}

TEST_CASE("a plan round-trips with the kind's steps as scenario TOML", "[worker][plan]") {
  const model::Scenario scenario = scenario::load_scenario("remote-tmpdir");
  const Plan plan = make_plan(scenario, 1, 17, 0xFFFFFFFFFFFFFFFFull, "/tmp/ws", "roots/b17");
  const Plan back = decode_plan(encode_plan(plan));
  CHECK(back.build == 17);
  CHECK(back.kind_index == 1);
  CHECK(back.kind.name == "locked-across-steps");
  CHECK(back.seed == 0xFFFFFFFFFFFFFFFFull);
  CHECK(back.workspace == "/tmp/ws");
  CHECK(back.root == "roots/b17");
  CHECK(back.semantics == scenario.run.semantics);
  CHECK(back.lock_kind == scenario.run.lock_kind);
  model::Scenario a, b;
  a.kinds.push_back(plan.kind);
  b.kinds.push_back(back.kind);
  CHECK(scenario::same_scenario(a, b));
}

TEST_CASE("bad plans are protocol errors", "[worker][plan]") {
  const model::Scenario scenario = scenario::load_scenario("remote-tmpdir");
  const std::string good = encode_plan(make_plan(scenario, 0, 1, 2, "/tmp/ws", "roots/b1"));
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
  };
  const std::vector<std::string> bad = {
      "",
      "not json",
      with(R"("v":1)", R"("v":2)"),
      with(R"("workspace":"/tmp/ws")", R"("workspace":"tmp/ws")"),
      with(R"("kind":"cache-like-buildkit")", R"("kind":"someone-else")"),
      with(R"("semantics":"buildah")", R"("semantics":"docker")"),
      with(R"("seed":2)", R"("seed":2,"extra":true)"),
      with(R"("steps":")", R"("steps":"[[[)"),
      std::string(k_max_plan_bytes + 1, ' '),
  };
  for (const auto& text : bad) {
    INFO("plan: " << text.substr(0, 200));
    CHECK_THROWS_AS(decode_plan(text), ProtocolError);
  }
}

TEST_CASE("holder marker content parses back", "[worker][marker]") {
  auto holder = HolderMarker::parse(HolderMarker::content(12, "locked-across-steps"));
  CHECK(holder.build == 12u);
  CHECK(holder.kind == "locked-across-steps");
  auto garbage = HolderMarker::parse("x");
  CHECK_FALSE(garbage.build);
  CHECK_FALSE(garbage.kind);
}

}  // namespace cachestress::worker::protocol

#include "engine/fs/safe_fs.hpp"
#include "tests/support/temp_dir.hpp"

namespace cachestress::worker {

TEST_CASE("a holder marker is claimed in a lock directory a prune removed", "[worker][marker]") {
  // prune-race under --backend process: the lock's directory was pruned after the lock was
  // taken, and the marker's claim failed the build with "io: lock ENOENT".
  test_support::TempDir tmp;
  const fs::Root root = fs::Root::open(tmp.path());
  HolderMarker marker;
  const auto claim = marker.claim(root, "lockfiles/key/lock.holder", 7, "builder");
  CHECK(claim.error == 0);
  CHECK_FALSE(claim.other);
  marker.release();
}

}  // namespace cachestress::worker
