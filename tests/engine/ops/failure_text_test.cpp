// Failure wording decides the failures.* counter a build lands in: an errno that is the
// machine's limit (descriptors, memory, processes at a spawn) must not read as the cache's
// I/O error, and it names the limit to raise.
#include "engine/ops/failure_text.hpp"

#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <string>

#include "engine/model/failure.hpp"

namespace cachestress::ops {
namespace {

using model::FailureCategory;

TEST_CASE("errno_failure puts a build's errno in its category", "[unit][ops]") {
  CHECK(errno_failure("write", ENOSPC) == "enospc: write ENOSPC");
  CHECK(errno_failure("write", EDQUOT) == "enospc: write EDQUOT");
  CHECK(errno_failure("read", EACCES) == "io: read EACCES");
  // EAGAIN on a file is a busy lock or a non-blocking read, not the process table.
  CHECK(model::failure_category_of(errno_failure("lock", EAGAIN)) == FailureCategory::io);
  for (int err : {EMFILE, ENFILE, ENOMEM}) {
    INFO(err);
    CHECK(model::failure_category_of(errno_failure("lock", err)) == FailureCategory::resources);
  }
}

TEST_CASE("a build out of descriptors names the limit in force", "[unit][ops]") {
  struct rlimit limit {};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  const std::string in_force = limit.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(limit.rlim_cur);
  CHECK(errno_failure("lock", EMFILE) == "resources: lock EMFILE (ulimit -n is " + in_force + ": raise it or lower --concurrency)");
  CHECK(resource_failure("cannot start worker", EMFILE) ==
        "resources: cannot start worker: EMFILE: too many open files (ulimit -n is " + in_force +
            ": raise it or lower --concurrency)");
  CHECK_THAT(resource_failure("true", EAGAIN), Catch::StartsWith("resources: true: EAGAIN: ") && Catch::Contains("ulimit -u is "));
}

TEST_CASE("EAGAIN is out of resources only at a spawn", "[unit][ops]") {
  CHECK(out_of_resources(EAGAIN, true));
  CHECK_FALSE(out_of_resources(EAGAIN));
  CHECK(out_of_resources(EMFILE));
  CHECK_FALSE(out_of_resources(ENOENT, true));
  CHECK_FALSE(out_of_resources(ENOSPC));
}

TEST_CASE("every failure category reads back from its reason", "[unit][model]") {
  for (auto category : {FailureCategory::deadlock, FailureCategory::lock_timeout, FailureCategory::lock_busy,
                        FailureCategory::enospc, FailureCategory::rejected, FailureCategory::io, FailureCategory::signal,
                        FailureCategory::exit, FailureCategory::timeout, FailureCategory::check, FailureCategory::spawn,
                        FailureCategory::resources, FailureCategory::protocol}) {
    INFO(model::to_string(category));
    CHECK(model::failure_category_of(model::failure_reason(category, "detail")) == category);
  }
  CHECK(model::failure_category_of("no such prefix: x") == FailureCategory::other);
}

}  // namespace
}  // namespace cachestress::ops
