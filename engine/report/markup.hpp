#pragma once
// Escaping shared by every markup format we write (JUnit XML, the HTML report and its
// inline SVG): one function, so a fix reaches all of them.
#include <string>
#include <string_view>

namespace cachestress::report {

// Text made safe for element content and quoted attribute values in XML 1.0 and HTML:
// & < > " ' become entities (&#39;, which HTML 4 also knows), and control characters that
// XML forbids even escaped (all below 0x20 but tab, newline, return) become '?', and bytes
// that are not UTF-8 become \xNN.
std::string markup_escape(std::string_view text);

// Text made inert in GitHub-flavoured Markdown, in a paragraph, list item or table cell: the
// characters that open HTML, links, emphasis, code or a cell boundary (\ ` * _ [ ] < > & | ~)
// are backslash-escaped, and line breaks become spaces (a row or item is one line). A scenario
// named "a|b<img src=x>" stays that text in a pull-request comment.
std::string markdown_escape(std::string_view text);

// Text for inside a `code span`: literal there already (HTML included), but a backtick would
// end the span and a line break the line.
std::string markdown_code(std::string_view text);

}  // namespace cachestress::report
