// Writes the seed corpus of worker_protocol_fuzz from the real encoders, so the seeds are
// exactly what a worker writes and a parent reads:
//   * event-*: one encode_event() line of every event type, and whole event streams of a
//     build (hello, grants, ops, collisions, step_done, done / failed);
//   * plan-*: encode_plan() of every kind of every built-in scenario (catalogue).
// Usage: make_protocol_corpus DIR   (run it again after changing the protocol; fuzz/README.md)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/scenario/loader.hpp"
#include "engine/worker/plan.hpp"
#include "engine/worker/protocol.hpp"

namespace {

using namespace cachestress;
using namespace cachestress::worker::protocol;

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string stream(const std::vector<Event>& events) {
  std::string bytes;
  for (const Event& e : events) bytes += encode_event(e);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  int files = 0;

  const std::vector<Event> each = {
      Hello{4242, "roots/shared"},
      Waiting{1, 2},
      Granted{1, 2, model::Sharing::locked, 123456, true, 0, false},
      Granted{0, 0, model::Sharing::private_, 0, false, 7, true},
      Released{1, 2, model::Sharing::locked, 987},
      Op{0, model::OpKind::write, "roots/b1/buildah-cache-0/abc/world", 160},
      Op{1, model::OpKind::hold, "", 0},
      Collision{1, CollisionKind::foreign, "roots/shared/x/world", 3, "locked-across-steps"},
      Collision{2, CollisionKind::torn, "roots/shared/x/world", std::nullopt, std::nullopt},
      LockOverlap{0, 1, "roots/shared/buildah-cache/test", 9, "other"},
      StepDone{3, 55},
      Failed{"enospc: write roots/b3/buildah-cache-0/f: No space left on device", false},
      Failed{"io: write EACCES \xc3\xa9\x01", true},
      Done{},
  };
  for (std::size_t i = 0; i < each.size(); ++i) {
    write(dir / ("event-" + std::to_string(i) + "-" + name_of(each[i])), encode_event(each[i]));
    ++files;
  }
  write(dir / "stream-build-ok",
        stream({Hello{100, "roots/b0"}, Granted{0, 0, model::Sharing::locked, 12, true, 0, false},
                Op{0, model::OpKind::write, "roots/b0/buildah-cache-0/k/world", 64},
                Op{0, model::OpKind::read, "roots/b0/buildah-cache-0/k/world", 64},
                Released{0, 0, model::Sharing::locked, 500}, StepDone{0, 900},
                Granted{1, 0, model::Sharing::shared, 0, false, 0, false},
                Op{1, model::OpKind::prune, "roots/b0", 0}, Released{1, 0, model::Sharing::shared, 3},
                StepDone{1, 40}, Done{}}));
  write(dir / "stream-build-collides",
        stream({Hello{101, "roots/shared"}, Granted{0, 0, model::Sharing::shared, 0, false, 0, false},
                Collision{0, CollisionKind::missing, "roots/shared/c/f", std::nullopt, std::nullopt},
                LockOverlap{0, 0, "roots/shared/buildah-cache/c", 7, "pruner"},
                Failed{"rejected: foreign read", false}}));
  files += 2;

  for (const auto& entry : scenario::catalogue()) {
    const model::Scenario s = scenario::load_scenario(entry.name);
    for (std::uint32_t k = 0; k < s.kinds.size(); ++k) {
      const auto plan = worker::make_plan(s, k, 1000 + k, 0x9E3779B97F4A7C15ull + k, "/tmp/cachestress-ws",
                                          "roots/b" + std::to_string(k));
      write(dir / ("plan-" + entry.name + "-" + std::to_string(k)), worker::encode_plan(plan));
      ++files;
    }
  }
  std::printf("%d seeds in %s\n", files, dir.string().c_str());
  return 0;
}
