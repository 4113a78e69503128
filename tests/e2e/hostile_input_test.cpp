// Hostile input (issue 6): cache ids, targets and file names that try to leave the workspace,
// symlinks and hard links a hostile build plants inside a shared cache, workdirs that are
// symlinks or not empty, absurd sizes. None of them may write, remove or follow anything
// outside the workspace: every case watches a canary directory outside it (contents, sizes,
// modes, link counts and mtimes unchanged) and a private TMPDIR (nothing left behind).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/run_binary.hpp"

namespace cachestress::e2e {
namespace {

using namespace std::chrono_literals;

// box/tmp is the run's TMPDIR and working directory, box/canary what must never change,
// box/in holds the scenario files. Escapes written as "../" chains aim at box/canary.
class Box {
 public:
  Box() {
    REQUIRE(::mkdir(tmp().c_str(), 0700) == 0);
    REQUIRE(::mkdir(in().c_str(), 0700) == 0);
    REQUIRE(::mkdir(canary().c_str(), 0755) == 0);
    REQUIRE(::mkdir((canary() + "/sub").c_str(), 0755) == 0);
    write_text(canary() + "/victim", "precious\n");
    write_text(canary() + "/hardfile", "hard-linked precious\n");
    write_text(canary() + "/sub/victim", "also precious\n");
    // An old, exact mtime on everything: a touch of any kind shows.
    for (const char* name : {"victim", "hardfile", "sub/victim", "sub"}) {
      const timespec times[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
      REQUIRE(::utimensat(AT_FDCWD, (canary() + "/" + name).c_str(), times, AT_SYMLINK_NOFOLLOW) == 0);
    }
    m_before = snapshot(canary());
  }

  std::string tmp() const { return m_dir / "tmp"; }
  std::string in() const { return m_dir / "in"; }
  std::string canary() const { return m_dir / "canary"; }
  std::string ws() const { return tmp() + "/ws"; }

  bool canary_unchanged() const {
    const auto now = snapshot(canary());
    if (now != m_before) {
      for (const auto& [name, line] : now) UNSCOPED_INFO("canary now: " << name << " = " << line.substr(0, 120));
      for (const auto& [name, line] : m_before) UNSCOPED_INFO("canary was: " << name << " = " << line.substr(0, 120));
    }
    return now == m_before;
  }

  RunResult run(std::vector<std::string> args) const {
    RunSpec spec;
    spec.args = std::move(args);
    spec.env["TMPDIR"] = tmp();
    spec.cwd = tmp();
    spec.timeout = 60s;
    return run_binary(spec);
  }

 private:
  TempDir m_dir;
  std::map<std::string, std::string> m_before;
};

std::size_t line_count(const std::string& text) {
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  return lines;
}

std::string repeat(const std::string& unit, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += unit;
  return out;
}

// A scenario whose line 5 is `mount = { <mount> }` and line 6 `ops = [ <op> ]`.
std::string scenario_text(const std::string& mount, const std::string& op) {
  return "description = \"hostile input\"\n"
         "[[build]]\n"
         "name = \"evil\"\n"
         "[[build.step]]\n"
         "mount = { " + mount + " }\n"
         "ops = [ " + op + " ]\n";
}

struct FileCase {
  const char* what;
  std::string mount;        // inside mount = { ... } on line 5
  std::string op;           // inside ops = [ ... ] on line 6
  std::string field;        // the field path the error must name
  std::string needle;       // the hostile value as written, to find its column
  int line;                 // 5 (mount) or 6 (op)
};

}  // namespace

TEST_CASE("hostile ids, targets and file names are refused at load time with file:line:column and field",
          "[e2e][safety][hostile]") {
  Box box;
  // Five levels up from <box>/tmp/ws/roots/shared/buildah-cache is <box>: ids (and targets, under
  // Buildah 1.28) are joined there, file names one level deeper.
  const std::string up5 = "../../../../../canary";
  const std::string abs = box.canary();
  const std::string long_name = repeat("x", 5000);
  const std::string long_unicode_component = "ok/" + repeat("\xc3\xa9", 150);  // 300 bytes: over NAME_MAX
  const std::string write_ok = "{ op = \"write\", file = \"f\" }";
  const std::string cache = "target = \"/cache\"";
  auto id = [&](const std::string& v) { return cache + ", id = \"" + v + "\", sharing = \"locked\""; };
  auto target = [](const std::string& v) { return "target = \"" + v + "\""; };
  auto op = [](const char* kind, const std::string& file) {
    return std::string("{ op = \"") + kind + "\", file = \"" + file + "\" }";
  };
  const std::string id_field = "build[0].step[0].mount.id";
  const std::string target_field = "build[0].step[0].mount.target";
  const std::string file_field = "build[0].step[0].ops[0].file";

  const std::vector<FileCase> cases{
      {"id with ..", id(up5), write_ok, id_field, up5, 5},
      {"id ../.. (CVE-2024-9675)", id("../.."), write_ok, id_field, "../..", 5},
      {"absolute id", id(abs), write_ok, id_field, abs, 5},
      {"id with a NUL byte", id("canary\\u0000x"), write_ok, id_field, "canary\\u0000x", 5},
      {"5000-byte id", id(long_name), write_ok, id_field, long_name, 5},
      {"id with a 300-byte unicode component", id(long_unicode_component), write_ok, id_field, long_unicode_component, 5},
      {"target with ..", target("/cache/../" + up5), write_ok, target_field, "/cache/../" + up5, 5},
      {"relative target", target("canary"), write_ok, target_field, "canary", 5},
      {"target /", target("/"), write_ok, target_field, "/", 5},
      {"target with a NUL byte", target("/cache\\u0000/x"), write_ok, target_field, "/cache\\u0000/x", 5},
      {"5000-byte target", target("/" + long_name), write_ok, target_field, "/" + long_name, 5},
      {"delete ../ chain", cache, op("delete", "../" + up5 + "/victim"), file_field, "../" + up5 + "/victim", 6},
      {"delete ..", cache, op("delete", ".."), file_field, "..", 6},
      {"list ..", cache, op("list", "sub/../.."), file_field, "sub/../..", 6},
      {"write to an absolute path", cache, op("write", abs + "/victim"), file_field, abs + "/victim", 6},
      {"append to a NUL name", cache, op("append", "victim\\u0000.log"), file_field, "victim\\u0000.log", 6},
      {"5000-byte file name", cache, op("write", long_name), file_field, long_name, 6},
      {"read a 400-byte unicode component", cache, op("read", "sub/" + repeat("\xc3\xbc", 200)), file_field,
       "sub/" + repeat("\xc3\xbc", 200), 6},
  };
  int n = 0;
  for (const auto& c : cases) {
    INFO("case: " << c.what);
    const std::string file = box.in() + "/case" + std::to_string(n++) + ".toml";
    const std::string text = scenario_text(c.mount, c.op);
    write_text(file, text);
    // Column (1-based) of the opening quote of the hostile value on its line.
    std::size_t line_start = 0;
    for (int l = 1; l < c.line; ++l) line_start = text.find('\n', line_start) + 1;
    const std::size_t column = text.find("\"" + c.needle + "\"", line_start) - line_start + 1;
    const auto started = std::chrono::steady_clock::now();
    auto result = box.run({"--scenario", file, "--workdir", box.ws()});
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(result.exit_code == 2);
    CHECK(line_count(result.err) == 1);
    CHECK_THAT(result.err, Catch::Contains(file + ":" + std::to_string(c.line) + ":" + std::to_string(column) + ": " +
                                           c.field + ": "));
    CHECK(result.out.empty());
    CHECK(box.canary_unchanged());
    CHECK(list_dir(box.tmp()).empty());  // not even the --workdir was created
  }
}

TEST_CASE("unicode and look-alike names are fine and stay inside the workspace", "[e2e][safety][hostile]") {
  Box box;
  // Cyrillic, CJK, an emoji; U+2215 DIVISION SLASH and U+FF0E FULLWIDTH FULL STOP look like
  // "/" and "." but are ordinary bytes to the kernel; a 255-byte component is the most allowed.
  const std::string id = "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87/\xe9\x8d\xb5/\xf0\x9f\x97\x9d";
  const std::string lookalike = "..\xe2\x88\x95..\xe2\x88\x95\xef\xbc\x8e\xef\xbc\x8e";
  const std::string max_component = repeat("\xc3\xa9", 127) + "x";
  REQUIRE(max_component.size() == 255);
  const std::string file = box.in() + "/unicode.toml";
  write_text(file, "description = \"unicode names\"\n"
                   "[run]\nbuilds = 3\nconcurrency = 3\nsemantics = \"buildah-1.28\"\nisolation = \"shared\"\n"
                   "[[build]]\nname = \"u\"\n[[build.step]]\n"
                   "mount = { target = \"/caf\xc3\xa9\", id = \"" + id + "\", sharing = \"locked\" }\n"
                   "ops = [\n"
                   "  { op = \"write\", file = \"" + lookalike + "\", value = \"\xe2\x9c\x93\" },\n"
                   "  { op = \"append\", file = \"d\xc3\xa9j\xc3\xa0/" + max_component + "\" },\n"
                   "  { op = \"read\", file = \"" + lookalike + "\", expect = \"own\" },\n"
                   "  { op = \"list\", file = \"d\xc3\xa9j\xc3\xa0\" },\n"
                   "]\n"
                   "[expect]\n\"builds.failed\" = 0\n\"collisions.lock_overlap\" = 0\n");
  auto result = box.run({"--scenario", file, "--workdir", box.ws(), "--keep", "--format", "json", "-q"});
  REQUIRE(result.exit_code == 0);
  CHECK(parse_json(result.out)["cells"][0]["summary"]["builds"]["completed"] == 3);
  // Buildah 1.28 lays the cache out by id: the names landed, verbatim, below the workspace.
  const std::string cache = box.ws() + "/roots/shared/buildah-cache/" + id;
  struct stat st {};
  CHECK(::lstat((cache + "/" + lookalike).c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(::lstat((cache + "/d\xc3\xa9j\xc3\xa0/" + max_component).c_str(), &st) == 0);
  CHECK(box.canary_unchanged());
  CHECK(list_dir(box.tmp()) == std::vector<std::string>{"ws"});
}

namespace {

// Runs `scenario` with --workdir box.ws(); as soon as `trigger` (relative to the workspace)
// exists, calls plant() from a second thread while the run holds its first step. plant()
// returns "" or what went wrong (Catch2 assertions are not thread-safe).
struct PlantedRun {
  RunResult result;
  bool planted = false;
  std::string plant_error;
};

using Planter = std::function<std::string()>;

PlantedRun run_and_plant(const Box& box, const std::string& scenario, const std::string& trigger, const Planter& plant) {
  const std::string file = box.in() + "/plant.toml";
  write_text(file, scenario);
  std::atomic<bool> done{false};
  PlantedRun run;
  std::thread planter([&] {
    const std::string path = box.ws() + "/" + trigger;
    struct stat st {};
    while (!done.load()) {
      if (::lstat(path.c_str(), &st) == 0) {
        run.plant_error = plant();
        run.planted = true;
        return;
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  RunResult result = box.run({"--scenario", file, "--workdir", box.ws(), "--format", "json", "-q"});
  done = true;
  planter.join();  // run.planted and run.plant_error are written before this returns
  run.result = std::move(result);
  INFO("plant error: " << run.plant_error << "\nstderr: " << run.result.err);
  CHECK(run.plant_error.empty());
  return run;
}

// Buildah 1.28 keeps the cache at buildah-cache/<id> (an exact, predictable path) and the
// lock file inside it. Step 0 mounts `plant`, writes `ready` and holds for 600 ms: that is
// when the "hostile build" (the test) plants its links. Step 1 then uses them.
std::string plant_scenario(const std::string& semantics, const std::string& step1_mount, const std::string& step1_ops) {
  return "description = \"a hostile build plants links in a shared cache\"\n"
         "[run]\nbuilds = 1\nconcurrency = 1\nsemantics = \"" + semantics + "\"\nisolation = \"shared\"\n"
         "[[build]]\nname = \"victim\"\n"
         "[[build.step]]\n"
         "mount = { target = \"/cache\", id = \"plant\" }\n"
         "ops = [ { op = \"write\", file = \"ready\" }, { op = \"hold\", ms = 600 } ]\n"
         "[[build.step]]\n"
         "mount = " + step1_mount + "\n"
         "ops = [\n" + step1_ops + "]\n"
         "[expect]\n\"builds.failed\" = 1\n";
}

const char* k_plant_dir = "roots/shared/buildah-cache/plant";

// "" or what went wrong (called on the planting thread).
std::string plant_symlink(const std::string& target, const std::string& link) {
  if (::symlink(target.c_str(), link.c_str()) == 0) return {};
  return "symlink " + link + " -> " + target + ": " + std::strerror(errno) + "; ";
}

std::string failure_reasons(const nlohmann::json& doc) {
  std::string reasons;
  for (const auto& f : doc["cells"][0]["failures"]) reasons += f["reason"].get<std::string>() + "; ";
  return reasons;
}

}  // namespace

TEST_CASE("symlinks a hostile build plants in a shared cache are never followed", "[e2e][safety][hostile]") {
  Box box;
  const std::string cache_dir = box.ws() + "/" + k_plant_dir;

  SECTION("file and directory symlinks: write, append, read, delete, list, mkdir through them") {
    auto run = run_and_plant(
        box,
        plant_scenario("buildah-1.28", "{ target = \"/cache\", id = \"plant\" }",
                       "  { op = \"write\", file = \"file-link\", value = \"pwned\" },\n"
                       "  { op = \"append\", file = \"file-link\", value = \"pwned\" },\n"
                       "  { op = \"read\", file = \"file-link\" },\n"
                       "  { op = \"write\", file = \"dir-link/new-file\" },\n"
                       "  { op = \"append\", file = \"dir-link/victim\" },\n"
                       "  { op = \"write\", file = \"dir-link/deeper/new-file\" },\n"
                       "  { op = \"read\", file = \"dir-link/victim\" },\n"
                       "  { op = \"list\", file = \"dir-link\" },\n"
                       "  { op = \"delete\", file = \"dir-link/victim\" },\n"
                       "  { op = \"write\", file = \"abs-link/victim\" },\n"
                       "  { op = \"delete\", file = \"file-link\" },\n"),
        std::string(k_plant_dir) + "/ready", [&] {
          // dir-link is relative, six levels up from the cache directory: <box>/canary/sub.
          return plant_symlink(box.canary() + "/victim", cache_dir + "/file-link") +
                 plant_symlink("../../../../../../canary/sub", cache_dir + "/dir-link") +
                 plant_symlink(box.canary(), cache_dir + "/abs-link");
        });
    REQUIRE(run.planted);
    REQUIRE(run.result.exit_code == 0);  // the one build failed, as the scenario expects
    const auto doc = parse_json(run.result.out);
    // The first operation through a planted link failed with ELOOP: the links were there in time.
    CHECK_THAT(failure_reasons(doc), Catch::Contains("write ELOOP"));
  }

  SECTION("the cache directory itself replaced by a symlink") {
    auto run = run_and_plant(box,
                             plant_scenario("buildah-1.28", "{ target = \"/cache\", id = \"other\" }",
                                            "  { op = \"write\", file = \"victim\" },\n"
                                            "  { op = \"delete\", file = \"sub/victim\" },\n"),
                             std::string(k_plant_dir) + "/ready",
                             [&] { return plant_symlink(box.canary(), box.ws() + "/roots/shared/buildah-cache/other"); });
    REQUIRE(run.planted);
    REQUIRE(run.result.exit_code == 0);
    CHECK_THAT(failure_reasons(parse_json(run.result.out)), Catch::Contains("mount ELOOP"));
  }

  SECTION("Buildah 1.28's lock file (inside the cache) replaced by a symlink") {
    auto run = run_and_plant(box,
                             plant_scenario("buildah-1.28", "{ target = \"/cache\", id = \"plant\", sharing = \"locked\" }",
                                            "  { op = \"write\", file = \"f\" },\n"),
                             std::string(k_plant_dir) + "/ready", [&] {
                               // Dangling: followed with O_CREAT it would create canary/lockfile.
                               return plant_symlink(box.canary() + "/lockfile", cache_dir + "/buildah-cache-lockfile");
                             });
    REQUIRE(run.planted);
    REQUIRE(run.result.exit_code == 0);
    CHECK_THAT(failure_reasons(parse_json(run.result.out)), Catch::Contains("lock ELOOP"));
  }

  SECTION("Buildah's lock directory (beside the caches) replaced by a symlink") {
    const std::string parent = "roots/shared/buildah-cache-" + std::to_string(::geteuid());
    auto run = run_and_plant(box,
                             plant_scenario("buildah", "{ target = \"/cache\", id = \"plant\", sharing = \"locked\" }",
                                            "  { op = \"write\", file = \"f\" },\n"),
                             parent, [&] {
                               return plant_symlink(box.canary() + "/sub", box.ws() + "/" + parent + "/buildah-cache-lockfiles");
                             });
    REQUIRE(run.planted);
    REQUIRE(run.result.exit_code == 0);
    CHECK_THAT(failure_reasons(parse_json(run.result.out)), Catch::Contains("lock ELOOP"));
  }

  CHECK(box.canary_unchanged());
  CHECK(list_dir(box.tmp()).empty());  // the workspace, planted links included, is gone
}

// Known gap (issue 6): fs::Root::open_file opens with O_TRUNC before it can look at the file,
// so a hard link planted in a cache (same filesystem) lets a write truncate and rewrite the
// linked file outside the workspace. Fix proposed to the lead: refuse st_nlink > 1 for
// write opens, truncating only after the check.
TEST_CASE("a hard link a hostile build plants in a shared cache does not let writes reach the canary",
          "[e2e][safety][hostile]") {
  Box box;
  const std::string cache_dir = box.ws() + "/" + k_plant_dir;
  auto run = run_and_plant(box,
                           plant_scenario("buildah-1.28", "{ target = \"/cache\", id = \"plant\" }",
                                          "  { op = \"write\", file = \"hard\", value = \"pwned\" },\n"
                                          "  { op = \"append\", file = \"hard\", value = \"pwned\" },\n"
                                          "  { op = \"read\", file = \"hard\" },\n"),
                           std::string(k_plant_dir) + "/ready", [&]() -> std::string {
                             if (::link((box.canary() + "/hardfile").c_str(), (cache_dir + "/hard").c_str()) == 0) return {};
                             return std::string("link: ") + std::strerror(errno);
                           });
  REQUIRE(run.planted);
  CHECK(run.result.exit_code == 0);
  CHECK(read_text(box.canary() + "/hardfile") == "hard-linked precious\n");
  CHECK(box.canary_unchanged());
  CHECK(list_dir(box.tmp()).empty());
}

TEST_CASE("a workdir that is a symlink, not empty, or not a directory is refused with exit 3, nothing touched",
          "[e2e][safety][hostile]") {
  Box box;
  const std::string link = box.tmp() + "/link";
  struct Case {
    const char* what;
    std::function<std::string()> prepare;
    std::string workdir;
    const char* message;
  };
  const std::vector<Case> cases{
      {"symlink to the canary", [&] { return plant_symlink(box.canary(), link); }, link, "symlink"},
      {"symlink to the canary, trailing slash", [&] { return plant_symlink(box.canary(), link); }, link + "/", "symlink"},
      {"symlink to a directory inside the canary", [&] { return plant_symlink(box.canary() + "/sub", link); }, link,
       "symlink"},
      {"dangling symlink into the canary", [&] { return plant_symlink(box.canary() + "/new-dir", link); }, link, "symlink"},
      {"the canary itself (not empty)", [] { return std::string(); }, box.canary(), "not empty"},
      {"a regular file", [&] { write_text(link, ""); return std::string(); }, link, "not a directory"},
  };
  for (const auto& c : cases) {
    INFO("case: " << c.what);
    REQUIRE(c.prepare().empty());
    auto result = box.run({"--scenario", "locked", "--builds", "2", "--workdir", c.workdir});
    CHECK(result.exit_code == 3);
    CHECK(line_count(result.err) == 1);
    CHECK_THAT(result.err, Catch::Contains(c.message));
    CHECK(result.out.empty());
    CHECK(box.canary_unchanged());
    ::unlink(link.c_str());
    CHECK(list_dir(box.tmp()).empty());
  }
}

TEST_CASE("10^9 builds or concurrency 10^7 is a clear limit, exit 2, not an allocation failure",
          "[e2e][safety][hostile]") {
  Box box;
  const std::string file = box.in() + "/huge.toml";
  auto check = [&](const std::vector<std::string>& args, const std::string& message) {
    const auto started = std::chrono::steady_clock::now();
    auto result = box.run(args);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    CHECK(result.exit_code == 2);
    CHECK(line_count(result.err) == 1);
    CHECK_THAT(result.err, Catch::Contains(message));
    CHECK_THAT(result.err, !Catch::Contains("memory") && !Catch::Contains("bad_alloc"));
    CHECK(result.out.empty());
    CHECK(list_dir(box.tmp()).empty());
  };
  SECTION("in the scenario file") {
    const std::string tail = "[[build]]\nname = \"b\"\n[[build.step]]\nops = [ { op = \"hold\", ms = 1 } ]\n";
    write_text(file, "description = \"huge\"\n[run]\nbuilds = 1000000000\n" + tail);
    check({"--scenario", file}, file + ":3:10: run.builds: expected an integer in 0..100000000");
    write_text(file, "description = \"huge\"\n[run]\nconcurrency = 10000000\n" + tail);
    check({"--scenario", file}, file + ":3:15: run.concurrency: expected an integer in 1..100000");
    write_text(file, "description = \"huge\"\n[run]\nisolation = \"per-group:10000000\"\n" + tail);
    check({"--scenario", file}, file + ":3:13: run.isolation: expected one of");
  }
  SECTION("as flags") {
    check({"--scenario", "locked", "--builds", "1000000000"}, "--builds: must be at most 100000000");
    check({"--scenario", "locked", "--concurrency", "10000000"}, "--concurrency: must be between 1 and 100000");
    check({"--scenario", "locked", "--builds", "100000000000000000000"}, "--builds");
    check({"--scenario", "locked", "--concurrency", "4294967296"}, "--concurrency");
    check({"--scenario", "locked", "--isolation", "per-group:10000000"}, "--isolation");
    check({"--scenario", "locked", "--lock-threads", "10000000"}, "--lock-threads");
    check({"--scenario", "locked", "--io-threads", "0"}, "--io-threads: must be a whole number in 1..1024");
    check({"--scenario", "locked", "--io-threads", "2000"}, "--io-threads: must be a whole number in 1..1024");
  }
  CHECK(box.canary_unchanged());
}

}  // namespace cachestress::e2e
