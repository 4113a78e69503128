// The worker run in this process (run_worker), its events captured in a memfd: the same code
// a `cachestress worker` child runs, without needing the binary.
#include "engine/worker/worker.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/core/loop.hpp"
#include "engine/scenario/loader.hpp"
#include "engine/semantics/profile.hpp"
#include "engine/worker/plan.hpp"
#include "engine/worker/protocol.hpp"

namespace cachestress::worker {
namespace {

namespace stdfs = std::filesystem;
using namespace protocol;

class Workspace {
 public:
  Workspace() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/worker_test-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) FAIL("mkdtemp failed: " << errno_text(errno));
    m_path = stdfs::canonical(templ).string();
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    std::error_code ec;
    stdfs::remove_all(m_path, ec);
  }
  const std::string& path() const { return m_path; }
  std::string operator/(const std::string& rel) const { return m_path + "/" + rel; }

 private:
  std::string m_path;
};

struct Result {
  int exit = -1;
  std::vector<Event> events;

  template <class T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& e : events) {
      if (const T* t = std::get_if<T>(&e)) out.push_back(*t);
    }
    return out;
  }
  template <class T>
  std::size_t count() const {
    return all<T>().size();
  }
};

std::string read_all(int fd) {
  std::string text;
  ::lseek(fd, 0, SEEK_SET);
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

// Every line the worker wrote must decode: the test checks the protocol as a side effect.
// Catch's macros are not thread-safe: call this (and anything with CHECK) on the test thread.
std::vector<Event> decode_text(const std::string& text) {
  std::vector<Event> events;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = text.substr(start, nl - start);
    INFO("event line: " << line);
    REQUIRE_NOTHROW(events.push_back(decode_event(line)));
  }
  CHECK(start == text.size());  // no unterminated line
  return events;
}

std::vector<Event> decode_all(int fd) { return decode_text(read_all(fd)); }

// One worker run and its raw event text. No Catch macros: safe on a std::async thread.
struct RawRun {
  int exit = -1;
  std::string text;
};

RawRun run_raw(const Plan& plan, const char* tmpdir) {
  RawRun raw;
  const int fd = ::memfd_create("events", MFD_CLOEXEC);
  if (fd < 0) return raw;  // exit -1: the test thread's checks fail
  raw.exit = run_worker(encode_plan(plan), tmpdir, fd);
  raw.text = read_all(fd);
  ::close(fd);
  return raw;
}

Result decoded(const RawRun& raw) {
  REQUIRE(raw.exit != -1);
  Result result;
  result.exit = raw.exit;
  result.events = decode_text(raw.text);
  return result;
}

Result run(const Plan& plan, const char* tmpdir) { return decoded(run_raw(plan, tmpdir)); }

// The worker's own timestamp (at_us) of its first "granted" line, 0 if there is none.
std::uint64_t granted_at_us(const std::string& text) {
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    const Line line = decode_line(std::string_view(text).substr(start, nl - start));
    if (std::holds_alternative<Granted>(line.event)) return line.at_us;
  }
  return 0;
}

model::Scenario scenario_of(const std::string& toml) { return scenario::parse_scenario(toml, "test", "test"); }

Plan plan_for(const model::Scenario& s, std::uint32_t kind, std::uint64_t build, const Workspace& ws,
              const std::string& root) {
  return make_plan(s, kind, build, build, ws.path(), root);
}

// A worker forked to run `plan` that has reported "granted": it holds its mount now.
struct HeldChild {
  pid_t pid = -1;
  int events = -1;  // the read end of its event pipe (the caller closes it)
};

