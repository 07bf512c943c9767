// The waiter engine: async waits (Semaphore wait(), Mutex acquire(), ...)
// are served by the engine's own threads, never by the event loop and never
// by libuv's threadpool; results come back to JavaScript through one
// thread-safe function per environment. Nothing here is specific to one kind
// of wait: semaphores (sem/sem_binding.cc) and the Mutex
// (mutex/mutex_binding.cc) plug into it.
//
// Nobody polls. An idle wait costs a place in a kernel sleep:
//   futex sources  (a 32-bit word in shared memory: glibc's sem_t, the lock
//                  word) are grouped, up to kGroupWords per thread, and the
//                  thread sleeps on all their words at once with futex_waitv
//                  (Linux >= 5.16), plus one word of its own that the
//                  JavaScript thread bumps and wakes whenever the group's set
//                  changes (a wait added, cancelled, closed; teardown).
//                  Without futex_waitv (older kernels, or IPC_KIT_FUTEX_WAITV=0)
//                  a group holds one source and sleeps on its word alone.
//   blocking sources  (no futex word: System V semaphores) get a thread each,
//                  blocked in the system call until the earliest deadline of
//                  their waits; a change interrupts it with a signal that
//                  cannot be lost (interrupt.h). So does a change for a group
//                  that sleeps alone on a source's word (without futex_waitv).
// A thread sleeps until the earliest deadline of its waits, or a time a source
// asks to look again at (a Mutex whose owner the kernel cannot tell it about
// checks periodically that the owner lives; one it can is woken on its word
// by the owner watcher, mutex/owner_watch.h); else without a timeout (an
// interruptible sleep: a far one, for the interrupt to zero).
//
// Plugging another kind of wait in:
//   1. Subclass waiter::Source. A futex source implements Poll (and, if it
//      must count its sleepers, Arm/Disarm); a blocking source returns true
//      from Blocking() and implements Attempt. Both implement Undo. They run
//      on the engine's thread (Undo may also run on the JavaScript thread)
//      and never touch Node-API. Memory they read must stay mapped as long
//      as the Source lives, whatever JavaScript unmaps: hold your own
//      reference (the Mutex maps its lock page a second time).
//        Poll(sleep)       one look, without blocking: Acquired(value) (took
//                          what the wait wants; `value` reaches JavaScript),
//                          Failed(errno) (the oldest wait rejects with it), or
//                          Again() after filling in `sleep`: the word to sleep
//                          on, the value it holds now, and optionally a time
//                          to look again (ipc::kForever: only when woken) and
//                          a flag that, raised, makes a wake of the word count
//                          although its value is the same.
//        Spins(), Peek()   a source whose takes are cheap may be spun on
//                          (adaptive_spin.h) when a wait arrives: Peek takes
//                          if it can, and prepares nothing for a sleep (sets
//                          no bit that would make wakers call the kernel).
//        Arm(), Disarm()   the source's first wait arrived, its last one left
//                          (glibc counts a semaphore's sleepers; a Mutex
//                          passes on a wake it may have absorbed).
//        Attempt(timeout)  blocks in one call until it takes (Acquired), the
//                          timeout passes or the call is interrupted (Again),
//                          or fails. `timeout` is absolute on CLOCK_MONOTONIC,
//                          or relative if RelativeTimeout(); it must reach the
//                          kernel by address, never as a copy: an interrupt
//                          zeroes it (interrupt.h).
//        Undo(value)       gives back what an Acquired took when no wait wants
//                          it any more (timed out, cancelled, closed meanwhile).
//   2. On the JavaScript thread, make a queue with waiter::NewQueue(env,
//      source, onSettled) and hand the returned handle to JavaScript. The
//      generic functions on it are the addon's `wait` namespace (wait_binding.cc):
//        wait.add(queue, timeoutMs) -> id     (timeoutMs < 0 or Infinity: forever;
//                                              IPCError EAGAIN if no thread can be made)
//        wait.cancel(queue, id) -> boolean    (true: removed, will never settle;
//                                              false: settled or settling)
//        wait.close(queue) -> id[]            (every unsettled wait, its unit undone)
//        wait.notify()                        (after cancel/close calls: tells the
//                                              threads, once per burst, e.g. in a microtask)
//      onSettled(id, err, value) is called on the JS thread for each wait: err
//      0 (value from Acquired), ETIMEDOUT, or the errno of a Failed attempt.
//      lib/wait-queue.ts turns this into promises with timeouts and signals.
//
// Guarantees: waits of one queue are served first-in first-out; a unit taken
// for a wait that can no longer have it goes to the next wait or is undone
// (none is lost or invented); the thread-safe function keeps the event loop
// alive only while waits are pending; the environment's cleanup hook stops
// and joins every thread, so none outlives its environment or the addon
// (worker_threads, several copies of the addon); close() and cancel() never
// wait for a thread. Threads: ceil(futex sources with waits / kGroupWords)
// (one per source without futex_waitv) plus one per blocking source with
// waits; a thread left without work ends after a second (at once if another
// idle one of its kind is there to take new work).
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <ctime>
#include <memory>
#include <vector>

#include "../common/clock.h"

namespace waiter {

// Words of other objects one thread sleeps on (futex_waitv takes 128: one is the thread's own).
constexpr size_t kGroupWords = 127;

struct Result {
  enum Kind { kAcquired, kAgain, kFailed } kind;
  int value;  // kAcquired: passed to onSettled; kFailed: errno
  static Result Acquired(int value = 0) { return {kAcquired, value}; }
  static Result Again() { return {kAgain, 0}; }
  static Result Failed(int err) { return {kFailed, err}; }
};

// Where a futex source sleeps until something changes.
struct Sleep {
  uint32_t* word = nullptr;  // sleep while *word == expected
  uint32_t expected = 0;
  int64_t lookAgainNs = ipc::kForever;  // ipc::MonotonicNs time to poll again unwoken
  // A flag another thread may raise, then wake `word`, to have the source
  // polled again although the word did not change (the Mutex's owner watcher).
  const std::atomic<bool>* poked = nullptr;
};

class Source {
 public:
  virtual ~Source() = default;
  virtual Result Poll(Sleep* sleep) { return Result::Failed(ENOSYS); }
  virtual bool Spins() const { return false; }
  virtual Result Peek() { return Result::Again(); }
  virtual void Arm() {}
  virtual void Disarm() {}
  virtual bool Blocking() const { return false; }
  virtual bool RelativeTimeout() const { return false; }
  virtual Result Attempt(const timespec* timeout) { return Result::Failed(ENOSYS); }
  virtual void Undo(int value) = 0;
};

// A queue of waits on `source`. Returns an opaque handle (a tagged
// Napi::External) for Add, Cancel and Close.
Napi::Value NewQueue(Napi::Env env, std::shared_ptr<Source> source, Napi::Function onSettled);

// The generic operations on a queue handle; TypeError if `queue` is not one.
// Add queues a wait (timeoutMs < 0, NaN or past ~31 years: forever) and returns its id.
uint32_t Add(const Napi::Value& queue, double timeoutMs);
// true if the wait was still pending: it never settles now.
bool Cancel(const Napi::Value& queue, uint32_t id);
// Closes the queue; returns the ids of the waits that will never settle now.
std::vector<uint32_t> Close(const Napi::Value& queue);
// Tells the threads about the Cancel and Close calls made since the last
// call (they are told in batches: call it once the current burst is over).
// True if a thread could not be told yet (no room in the signal queue): call
// it again later.
bool NotifyDeferred();

// Whether this process's futex sources share threads through futex_waitv.
bool GroupsShareThreads();

}  // namespace waiter
