#include "engine/semantics/profile.hpp"

#include <openssl/sha.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "engine/fs/safe_fs.hpp"

namespace cachestress::semantics {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using model::Sharing;

model::Mount mount(std::string target, std::string id = {}, Sharing sharing = Sharing::shared, std::uint32_t uid = 0,
                   std::uint32_t gid = 0) {
  model::Mount m;
  m.target = std::move(target);
  m.id = std::move(id);
  m.uid = uid;
  m.gid = gid;
  m.sharing = sharing;
  return m;
}

// domain.md: sha256(id-or-target + ":" + uid + ":" + gid), first 16 hex characters.
std::string expected_buildah_key(const std::string& material) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest.data());
  std::string hex;
  for (unsigned char byte : digest) {
    std::array<char, 3> two{};
    std::snprintf(two.data(), two.size(), "%02x", byte);
    hex += two.data();
  }
  return hex.substr(0, 16);
}

bool is_lower_hex(const std::string& text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A layout path must stay beneath the cache root: relative, no "..", ".", or empty component.
void require_beneath_root(const MountLayout& layout) {
  CAPTURE(layout.key, layout.cache_dir, layout.lock_file);
  CHECK(fs::is_safe_relative(layout.cache_dir));
  if (!layout.lock_file.empty()) CHECK(fs::is_safe_relative(layout.lock_file));
}

const Profile& buildah() { return profile_for(model::Semantics::buildah); }
const Profile& buildah_1_28() { return profile_for(model::Semantics::buildah_1_28); }
const Profile& buildkit() { return profile_for(model::Semantics::buildkit); }

// ---- registry ------------------------------------------------------------------------------

TEST_CASE("profile_for returns the profile of each semantics", "[unit][semantics][profile]") {
  for (auto s : {model::Semantics::buildah, model::Semantics::buildah_1_28, model::Semantics::buildkit}) {
    CAPTURE(model::to_string(s));
    CHECK(profile_for(s).id() == s);
  }
  CHECK(buildah().lock_style() == LockStyle::kernel_gate);
  CHECK(buildah_1_28().lock_style() == LockStyle::kernel_gate);
  CHECK(buildkit().lock_style() == LockStyle::poll_100ms);
  CHECK(buildah().private_style() == PrivateStyle::rejected);
  CHECK(buildah_1_28().private_style() == PrivateStyle::rejected);
  CHECK(buildkit().private_style() == PrivateStyle::instance_pool);
}

// ---- Buildah (current upstream) ------------------------------------------------------------

TEST_CASE("buildah: the key is sha256(id:uid:gid) or sha256(target:uid:gid), 16 hex chars",
          "[unit][semantics][profile][buildah]") {
  CHECK(buildah_cache_key(mount("/test", "go-mod")) == expected_buildah_key("go-mod:0:0"));
  CHECK(buildah_cache_key(mount("/test")) == expected_buildah_key("/test:0:0"));
  CHECK(buildah_cache_key(mount("/test", "", Sharing::shared, 1000, 100)) == expected_buildah_key("/test:1000:100"));
  CHECK(buildah_cache_key(mount("/x", "cargo", Sharing::locked, 5, 6)) == expected_buildah_key("cargo:5:6"));
  auto key = buildah_cache_key(mount("/test"));
  CHECK(key.size() == 16);
  CHECK(is_lower_hex(key));
}

TEST_CASE("buildah: cache under buildah-cache-<uid>/<key>, lock file under buildah-cache-lockfiles/",
          "[unit][semantics][profile][buildah]") {
  const std::string parent = "buildah-cache-" + std::to_string(::geteuid());
  auto m = mount("/var/cache/build", "", Sharing::locked);
  auto layout = buildah().layout(m);
  const auto key = buildah_cache_key(m);
  CHECK(layout.key == key);
  CHECK(layout.cache_dir == parent + "/" + key);
  CHECK(layout.lock_file == parent + "/buildah-cache-lockfiles/" + key + "/buildah-cache-lockfile");
  // The lock file is kept apart from the user's cache content (buildah#4349).
  CHECK_THAT(layout.lock_file, !StartsWith(layout.cache_dir + "/"));
  require_beneath_root(layout);
}

TEST_CASE("buildah: same id means same directory, different id a different one",
          "[unit][semantics][profile][buildah]") {
  const auto& p = buildah();
  // The target does not matter once an id is given; the mode is not part of the key.
  auto a = p.layout(mount("/a", "shared-id", Sharing::shared));
  auto b = p.layout(mount("/b", "shared-id", Sharing::locked));
  CHECK(a.cache_dir == b.cache_dir);
  CHECK(a.lock_file == b.lock_file);

  auto c = p.layout(mount("/a", "other-id"));
  CHECK(c.cache_dir != a.cache_dir);
  CHECK(c.lock_file != a.lock_file);

  // Without an id the target is the key.
  CHECK(p.layout(mount("/test")).cache_dir == p.layout(mount("/test", "", Sharing::locked)).cache_dir);
  CHECK(p.layout(mount("/test")).cache_dir != p.layout(mount("/other")).cache_dir);
  // uid/gid are part of the key.
  CHECK(p.layout(mount("/test", "", Sharing::shared, 1)).cache_dir != p.layout(mount("/test")).cache_dir);
  CHECK(p.layout(mount("/test", "", Sharing::shared, 0, 1)).cache_dir != p.layout(mount("/test")).cache_dir);
}

TEST_CASE("buildah: a hostile id never escapes the cache parent (CVE-2024-9675)",
          "[unit][semantics][profile][buildah]") {
  const std::string parent = "buildah-cache-" + std::to_string(::geteuid()) + "/";
  for (const char* id : {"../..", "..", "../../../etc", "/etc/passwd", "a/../../b", "./.", "a//b", "x/"}) {
    CAPTURE(id);
    auto layout = buildah().layout(mount("/test", id));
    require_beneath_root(layout);
    CHECK_THAT(layout.cache_dir, StartsWith(parent));
    CHECK(layout.cache_dir.size() == parent.size() + 16);  // exactly one hashed component
    CHECK(layout.cache_dir.find("..") == std::string::npos);
  }
}

TEST_CASE("buildah: sharing=private is rejected, shared and locked are accepted",
          "[unit][semantics][profile][buildah]") {
  CHECK(buildah().rejection(mount("/test", "", Sharing::shared)).empty());
  CHECK(buildah().rejection(mount("/test", "", Sharing::locked)).empty());
  auto why = buildah().rejection(mount("/test", "", Sharing::private_));
  CHECK_FALSE(why.empty());
  CHECK_THAT(why, Contains("private"));
  CHECK_THAT(why, Contains("sharing"));
}

// Buildah's own error for sharing=private, as quoted in podman#27188 (the issue domain.md
// cites): `unrecognized value "private" for field `sharing``.
TEST_CASE("buildah: the sharing=private rejection is Buildah's error text",
          "[unit][semantics][profile][buildah]") {
  auto why = buildah().rejection(mount("/test", "", Sharing::private_));
  CHECK_THAT(why, Contains("unrecognized value \"private\" for field `sharing`"));
}

// ---- Buildah 1.28 (Debian 12) --------------------------------------------------------------

TEST_CASE("buildah-1.28: caches at buildah-cache/<id>, lock file inside the cache dir",
          "[unit][semantics][profile][buildah-1.28]") {
  auto layout = buildah_1_28().layout(mount("/test", "job-7", Sharing::locked));
  CHECK(layout.key == "job-7");
  CHECK(layout.cache_dir == "buildah-cache/job-7");
  CHECK(layout.lock_file == "buildah-cache/job-7/buildah-cache-lockfile");
  require_beneath_root(layout);
}

TEST_CASE("buildah-1.28: without an id, the target without its leading slash",
          "[unit][semantics][profile][buildah-1.28]") {
  auto a = buildah_1_28().layout(mount("/test"));
  CHECK(a.cache_dir == "buildah-cache/test");
  CHECK(a.lock_file == a.cache_dir + "/buildah-cache-lockfile");
  auto b = buildah_1_28().layout(mount("/var/cache/build"));
  CHECK(b.cache_dir == "buildah-cache/var/cache/build");
  require_beneath_root(a);
  require_beneath_root(b);

  // Same id means the same directory whatever the target and mode; not hashed.
  CHECK(buildah_1_28().layout(mount("/a", "k", Sharing::shared)).cache_dir ==
        buildah_1_28().layout(mount("/b", "k", Sharing::locked)).cache_dir);
  CHECK(buildah_1_28().layout(mount("/a", "k")).cache_dir != buildah_1_28().layout(mount("/a", "j")).cache_dir);
  // An id equal to a target's spelling meets that target's cache.
  CHECK(buildah_1_28().layout(mount("/other", "test")).cache_dir == a.cache_dir);
}

// Targets the scenario loader accepts (absolute, not "/", no ".." component) must still
// map to a directory beneath the root; Buildah 1.28 joins a cleaned path
// (filepath.Join(parent, filepath.Clean(target))), so "/test/" is the cache of "/test".
TEST_CASE("buildah-1.28: unusual but valid targets map to clean paths",
          "[unit][semantics][profile][buildah-1.28]") {
  const auto plain = buildah_1_28().layout(mount("/test")).cache_dir;
  for (const char* target : {"/test/", "//test", "/./test"}) {
    CAPTURE(target);
    MountLayout layout;
    CHECK_NOTHROW(layout = buildah_1_28().layout(mount(target)));
    CHECK(layout.cache_dir == plain);
    require_beneath_root(layout);
  }
  CHECK_NOTHROW(buildah_1_28().layout(mount("//")));
}

TEST_CASE("buildah-1.28: a hostile id never escapes the cache parent",
          "[unit][semantics][profile][buildah-1.28]") {
  for (const char* id : {"../..", "..", "a/../../b"}) {
    CAPTURE(id);
    require_beneath_root(buildah_1_28().layout(mount("/test", id)));
  }
}

TEST_CASE("buildah-1.28: sharing=private is rejected (exit 125)", "[unit][semantics][profile][buildah-1.28]") {
  CHECK(buildah_1_28().rejection(mount("/test", "", Sharing::shared)).empty());
  CHECK(buildah_1_28().rejection(mount("/test", "", Sharing::locked)).empty());
  auto why = buildah_1_28().rejection(mount("/test", "", Sharing::private_));
  CHECK_THAT(why, Contains("private"));
  CHECK_THAT(why, Contains("125"));
}

// ---- BuildKit ------------------------------------------------------------------------------

TEST_CASE("buildkit: keyed by id, else by target, mode not in the key", "[unit][semantics][profile][buildkit]") {
  const auto& p = buildkit();
  auto by_id = p.layout(mount("/a", "go-mod", Sharing::shared));
  CHECK(by_id.key == "go-mod");
  CHECK(p.layout(mount("/b", "go-mod", Sharing::locked)).cache_dir == by_id.cache_dir);
  CHECK(p.layout(mount("/b", "go-mod", Sharing::private_)).cache_dir == by_id.cache_dir);
  CHECK(p.layout(mount("/a", "other")).cache_dir != by_id.cache_dir);

  auto by_target = p.layout(mount("/root/.cache"));
  CHECK_THAT(by_target.key, Contains("/root/.cache"));
  CHECK(p.layout(mount("/root/.cache", "", Sharing::locked)).cache_dir == by_target.cache_dir);
  CHECK(p.layout(mount("/root/.cachex")).cache_dir != by_target.cache_dir);
  // uid/gid set: part of the key.
  CHECK(p.layout(mount("/root/.cache", "", Sharing::shared, 1000, 1000)).cache_dir != by_target.cache_dir);

  // No kernel lock: buildkitd coordinates in memory.
  CHECK(by_id.lock_file.empty());
  CHECK(by_target.lock_file.empty());
  require_beneath_root(by_id);
  require_beneath_root(by_target);
}

TEST_CASE("buildkit: every key is one safe component beneath the root", "[unit][semantics][profile][buildkit]") {
  for (const char* id : {"../..", "..", ".", "a/b", "/etc", ".hidden", "a b%c", "x/../../y"}) {
    CAPTURE(id);
    auto layout = buildkit().layout(mount("/t", id));
    require_beneath_root(layout);
    CHECK(layout.cache_dir.find('/') == layout.cache_dir.rfind('/'));  // <dir>/<one component>
  }
  // Distinct keys stay distinct after escaping.
  CHECK(buildkit().layout(mount("/t", "a/b")).cache_dir != buildkit().layout(mount("/t", "a%2Fb")).cache_dir);
  CHECK(buildkit().layout(mount("/t", "a/b")).cache_dir != buildkit().layout(mount("/t", "a_b")).cache_dir);
}

// domain.md: "Key: ... (id, default: cleaned target)".
TEST_CASE("buildkit: the target is cleaned before keying", "[unit][semantics][profile][buildkit]") {
  const auto plain = buildkit().layout(mount("/test"));
  for (const char* target : {"/test/", "//test", "/./test"}) {
    CAPTURE(target);
    auto layout = buildkit().layout(mount(target));
    CHECK(layout.key == plain.key);
    CHECK(layout.cache_dir == plain.cache_dir);
  }
}

TEST_CASE("buildkit: sharing=private is accepted", "[unit][semantics][profile][buildkit]") {
  for (auto s : {Sharing::shared, Sharing::private_, Sharing::locked}) {
    CAPTURE(model::to_string(s));
    CHECK(buildkit().rejection(mount("/test", "", s)).empty());
  }
}

}  // namespace
}  // namespace cachestress::semantics