HeldChild fork_until_granted(const std::string& plan, const std::string& root) {
  int events[2];
  REQUIRE(::pipe2(events, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(events[0]);
    ::_exit(run_worker(plan, root.c_str(), events[1]));
  }
  ::close(events[1]);
  std::string seen;
  char buffer[4096];
  while (seen.find("\"granted\"") == std::string::npos) {
    const ssize_t n = ::read(events[0], buffer, sizeof buffer);
    REQUIRE(n > 0);
    seen.append(buffer, static_cast<std::size_t>(n));
  }
  return {child, events[0]};
}

// Runs `first` in a child until it holds its mount, then `second` here, and returns the
// second's events: ordering by what the holder says, never by a sleep.
Result while_held(const model::Scenario& first, const model::Scenario& second, const Workspace& ws) {
  const std::string root = ws / "roots/shared";
  const HeldChild holder = fork_until_granted(encode_plan(plan_for(first, 0, 1, ws, "roots/b1")), root);
  auto result = run(plan_for(second, 0, 2, ws, "roots/b2"), root.c_str());
  int status = 0;
  REQUIRE(::waitpid(holder.pid, &status, 0) == holder.pid);
  ::close(holder.events);
  CHECK(WIFEXITED(status));
  return result;
}

const char* k_leak = R"(
description = "writer then reader on one key"
[run]
builds = 2
[[build]]
name = "reader"
[[build.step]]
mount = { target = "/test", sharing = "shared" }
ops = [ { op = "read", file = "world", expect = "own" } ]
[[build]]
name = "writer"
[[build.step]]
mount = { target = "/test", sharing = "locked" }
ops = [ { op = "write", file = "world", value = "world" } ]
)";

std::string locked_toml(const char* semantics, const char* lock_kind, int hold_ms) {
  return std::string("description = \"one locked step\"\n[run]\nsemantics = \"") + semantics + "\"\nlock_kind = \"" +
         lock_kind + "\"\n[[build]]\nname = \"holder\"\n[[build.step]]\n"
         "mount = { target = \"/test\", sharing = \"locked\" }\n"
         "ops = [ { op = \"write\", file = \"f\", value = \"v\" }, { op = \"hold\", ms = " +
         std::to_string(hold_ms) + " }, { op = \"read\", file = \"f\", expect = \"own\" } ]\n";
}

// Where the Buildah profile puts the lock file of /test under a cache root.
std::string lock_file(const std::string& root) {
  model::Mount mount;
  mount.target = "/test";
  mount.sharing = model::Sharing::locked;
  return root + "/" + semantics::profile_for(model::Semantics::buildah).layout(mount).lock_file;
}

}  // namespace

TEST_CASE("worker: a build runs its steps and reports every event", "[worker]") {
  Workspace ws;
  const auto s = scenario::load_scenario("remote-tmpdir");
  const std::string tmpdir = ws / "roots/b3";
  auto r = run(plan_for(s, 0, 3, ws, "roots/b3"), tmpdir.c_str());
  REQUIRE(r.exit == exit_done);
  REQUIRE(r.events.size() >= 2);
  CHECK(r.events.front() == Event{Hello{::getpid(), "roots/b3"}});
  CHECK(std::holds_alternative<Done>(r.events.back()));
  CHECK(r.count<Granted>() == 2);
  CHECK(r.count<Released>() == 2);
  CHECK(r.count<StepDone>() == 2);
  CHECK(r.count<Collision>() == 0);
  const auto ops = r.all<Op>();
  REQUIRE(ops.size() == 2);
  CHECK(ops[0].kind == model::OpKind::write);
  CHECK(ops[0].file.rfind("roots/b3/", 0) == 0);
  CHECK(ops[0].bytes > 0);
  CHECK(ops[1].kind == model::OpKind::read);
  CHECK(ops[1].bytes == ops[0].bytes);
  CHECK(stdfs::exists(ws / ops[0].file));
}

