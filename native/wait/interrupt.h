// Interrupting an engine thread that sleeps where no futex wake of ours
// reaches it: in semtimedop or sem_clockwait (blocking sources), or in
// FUTEX_WAIT on another object's word (the engine without futex_waitv).
//
// Such a thread sleeps with a timeout that lives in memory the interrupt can
// reach (an Interruptible's `timeout`), always set: a wait without deadline
// gets a far one. Its order is: write the timeout, then mark itself blocked
// and read its change counter, and only if no change came make the call. The
// interrupter bumps the counter, then (if the thread is marked blocked) sends
// it a real-time signal carrying the timeout's address; the handler sets the
// timeout to zero. The kernel reads the timeout when the call begins, so a
// change is never lost: before the read of the counter it is seen there;
// between that and the call, the call finds a zero timeout (relative: it
// returns at once; absolute: the time has passed); during the call, the call
// fails with EINTR (installed without SA_RESTART). A signal that arrives
// after the thread has moved on costs at most one early return, after which
// the thread looks again. Nothing polls, and the interrupter never waits: when
// the user's queue of pending real-time signals is full (RLIMIT_SIGPENDING),
// the signal cannot be sent, and the engine sends it again later.
#pragma once
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cstdint>

namespace waiter {

// A thread's interruptible sleep. The thread's own, but for what Interrupt
// and its signal touch: `timeout` (zeroed), and the atomics.
struct Interruptible {
  timespec timeout{};                // handed to the blocking call by address
  std::atomic<bool> blocked{false};  // between the counter's read and the call's end
};

// A wait without deadline blocks this long at most (~34 years).
constexpr time_t kFarSeconds = time_t{1} << 30;

// Installs the handler (once per process); false if no signal is free.
bool InterruptReady();

// Sends the signal to `thread`, whose sleep is `sleep`; false if it could not
// be queued (the queue is full: try again later).
bool Interrupt(pthread_t thread, Interruptible* sleep);

// The signal, for the engine's threads to leave unblocked.
int InterruptSignal();

}  // namespace waiter
