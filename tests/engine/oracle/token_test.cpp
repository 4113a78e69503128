#include "engine/oracle/token.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

namespace cachestress::oracle {
namespace {

using model::ReadExpect;

Token token(std::uint64_t build, std::string kind, std::string value, std::uint32_t step = 0, std::uint32_t seq = 0) {
  Token t;
  t.build = build;
  t.kind = std::move(kind);
  t.step = step;
  t.seq = seq;
  t.value = std::move(value);
  return t;
}

std::string record(const Token& t, std::uint32_t payload) {
  std::string out;
  encode_record(t, payload, out);
  return out;
}

// ---- intact records ------------------------------------------------------------------------

TEST_CASE("a build reading its own record is ok", "[unit][oracle][token]") {
  const std::uint32_t payload = GENERATE(0u, 1u, 17u, 4096u);
  CAPTURE(payload);
  auto t = token(12, "cache-like-buildkit", "hello", 1, 3);
  auto content = record(t, payload);
  CHECK(content.size() >= payload);

  for (auto expect : {ReadExpect::own, ReadExpect::any}) {
    auto seen = inspect(true, content, expect, 12);
    CHECK(seen.verdict == Verdict::ok);
    CHECK(seen.records == 1);
    CHECK_FALSE(seen.writer);
  }
}

TEST_CASE("another build's record is foreign and names the writer", "[unit][oracle][token]") {
  auto content = record(token(7, "locked-across-steps", "world", 0, 2), 64);
  auto seen = inspect(true, content, ReadExpect::own, 3);
  CHECK(seen.verdict == Verdict::foreign);
  REQUIRE(seen.writer);
  CHECK(seen.writer->build == 7);
  CHECK(seen.writer->kind == "locked-across-steps");
  CHECK(seen.writer->value == "world");
  CHECK(seen.writer->seq == 2);
  CHECK(seen.records == 1);

  // expect = any accepts any intact record, whoever wrote it.
  CHECK(inspect(true, content, ReadExpect::any, 3).verdict == Verdict::ok);
}

TEST_CASE("a file that should be absent but exists is foreign", "[unit][oracle][token]") {
  auto content = record(token(5, "pruner", "x"), 8);
  auto seen = inspect(true, content, ReadExpect::absent, 9);
  CHECK(seen.verdict == Verdict::foreign);
  REQUIRE(seen.writer);
  CHECK(seen.writer->build == 5);
  CHECK(seen.writer->kind == "pruner");
}

TEST_CASE("an absent file is missing unless absence was expected", "[unit][oracle][token]") {
  CHECK(inspect(false, "", ReadExpect::own, 1).verdict == Verdict::missing);
  CHECK(inspect(false, "", ReadExpect::any, 1).verdict == Verdict::missing);
  CHECK(inspect(false, "", ReadExpect::absent, 1).verdict == Verdict::ok);
  CHECK_FALSE(inspect(false, "", ReadExpect::own, 1).writer);
}

TEST_CASE("an empty file that exists is torn, not ok", "[unit][oracle][token]") {
  // token.hpp: "Torn: empty file, ..." (a writer truncated it and has not written yet).
  for (auto expect : {ReadExpect::own, ReadExpect::any}) {
    auto seen = inspect(true, "", expect, 1);
    CHECK(seen.verdict == Verdict::torn);
    CHECK_FALSE(seen.detail.empty());
  }
  // Expected absent, yet someone created it: not ok either.
  CHECK(inspect(true, "", ReadExpect::absent, 1).verdict != Verdict::ok);
}

TEST_CASE("appended intact records are all valid, own judges the last one", "[unit][oracle][token]") {
  std::string content;
  encode_record(token(1, "a", "x", 0, 0), 10, content);
  encode_record(token(2, "b", "y", 0, 0), 20, content);
  SECTION("any: every record valid") {
    auto seen = inspect(true, content, ReadExpect::any, 1);
    CHECK(seen.verdict == Verdict::ok);
    CHECK(seen.records == 2);
  }
  SECTION("own: the last writer was another build") {
    auto seen = inspect(true, content, ReadExpect::own, 1);
    CHECK(seen.verdict == Verdict::foreign);
    REQUIRE(seen.writer);
    CHECK(seen.writer->build == 2);
    CHECK(seen.writer->kind == "b");
  }
  SECTION("own: the last writer was self") {
    CHECK(inspect(true, content, ReadExpect::own, 2).verdict == Verdict::ok);
  }
}

TEST_CASE("values with spaces, colons and digits round-trip", "[unit][oracle][token]") {
  auto t = token(42, "k.1_x-y", "a b:c 12 cst1 ", 9, 77);
  auto seen = inspect(true, record(t, 33), ReadExpect::own, 41);
  REQUIRE(seen.verdict == Verdict::foreign);
  REQUIRE(seen.writer);
  CHECK(seen.writer->value == t.value);
  CHECK(seen.writer->kind == t.kind);
  CHECK(seen.writer->step == 9);
  CHECK(seen.writer->seq == 77);
}

// ---- damaged content -------------------------------------------------------------------------

TEST_CASE("a truncated record is torn", "[unit][oracle][token]") {
  auto full = record(token(3, "w", "hello"), 200);
  // Every proper prefix: inside the header, the checksum or the payload.
  for (std::size_t cut = 1; cut < full.size(); ++cut) {
    CAPTURE(cut);
    auto seen = inspect(true, std::string_view(full).substr(0, cut), ReadExpect::own, 3);
    REQUIRE(seen.verdict == Verdict::torn);
    CHECK_FALSE(seen.detail.empty());
  }
}

TEST_CASE("a corrupted byte anywhere is torn", "[unit][oracle][token]") {
  auto full = record(token(3, "w", "hello"), 64);
  for (std::size_t at = 0; at < full.size(); ++at) {
    auto damaged = full;
    damaged[at] = damaged[at] == '#' ? '%' : '#';  // '#' appears nowhere in a record
    CAPTURE(at, full[at]);
    REQUIRE(inspect(true, damaged, ReadExpect::own, 3).verdict == Verdict::torn);
    REQUIRE(inspect(true, damaged, ReadExpect::any, 3).verdict == Verdict::torn);
  }
}

TEST_CASE("mixed writers are torn and name a writer", "[unit][oracle][token]") {
  auto a = record(token(1, "alpha", "hello", 0, 0), 300);
  auto b = record(token(2, "beta", "world", 0, 0), 100);
  REQUIRE(a.size() > b.size());

  SECTION("a shorter record written over a longer one without truncation (its tail remains)") {
    std::string content = b + a.substr(b.size());
    auto seen = inspect(true, content, ReadExpect::own, 2);
    CHECK(seen.verdict == Verdict::torn);
    REQUIRE(seen.writer);
    CHECK(seen.writer->build == 2);
    CHECK(seen.writer->kind == "beta");
  }
  SECTION("a record followed by a partial second one") {
    std::string content = a + b.substr(0, b.size() / 2);
    auto seen = inspect(true, content, ReadExpect::any, 1);
    CHECK(seen.verdict == Verdict::torn);
    CHECK(seen.records == 1);
    REQUIRE(seen.writer);
  }
  SECTION("one writer's header with the other's payload") {
    auto a_header = a.substr(0, a.find('\n') + 1);
    auto b_payload = b.substr(b.find('\n') + 1);
    std::string filler(300 - b_payload.size(), b_payload.front());
    auto seen = inspect(true, a_header + b_payload + filler, ReadExpect::own, 1);
    CHECK(seen.verdict == Verdict::torn);
    REQUIRE(seen.writer);
    CHECK(seen.writer->build == 1);
    CHECK(seen.writer->kind == "alpha");
  }
  SECTION("chunks of two writers interleaved") {
    std::string content;
    std::size_t chunk = 16;
    for (std::size_t i = 0; i < a.size() || i < b.size(); i += chunk) {
      if (i < a.size()) content += a.substr(i, chunk);
      if (i < b.size()) content += b.substr(i, chunk);
    }
    auto seen = inspect(true, content, ReadExpect::own, 1);
    CHECK(seen.verdict == Verdict::torn);
    CHECK(inspect(true, content, ReadExpect::any, 2).verdict == Verdict::torn);
  }
  SECTION("the second writer's bytes land in the middle of the first record") {
    std::string content = a;
    content.replace(a.size() / 2, b.size(), b);
    CHECK(inspect(true, content, ReadExpect::own, 1).verdict == Verdict::torn);
  }
  SECTION("garbage before a valid record") {
    CHECK(inspect(true, "xx" + a, ReadExpect::any, 1).verdict == Verdict::torn);
  }
}

TEST_CASE("header numbers too large for the content are torn, not a crash", "[unit][oracle][token]") {
  for (const char* text : {
           "cst1 1 k 0 0 18446744073709551615 1:x 0\n",
           "cst1 1 k 0 0 0 18446744073709551615:x 0\n",
           "cst1 1 k 0 0 0 18446744073709551614:x 0\n",
           "cst1 1 k 0 0 0 99999999999999999999999:x 0\n",
           "cst1 1 k 0 0 0 5:x 0\n",
           "cst1 99999999999999999999999 k 0 0 0 1:x 0\n",
           "cst1 1 k 0 0 0 1:x ffffffffffffffffff\n",
           "cst1 1 k 0 0 0 1:x",
           "cst1 ",
           "cst1",
       }) {
    CAPTURE(text);
    CHECK(inspect(true, text, ReadExpect::any, 1).verdict == Verdict::torn);
  }
}

// One random byte-level mutation of `text`: replace, delete, insert, truncate or flip a bit.
// With `avoid` set, positions inside [avoid_from, avoid_to) are never touched.
template <typename Rng>
std::string mutate(const std::string& text, Rng& rng, std::size_t avoid_from = 0, std::size_t avoid_to = 0) {
  auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  auto position = [&](std::size_t n) {
    for (int tries = 0; tries < 64; ++tries) {
      auto at = pick(n);
      if (at < avoid_from || at >= avoid_to) return at;
    }
    return std::size_t{0};  // the magic: always outside the checksum field
  };
  std::string out = text;
  switch (pick(5)) {
    case 0: out[position(out.size())] = static_cast<char>(rng() % 256); break;
    case 1: out.erase(position(out.size()), 1); break;
    case 2: out.insert(position(out.size() + 1), 1, static_cast<char>(rng() % 256)); break;
    case 3: out.resize(pick(out.size())); break;
    case 4: out[position(out.size())] ^= static_cast<char>(1 << pick(8)); break;
  }
  return out;
}

// [from, to) of the checksum's hex digits in a single record.
std::pair<std::size_t, std::size_t> checksum_field(const std::string& one_record) {
  auto newline = one_record.find('\n');
  auto space = one_record.rfind(' ', newline);
  return {space + 1, newline};
}

// The checksum covers the header fields and the payload: damage to any of those bytes (or
// a cut anywhere) must never be read as ok, and judging it must never crash.
TEST_CASE("random mutations of the covered bytes never crash and are never ok", "[unit][oracle][token]") {
  std::mt19937_64 rng(20240925);
  int judged = 0;
  for (int round = 0; round < 10000; ++round) {
    auto t = token(rng() % 1000, round % 2 == 0 ? "writer" : "locked-across-steps", round % 3 == 0 ? "" : "hello",
                   static_cast<std::uint32_t>(rng() % 4), static_cast<std::uint32_t>(rng() % 100));
    auto original = record(t, static_cast<std::uint32_t>(rng() % 200));
    auto [from, to] = checksum_field(original);
    auto mutated = mutate(original, rng, from, to);
    if (mutated == original) continue;
    CAPTURE(round, original, mutated);
    for (auto expect : {ReadExpect::own, ReadExpect::any, ReadExpect::absent}) {
      auto seen = inspect(true, mutated, expect, t.build);
      REQUIRE(seen.verdict != Verdict::ok);
      // Damaged bytes are torn; only a file cut to nothing may read as foreign (expect absent).
      if (!mutated.empty() || expect != ReadExpect::absent) REQUIRE(seen.verdict == Verdict::torn);
      CHECK_FALSE(seen.detail.empty());
      ++judged;
    }
  }
  CHECK(judged > 10000);
}

// The same with several mutations anywhere, the checksum's own digits included.
TEST_CASE("random mutations anywhere never crash and are never ok", "[unit][oracle][token]") {
  std::mt19937_64 rng(424242);
  for (int round = 0; round < 10000; ++round) {
    auto t = token(rng() % 1000, "writer", "hello", 0, static_cast<std::uint32_t>(rng() % 100));
    auto original = record(t, static_cast<std::uint32_t>(rng() % 200));
    auto mutated = original;
    for (int m = 0, n = 1 + static_cast<int>(rng() % 3); m < n && !mutated.empty(); ++m) mutated = mutate(mutated, rng);
    if (mutated == original) continue;
    CAPTURE(round, original, mutated);
    for (auto expect : {ReadExpect::own, ReadExpect::any, ReadExpect::absent}) {
      REQUIRE(inspect(true, mutated, expect, t.build).verdict != Verdict::ok);
    }
  }
}

// The checksum field itself is not covered by the checksum, so its text must be canonical:
// a byte changed there is damage like any other.
TEST_CASE("a checksum spelled differently is still damage", "[unit][oracle][token]") {
  auto full = record(token(3, "w", "hello"), 64);
  auto newline = full.find('\n');
  auto space = full.rfind(' ', newline);
  REQUIRE(space != std::string::npos);

  SECTION("a leading zero") {
    auto damaged = full;
    damaged.insert(space + 1, 1, '0');
    CHECK(inspect(true, damaged, ReadExpect::own, 3).verdict == Verdict::torn);
  }
  SECTION("upper-case hex digits") {
    auto damaged = full;
    bool changed = false;
    for (auto i = space + 1; i < newline; ++i) {
      if (damaged[i] >= 'a' && damaged[i] <= 'f') {
        damaged[i] = static_cast<char>(damaged[i] - 'a' + 'A');
        changed = true;
        break;
      }
    }
    if (!changed) {
      // Astronomically unlikely (all 16 digits decimal), but then this token proves nothing.
      SUCCEED("checksum had no hex letter");
    } else {
      CHECK(inspect(true, damaged, ReadExpect::own, 3).verdict == Verdict::torn);
    }
  }
}

TEST_CASE("verdicts have names", "[unit][oracle][token]") {
  CHECK(std::string(to_string(Verdict::ok)) == "ok");
  CHECK(std::string(to_string(Verdict::foreign)) == "foreign");
  CHECK(std::string(to_string(Verdict::missing)) == "missing");
  CHECK(std::string(to_string(Verdict::torn)) == "torn");
}

}  // namespace
}  // namespace cachestress::oracle

