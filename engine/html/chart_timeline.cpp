// Who held each cache key's lock and how many builds queued behind it, over the sampled
// window of one run (report field lock_events). Per key: holder bars, coloured by build
// kind, and the number of waiting builds as a step area. Holders that overlap are put on
// separate lanes, so a lock_overlap is visible as a second bar, not hidden under the first.
#include <algorithm>
#include <map>
#include <string_view>

#include "engine/html/charts.hpp"
#include "engine/html/svg_chart.hpp"

namespace cachestress::html {
namespace {

constexpr double k_width = 960, k_left = 270, k_right = 30, k_top = 16;
constexpr double k_lane_height = 16, k_queue_height = 40, k_band_gap = 18;
constexpr std::size_t k_max_keys = 8, k_max_lanes = 4;
// More holders than this in one chart are slivers: draw the first ones in time.
constexpr std::size_t k_max_drawn_events = 150;

struct Window {
  double start = 0, end = 1;
};

// The events one chart draws, cut to a window: past k_max_drawn_events holders are slivers,
// so the window ends where the next event would start. A grant or release after the
// window's end is dropped, which the chart reads as "still waiting / holding" at its edge.
struct TimelineSample {
  std::vector<LockEvent> events;
  Window window;
};

TimelineSample drawn_sample(const std::vector<LockEvent>& all_events) {
  TimelineSample sample;
  sample.events = all_events;
  std::stable_sort(sample.events.begin(), sample.events.end(),
                   [](const LockEvent& a, const LockEvent& b) { return a.wait_start_s < b.wait_start_s; });
  Window& window = sample.window;
  window.start = window.end = sample.events.front().wait_start_s;
  for (const auto& event : sample.events) {
    for (auto t : {std::optional<double>(event.wait_start_s), event.granted_s, event.released_s}) {
      if (t) window.end = std::max(window.end, *t);
    }
  }
  if (sample.events.size() > k_max_drawn_events) {
    window.end = sample.events[k_max_drawn_events].wait_start_s;
    sample.events.resize(k_max_drawn_events);
    for (auto& event : sample.events) {
      if (event.granted_s && *event.granted_s > window.end) event.granted_s.reset();
      if (!event.granted_s || (event.released_s && *event.released_s > window.end)) event.released_s.reset();
    }
  }
  if (window.end <= window.start) window.end = window.start + 1e-3;
  // A window that starts near the run's start reads better from 0.
  if (window.start >= 0 && window.start <= 0.1 * (window.end - window.start)) window.start = 0;
  return sample;
}

// Greedy interval partitioning: each holder goes on the first lane that is free by then.
std::vector<std::size_t> holder_lanes(const std::vector<const LockEvent*>& holders, double window_end) {
  std::vector<double> lane_free_at;
  std::vector<std::size_t> lanes;
  for (const LockEvent* event : holders) {
    std::size_t lane = 0;
    while (lane < lane_free_at.size() && lane_free_at[lane] > *event->granted_s) ++lane;
    if (lane == lane_free_at.size()) {
      if (lane < k_max_lanes) {
        lane_free_at.push_back(0);
      } else {
        lane = k_max_lanes - 1;
      }
    }
    lane_free_at[lane] = event->released_s.value_or(window_end);
    lanes.push_back(lane);
  }
  return lanes;
}

// +1 when a build starts waiting for the key, -1 when it is granted, in time order.
std::vector<std::pair<double, int>> waiting_changes(const std::vector<const LockEvent*>& events, const Window& window) {
  std::vector<std::pair<double, int>> changes;
  for (const LockEvent* event : events) {
    const double granted = event->granted_s.value_or(window.end);
    if (granted <= event->wait_start_s) continue;
    changes.emplace_back(event->wait_start_s, +1);
    changes.emplace_back(granted, -1);
  }
  std::sort(changes.begin(), changes.end());
  return changes;
}

// The number of builds waiting for the key, as a step function over the window.
Points queue_area(const std::vector<const LockEvent*>& events, const Window& window, const Scale& x, const Scale& y) {
  Points area{{x(window.start), y(0)}};
  int waiting = 0;
  for (const auto& [t, change] : waiting_changes(events, window)) {
    area.emplace_back(x(t), y(waiting));
    waiting += change;
    area.emplace_back(x(t), y(waiting));
  }
  area.emplace_back(x(window.end), y(waiting));
  area.emplace_back(x(window.end), y(0));
  return area;
}

int most_waiting(const std::vector<const LockEvent*>& events, const Window& window) {
  int waiting = 0, most = 0;
  for (const auto& change : waiting_changes(events, window)) most = std::max(most, waiting += change.second);
  return most;
}

// Keys end in a hash: when a key is too long for the margin, keep its end.
// Keys are "roots/<root>/<cache dir>": every one starts with roots/, and the root is what
// tells isolation groups apart, so keep it and the end ("g0/…buildah-cache-0/78adcc42").
std::string short_key(const std::string& key) {
  constexpr std::size_t k_chars = 30;
  std::string_view text = key;
  if (text.starts_with("roots/")) text.remove_prefix(6);
  if (text.size() <= k_chars) return std::string(text);
  const auto slash = text.find('/');
  const std::string_view root = slash != std::string_view::npos && slash < 12 ? text.substr(0, slash + 1) : std::string_view();
  return std::string(root) + "…" + std::string(text.substr(text.size() - (k_chars - root.size() - 1)));
}

// The run to draw: the most contended one, by total time its sampled builds spent waiting.
const RunCell* most_contended_run(const std::vector<RunCell>& cells) {
  const RunCell* best = nullptr;
  double best_wait = -1;
  for (const auto& cell : cells) {
    if (cell.lock_events.empty()) continue;
    double wait = 0;
    for (const auto& event : cell.lock_events) {
      if (event.granted_s) wait += *event.granted_s - event.wait_start_s;
    }
    if (wait > best_wait) {
      best = &cell;
      best_wait = wait;
    }
  }
  return best;
}

std::string empty_timeline() {
  const PlotArea area{k_left, k_top, k_width - k_left - k_right, 120};
  SvgWriter svg(k_width, area.bottom() + 50, "lock holders and waiters per cache key");
  const Scale x(Scale::Kind::linear, 0, 1, area.left, area.right());
  std::vector<Tick> ticks;
  for (double t : nice_ticks(0, 1)) ticks.push_back({t, format_number(t)});
  draw_x_axis(svg, area, x, ticks, "time since start (s)");
  svg.line(area.left, area.top, area.left, area.bottom(), "axis");
  svg.note(area, "no lock events sampled");
  return figure("chart-timeline", "Lock holders and waiters per cache key", svg.finish(),
                "Holders and queued builds per cache key over a sampled window. These reports carry no lock_events "
                "sample (runs without locked mounts, or written by a cachestress that did not sample them).");
}

// One cache key's rows: holder lanes above, the waiting builds' area below.
struct KeyBand {
  std::string key;
  std::vector<const LockEvent*> events;   // every sampled acquisition of the key
  std::vector<const LockEvent*> holders;  // the granted ones, in grant order
  std::vector<std::size_t> lanes;         // holder i is drawn on lanes[i]
  std::size_t lane_count = 1;
  double height() const { return lane_count * k_lane_height + k_queue_height + k_band_gap; }
};

// The busiest keys first (at most k_max_keys); sets how many were left out.
std::vector<KeyBand> key_bands(const TimelineSample& sample, std::size_t& keys_left_out) {
  std::map<std::string, std::vector<const LockEvent*>> by_key;
  for (const auto& event : sample.events) by_key[event.key].push_back(&event);
  std::vector<KeyBand> bands;
  for (auto& [key, events] : by_key) {
    KeyBand band;
    band.key = key;
    band.events = std::move(events);
    for (const LockEvent* event : band.events) {
      if (event->granted_s) band.holders.push_back(event);
    }
    std::stable_sort(band.holders.begin(), band.holders.end(), [](auto* a, auto* b) { return *a->granted_s < *b->granted_s; });
    band.lanes = holder_lanes(band.holders, sample.window.end);
    for (std::size_t lane : band.lanes) band.lane_count = std::max(band.lane_count, lane + 1);
    bands.push_back(std::move(band));
  }
  std::stable_sort(bands.begin(), bands.end(), [](const auto& a, const auto& b) { return a.events.size() > b.events.size(); });
  keys_left_out = bands.size() > k_max_keys ? bands.size() - k_max_keys : 0;
  bands.resize(std::min(bands.size(), k_max_keys));
  return bands;
}

void draw_band(SvgWriter& svg, const KeyBand& band, double top, const Window& window, const Scale& x, int queue_peak,
               std::map<std::string, std::size_t>& kind_index) {
  svg.text(k_left - 10, top + 12, short_key(band.key), SvgWriter::Anchor::end, "key-label");
  svg.text(k_left - 10, top + 26, std::to_string(band.events.size()) + " acquisitions", SvgWriter::Anchor::end, "tick-label");
  for (std::size_t i = 0; i < band.holders.size(); ++i) {
    const LockEvent& event = *band.holders[i];
    const double released = event.released_s.value_or(window.end);
    const std::string tooltip = "build " + std::to_string(event.build) + " (" + event.kind + ") held " + band.key + " " +
                                format_duration_us((released - *event.granted_s) * 1e6) + " after waiting " +
                                format_duration_us((*event.granted_s - event.wait_start_s) * 1e6);
    // Consecutive holders alternate in shade so short holds stay countable.
    svg.rect(x(*event.granted_s), top + band.lanes[i] * k_lane_height + 1, std::max(x(released) - x(*event.granted_s), 1.0),
             k_lane_height - 2, series_style(kind_index[event.kind]).colour, tooltip, i % 2 == 0 ? "holder" : "holder alternate");
  }
  const double queue_top = top + band.lane_count * k_lane_height + 2;
  const double queue_bottom = queue_top + k_queue_height - 4;
  const Scale queue_y(Scale::Kind::linear, 0, queue_peak, queue_bottom, queue_top);
  svg.polygon(queue_area(band.events, window, x, queue_y), "#888888", "queue");
  svg.text(k_left - 10, queue_top + k_queue_height / 2 + 4, "waiting (max " + std::to_string(most_waiting(band.events, window)) + ")",
           SvgWriter::Anchor::end, "tick-label");
  svg.line(k_left, queue_bottom, k_width - k_right, queue_bottom, "grid");
}

}  // namespace

std::string lock_timeline_chart(const std::vector<RunCell>& cells) {
  const RunCell* run = most_contended_run(cells);
  if (run == nullptr) return empty_timeline();
  const TimelineSample sample = drawn_sample(run->lock_events);
  const Window& window = sample.window;
  std::size_t keys_left_out = 0;
  const std::vector<KeyBand> bands = key_bands(sample, keys_left_out);

  // One waiting scale for every key, so keys compare at a glance.
  int queue_peak = 1;
  for (const auto& band : bands) queue_peak = std::max(queue_peak, most_waiting(band.events, window));
  std::map<std::string, std::size_t> kind_index;
  for (const auto& event : sample.events) kind_index.emplace(event.kind, kind_index.size());
  std::vector<LegendEntry> legend;
  for (const auto& [kind, index] : kind_index) legend.push_back({"holder: " + (kind.empty() ? "?" : kind), series_style(index), true});
  legend.push_back({"builds waiting", {"#bbbbbb", ""}, true});

  double plot_height = 0;
  for (const auto& band : bands) plot_height += band.height();
  const PlotArea area{k_left, k_top, k_width - k_left - k_right, plot_height};
  SvgWriter svg(k_width, area.bottom() + 70 + 18 * (legend.size() / 4), "lock holders and waiters per cache key");
  const Scale x(Scale::Kind::linear, window.start, window.end, area.left, area.right());
  std::vector<Tick> ticks;
  for (double t : nice_ticks(window.start, window.end, 8)) ticks.push_back({t, format_number(t)});
  draw_x_axis(svg, area, x, ticks, "time since start (s)");
  double band_top = area.top;
  for (const auto& band : bands) {
    draw_band(svg, band, band_top, window, x, queue_peak, kind_index);
    band_top += band.height();
  }
  svg.line(area.left, area.top, area.left, area.bottom(), "axis");
  draw_legend(svg, k_left, area.bottom() + 62, k_width - k_left - k_right, legend);

  std::string caption = "Run " + run->label + ": per cache key, bars are lock holders (coloured by build kind, " +
                        "alternating shades; overlapping holders get separate lanes) and the grey area is the number " +
                        "of builds waiting for the lock (one scale for every key, peak " + std::to_string(queue_peak) +
                        "). Window " + format_number(window.start) + " s to " + format_number(window.end) + " s: " +
                        std::to_string(sample.events.size()) + " of the " + std::to_string(run->lock_events.size()) +
                        " sampled acquisitions.";
  // Appended piece by piece: `" " + std::to_string(n)` trips GCC 12's -Wrestrict false positive at -O3.
  if (keys_left_out > 0) caption.append(" ").append(std::to_string(keys_left_out)).append(" less busy keys not drawn.");
  return figure("chart-timeline", "Lock holders and waiters per cache key", svg.finish(), caption);
}

}  // namespace cachestress::html
