#pragma once
// Escaping shared by every markup format we write (JUnit XML, the HTML report and its
// inline SVG): one function, so a fix reaches all of them.
#include <string>
#include <string_view>

namespace cachestress::report {

// Text made safe for element content and quoted attribute values in XML 1.0 and HTML:
// & < > " ' become entities (&#39;, which HTML 4 also knows), and control characters that
// XML forbids even escaped (all below 0x20 but tab, newline, return) become '?'.
std::string markup_escape(std::string_view text);

}  // namespace cachestress::report
