#pragma once
// The one terminal escaper: everything cachestress prints that came from outside (ids and
// names from a scenario file, failure reasons, command output, report fields read back)
// goes through printable(), so a scenario file cannot clear the screen, move the cursor or
// forge a "PASS" line. HTML and XML have their own escaper (report/markup.hpp).
#include <string>
#include <string_view>

namespace cachestress::core {

// C0 controls (\n, \r, \t as those letters; ESC and the rest as \x1b), DEL (\x7f), C1
// controls (U+0080..U+009F as \u0085) and bytes that are not UTF-8 (\xNN) escaped;
// everything else, other UTF-8 text included, unchanged.
std::string printable(std::string_view text);

// Only the bytes that are not UTF-8 escaped (\xNN), the rest unchanged: for text that goes
// into JSON (which must be UTF-8; nlohmann throws on anything else), where controls are
// escaped by JSON itself. A compiler's Latin-1 "caf\xe9" in a failed build's output.
std::string valid_utf8(std::string_view text);

}  // namespace cachestress::core
