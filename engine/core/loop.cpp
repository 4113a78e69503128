#include "engine/core/loop.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <stdexcept>
#include <utility>

#include "engine/core/error.hpp"

namespace cachestress::core {

namespace {

// Runs a callback without letting an exception cross into libuv's C frames.
template <typename Fn>
void guarded(const char* where, Fn&& fn) noexcept {
  try {
    fn();
  } catch (const std::exception& e) {
    spdlog::critical("unexpected exception in {} callback: {}", where, e.what());
    std::terminate();
  }
}

}  // namespace

// The heap object libuv points at. Freed only by the close callback.
class HandleBox : public HandleData {
 public:
  virtual ~HandleBox() {
    if (m_owner != nullptr) m_owner->m_box = nullptr;
  }
  virtual uv_handle_t* handle() noexcept = 0;

  void close() noexcept {
    uv_handle_t* h = handle();
    if (!uv_is_closing(h)) uv_close(h, &HandleBox::on_closed);
  }
  void close_left_open(uv_handle_t*) noexcept override { close(); }
  static void on_closed(uv_handle_t* h) noexcept { delete static_cast<HandleBox*>(static_cast<HandleData*>(h->data)); }

  HandleOwner* m_owner = nullptr;
};

namespace {

template <typename UvHandle, typename Callback>
class TypedBox final : public HandleBox {
 public:
  explicit TypedBox(Callback callback) : m_callback(std::move(callback)) {
    m_handle.data = static_cast<HandleData*>(this);
  }
  static TypedBox* of(void* data) noexcept { return static_cast<TypedBox*>(static_cast<HandleData*>(data)); }
  uv_handle_t* handle() noexcept override { return reinterpret_cast<uv_handle_t*>(&m_handle); }
  UvHandle m_handle{};
  Callback m_callback;
};

using TimerBox = TypedBox<uv_timer_t, std::function<void()>>;
using AsyncBox = TypedBox<uv_async_t, std::function<void()>>;
using SignalBox = TypedBox<uv_signal_t, std::function<void(int)>>;

void check_init(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string(what) + ": " + uv_error_text(rc));
}

struct WorkRequest {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void(int)> after;
};

}  // namespace

Loop::Loop() { check_init(uv_loop_init(&m_loop), "uv_loop_init"); }

Loop::~Loop() {
  if (!m_closed && close() != 0) {
    spdlog::critical("uv_loop_close failed: a handle or request outlived its owner");
  }
}

void Loop::run() { uv_run(&m_loop, UV_RUN_DEFAULT); }

int Loop::close() {
  if (m_closed) return 0;
  uv_walk(
      &m_loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) static_cast<HandleData*>(h->data)->close_left_open(h);
      },
      nullptr);
  uv_run(&m_loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&m_loop);
  m_closed = rc == 0;
  return rc;
}

HandleOwner::~HandleOwner() { close(); }

void HandleOwner::close() noexcept {
  if (m_box == nullptr) return;
  m_box->m_owner = nullptr;
  m_box->close();
  m_box = nullptr;
}

void HandleOwner::ref() noexcept {
  if (m_box != nullptr) uv_ref(m_box->handle());
}

void HandleOwner::unref() noexcept {
  if (m_box != nullptr) uv_unref(m_box->handle());
}

template <typename Box>
static Box* box_of(HandleBox* box) {
  return static_cast<Box*>(box);
}

Timer::Timer(Loop& loop, std::function<void()> on_fire) {
  auto* box = new TimerBox(std::move(on_fire));
  int rc = uv_timer_init(loop.raw(), &box->m_handle);
  if (rc != 0) {
    delete box;
    check_init(rc, "uv_timer_init");
  }
  box->m_owner = this;
  m_box = box;
}

void Timer::start(std::uint64_t timeout_ms, std::uint64_t repeat_ms) noexcept {
  if (m_box == nullptr) return;
  uv_timer_start(
      &box_of<TimerBox>(m_box)->m_handle,
      [](uv_timer_t* t) { guarded("timer", [t] { TimerBox::of(t->data)->m_callback(); }); },
      timeout_ms, repeat_ms);
}

void Timer::stop() noexcept {
  if (m_box != nullptr) uv_timer_stop(&box_of<TimerBox>(m_box)->m_handle);
}

Async::Async(Loop& loop, std::function<void()> on_wake) {
  auto* box = new AsyncBox(std::move(on_wake));
  int rc = uv_async_init(loop.raw(), &box->m_handle, [](uv_async_t* a) {
    guarded("async", [a] { AsyncBox::of(a->data)->m_callback(); });
  });
  if (rc != 0) {
    delete box;
    check_init(rc, "uv_async_init");
  }
  box->m_owner = this;
  m_box = box;
}

void Async::send() noexcept {
  if (m_box != nullptr) uv_async_send(&box_of<AsyncBox>(m_box)->m_handle);
}

Signal::Signal(Loop& loop, int signum, std::function<void(int)> on_signal) {
  auto* box = new SignalBox(std::move(on_signal));
  int rc = uv_signal_init(loop.raw(), &box->m_handle);
  if (rc != 0) {
    delete box;
    check_init(rc, "uv_signal_init");
  }
  rc = uv_signal_start(
      &box->m_handle,
      [](uv_signal_t* s, int num) { guarded("signal", [s, num] { SignalBox::of(s->data)->m_callback(num); }); },
      signum);
  if (rc != 0) {
    box->close();  // initialised: its memory goes in the close callback
    check_init(rc, "uv_signal_start");
  }
  box->m_owner = this;
  m_box = box;
}

void queue_work(Loop& loop, std::function<void()> work, std::function<void(int status)> after) {
  auto* request = new WorkRequest{{}, std::move(work), std::move(after)};
  request->req.data = request;
  int rc = uv_queue_work(
      loop.raw(), &request->req,
      [](uv_work_t* r) { guarded("work", [r] { static_cast<WorkRequest*>(r->data)->work(); }); },
      [](uv_work_t* r, int status) {
        std::unique_ptr<WorkRequest> owned(static_cast<WorkRequest*>(r->data));
        guarded("after_work", [&] { owned->after(status); });
      });
  if (rc != 0) {
    delete request;
    throw std::runtime_error("uv_queue_work: " + uv_error_text(rc));
  }
}

}  // namespace cachestress::core
