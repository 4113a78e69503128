#pragma once
// RAII ownership of the libuv loop and its handles (the uvw / libuv-test discipline):
// - a handle lives in a heap "box" that libuv points back to through handle->data; the box
//   is freed only in the close callback, never before libuv is done with it;
// - the owning C++ object (Timer, Async, Signal) closes its box in its destructor;
// - Loop's destructor closes whatever is left (uv_walk), runs the loop once more and
//   requires uv_loop_close() == 0. Every handle on a Loop has a HandleData behind its `data`
//   (one per handle for the boxes below, one per child for ChildProcess), which the walk
//   asks to close it.
// Callbacks never let an exception escape into C: they are caught and logged.
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace cachestress::core {

// The engine's one clock: monotonic microseconds (uv_hrtime). Every process on the host reads
// the same clock, so a worker's timestamps and the runner's compare directly.
inline std::uint64_t now_us() noexcept { return uv_hrtime() / 1000; }

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  uv_loop_t* raw() noexcept { return &m_loop; }
  // Runs until no active handles or requests remain.
  void run();
  // Closes every handle still open, drains their callbacks and closes the loop.
  // Returns uv_loop_close()'s result (0 when everything was released).
  int close();
  std::uint64_t now_ms() noexcept { return uv_now(&m_loop); }

 private:
  uv_loop_t m_loop{};
  bool m_closed = false;
};

// What the `data` of every handle on a Loop points to (as HandleData*): Loop::close() calls
// close_left_open() for each handle still open, and the object closes it (and whatever must
// go with it) so that its memory is released by its own close callbacks.
class HandleData {
 public:
  virtual void close_left_open(uv_handle_t* handle) noexcept = 0;

 protected:
  HandleData() = default;
  ~HandleData() = default;
  HandleData(const HandleData&) = delete;
  HandleData& operator=(const HandleData&) = delete;
};

class HandleBox;

// Base of the owner objects below: holds the box and detaches from it on destruction.
class HandleOwner {
 public:
  HandleOwner(const HandleOwner&) = delete;
  HandleOwner& operator=(const HandleOwner&) = delete;
  bool is_open() const noexcept { return m_box != nullptr; }
  // Closes the handle now (idempotent); later calls on the owner are no-ops.
  void close() noexcept;
  // A referenced handle keeps Loop::run() going; an unreferenced one does not.
  void ref() noexcept;
  void unref() noexcept;

 protected:
  HandleOwner() = default;
  ~HandleOwner();
  HandleBox* m_box = nullptr;
  friend class HandleBox;
};

class Timer : public HandleOwner {
 public:
  Timer(Loop& loop, std::function<void()> on_fire);
  ~Timer() = default;
  void start(std::uint64_t timeout_ms, std::uint64_t repeat_ms = 0) noexcept;
  void stop() noexcept;
};

// A Timer made the first time it is started, for an object that most often never needs one
// (an in-process build: most have no hold, gap, poll or lock timeout): no handle to
// allocate, init and close per build.
class LazyTimer {
 public:
  LazyTimer(Loop& loop, std::function<void()> on_fire) : m_loop(loop), m_on_fire(std::move(on_fire)) {}
  void start(std::uint64_t timeout_ms, std::uint64_t repeat_ms = 0) {
    if (!m_timer) m_timer.emplace(m_loop, m_on_fire);
    m_timer->start(timeout_ms, repeat_ms);
  }
  void stop() noexcept {
    if (m_timer) m_timer->stop();
  }

 private:
  Loop& m_loop;
  std::function<void()> m_on_fire;
  std::optional<Timer> m_timer;
};

// Wakes the loop from another thread; coalesces: many sends, at least one callback.
class Async : public HandleOwner {
 public:
  Async(Loop& loop, std::function<void()> on_wake);
  ~Async() = default;
  void send() noexcept;  // thread-safe
};

class Signal : public HandleOwner {
 public:
  Signal(Loop& loop, int signum, std::function<void(int)> on_signal);
  ~Signal() = default;
};

// Runs `work` on libuv's threadpool and `after` on the loop thread with the status
// (0, or UV_ECANCELED when cancelled before it started). One heap request per call.
void queue_work(Loop& loop, std::function<void()> work, std::function<void(int status)> after);

}  // namespace cachestress::core
