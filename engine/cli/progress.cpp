#include "engine/cli/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "engine/core/printable.hpp"
#include "engine/metrics/summary_fields.hpp"
#include "engine/report/report.hpp"

namespace cachestress::cli {
namespace {

bool no_colour() {
  const char* value = std::getenv("NO_COLOR");  // https://no-color.org: set and non-empty
  return value != nullptr && *value != '\0';
}

std::string clock_text(double seconds) {
  if (seconds < 0 || seconds > 359999) return "--:--";
  const auto s = static_cast<long>(seconds);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) : fmt::format("{:02}:{:02}", s / 60, s % 60);
}

}  // namespace

ProgressLine::ProgressLine(bool quiet, bool text_output) {
  m_active = !quiet && text_output && ::isatty(STDOUT_FILENO) == 1;
  m_colour = m_active && !no_colour();
}

void ProgressLine::begin(std::string label, std::uint64_t total_builds, double duration_s) {
  std::lock_guard lock(m_mutex);
  m_label = core::printable(label);  // sweep values from a scenario file
  m_total = total_builds;
  m_duration_s = duration_s;
  m_text.clear();
}

void ProgressLine::update(const metrics::Collector& collector, double elapsed_s, std::uint64_t in_flight) {
  if (!m_active) return;
  const auto& m = collector.metrics();
  auto value = [&](const char* path) { return metrics::summary_value(m, path); };
  const double done = value("builds.completed") + value("builds.failed") + value("builds.interrupted");
  const double rate = elapsed_s > 0 ? value("builds.completed") / elapsed_s : 0;
  double eta = -1;
  if (m_total > 0 && rate > 0) eta = (static_cast<double>(m_total) - done) / rate;
  if (m_total == 0 && m_duration_s > 0) eta = m_duration_s - elapsed_s;
  const double collisions = value("collisions.total");
  std::string collisions_text = fmt::format("{:.0f} collisions", collisions);
  if (m_colour && collisions > 0) collisions_text = "\033[31m" + collisions_text + "\033[0m";
  std::string total = m_total > 0 ? fmt::format("/{}", m_total) : "";
  std::lock_guard lock(m_mutex);
  m_text = fmt::format("{}{:.0f}{} builds ({} in flight) | {:.1f} builds/s | {} | wait p99 {} | {} elapsed, ETA {}",
                       m_label, done, total, in_flight, rate, collisions_text, report::duration_text(value("lock_wait_us.p99")),
                       clock_text(elapsed_s), clock_text(eta));
  draw_locked();
}

void ProgressLine::draw_locked() {
  if (!m_active || m_text.empty()) return;
  std::fputs("\r\033[K", stdout);
  std::fputs(m_text.c_str(), stdout);
  std::fflush(stdout);
  m_shown = true;
}

void ProgressLine::clear() {
  if (!m_active) return;
  std::lock_guard lock(m_mutex);
  if (!m_shown) return;
  std::fputs("\r\033[K", stdout);
  std::fflush(stdout);
  m_shown = false;
}

void ProgressLine::redraw() {
  std::lock_guard lock(m_mutex);
  draw_locked();
}

void ProgressLine::finish() {
  clear();
  std::lock_guard lock(m_mutex);
  m_text.clear();
}

ProgressAwareSink::ProgressAwareSink(std::shared_ptr<ProgressLine> progress, bool colour)
    : m_progress(std::move(progress)), m_colour(colour && ::isatty(STDERR_FILENO) == 1 && !no_colour()) {}

void ProgressAwareSink::sink_it_(const spdlog::details::log_msg& raw) {
  // Every log line and error message: what it quotes (a path, an id, a child's output) is
  // escaped, so it stays one line and cannot drive the terminal.
  const std::string payload = core::printable(std::string_view(raw.payload.data(), raw.payload.size()));
  spdlog::details::log_msg msg = raw;
  msg.payload = spdlog::string_view_t(payload.data(), payload.size());
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  std::string line(formatted.data(), formatted.size());
  if (m_colour && msg.color_range_end > msg.color_range_start) {
    const char* colour = msg.level >= spdlog::level::err ? "\033[31m" : msg.level == spdlog::level::warn ? "\033[33m" : "\033[32m";
    line.insert(msg.color_range_end, "\033[0m");
    line.insert(msg.color_range_start, colour);
  }
  if (m_progress) m_progress->clear();
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
  if (m_progress) m_progress->redraw();
}

void ProgressAwareSink::flush_() { std::fflush(stderr); }

}  // namespace cachestress::cli
