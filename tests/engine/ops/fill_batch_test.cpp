// ops::fill_batch refills a batch in place (InprocBackend hands an ended build's batch to the
// next build): whatever the batch held before, it must come out exactly as a fresh one would.
#include "engine/ops/file_ops.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace cachestress::ops {
namespace {

using model::OpKind;

model::Operation op(OpKind kind, std::string file, std::string value = {}) {
  model::Operation o;
  o.kind = kind;
  o.file = std::move(file);
  o.value = std::move(value);
  return o;
}

struct Filled {
  std::size_t next = 0;
  std::uint32_t seq = 0;
};

Filled fill(OpBatch& batch, const fs::Root& root, const model::Step& step, std::uint64_t build, const std::string& kind,
            bool mounting, const std::vector<std::string>& dirs, std::uint32_t seq = 0) {
  const std::string cache_root = "roots/b" + std::to_string(build);
  const BatchOwner owner{build, &kind, 0, &cache_root};
  Filled out;
  out.seq = seq;
  out.next = fill_batch(batch, root, owner, step, 0, mounting, dirs.size(),
                        [&dirs](std::size_t i) -> const std::string& { return dirs[i]; }, out.seq);
  return out;
}

TEST_CASE("a refilled batch holds only the new step's operations, paths and tokens", "[unit][ops]") {
  const fs::Root root = fs::Root::adopt(-1, "unused");
  model::Step big;
  big.ops = {op(OpKind::write, "a/long/file/name/in/the/cache", "first"), op(OpKind::append, "log", "second"),
             op(OpKind::read, "a/long/file/name/in/the/cache")};
  model::Step small;
  small.ops = {op(OpKind::read, "index"), op(OpKind::list, ""), op(OpKind::write, "index", "v")};
  const std::vector<std::string> two_dirs = {"roots/b1/caches/one", "roots/b1/caches/two"};
  const std::vector<std::string> one_dir = {"roots/b2/c"};

  OpBatch batch;
  auto first = fill(batch, root, big, 1, "builder-with-a-long-name", true, two_dirs);
  REQUIRE(first.next == 3);
  CHECK(first.seq == 2);
  batch.outcomes.resize(batch.items.size());
  batch.outcomes[0].bytes_written = 99;
  batch.ensure_error = -5;

  auto second = fill(batch, root, small, 2, "b", true, one_dir, 7);
  CHECK(second.next == 3);
  CHECK(second.seq == 8);  // only the write takes a sequence number
  CHECK(batch.ensure_error == 0);
  CHECK(batch.outcomes.empty());
  CHECK(batch.self_build == 2);
  CHECK(batch.ensure_dirs == one_dir);
  REQUIRE(batch.items.size() == 3);
  CHECK(batch.items[0].path == "roots/b2/c/index");
  CHECK(batch.items[1].path == "roots/b2/c");  // list: the mount itself
  CHECK(batch.items[2].path == "roots/b2/c/index");
  // A read or list writes nothing: its token is empty, not the earlier build's.
  for (std::size_t i : {0, 1}) {
    CHECK(batch.items[i].token.build == 0);
    CHECK(batch.items[i].token.kind.empty());
    CHECK(batch.items[i].token.value.empty());
    CHECK(batch.items[i].token.seq == 0);
  }
  const auto& token = batch.items[2].token;
  CHECK(token.build == 2);
  CHECK(token.kind == "b");
  CHECK(token.value == "v");
  CHECK(token.seq == 7);

  // Not mounting, and a step cut short by a hold: no directories, only the ops before it.
  model::Step held = big;
  held.ops.insert(held.ops.begin() + 1, op(OpKind::hold, ""));
  auto third = fill(batch, root, held, 3, "c", false, one_dir);
  CHECK(third.next == 1);
  CHECK(batch.ensure_dirs.empty());
  REQUIRE(batch.items.size() == 1);
  CHECK(batch.items[0].path == "roots/b2/c/a/long/file/name/in/the/cache");
  CHECK(batch.items[0].token.value == "first");
}

}  // namespace
}  // namespace cachestress::ops