TEST_CASE("worker: the cache root comes from TMPDIR and so a lost TMPDIR leaks", "[worker]") {
  Workspace ws;
  const auto s = scenario_of(k_leak);
  const std::string shared = ws / "roots/shared";
  SECTION("drop: both builds get the server's TMPDIR, the reader sees the writer's token") {
    REQUIRE(run(plan_for(s, 1, 1, ws, "roots/b1"), shared.c_str()).exit == exit_done);
    auto reader = run(plan_for(s, 0, 2, ws, "roots/b2"), shared.c_str());
    CHECK(reader.exit == exit_done);  // a collision is a measurement, not a failure
    CHECK(std::get<Hello>(reader.events.front()).root == "roots/shared");
    const auto collisions = reader.all<Collision>();
    REQUIRE(collisions.size() == 1);
    CHECK(collisions[0].kind == CollisionKind::foreign);
    CHECK(collisions[0].polluter_build == 1u);
    CHECK(collisions[0].polluter_kind == "writer");
  }
  SECTION("propagate: each build its own root, nothing to see") {
    const std::string b1 = ws / "roots/b1", b2 = ws / "roots/b2";
    REQUIRE(run(plan_for(s, 1, 1, ws, "roots/b1"), b1.c_str()).exit == exit_done);
    auto reader = run(plan_for(s, 0, 2, ws, "roots/b2"), b2.c_str());
    const auto collisions = reader.all<Collision>();
    REQUIRE(collisions.size() == 1);
    CHECK(collisions[0].kind == CollisionKind::missing);  // expect own: it never wrote
    CHECK_FALSE(collisions[0].polluter_build);
  }
}

TEST_CASE("worker: a TMPDIR outside the workspace is a protocol error", "[worker]") {
  Workspace ws;
  Workspace elsewhere;
  const auto s = scenario::load_scenario("remote-tmpdir");
  REQUIRE(::mkdir((ws / "roots").c_str(), 0700) == 0);
  REQUIRE(::symlink(elsewhere.path().c_str(), (ws / "roots/link").c_str()) == 0);
  const std::vector<std::string> bad = {
      elsewhere.path(),                  // outside
      ws.path(),                         // the workspace itself is not a cache root
      ws.path() + "/../x",               // climbs out
      ws.path() + "/roots/./b1",         // not normalised
      ws.path() + "/roots/link/b1",      // a symlink inside pointing out: the kernel says no
      ws.path() + "x/roots/b1",          // a sibling sharing the prefix
      "roots/b1",                        // relative
      "",                                // empty
  };
  for (const auto& tmpdir : bad) {
    INFO("TMPDIR=" << tmpdir);
    auto r = run(plan_for(s, 0, 1, ws, "roots/b1"), tmpdir.c_str());
    CHECK(r.exit == exit_protocol);
    REQUIRE(r.events.size() == 1);
    CHECK(std::get<Failed>(r.events[0]).reason.rfind("protocol: ", 0) == 0);
  }
  auto unset = run(plan_for(s, 0, 1, ws, "roots/b1"), nullptr);
  CHECK(unset.exit == exit_protocol);
  CHECK(stdfs::is_empty(elsewhere.path()));
}

TEST_CASE("worker: a bad plan is a protocol error and reported as an event", "[worker]") {
  const int fd = ::memfd_create("events", MFD_CLOEXEC);
  REQUIRE(fd >= 0);
  CHECK(run_worker("{\"v\":1}", "/tmp", fd) == exit_protocol);
  auto events = decode_all(fd);
  ::close(fd);
  REQUIRE(events.size() == 1);
  CHECK(std::get<Failed>(events[0]).reason.rfind("protocol: plan: ", 0) == 0);
}

TEST_CASE("worker: failures carry the runner's categories", "[worker]") {
  Workspace ws;
  const std::string root = ws / "roots/b1";
  SECTION("buildah rejects sharing=private") {
    const auto s = scenario_of(
        "description = \"p\"\n[[build]]\nname = \"p\"\n[[build.step]]\n"
        "mount = { target = \"/test\", sharing = \"private\" }\nops = [ { op = \"read\", file = \"f\" } ]\n");
    auto r = run(plan_for(s, 0, 1, ws, "roots/b1"), root.c_str());
    CHECK(r.exit == exit_failed);
    const auto failed = r.all<Failed>();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].reason.rfind("rejected: ", 0) == 0);
    CHECK_FALSE(failed[0].io_error);
  }
  SECTION("an I/O error fails the build and releases its lock") {
    const auto s = scenario_of(locked_toml("buildah", "ofd", 0));
    // The cache directory's place is taken by a file: mounting fails with ENOTDIR.
    model::Mount mount;
    mount.target = "/test";
    const auto layout = semantics::profile_for(model::Semantics::buildah).layout(mount);
    stdfs::create_directories(stdfs::path(root + "/" + layout.cache_dir).parent_path());
    std::ofstream(root + "/" + layout.cache_dir) << "not a directory";
    auto r = run(plan_for(s, 0, 1, ws, "roots/b1"), root.c_str());
    CHECK(r.exit == exit_failed);
    const auto failed = r.all<Failed>();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].reason == "io: mount ENOTDIR");
    CHECK(failed[0].io_error);
    CHECK(r.count<Released>() == 1);
    CHECK_FALSE(stdfs::exists(lock_file(root) + ".holder"));
  }
}

