#pragma once
// The live progress line: done/total, builds/s, collisions so far, current p99 lock wait,
// elapsed and ETA, redrawn in place on a terminal. Log lines go through a sink that clears
// the progress line first and redraws it after, so the two never tear each other.
#include <spdlog/sinks/base_sink.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "engine/metrics/collector.hpp"

namespace cachestress::cli {

class ProgressLine {
 public:
  // Active only when stdout is a terminal and not quiet; colour unless NO_COLOR is set.
  ProgressLine(bool quiet, bool text_output);
  bool active() const noexcept { return m_active; }

  void begin(std::string label, std::uint64_t total_builds, double duration_s);
  void update(const metrics::Collector& collector, double elapsed_s, std::uint64_t in_flight);
  void clear();   // erase the line (before a log line or the final report)
  void redraw();  // draw the last state again (after a log line)
  void finish();  // erase for good

 private:
  void draw_locked();
  bool m_active = false;
  bool m_colour = false;
  bool m_shown = false;
  std::mutex m_mutex;
  std::string m_label;
  std::string m_text;
  std::uint64_t m_total = 0;
  double m_duration_s = 0;
};

// A stderr sink that keeps the progress line intact around each log message.
class ProgressAwareSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ProgressAwareSink(std::shared_ptr<ProgressLine> progress, bool colour);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  std::shared_ptr<ProgressLine> m_progress;
  bool m_colour;
};

}  // namespace cachestress::cli
