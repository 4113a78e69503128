#include "engine/report/markup.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace cachestress::report {

TEST_CASE("markup escaping makes report text inert in XML HTML and SVG", "[unit][report]") {
  CHECK(markup_escape("<script>alert('x')</script> & \"q\"") ==
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  CHECK(markup_escape("builder-1") == "builder-1");
  CHECK(markup_escape("").empty());
  // XML 1.0 forbids these even as entities: a JUnit file carrying one would not parse.
  CHECK(markup_escape(std::string("a\x01" "b\x1f" "c", 5)) == "a?b?c");
  CHECK(markup_escape("tab\tnewline\nreturn\r") == "tab\tnewline\nreturn\r");
  CHECK(markup_escape("µs → é") == "µs → é");  // UTF-8 passes through untouched
}

TEST_CASE("markdown escaping keeps report text inert in a pull-request comment", "[unit][report]") {
  // A scenario named this rendered an image tag in `compare --format md`.
  CHECK(markdown_escape("a|b<img src=x>") == "a\\|b\\<img src=x\\>");
  CHECK(markdown_escape("[click](http://x) **bold** `code` ~~gone~~ a_b & c\\d") ==
        "\\[click\\](http://x) \\*\\*bold\\*\\* \\`code\\` \\~\\~gone\\~\\~ a\\_b \\& c\\\\d");
  CHECK(markdown_escape("line\nbreak\r") == "line break ");
  CHECK(markdown_escape("concurrency=16 µs") == "concurrency=16 µs");
  CHECK(markdown_code("a`b\nc<i>") == "a'b c<i>");
}

}  // namespace cachestress::report
