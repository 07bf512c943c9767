// Blocking the JavaScript thread itself (waitSync, acquireSync) so that it
// can still be terminated. A worker blocked in a system call cannot run its
// termination (worker.terminate(), process.exit() in the worker or in the
// main thread, which ends every worker first) until the call returns, and
// nothing in Node-API tells native code from another thread. So a blocking
// wait in a worker sleeps in slices of kSyncSliceNs (a wake-up per slice
// costs nothing measurable) and, between them, enters JavaScript for an
// instant: a terminating environment refuses that, and the wait ends taking
// nothing. The main thread (the process's first) is never terminated from
// elsewhere: its waits sleep until their own deadline (without one, in one
// attempt; with one, in slices of a day).
#pragma once
#include <node_api.h>

#include <cstdint>

#include "../common/clock.h"

namespace waiter {

constexpr int64_t kSyncSliceNs = 100 * 1000 * 1000;
constexpr int64_t kMainSliceNs = 24 * 3600 * 1000000000LL;

enum class SyncEnd { kDone, kTimedOut, kTerminated };

// Whether the environment of this JavaScript thread is being torn down.
bool Terminating(napi_env env);

// Whether this is a worker's thread: only those can be terminated while blocked.
bool Terminable();

// Calls attempt(sliceUntilNs), which blocks at most until that
// ipc::MonotonicNs time (ipc::kForever: no limit) and returns true once it is done (took, or failed),
// until it is done, `untilNs` passes (ipc::kForever: never) or the
// environment is being torn down (then an exception is pending: return to it).
template <class Attempt>
SyncEnd SyncWait(napi_env env, int64_t untilNs, Attempt attempt) {
  // The main thread, waiting without a deadline: one attempt, no clock to read.
  if (untilNs == ipc::kForever && !Terminable()) {
    while (!attempt(ipc::kForever)) {
    }
    return SyncEnd::kDone;
  }
  const int64_t slice = Terminable() ? kSyncSliceNs : kMainSliceNs;
  for (;;) {
    int64_t sliceEnd = ipc::MonotonicNs() + slice;
    bool last = untilNs != ipc::kForever && untilNs <= sliceEnd;
    if (attempt(last ? untilNs : sliceEnd)) return SyncEnd::kDone;
    if (last) return SyncEnd::kTimedOut;
    if (Terminating(env)) return SyncEnd::kTerminated;
  }
}

}  // namespace waiter
