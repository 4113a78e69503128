#include "engine/html/html_report.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "engine/html/charts.hpp"
#include "engine/html/report_data.hpp"

namespace cachestress::html {
namespace {

using nlohmann::json;

// The fields a single-run report carries that the charts read (a real report has more).
json run_document(const std::string& sharing, int concurrency, double builds_per_s, double wait_p99_us) {
  return {{"schema_version", 1},
          {"tool", {{"name", "cachestress"}, {"version", "0.1.0"}}},
          {"config", {{"scenario", "locked"}, {"sharing", sharing}, {"concurrency", concurrency}, {"semantics", "buildah"}}},
          {"interrupted", false},
          {"summary",
           {{"builds_per_s", builds_per_s},
            {"collisions", {{"total", 0}}},
            {"lock_wait_us",
             {{"count", 100}, {"p50", wait_p99_us / 2}, {"p90", wait_p99_us * 0.9}, {"p99", wait_p99_us},
              {"p999", wait_p99_us}, {"max", wait_p99_us * 1.1}}}}},
          {"interference", json::array()},
          {"intervals", {{{"t_s", 1.0}, {"builds_completed", 10}, {"collisions", 0}, {"lock_wait_p99_us", 900}},
                         {{"t_s", 2.0}, {"builds_completed", 12}, {"collisions", 1}, {"lock_wait_p99_us", 1200}}}}};
}

json sweep_document(std::vector<json> runs) {
  json cells = json::array();
  int index = 0;
  for (auto& run : runs) {
    run["index"] = index++;
    run["repeat"] = 0;
    run.erase("schema_version");
    run.erase("tool");
    cells.push_back(run);
  }
  return {{"schema_version", 1},
          {"tool", {{"name", "cachestress"}, {"version", "0.1.0"}}},
          {"sweep", {{"keys", {"sharing", "concurrency"}}, {"repeat", 1}}},
          {"cells", cells}};
}

std::string figure_of(const std::string& html, const std::string& id) {
  const auto start = html.find("<figure id=\"" + id + "\"");
  if (start == std::string::npos) return {};
  return html.substr(start, html.find("</figure>", start) - start);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

const std::vector<std::string> k_figure_ids{"chart-throughput", "chart-wait-cdf", "chart-timeline", "chart-interference",
                                            "chart-intervals"};

}  // namespace

TEST_CASE("a single run is one cell named by sharing and concurrency", "[unit][html]") {
  const auto cells = collect_cells({{"run.json", run_document("locked", 16, 266, 64'000)}});
  REQUIRE(cells.size() == 1);
  CHECK(cells[0].label == "locked, c=16");
  CHECK(cells[0].series == "locked");
  CHECK(cells[0].builds_per_s == Approx(266));
  CHECK_FALSE(cells[0].wait_cdf_from_buckets);
  REQUIRE(cells[0].wait_cdf.size() == 5);  // p50, p90, p99, p999, max
  CHECK(cells[0].wait_cdf.back().fraction == 1.0);
  CHECK(cells[0].intervals.size() == 2);
}

TEST_CASE("sweep cells are sorted by series and concurrency, only differing settings are named", "[unit][html]") {
  auto shared = run_document("shared", 8, 900, 0);
  auto other_semantics = run_document("locked", 4, 100, 1000);
  other_semantics["config"]["semantics"] = "buildkit";
  const auto cells = collect_cells({{"sweep.json", sweep_document({run_document("locked", 16, 200, 9000), shared,
                                                                   run_document("locked", 4, 150, 3000), other_semantics})}});
  REQUIRE(cells.size() == 4);
  CHECK(cells[0].label == "locked, semantics buildah, c=4");
  CHECK(cells[1].label == "locked, semantics buildah, c=16");
  CHECK(cells[2].label == "locked, semantics buildkit, c=4");
  CHECK(cells[3].label == "shared, semantics buildah, c=8");
}

TEST_CASE("the same run given twice is told apart by file name", "[unit][html]") {
  const auto run = run_document("locked", 8, 100, 1000);
  const auto cells = collect_cells({{"dir/a.json", run}, {"b.json", run}, {"b.json", run}});
  REQUIRE(cells.size() == 3);
  CHECK(cells[0].label == "locked, c=8 (a.json)");
  CHECK(cells[1].label == "locked, c=8 (b.json) 1");
  CHECK(cells[2].label == "locked, c=8 (b.json) 2");
}

TEST_CASE("a bucket CDF is preferred, sorted and made monotone", "[unit][html]") {
  auto run = run_document("locked", 8, 100, 1000);
  run["summary"]["lock_wait_us"]["cdf"] = {{500, 0.6}, {10, 0.2}, {900, 0.5}, {2000, 1.0}, {"bad", 0.1}, {3}};
  const auto cells = collect_cells({{"run.json", run}});
  REQUIRE(cells[0].wait_cdf_from_buckets);
  const auto& cdf = cells[0].wait_cdf;
  REQUIRE(cdf.size() == 4);
  CHECK(cdf[0].value_us == 10);
  CHECK(cdf[2].value_us == 900);
  CHECK(cdf[2].fraction == 0.6);  // never falls
  CHECK(cdf[3].fraction == 1.0);
}

TEST_CASE("the page has the five figures, no script and no external reference", "[unit][html]") {
  const std::string html = render_html_report({{"run.json", run_document("locked", 16, 266, 64'000)}});
  for (const auto& id : k_figure_ids) {
    INFO(id);
    const std::string figure = figure_of(html, id);
    CHECK(count(figure, "<svg") == 1);
    CHECK(count(figure, "<figcaption>") == 1);
  }
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));  // only the SVG namespace name
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("Content-Security-Policy") != std::string::npos);
  // One point is still a chart: a dot per panel.
  CHECK(count(figure_of(html, "chart-throughput"), "<circle") == 2);
  // Absent data is named in place, not left as an empty frame.
  CHECK_THAT(figure_of(html, "chart-throughput"), Catch::Contains("needs a sweep over concurrency"));
  CHECK_THAT(figure_of(html, "chart-timeline"), Catch::Contains("no lock events sampled"));
  CHECK_THAT(figure_of(html, "chart-interference"), Catch::Contains("no collisions"));
}

TEST_CASE("lock events draw holder bars and the waiting builds per key", "[unit][html]") {
  auto run = run_document("locked", 2, 100, 1000);
  run["lock_events"] = {
      {{"key", "roots/shared/cache-a"}, {"build", 0}, {"kind", "writer"}, {"wait_start_s", 0.0}, {"granted_s", 0.0}, {"released_s", 0.01}},
      {{"key", "roots/shared/cache-a"}, {"build", 1}, {"kind", "reader"}, {"wait_start_s", 0.0}, {"granted_s", 0.01}, {"released_s", 0.02}},
      {{"key", "roots/shared/cache-a"}, {"build", 2}, {"kind", "reader"}, {"wait_start_s", 0.005}, {"granted_s", nullptr}, {"released_s", nullptr}},
      {{"key", "roots/shared/cache-b"}, {"build", 3}, {"kind", "writer"}, {"wait_start_s", 0.002}, {"granted_s", 0.002}, {"released_s", nullptr}},
  };
  const std::string timeline = figure_of(render_html_report({{"run.json", run}}), "chart-timeline");
  CHECK(count(timeline, "class=\"holder") == 3);  // build 2 never got the lock
  CHECK(count(timeline, "class=\"queue\"") == 2);  // one waiting area per key
  CHECK_THAT(timeline, Catch::Contains("roots/shared/cache-a"));
  CHECK_THAT(timeline, Catch::Contains("holder: reader"));
  CHECK(timeline.find("no lock events sampled") == std::string::npos);
}

TEST_CASE("overlapping holders of one key are drawn on separate lanes", "[unit][html]") {
  auto run = run_document("locked", 2, 100, 1000);
  run["lock_events"] = {
      {{"key", "k"}, {"build", 0}, {"kind", "a"}, {"wait_start_s", 0.0}, {"granted_s", 0.0}, {"released_s", 0.02}},
      {{"key", "k"}, {"build", 1}, {"kind", "a"}, {"wait_start_s", 0.0}, {"granted_s", 0.01}, {"released_s", 0.03}},
  };
  const std::string timeline = figure_of(render_html_report({{"run.json", run}}), "chart-timeline");
  // Lanes are 16 px apart: the second holder's bar starts one lane lower.
  CHECK_THAT(timeline, Catch::Contains("y=\"17.0\""));
  CHECK_THAT(timeline, Catch::Contains("y=\"33.0\""));
}

TEST_CASE("text from a report is escaped everywhere it appears", "[unit][html]") {
  const std::string evil = "<script>alert(1)</script>";
  auto run = run_document("locked", 4, 100, 1000);
  run["config"]["scenario"] = evil;
  run["interference"] = {{{"polluter", evil}, {"victim", "b\"><img src=x>"}, {"kind", "foreign"}, {"count", 3}}};
  run["lock_events"] = {{{"key", evil}, {"build", 1}, {"kind", evil}, {"wait_start_s", 0.0}, {"granted_s", 0.001}, {"released_s", 0.002}}};
  run["command_line"] = evil;
  const std::string html = render_html_report({{"</title><script>x</script>.json", run}});
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("&lt;script&gt;") != std::string::npos);
}

TEST_CASE("malformed fields are skipped, not fatal, and the page is deterministic", "[unit][html]") {
  json odd = {{"schema_version", 1},
              {"tool", {{"name", "cachestress"}}},
              {"config", {{"concurrency", "sixteen"}, {"sharing", 3}}},
              {"summary", {{"builds_per_s", "fast"}, {"lock_wait_us", {{"count", 5}, {"cdf", "none"}, {"p50", -1}}}}},
              {"interference", {{{"count", "many"}}, 7, {{"polluter", 1}, {"count", 2}}}},
              {"intervals", {{{"t_s", "late"}}, {{"t_s", 1}, {"builds_completed", "x"}}}},
              {"lock_events", {{{"key", "k"}}, {{"wait_start_s", 1}, {"granted_s", "soon"}}}}};
  std::string first;
  REQUIRE_NOTHROW(first = render_html_report({{"odd.json", odd}}));
  for (const auto& id : k_figure_ids) CHECK_FALSE(figure_of(first, id).empty());
  CHECK(render_html_report({{"odd.json", odd}}) == first);
  const json sweep_of_junk = {{"schema_version", 1}, {"tool", {{"name", "cachestress"}}}, {"cells", {1, "two", nullptr}}};
  REQUIRE_NOTHROW(render_html_report({{"junk.json", sweep_of_junk}}));
}

TEST_CASE("repetitions are labelled rep 1, rep 2, as the terminal counts them", "[unit][html]") {
  auto first = run_document("locked", 2, 100, 1000), second = run_document("locked", 2, 110, 1000);
  auto document = sweep_document({first, second});
  document["cells"][0]["index"] = 0;
  document["cells"][1]["index"] = 0;
  document["cells"][1]["repeat"] = 1;
  const auto cells = collect_cells({{"r.json", document}});
  REQUIRE(cells.size() == 2);
  CHECK(cells[0].label == "locked, c=2, rep 1");
  CHECK(cells[1].label == "locked, c=2, rep 2");
}

TEST_CASE("repetitions of one setting are drawn at their median, not their mean, a placeholder is never a figure", "[unit][html]") {
  // Three runs at c=2: p99 lock waits 1, 2 and 30 ms. The chart said 11 ms (the mean); the
  // median, 2 ms, is what aggregates[], the terminal and compare give.
  auto document = sweep_document({run_document("locked", 2, 100, 1000), run_document("locked", 2, 110, 2000),
                                  run_document("locked", 2, 900, 30000)});
  for (int i = 0; i < 3; ++i) document["cells"][i]["repeat"] = i;
  const std::string chart = scaling_chart(collect_cells({{"r.json", document}}));
  CHECK_THAT(chart, Catch::Contains("p99 lock wait 2 ms (median of 3 runs)") && Catch::Contains("110 builds/s (median of 3 runs)"));
  // A backend that does not measure lock waits or content collisions: the runs table says so.
  auto command = run_document("shared", 4, 100, 0);
  command["not_measured"] = {"lock_wait_us", "collisions.total"};
  const std::string page = render_html_report({{"c.json", command}});
  CHECK(count(page, "<td class=\"number\">not measured</td>") == 2);
  CHECK_THAT(page, !Catch::Contains("no lock waits") && Catch::Contains("these runs&#39; backend does not measure lock waits"));
}

TEST_CASE("an interrupted repetition is left out of a scaling point, and a point of only interrupted runs says partial", "[unit][html]") {
  // c=2: two finished runs (100 and 120 builds/s) and one cut short by SIGINT (5 builds/s).
  auto document = sweep_document({run_document("locked", 2, 100, 1000), run_document("locked", 2, 120, 3000),
                                  run_document("locked", 2, 5, 90000), run_document("locked", 4, 7, 1000)});
  for (int i = 0; i < 3; ++i) document["cells"][i]["repeat"] = i;
  document["cells"][2]["interrupted"] = true;
  document["cells"][3]["interrupted"] = true;
  const std::string chart = scaling_chart(collect_cells({{"r.json", document}}));
  CHECK_THAT(chart, Catch::Contains("110 builds/s (median of 2 runs); 1 interrupted left out"));
  CHECK_THAT(chart, Catch::Contains("p99 lock wait 2 ms (median of 2 runs); 1 interrupted left out"));
  CHECK_THAT(chart, Catch::Contains("concurrency 4: 7 builds/s; interrupted: partial"));
}

TEST_CASE("failed builds, their reasons and each failed expectation are on the page, escaped", "[unit][html]") {
  // The probe's run: 40 builds, all rejected, exit 1 on the implicit builds.failed == 0.
  auto failed = run_document("private", 4, 0, 0);
  failed["summary"]["builds"] = {{"started", 40}, {"completed", 0}, {"failed", 40}};
  failed["summary"]["lock_wait_us"]["count"] = 0;
  failed["failures"] = {{{"reason", "rejected: buildah: unrecognized value \"private\" <b>"}, {"category", "rejected"}, {"count", 40},
                         {"example_build", 0}, {"example_kind", "w"}, {"example_rank", 1}, {"example_host", "node-b"}}};
  failed["expectations"] = {{{"field", "builds.failed"}, {"when", nullptr}, {"expect", "== 0.0"}, {"written", "0"}, {"value", 40},
                             {"passed", false}, {"implicit", "no [expect] on failures"}},
                            {{"field", "locks.waited"}, {"when", "concurrency>=2"}, {"expect", "> 0.0"}, {"written", "0"}, {"value", 0},
                             {"passed", true}}};
  const std::string page = render_html_report({{"r09.json", failed}});
  CHECK_THAT(page, Catch::Contains("<th class=\"number\">failed builds</th>"));
  CHECK_THAT(page, Catch::Contains("<td class=\"number\"><strong class=\"fail\">40</strong></td>"));
  CHECK_THAT(page, Catch::Contains("<strong class=\"fail\">FAIL</strong>: 1 of 1 run failed an expectation"));
  CHECK_THAT(page, Catch::Contains("<strong class=\"fail\">FAIL</strong> builds.failed == 0 (value 40; no [expect] on failures)"));
  CHECK_THAT(page, !Catch::Contains("locks.waited"));  // it passed
  CHECK_THAT(page, Catch::Contains("<section id=\"failures\">") && Catch::Contains("40 builds failed</h3>"));
  CHECK_THAT(page, Catch::Contains("<td>rejected: buildah: unrecognized value &quot;private&quot; &lt;b&gt;</td><td>rejected</td>"
                                   "<td class=\"number\">40</td><td>build 0, kind w, rank 1 on node-b</td>"));

  // A condition is named; hostile text from the report stays text.
  failed["expectations"][0] = {{"field", "<img src=x>"}, {"when", "<script>x</script>"}, {"expect", "== 0.0"}, {"written", "0"},
                               {"value", 1}, {"passed", false}};
  failed["failures"][0]["reason"] = "<script>alert(1)</script>";
  failed["failures"][0]["example_kind"] = "<img src=y>";
  const std::string hostile = render_html_report({{"r.json", failed}});
  CHECK(hostile.find("<script") == std::string::npos);
  CHECK(hostile.find("<img") == std::string::npos);
  CHECK_THAT(hostile, Catch::Contains("FAIL</strong> &lt;img src=x&gt; == 0 when &lt;script&gt;x&lt;/script&gt; (value 1)"));

  // A run that passed: no verdict line, no failures section, 0 failed builds.
  const std::string clean = render_html_report({{"ok.json", run_document("locked", 4, 100, 1000)}});
  CHECK_THAT(clean, !Catch::Contains("FAIL") && !Catch::Contains("id=\"failures\""));
}

TEST_CASE("a cachestress-mpi run is drawn at its builds in flight over all ranks, on its own line", "[unit][html]") {
  // The probe: 2 ranks x concurrency 1 and 2 per rank (2 and 4 in flight) beside a
  // single-process sweep over 2 and 4. It was drawn at x = 1 and 2, its c=2 point merged with
  // the single-process c=2 run into one "median of 2 runs".
  auto mpi = sweep_document({run_document("locked", 1, 40, 1000), run_document("locked", 2, 50, 3000)});
  for (auto& cell : mpi["cells"]) cell["mpi"] = {{"ranks", 2}, {"hosts", 1}, {"concurrency_per_rank", cell["config"]["concurrency"]}};
  const auto single = sweep_document({run_document("locked", 2, 100, 1000), run_document("locked", 4, 120, 5000)});
  const auto cells = collect_cells({{"m.json", mpi}, {"s.json", single}});
  REQUIRE(cells.size() == 4);
  CHECK(cells[0].label == "locked, 2 ranks, c=1 per rank");
  CHECK(cells[0].in_flight == 2.0);
  CHECK(cells[1].in_flight == 4.0);
  CHECK(cells[2].label == "locked, single process, c=2");
  const std::string chart = scaling_chart(cells);
  CHECK_THAT(chart, Catch::Contains("locked, 2 ranks, concurrency 4 (2 ranks × 2 per rank): 50 builds/s"));
  CHECK_THAT(chart, Catch::Contains("locked, 2 ranks, concurrency 2 (2 ranks × 1 per rank): 40 builds/s"));
  CHECK_THAT(chart, Catch::Contains("locked, single process, concurrency 2: 100 builds/s"));
  CHECK_THAT(chart, !Catch::Contains("(median of 2 runs)"));
  CHECK_THAT(chart, Catch::Contains("concurrency per rank × ranks"));
  const std::string page = render_html_report({{"m.json", mpi}, {"s.json", single}});
  CHECK_THAT(page, Catch::Contains("<td class=\"number\">4 (2 ranks × 2)</td>"));
  // Every run of one rank count: the lines need no rank in their name, the labels still say per rank.
  CHECK(collect_cells({{"m.json", mpi}})[1].label == "locked, c=2 per rank, 2 ranks");
}

TEST_CASE("a chart that cannot draw every run draws the runs with collisions first", "[unit][html]") {
  std::vector<RunCell> cells(6);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    cells[i].label = "run " + std::to_string(i);
    cells[i].collisions = i >= 4 ? 3.0 : 0.0;  // only the last two collided
  }
  const auto selection = select_cells(cells, 3, [](const RunCell&) { return true; });
  REQUIRE(selection.cells.size() == 3);
  CHECK(selection.left_out == 3);
  // Drawn in their own order: the first clean run, then both collided ones.
  CHECK(selection.cells[0]->label == "run 0");
  CHECK(selection.cells[1]->label == "run 4");
  CHECK(selection.cells[2]->label == "run 5");
}

TEST_CASE("the interference evidence is a table under the heat map, not only a tooltip", "[unit][html]") {
  auto run = run_document("shared", 4, 100, 1000);
  run["interference"] = {{{"polluter", "writer"}, {"victim", "reader"}, {"kind", "torn"}, {"count", 7},
                          {"example", {{"victim_build", 0}, {"step", 1}, {"polluter_build", 3}, {"file", "cache/f0"}}}},
                         {{"polluter", "unknown"}, {"victim", "reader"}, {"kind", "missing"}, {"count", 2},
                          {"example", {{"victim_build", 5}, {"step", 0}, {"polluter_build", nullptr}, {"file", "cache/f1"}}}}};
  const std::string html = render_html_report({{"run.json", run}});
  const std::string chart = figure_of(html, "chart-interference");
  const auto table = chart.find("<table class=\"evidence\">");
  REQUIRE(table != std::string::npos);
  const std::string rows = chart.substr(table);
  CHECK(rows.find("<td>writer</td><td>reader</td><td>torn</td><td class=\"number\">7</td><td>build 0 step 1 saw build 3 in "
                  "cache/f0</td>") != std::string::npos);
  CHECK(rows.find("<td>unknown</td><td>reader</td><td>missing</td><td class=\"number\">2</td><td>build 5 step 0 cache/f1</td>") !=
        std::string::npos);
}

}  // namespace cachestress::html
