// The waiter engine: blocking waits run on a dedicated thread, never on the
// event loop and never on libuv's threadpool; results come back to JavaScript
// through a thread-safe function. Nothing here is specific to one kind of
// wait: semaphores (sem/sem_binding.cc) and the Mutex (mutex/mutex_binding.cc)
// plug into it.
//
// Plugging another kind of wait in:
//   1. Subclass waiter::Source. Attempt(until) runs on the waiter thread and
//      must not touch Node-API: block at most until `until` (a steady_clock,
//      i.e. CLOCK_MONOTONIC, time the engine keeps <= kSlice away so close and
//      teardown stay prompt), retry EINTR itself, and return
//        Result::Acquired(value)  it took what the wait wants (a unit, the lock);
//                                 `value` reaches JavaScript (e.g. ownerDied = 1),
//        Result::Again()          `until` passed, nothing taken,
//        Result::Failed(errno)    a hard failure: the oldest wait rejects with it.
//      Undo(value) gives back what an Acquired took when no wait wants it any
//      more (timed out, cancelled, closed at the same moment): it may run on
//      the waiter thread or the JS thread.
//   2. On the JS thread, make a queue with waiter::NewQueue(env, source,
//      onSettled) and hand the returned handle to JavaScript. The generic
//      functions on it are the addon's `wait` namespace (wait_binding.cc):
//        wait.add(queue, timeoutMs) -> id     (timeoutMs < 0 or Infinity: forever)
//        wait.cancel(queue, id) -> boolean    (true: removed, will never settle;
//                                              false: settled or settling)
//        wait.close(queue) -> id[]            (every unsettled wait, its unit
//                                              undone; the thread stops)
//      onSettled(id, err, value) is called on the JS thread for each wait: err
//      0 (value from Acquired), ETIMEDOUT, or the errno of a Failed attempt.
//      lib/wait-queue.ts turns this into promises with timeouts and signals.
//
// Guarantees: waits are served first-in first-out; a unit taken for a wait
// that can no longer have it goes to the next wait or is undone (none is lost
// or invented); the thread-safe function keeps the event loop alive only while
// waits are pending; an env cleanup hook and the thread-safe function's
// finalizer both stop and join the thread, so it never outlives its
// environment or the addon (worker_threads, several copies of the addon).
#pragma once
#include <napi.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace waiter {

// CLOCK_MONOTONIC, as ipc::MonotonicNs (common/clock.h).
using Clock = std::chrono::steady_clock;

// The longest a single Attempt may block.
constexpr std::chrono::milliseconds kSlice{50};

struct Result {
  enum Kind { kAcquired, kAgain, kFailed } kind;
  int value;  // kAcquired: passed to onSettled; kFailed: errno
  static Result Acquired(int value = 0) { return {kAcquired, value}; }
  static Result Again() { return {kAgain, 0}; }
  static Result Failed(int err) { return {kFailed, err}; }
};

class Source {
 public:
  virtual ~Source() = default;
  virtual Result Attempt(Clock::time_point until) = 0;
  virtual void Undo(int value) = 0;
};

// A queue of waits on `source`, served by one lazily started thread. Returns
// an opaque handle (a tagged Napi::External) for Add, Cancel and Close.
Napi::Value NewQueue(Napi::Env env, std::shared_ptr<Source> source, Napi::Function onSettled);

// The generic operations on a queue handle; TypeError if `queue` is not one.
// Add queues a wait (timeoutMs < 0, NaN or past ~31 years: forever) and returns its id.
uint32_t Add(const Napi::Value& queue, double timeoutMs);
// true if the wait was still pending: it never settles now.
bool Cancel(const Napi::Value& queue, uint32_t id);
// Closes the queue; returns the ids of the waits that will never settle now.
std::vector<uint32_t> Close(const Napi::Value& queue);

}  // namespace waiter
