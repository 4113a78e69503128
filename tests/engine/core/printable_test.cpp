#include "engine/core/printable.hpp"

#include <catch2/catch.hpp>

namespace cachestress::core {

TEST_CASE("printable escapes C0, DEL and C1 controls and keeps other text", "[unit][core]") {
  CHECK(printable("plain id-1/x.y") == "plain id-1/x.y");
  CHECK(printable("a\x1b[2Jb") == "a\\x1b[2Jb");
  CHECK(printable("one\ntwo\rthree\tfour") == "one\\ntwo\\rthree\\tfour");
  CHECK(printable(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(printable("del\x7f") == "del\\x7f");
  // U+009B (CSI as one character) and U+0085 (NEL) in UTF-8.
  CHECK(printable("csi\xc2\x9b" "31m") == "csi\\u009b31m");
  CHECK(printable("nel\xc2\x85") == "nel\\u0085");
  // Ordinary UTF-8 (é, CJK, an emoji, U+00A0) passes unchanged.
  CHECK(printable("caf\xc3\xa9 \xe9\x8d\xb5 \xf0\x9f\x97\x9d \xc2\xa0") == "caf\xc3\xa9 \xe9\x8d\xb5 \xf0\x9f\x97\x9d \xc2\xa0");
  // Bytes that are not UTF-8: a lone 0x9b (CSI on 8-bit terminals), a cut sequence, an overlong form, a surrogate.
  CHECK(printable("\x9b" "2J") == "\\x9b2J");
  CHECK(printable("cut\xe9\x8d") == "cut\\xe9\\x8d");
  CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");
}

TEST_CASE("valid_utf8 escapes only what is not UTF-8, for text that goes into JSON", "[unit][core]") {
  CHECK(valid_utf8("caf\xe9\n") == "caf\\xe9\n");          // Latin-1 é; the newline is JSON's to escape
  CHECK(valid_utf8("caf\xc3\xa9 \x1b[0m\t") == "caf\xc3\xa9 \x1b[0m\t");  // UTF-8 and controls unchanged
  CHECK(valid_utf8("cut\xe9\x8d") == "cut\\xe9\\x8d");
  CHECK(valid_utf8("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a surrogate is not UTF-8 either
  CHECK(valid_utf8(std::string("nul\0x", 5)) == std::string("nul\0x", 5));
}

}  // namespace cachestress::core
