#pragma once
// The worker side of a build step: a batch of consecutive file operations, executed on
// libuv's threadpool against real files beneath the workspace root. Filled on the loop
// thread, executed on a worker, read back on the loop thread (never touched concurrently).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/fs/safe_fs.hpp"
#include "engine/model/scenario.hpp"
#include "engine/oracle/token.hpp"

namespace cachestress::run {

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
  std::uint64_t self_build = 0;
  std::vector<std::string> ensure_dirs;  // mount directories to create first (mount time)
  int ensure_error = 0;
  std::vector<OpItem> items;
  std::vector<OpOutcome> outcomes;

  void clear() {
    ensure_dirs.clear();
    ensure_error = 0;
    items.clear();
    outcomes.clear();
  }
};

// Runs every item in order; never throws (worker thread).
void execute(OpBatch& batch) noexcept;

}  // namespace cachestress::run
