#include "engine/html/svg_chart.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace cachestress::html {

TEST_CASE("numbers and durations read the way axes and tooltips need", "[unit][html]") {
  CHECK(format_number(0) == "0");
  CHECK(format_number(12) == "12");
  CHECK(format_number(2.5) == "2.5");
  CHECK(format_number(0.25) == "0.25");
  CHECK(format_number(155.23) == "155");
  CHECK(format_number(12.34) == "12.3");
  CHECK(format_number(std::nan("")) == "n/a");
  CHECK(format_duration_us(850) == "850 µs");
  CHECK(format_duration_us(12'500) == "12.5 ms");
  CHECK(format_duration_us(1'250'000) == "1.25 s");
  CHECK(std::string(duration_unit_for(999).name) == "µs");
  CHECK(std::string(duration_unit_for(64'000).name) == "ms");
  CHECK(std::string(duration_unit_for(3e6).name) == "s");
}

TEST_CASE("nice ticks are round, ascending and cover the range", "[unit][html]") {
  const auto ticks = nice_ticks(0, 266.3);
  REQUIRE(ticks.size() >= 3);
  CHECK(ticks.front() == 0);
  CHECK(ticks.back() >= 266.3);
  CHECK(ticks[1] - ticks[0] == Approx(50));
  CHECK(nice_ticks(0, 1).back() == Approx(1));
  // About `count` ticks: the nearest 1-2-5 step, not always the larger one.
  CHECK(nice_ticks(0, 1000, 5)[1] == Approx(200));
  CHECK(nice_ticks(0, 64, 3)[1] == Approx(20));
  const auto shifted = nice_ticks(0.37, 1.21, 8);
  CHECK(shifted.front() <= 0.37);
  CHECK(shifted.back() >= 1.21);
  for (std::size_t i = 1; i < shifted.size(); ++i) CHECK(shifted[i] > shifted[i - 1]);
  // Degenerate and empty ranges still give an axis.
  CHECK(nice_ticks(0, 0).size() >= 2);
  CHECK(nice_ticks(5, 5).back() > 5);
  CHECK(nice_ticks(0, std::nan("")).size() == 2);
  // No 0.30000000000000004: ticks snap to what their labels say.
  for (double tick : nice_ticks(0, 0.9)) CHECK(format_number(tick).size() <= 3);
  CHECK(nice_ticks(0, 0.9)[3] == 0.6);  // exactly, not 0.6000000000000001
}

TEST_CASE("decade ticks bracket the values of a log axis", "[unit][html]") {
  CHECK(decade_ticks(850, 120'000) == std::vector<double>{100, 1'000, 10'000, 100'000, 1'000'000});
  CHECK(decade_ticks(1000, 1000) == std::vector<double>{1'000, 10'000});
  CHECK(decade_ticks(0, 5).front() > 0);  // a log axis has no zero
}

TEST_CASE("scales map domains to pixels, log scales clamp at their minimum", "[unit][html]") {
  const Scale linear(Scale::Kind::linear, 0, 100, 50, 250);
  CHECK(linear(0) == 50);
  CHECK(linear(50) == 150);
  CHECK(linear(100) == 250);
  const Scale flipped(Scale::Kind::linear, 0, 1, 300, 100);  // y axes grow upwards
  CHECK(flipped(1) == 100);
  const Scale log(Scale::Kind::log, 1, 1000, 0, 300);
  CHECK(log(10) == Approx(100));
  CHECK(log(100) == Approx(200));
  CHECK(log(0) == 0);
  CHECK(log(-5) == 0);
  const Scale degenerate(Scale::Kind::linear, 4, 4, 0, 100);
  CHECK(degenerate(4) == 50);
}

TEST_CASE("the SVG writer escapes what it is given", "[unit][html]") {
  SvgWriter svg(100, 50, "a <chart>");
  svg.text(1, 2, "kind <b>&");
  svg.rect(0, 0, 10, 10, "#fff", "tip \"quoted\"");
  const std::string text = svg.finish();
  CHECK(text.find("aria-label=\"a &lt;chart&gt;\"") != std::string::npos);
  CHECK(text.find("kind &lt;b&gt;&amp;") != std::string::npos);
  CHECK(text.find("<title>tip &quot;quoted&quot;</title>") != std::string::npos);
  CHECK(text.find("<b>") == std::string::npos);
  CHECK(text.substr(text.size() - 6) == "</svg>");
}

TEST_CASE("figure wraps a chart with its id and an escaped caption", "[unit][html]") {
  const std::string html = figure("chart-x", "Title <1>", "<svg></svg>", "caption & more");
  CHECK(html.find("<figure id=\"chart-x\">") == 0);
  CHECK(html.find("<h2>Title &lt;1&gt;</h2>") != std::string::npos);
  CHECK(html.find("<figcaption>caption &amp; more</figcaption>") != std::string::npos);
}

}  // namespace cachestress::html
