#include "engine/ops/file_ops.hpp"

#include "engine/lock/kernel_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>  // RENAME_NOREPLACE

#include <algorithm>
#include <cerrno>

namespace cachestress::ops {
namespace {

// Reads are capped: a file larger than any record we write is torn by definition.
constexpr std::size_t k_read_cap = model::k_max_payload + 4096;

bool cancelled(const std::atomic<bool>* cancel) noexcept {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

int write_all(int fd, std::string_view bytes, std::uint32_t chunk, const std::atomic<bool>* cancel) {
  std::size_t step = chunk == 0 ? bytes.size() : chunk;
  while (!bytes.empty()) {
    if (cancelled(cancel)) return -ECANCELED;
    ssize_t n = ::write(fd, bytes.data(), std::min(step, bytes.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

std::string_view parent_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

// Opens for writing; recreates missing parent directories once (a pruned cache or a file
// in a subdirectory), as `mkdir -p` in a build step would.
int open_for_write(const fs::Root& root, const std::string& path, int flags) {
  int fd = root.open_file(path, flags);
  if (fd == -ENOENT && !parent_of(path).empty()) {
    int rc = root.make_dirs(parent_of(path));
    if (rc < 0) return rc;
    fd = root.open_file(path, flags);
  }
  return fd;
}

void do_write(const fs::Root& root, const OpItem& item, OpOutcome& out, bool append, const std::atomic<bool>* cancel) {
  thread_local std::string record;
  record.clear();
  oracle::encode_record(item.token, item.op->size, record);
  int flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);
  int fd = open_for_write(root, item.path, flags);
  if (fd < 0) {
    out.error = fd;
    return;
  }
  int rc = write_all(fd, record, item.op->chunk, cancel);
  ::close(fd);
  if (rc < 0) {
    out.error = rc;
    return;
  }
  out.bytes_written = record.size();
}

void do_read(const fs::Root& root, const OpItem& item, std::uint64_t self, OpOutcome& out) {
  thread_local std::string content;
  content.clear();
  int fd = root.open_file(item.path, O_RDONLY);
  bool present = fd >= 0;
  if (fd < 0 && fd != -ENOENT) {
    out.error = fd;
    return;
  }
  if (present) {
    char buffer[65536];
    while (content.size() < k_read_cap) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        out.error = -errno;
        ::close(fd);
        return;
      }
      if (n == 0) break;
      content.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    out.bytes_read = content.size();
  }
  out.inspected = true;
  out.inspection = oracle::inspect(present, content, item.op->expect, self);
}

// dpkg's way: a non-blocking lock on a file inside the cache, held until the step ends.
void do_trylock(const fs::Root& root, const OpItem& item, OpOutcome& out) {
  int fd = root.open_file(item.path, O_RDWR | O_CREAT);
  if (fd < 0) {
    out.error = fd;
    return;
  }
  int rc = lock::try_acquire(fd, model::LockKind::ofd);
  if (rc < 0) {
    ::close(fd);
    if (rc == -EAGAIN) out.busy = true;
    else out.error = rc;
    return;
  }
  out.lock_fd = fd;
}

// cargo's way: skip when the package is there, else unpack beside it and rename into place.
// Between the check and the rename another build may have done the same: a rename race.
void do_extract(const fs::Root& root, const OpItem& item, OpOutcome& out, const std::atomic<bool>* cancel) {
  std::size_t entries = 0;
  if (root.count_entries(item.path, entries) == 0) return;  // already extracted: a cache hit
  const std::string partial = item.path + ".partial-" + std::to_string(item.token.build) + "-" + std::to_string(item.token.seq);
  if (int rc = root.make_dirs(partial); rc < 0) {
    out.error = rc;
    return;
  }
  for (std::uint32_t i = 0; i < item.op->count; ++i) {
    OpItem file = item;
    file.path = partial + "/f" + std::to_string(i);
    do_write(root, file, out, false, cancel);
    if (out.error != 0) break;
  }
  if (out.error == 0) {
    int rc = root.rename(partial, item.path, RENAME_NOREPLACE);
    if (rc == -EEXIST || rc == -ENOTEMPTY) out.raced = true;
    else if (rc < 0) out.error = rc;
    if (rc == 0) return;
  }
  (void)root.remove_tree(partial);
}

// A --no-cache build gives the cache a fresh, empty instance. The empty directory is made
// beside it and swapped in with one renameat2(RENAME_EXCHANGE): builds in flight lose their
// files (missing), but the mount path never disappears, so their writes do not fail on
// a window between removing and recreating it. The old instance is removed afterwards.
void do_reset(const fs::Root& root, const OpItem& item, std::uint64_t self, OpOutcome& out) {
  char suffix[40];
  std::snprintf(suffix, sizeof suffix, ".reset-%llu", static_cast<unsigned long long>(self));
  const std::string fresh = item.path + suffix;
  if (int rc = root.make_dirs(fresh); rc < 0) {
    out.error = rc;
    return;
  }
  int rc = -ENOENT;
  for (int attempt = 0; attempt < 4 && (rc == -ENOENT || rc == -EEXIST); ++attempt) {
    rc = root.rename(fresh, item.path, RENAME_EXCHANGE);
    if (rc == -ENOENT) rc = root.rename(fresh, item.path, RENAME_NOREPLACE);  // nothing to reset yet
  }
  if (rc < 0) out.error = rc;
  rc = root.remove_tree(fresh);  // after the exchange: the old instance
  if (rc < 0 && rc != -ENOENT && rc != -ENOTEMPTY && out.error == 0) out.error = rc;
}

void run_item(const fs::Root& root, const OpItem& item, std::uint64_t self, OpOutcome& out,
              const std::atomic<bool>* cancel) {
  switch (item.op->kind) {
    case model::OpKind::write: do_write(root, item, out, false, cancel); break;
    case model::OpKind::append: do_write(root, item, out, true, cancel); break;
    case model::OpKind::read: do_read(root, item, self, out); break;
    case model::OpKind::remove: {
      int rc = root.remove_file(item.path);
      if (rc < 0 && rc != -ENOENT) out.error = rc;  // already gone is not an error
      break;
    }
    case model::OpKind::list: {
      std::size_t entries = 0;
      int rc = root.count_entries(item.path, entries);
      if (rc < 0 && rc != -ENOENT) out.error = rc;
      break;
    }
    case model::OpKind::hold: break;  // holds are timers on the loop, never here
    case model::OpKind::prune: {
      // Like `buildah prune`: everything under the cache root goes, lock files included,
      // whoever holds them. Others keep creating files meanwhile: what cannot go stays.
      int rc = root.remove_tree(item.path);
      if (rc < 0 && rc != -ENOENT && rc != -ENOTEMPTY) out.error = rc;
      break;
    }
    case model::OpKind::reset: do_reset(root, item, self, out); break;
    case model::OpKind::trylock: do_trylock(root, item, out); break;
    case model::OpKind::extract: do_extract(root, item, out, cancel); break;
  }
}

}  // namespace

void execute(OpBatch& batch) noexcept {
  for (const auto& dir : batch.ensure_dirs) {
    int rc = batch.root->make_dirs(dir);
    if (rc < 0) {
      batch.ensure_error = rc;
      return;
    }
  }
  batch.outcomes.resize(batch.items.size());
  for (std::size_t i = 0; i < batch.items.size(); ++i) {
    if (cancelled(batch.cancel)) {
      batch.outcomes[i].error = -ECANCELED;
      break;
    }
    run_item(*batch.root, batch.items[i], batch.self_build, batch.outcomes[i], batch.cancel);
    // The build stops at this operation: the rest of the batch must not run.
    if (batch.outcomes[i].error != 0 || batch.outcomes[i].busy) break;
  }
}

}  // namespace cachestress::ops