namespace cachestress::oracle {

TEST_CASE("a record's payload goes round the alphabet from the letter its build and sequence give", "[unit][oracle][token]") {
  // The letter of byte i is 'a' + (build * 31 + seq * 7 + i) % 26 in 64-bit arithmetic, also
  // where that sum wraps past 2^64 inside the payload (the one case not a plain run).
  const std::uint64_t near_wrap = (~std::uint64_t{0} - 100) / 31;
  for (const std::uint64_t build : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{123456789}, near_wrap, ~std::uint64_t{0}}) {
    for (const std::uint32_t seq : {0u, 3u}) {
      Token t;
      t.build = build;
      t.kind = "k";
      t.seq = seq;
      t.value = "v";
      const std::uint32_t size = 300;
      std::string record;
      encode_record(t, size, record);
      REQUIRE(record.size() > size);
      const std::string payload = record.substr(record.size() - size);
      std::string expected(size, '\0');
      for (std::uint32_t i = 0; i < size; ++i) expected[i] = static_cast<char>('a' + (build * 31 + std::uint64_t{seq} * 7 + i) % 26);
      INFO("build " << build << " seq " << seq);
      CHECK(payload == expected);
      CHECK(inspect(true, record, model::ReadExpect::own, build).verdict == Verdict::ok);
    }
  }
}

TEST_CASE("a record whose payload differs anywhere from what its checksum covers is torn", "[unit][oracle][token]") {
  // Every single byte of a 512-byte payload changed in turn, and two words changed only in
  // their top bit (which a plain multiply chain would never carry down): all torn.
  Token t;
  t.build = 42;
  t.kind = "builder";
  t.value = "index";
  std::string record;
  encode_record(t, 512, record);
  const std::size_t payload_at = record.size() - 512;
  for (std::size_t i = payload_at; i < record.size(); ++i) {
    std::string bad = record;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    if (inspect(true, bad, model::ReadExpect::own, 42).verdict != Verdict::torn) FAIL("byte " << i - payload_at << " changed, not torn");
  }
  std::string two = record;
  two[payload_at + 7] = static_cast<char>(two[payload_at + 7] ^ 0x80);
  two[payload_at + 15] = static_cast<char>(two[payload_at + 15] ^ 0x80);
  CHECK(inspect(true, two, model::ReadExpect::own, 42).verdict == Verdict::torn);
}

}  // namespace cachestress::oracle
