#pragma once
// The worker side of a build step: a batch of consecutive file operations, executed off the
// loop (an in-process backend's lane, a waiter thread's locked section, or a worker
// process) against real files beneath the workspace root. Filled on the loop thread,
// executed on that thread, read back on the loop thread (never written concurrently; the
// loop may read a batch's items while a lane runs it: a build a lane started).
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/fs/safe_fs.hpp"
#include "engine/model/scenario.hpp"
#include "engine/oracle/token.hpp"

namespace cachestress::ops {

struct OpOutcome {
  int error = 0;  // 0, or -errno of an operation that failed unexpectedly
  std::uint64_t bytes_written = 0;
  std::uint64_t bytes_read = 0;
  bool inspected = false;  // read: the oracle judged what was there
  bool busy = false;       // trylock: someone else holds the lock (not an error of ours)
  bool raced = false;      // extract: the destination appeared meanwhile (rename refused)
  int lock_fd = -1;        // trylock: the held lock, closed by the build when its step ends
  oracle::Inspection inspection;
};

struct OpItem {
  const model::Operation* op = nullptr;
  std::string path;     // relative to the workspace root (prune: the cache root)
  oracle::Token token;  // write/append: what this build puts in the file
};

struct OpBatch {
  const fs::Root* root = nullptr;
  // Set from the loop thread when the build is interrupted: the batch stops between chunks
  // of a write, files of an extract and operations (-ECANCELED), so a first SIGINT/SIGTERM
  // is not held up by one huge operation (a 16 MiB write in 1-byte chunks took 20 s).
  // Null: never cancelled. Not touched by fill_batch().
  const std::atomic<bool>* cancel = nullptr;
  std::uint64_t self_build = 0;
  std::vector<std::string> ensure_dirs;  // mount directories to create first (mount time)
  int ensure_error = 0;
  std::vector<OpItem> items;
  std::vector<OpOutcome> outcomes;
};

// Runs every item in order, until one fails or `cancel` is set; never throws (worker thread).
void execute(OpBatch& batch) noexcept;

}  // namespace cachestress::ops

namespace cachestress::ops {

// Who a batch is for: what its writes' tokens say and where prune points.
struct BatchOwner {
  std::uint64_t build = 0;
  const std::string* kind_name = nullptr;
  std::uint32_t step = 0;
  const std::string* cache_root = nullptr;  // relative to the workspace: prune removes it whole
};

// Fills `batch` with the step's operations from `next` up to the next hold (the same batches
// for an in-process build and a worker: one hop off the loop per run of non-hold operations).
// The step's first batch (`mounting`) also creates the mount directories. mount_dir(i) is
// mount i's instance directory, relative to the workspace. `seq` numbers the writes.
// Returns the index after the last operation taken.
template <typename MountDir>
std::size_t fill_batch(OpBatch& batch, const fs::Root& root, const BatchOwner& owner, const model::Step& step,
                       std::size_t next, bool mounting, std::size_t mounts, MountDir mount_dir, std::uint32_t& seq) {
  batch.root = &root;
  batch.self_build = owner.build;
  batch.ensure_error = 0;
  batch.outcomes.clear();
  // Assigned in place: a batch refilled (or handed on from an ended build, InprocBackend)
  // reuses its strings' buffers instead of allocating a path or two per operation.
  batch.ensure_dirs.resize(mounting ? mounts : 0);
  for (std::size_t i = 0; i < batch.ensure_dirs.size(); ++i) batch.ensure_dirs[i].assign(mount_dir(i));
  std::size_t end = next;
  while (end < step.ops.size() && step.ops[end].kind != model::OpKind::hold) ++end;
  batch.items.resize(end - next);
  for (OpItem& item : batch.items) {
    const auto& op = step.ops[next++];
    item.op = &op;
    item.path.assign(op.kind == model::OpKind::prune ? *owner.cache_root : mount_dir(op.mount));
    if (!op.file.empty()) item.path.append("/").append(op.file);
    oracle::Token& token = item.token;
    const bool writes = model::writes_token(op.kind);
    token.build = writes ? owner.build : 0;
    token.kind.assign(writes ? std::string_view(*owner.kind_name) : std::string_view());
    token.step = writes ? owner.step : 0;
    token.seq = writes ? seq++ : 0;
    token.value.assign(writes ? std::string_view(op.value) : std::string_view());
  }
  return next;
}

}  // namespace cachestress::ops
