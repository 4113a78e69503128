#include "engine/backend/mount_table.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

namespace cachestress::backend {
namespace {

using model::Sharing;

// One grant: the instance (if any) and whether a new instance was made for it.
struct Grant {
  std::optional<std::uint32_t> instance;
  bool created = false;
};

Grant ask(CacheState& state, Sharing sharing) {
  Grant grant;
  grant.created = true;  // grant_instance must overwrite it, also when nothing is created
  grant.instance = grant_instance(state, sharing, grant.created);
  return grant;
}

// ---- grant_instance / release_instance: BuildKit's rules (domain.md) -----------------------

TEST_CASE("private users get distinct instances while both are held", "[unit][run][mount_table]") {
  CacheState state;
  auto a = ask(state, Sharing::private_);
  auto b = ask(state, Sharing::private_);
  REQUIRE(a.instance);
  REQUIRE(b.instance);
  CHECK(*a.instance != *b.instance);
  CHECK(a.created);
  CHECK(b.created);
  CHECK(state.instances.size() == 2);

  // A third concurrent one again gets its own.
  auto c = ask(state, Sharing::private_);
  REQUIRE(c.instance);
  CHECK(c.created);
  std::set<std::uint32_t> distinct{*a.instance, *b.instance, *c.instance};
  CHECK(distinct.size() == 3);
  CHECK_FALSE(state.idle());
}

TEST_CASE("a released private instance is reused, not recreated", "[unit][run][mount_table]") {
  CacheState state;
  auto a = ask(state, Sharing::private_);
  auto b = ask(state, Sharing::private_);
  REQUIRE(a.instance);
  REQUIRE(b.instance);
  release_instance(state, *a.instance, Sharing::private_);
  const auto before = state.instances.size();

  auto c = ask(state, Sharing::private_);
  REQUIRE(c.instance);
  CHECK_FALSE(c.created);
  CHECK(*c.instance == *a.instance);  // the only free one
  CHECK(state.instances.size() == before);

  // With both released, sequential private users never create anything more.
  release_instance(state, *b.instance, Sharing::private_);
  release_instance(state, *c.instance, Sharing::private_);
  for (int i = 0; i < 5; ++i) {
    auto d = ask(state, Sharing::private_);
    REQUIRE(d.instance);
    CHECK_FALSE(d.created);
    CHECK(*d.instance < before);
    release_instance(state, *d.instance, Sharing::private_);
  }
  CHECK(state.instances.size() == before);
}

TEST_CASE("private instances persist after every holder released them", "[unit][run][mount_table]") {
  MountTable table;
  CacheState& state = table.state("roots/shared", "/root/.cache");
  auto a = ask(state, Sharing::private_);
  auto b = ask(state, Sharing::private_);
  REQUIRE(a.instance);
  REQUIRE(b.instance);
  release_instance(state, *a.instance, Sharing::private_);
  release_instance(state, *b.instance, Sharing::private_);
  CHECK(state.idle());
  CHECK(state.instances.size() == 2);

  // The runner forgets idle caches but keeps BuildKit's instances: they accumulate.
  table.forget_if_idle("roots/shared", "/root/.cache", true);
  CHECK(table.roots() == 1);
  CHECK(table.state("roots/shared", "/root/.cache").instances.size() == 2);

  // Without keep_instances an idle cache is forgotten.
  table.forget_if_idle("roots/shared", "/root/.cache", false);
  CHECK(table.roots() == 0);
}

TEST_CASE("a busy cache is never forgotten", "[unit][run][mount_table]") {
  MountTable table;
  CacheState& state = table.state("r", "k");
  auto a = ask(state, Sharing::shared);
  REQUIRE(a.instance);
  table.forget_if_idle("r", "k", false);
  CHECK(table.roots() == 1);
  release_instance(table.state("r", "k"), *a.instance, Sharing::shared);
  table.forget_if_idle("r", "k", false);
  CHECK(table.roots() == 0);
  table.drop_root("never-seen");  // harmless
  CHECK(table.roots() == 0);
}

TEST_CASE("a cache whose gate is free stays while a one-hop section job may still touch it", "[unit][run][mount_table]") {
  // A waiter thread that let go of the lock may take the standby slot after the loop has
  // seen its successors finish: the state (slot and waiter count) must outlive every
  // prepared section job until its done() is back.
  MountTable table;
  CacheState& state = table.state("r", "k");
  state.section_jobs = 1;
  REQUIRE_FALSE(state.gate_busy);
  REQUIRE(state.gate_queue.empty());
  table.forget_if_idle("r", "k", false);
  REQUIRE(table.roots() == 1);
  CHECK(&table.state("r", "k") == &state);  // the same object: pointers to its slot stay valid
  state.section_jobs = 0;
  table.forget_if_idle("r", "k", false);
  CHECK(table.roots() == 0);
}

TEST_CASE("shared users share instance 0 when it is free", "[unit][run][mount_table]") {
  CacheState state;
  auto a = ask(state, Sharing::shared);
  auto b = ask(state, Sharing::shared);
  auto c = ask(state, Sharing::shared);
  REQUIRE(a.instance);
  REQUIRE(b.instance);
  REQUIRE(c.instance);
  CHECK(*a.instance == 0);
  CHECK(*b.instance == 0);
  CHECK(*c.instance == 0);
  CHECK(a.created);  // the first use makes the cache
  CHECK_FALSE(b.created);
  CHECK_FALSE(c.created);
  REQUIRE(state.instances.size() == 1);
  CHECK(state.instances[0].shared_holders == 3);
  CHECK_FALSE(state.instances[0].exclusive);

  release_instance(state, 0, Sharing::shared);
  release_instance(state, 0, Sharing::shared);
  CHECK_FALSE(state.idle());
  release_instance(state, 0, Sharing::shared);
  CHECK(state.idle());
}

TEST_CASE("a shared request finding the only instance held exclusively gets a fresh instance",
          "[unit][run][mount_table]") {
  const Sharing holder = GENERATE(Sharing::locked, Sharing::private_);
  CAPTURE(model::to_string(holder));
  CacheState state;
  auto first = ask(state, holder);
  REQUIRE(first.instance);
  REQUIRE(*first.instance == 0);

  auto shared = ask(state, Sharing::shared);
  REQUIRE(shared.instance);  // never waits
  CHECK(shared.created);
  CHECK(*shared.instance != *first.instance);
  CHECK(state.instances.size() == 2);
  CHECK(state.instances[*shared.instance].shared_holders == 1);
  CHECK_FALSE(state.instances[*shared.instance].exclusive);

  // A second shared user joins the fresh one instead of forking again.
  auto shared2 = ask(state, Sharing::shared);
  REQUIRE(shared2.instance);
  CHECK_FALSE(shared2.created);
  CHECK(*shared2.instance == *shared.instance);
  CHECK(state.instances.size() == 2);
}

// domain.md: "shared: all concurrent users get the same directory". Once a shared user had
// to fork a fresh instance (the first was held by a locked user), later shared users must
// meet it there, not in the old instance that has just been freed.
TEST_CASE("concurrent shared users always share one directory, also after a fork",
          "[unit][run][mount_table]") {
  CacheState state;
  auto locked = ask(state, Sharing::locked);
  REQUIRE(locked.instance);
  auto s1 = ask(state, Sharing::shared);  // forks: the only instance is held exclusively
  REQUIRE(s1.instance);
  REQUIRE(*s1.instance != *locked.instance);
  release_instance(state, *locked.instance, Sharing::locked);

  auto s2 = ask(state, Sharing::shared);  // s1 still holds its instance
  REQUIRE(s2.instance);
  CHECK(*s2.instance == *s1.instance);
  CHECK_FALSE(s2.created);
}

TEST_CASE("a locked request waits while the instance is held exclusively", "[unit][run][mount_table]") {
  const Sharing holder = GENERATE(Sharing::locked, Sharing::private_);
  CAPTURE(model::to_string(holder));
  CacheState state;
  auto first = ask(state, holder);
  REQUIRE(first.instance);
  const auto count = state.instances.size();

  auto waiting = ask(state, Sharing::locked);
  CHECK_FALSE(waiting.instance);  // keep polling
  CHECK_FALSE(waiting.created);
  CHECK(state.instances.size() == count);  // waiting creates nothing
  // Polling again does not change that.
  CHECK_FALSE(ask(state, Sharing::locked).instance);

  // After release the waiter gets the same instance.
  release_instance(state, *first.instance, holder);
  auto granted = ask(state, Sharing::locked);
  REQUIRE(granted.instance);
  CHECK(*granted.instance == *first.instance);
  CHECK_FALSE(granted.created);
  CHECK(state.instances[*granted.instance].exclusive);
}

TEST_CASE("a locked request waits for shared holders too", "[unit][run][mount_table]") {
  CacheState state;
  auto shared = ask(state, Sharing::shared);
  REQUIRE(shared.instance);
  CHECK_FALSE(ask(state, Sharing::locked).instance);
  release_instance(state, *shared.instance, Sharing::shared);
  auto locked = ask(state, Sharing::locked);
  REQUIRE(locked.instance);
  CHECK(*locked.instance == *shared.instance);
}

TEST_CASE("locked users never hold one instance at the same time", "[unit][run][mount_table]") {
  CacheState state;
  auto first = ask(state, Sharing::locked);
  REQUIRE(first.instance);
  CHECK(first.created);  // the first user of a key makes its instance
  for (int i = 0; i < 10; ++i) CHECK_FALSE(ask(state, Sharing::locked).instance);
  release_instance(state, *first.instance, Sharing::locked);
  CHECK(state.idle());
  auto second = ask(state, Sharing::locked);
  REQUIRE(second.instance);
  CHECK_FALSE(ask(state, Sharing::locked).instance);
}

TEST_CASE("release of an unknown instance is ignored", "[unit][run][mount_table]") {
  CacheState state;
  release_instance(state, 7, Sharing::private_);
  release_instance(state, 0, Sharing::shared);
  CHECK(state.instances.empty());
  CHECK(state.idle());
}

// ---- HolderRegistry: the engine's own lock_overlap oracle -----------------------------------

HolderRegistry::Holder holder(std::uint64_t build, int kind, Sharing sharing) {
  HolderRegistry::Holder h;
  h.build = build;
  h.kind = kind;
  h.sharing = sharing;
  return h;
}

TEST_CASE("two locked holders of one directory are a conflict naming the first", "[unit][run][mount_table]") {
  HolderRegistry registry;
  auto first = registry.enter("roots/shared/c/0", holder(1, 0, Sharing::locked));
  CHECK_FALSE(first.overlapped);
  CHECK_FALSE(first.conflict);

  auto second = registry.enter("roots/shared/c/0", holder(2, 1, Sharing::locked));
  CHECK(second.overlapped);
  REQUIRE(second.conflict);
  CHECK(second.conflict->build == 1);
  CHECK(second.conflict->kind == 0);
  CHECK(second.conflict->sharing == Sharing::locked);
}

TEST_CASE("shared holders overlap without a conflict", "[unit][run][mount_table]") {
  HolderRegistry registry;
  CHECK_FALSE(registry.enter("d", holder(1, 0, Sharing::shared)).overlapped);
  auto second = registry.enter("d", holder(2, 0, Sharing::shared));
  CHECK(second.overlapped);
  CHECK_FALSE(second.conflict);
  auto third = registry.enter("d", holder(3, 0, Sharing::shared));
  CHECK(third.overlapped);
  CHECK_FALSE(third.conflict);
}

TEST_CASE("a shared holder beside a locked one overlaps but is no lock_overlap", "[unit][run][mount_table]") {
  SECTION("locked first, then shared") {
    HolderRegistry registry;
    CHECK_FALSE(registry.enter("d", holder(1, 0, Sharing::locked)).overlapped);
    auto shared = registry.enter("d", holder(2, 1, Sharing::shared));
    CHECK(shared.overlapped);
    CHECK_FALSE(shared.conflict);
  }
  SECTION("shared first, then locked") {
    HolderRegistry registry;
    CHECK_FALSE(registry.enter("d", holder(1, 0, Sharing::shared)).overlapped);
    auto locked = registry.enter("d", holder(2, 1, Sharing::locked));
    CHECK(locked.overlapped);
    CHECK_FALSE(locked.conflict);
  }
  SECTION("a second locked holder still conflicts with the locked one, not the shared one") {
    HolderRegistry registry;
    (void)registry.enter("d", holder(1, 0, Sharing::shared));
    (void)registry.enter("d", holder(2, 1, Sharing::locked));
    auto third = registry.enter("d", holder(3, 2, Sharing::locked));
    CHECK(third.overlapped);
    REQUIRE(third.conflict);
    CHECK(third.conflict->build == 2);
    CHECK(third.conflict->kind == 1);
  }
}

TEST_CASE("holders of different directories never overlap", "[unit][run][mount_table]") {
  HolderRegistry registry;
  (void)registry.enter("roots/b1/c", holder(1, 0, Sharing::locked));
  auto other = registry.enter("roots/b2/c", holder(2, 0, Sharing::locked));
  CHECK_FALSE(other.overlapped);
  CHECK_FALSE(other.conflict);
  CHECK(registry.dirs() == 2);
}

TEST_CASE("leave() removes the holder and forgets empty directories", "[unit][run][mount_table]") {
  HolderRegistry registry;
  (void)registry.enter("d", holder(1, 0, Sharing::locked));
  (void)registry.enter("e", holder(1, 0, Sharing::shared));
  CHECK(registry.dirs() == 2);

  registry.leave("d", 1);
  CHECK(registry.dirs() == 1);
  // The next locked user of d is alone again.
  auto next = registry.enter("d", holder(2, 0, Sharing::locked));
  CHECK_FALSE(next.overlapped);
  CHECK_FALSE(next.conflict);

  // Leaving only removes that build.
  (void)registry.enter("d", holder(3, 0, Sharing::shared));
  registry.leave("d", 2);
  auto after = registry.enter("d", holder(4, 0, Sharing::locked));
  CHECK(after.overlapped);        // build 3 (shared) is still inside
  CHECK_FALSE(after.conflict);    // but no locked holder is

  // Unknown directories and builds are harmless.
  registry.leave("nowhere", 1);
  registry.leave("d", 99);
  registry.leave("d", 3);
  registry.leave("d", 4);
  registry.leave("e", 1);
  CHECK(registry.dirs() == 0);
}

}  // namespace
}  // namespace cachestress::backend