TEST_CASE("worker: locked builds exclude each other and never overlap", "[worker][lock]") {
  Workspace ws;
  const auto s = scenario_of(locked_toml("buildah", "ofd", 300));
  const std::string shared = ws / "roots/shared";
  auto first = std::async(std::launch::async, [&] { return run_raw(plan_for(s, 0, 1, ws, "roots/b1"), shared.c_str()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto second = run(plan_for(s, 0, 2, ws, "roots/b2"), shared.c_str());
  auto one = decoded(first.get());
  CHECK(one.exit == exit_done);
  CHECK(second.exit == exit_done);
  CHECK(one.count<LockOverlap>() == 0);
  CHECK(second.count<LockOverlap>() == 0);
  CHECK(second.count<Collision>() == 0);  // it read its own write: the lock held
  const auto granted = second.all<Granted>();
  REQUIRE(granted.size() == 1);
  CHECK(granted[0].waited);
  CHECK(granted[0].wait_us >= 100'000);
  CHECK_FALSE(stdfs::exists(lock_file(shared) + ".holder"));
}

TEST_CASE("worker: the holder marker is the lock_overlap oracle", "[worker][lock]") {
  Workspace ws;
  const auto s = scenario_of(locked_toml("buildah", "ofd", 0));
  const std::string root = ws / "roots/shared";
  const std::string marker = lock_file(root) + ".holder";
  stdfs::create_directories(stdfs::path(marker).parent_path());
  std::ofstream(marker) << "99 ghost\n";

  SECTION("a marker nobody holds is a dead holder's leftover: taken over, not reported") {
    auto r = run(plan_for(s, 0, 1, ws, "roots/b1"), root.c_str());
    CHECK(r.exit == exit_done);
    CHECK(r.count<LockOverlap>() == 0);
    CHECK_FALSE(stdfs::exists(marker));
  }
  SECTION("a live holder's marker (its flock held) is a lock_overlap naming it") {
    const int fd = ::open(marker.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    auto r = run(plan_for(s, 0, 1, ws, "roots/b1"), root.c_str());
    ::close(fd);
    CHECK(r.exit == exit_done);
    const auto overlaps = r.all<LockOverlap>();
    REQUIRE(overlaps.size() == 1);
    CHECK(overlaps[0].other_build == 99u);
    CHECK(overlaps[0].other_kind == "ghost");
    CHECK(overlaps[0].file.rfind("roots/shared/", 0) == 0);
    CHECK(stdfs::exists(marker));  // not ours: left alone
  }
}

TEST_CASE("worker: a holder killed with SIGKILL releases its lock - the waiter proceeds", "[worker][lock]") {
  for (const char* lock_kind : {"ofd", "fcntl", "flock"}) {
    INFO("lock kind " << lock_kind);
    Workspace ws;
    const auto s = scenario_of(locked_toml("buildah", lock_kind, 60'000));
    const auto quick = scenario_of(locked_toml("buildah", lock_kind, 0));  // the same lock, no hold
    const std::string root = ws / "roots/shared";
    // Wait until the child holds the lock ("granted"), then kill it mid-hold.
    const HeldChild holder = fork_until_granted(encode_plan(plan_for(s, 0, 1, ws, "roots/b1")), root);
    const pid_t child = holder.pid;
    auto waiter = std::async(std::launch::async, [&] { return run_raw(plan_for(quick, 0, 2, ws, "roots/b2"), root.c_str()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const std::uint64_t killed_us = core::now_us();
    REQUIRE(::kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    ::close(holder.events);
    REQUIRE(waiter.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    const RawRun raw_next = waiter.get();
    auto next = decoded(raw_next);
    CHECK(next.exit == exit_done);
    const auto granted = next.all<Granted>();
    REQUIRE(granted.size() == 1);
    CHECK(granted[0].waited);
    // It got the lock only once the holder was killed, on the worker's own clock (its wait_us
    // alone says less: the waiter's thread may start late on a loaded machine).
    CHECK(granted_at_us(raw_next.text) >= killed_us);
    CHECK(next.count<LockOverlap>() == 0);  // the dead holder's marker is unlocked: stale
  }
}

TEST_CASE("worker: buildkit private mounts take distinct instances while held", "[worker][buildkit]") {
  Workspace ws;
  const auto s = scenario_of(
      "description = \"pool\"\n[run]\nsemantics = \"buildkit\"\n[[build]]\nname = \"p\"\n[[build.step]]\n"
      "mount = { target = \"/test\", sharing = \"private\" }\n"
      "ops = [ { op = \"write\", file = \"f\", value = \"v\" }, { op = \"hold\", ms = 400 } ]\n");
  auto second = while_held(s, s, ws);  // the first holds instance 0 (created) meanwhile
  REQUIRE(second.exit == exit_done);
  const auto b = second.all<Granted>();
  REQUIRE(b.size() == 1);
  CHECK(b[0].instance == 1);
  CHECK(b[0].created);
  // Released instances are reused: a third build, after both, gets instance 0 again.
  const std::string root = ws / "roots/shared";
  auto third = run(plan_for(s, 0, 3, ws, "roots/b3"), root.c_str());
  REQUIRE(third.count<Granted>() == 1);
  CHECK(third.all<Granted>()[0].instance == 0);
  CHECK_FALSE(third.all<Granted>()[0].created);
}

// BuildKit's instance table across processes: a shared user that finds the only instance
// held by a locked user forks a fresh one; a locked user waits while a shared user is in.
TEST_CASE("worker: buildkit shared and locked users of one key, in separate processes", "[worker][buildkit]") {
  auto one_step = [](const char* lock_kind, const char* sharing, int hold_ms) {
    return scenario_of(std::string("description = \"mixed\"\n[run]\nsemantics = \"buildkit\"\nlock_kind = \"") +
                       lock_kind + "\"\n[[build]]\nname = \"u\"\n[[build.step]]\n"
                       "mount = { target = \"/test\", id = \"deps\", sharing = \"" + sharing + "\" }\n"
                       "ops = [ { op = \"hold\", ms = " + std::to_string(hold_ms) + " } ]\n");
  };
  for (const char* lock_kind : {"ofd", "fcntl", "flock"}) {
    INFO("lock kind " << lock_kind);
    {
      Workspace ws;
      auto shared = while_held(one_step(lock_kind, "locked", 2'000), one_step(lock_kind, "shared", 0), ws);
      REQUIRE(shared.exit == exit_done);
      REQUIRE(shared.count<Granted>() == 1);
      CHECK(shared.all<Granted>()[0].instance == 1);  // not inside the locked holder's instance 0
      CHECK(shared.all<Granted>()[0].created);
    }
    {
      Workspace ws;
      auto locked = while_held(one_step(lock_kind, "shared", 300), one_step(lock_kind, "locked", 0), ws);
      REQUIRE(locked.exit == exit_done);
      REQUIRE(locked.count<Granted>() == 1);
      CHECK(locked.all<Granted>()[0].instance == 0);
      CHECK(locked.all<Granted>()[0].waited);  // a shared user was in: locked waits for it
    }
  }
}

}  // namespace cachestress::worker
