#include "engine/backend/wait_graph.hpp"

#include <catch2/catch.hpp>
#include <map>

#include "engine/scenario/loader.hpp"

namespace cachestress::backend {
namespace {

// A wait graph as a table: build -> (cache it waits for, build holding it).
using Table = std::map<int, std::pair<std::string, int>>;

auto edges_of(const Table& table) {
  return [&table](int build) -> std::optional<WaitEdge<int>> {
    auto it = table.find(build);
    if (it == table.end()) return std::nullopt;
    return WaitEdge<int>{it->second.first, it->second.second};
  };
}

}  // namespace

TEST_CASE("wait graph: a cycle of any length is named whole, the same from every member", "[unit][backend]") {
  const Table three{{1, {"id=cache-b", 2}}, {2, {"id=cache-c", 3}}, {3, {"id=cache-a", 1}}};
  const std::string named = "deadlock: cycle id=cache-a -> id=cache-b -> id=cache-c -> id=cache-a";
  for (int start : {1, 2, 3}) CHECK(wait_failure(start, 8, edges_of(three), "timeout") == named);

  const Table two{{1, {"id=cache-b", 2}}, {2, {"id=cache-a", 1}}};
  CHECK(wait_failure(1, 8, edges_of(two), "timeout") == "deadlock: id=cache-a and id=cache-b are taken in opposite orders");
  CHECK(wait_failure(2, 8, edges_of(two), "timeout") == "deadlock: id=cache-a and id=cache-b are taken in opposite orders");
}

TEST_CASE("wait graph: a chain that ends, or a loop the build is not in, is a plain timeout", "[unit][backend]") {
  const Table chain{{1, {"id=cache-b", 2}}, {2, {"id=cache-c", 3}}};
  CHECK(wait_failure(1, 8, edges_of(chain), "timeout") == "timeout");
  // 1 waits behind a cycle of 2 and 3 it is not part of: its own wait just times out.
  const Table behind{{1, {"id=cache-b", 2}}, {2, {"id=cache-c", 3}}, {3, {"id=cache-b", 2}}};
  CHECK(wait_failure(1, 8, edges_of(behind), "timeout") == "timeout");
}

TEST_CASE("lock order: the scenario's order names the cycle a refused wait closes", "[unit][backend]") {
  const auto abba = scenario::load_scenario("abba");
  const LockOrder order(abba);
  REQUIRE(order.cycle("id=cache-a", {"id=cache-b"}));
  CHECK(*order.cycle("id=cache-a", {"id=cache-b"}) == std::vector<std::string>{"id=cache-a", "id=cache-b"});
  CHECK_FALSE(order.cycle("id=cache-a", {"id=cache-z"}));
  const auto locked = scenario::load_scenario("locked");
  const std::string only = locked.kinds[0].steps[0].mounts[0].label();
  CHECK_FALSE(LockOrder(locked).cycle(only, {only}));
}

}  // namespace cachestress::backend
