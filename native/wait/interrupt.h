// Interrupting a thread blocked in a system call that no futex wake reaches
// (semtimedop, sem_clockwait): a signal with a handler that does nothing,
// installed without SA_RESTART, so the call fails with EINTR. The signal is
// a real-time one nobody else handles, chosen once per process; it is only
// ever sent to the engine's own threads (pthread_kill).
#pragma once
#include <pthread.h>

namespace waiter {

// Installs the handler (once per process); false if no signal is free.
bool InterruptReady();

// Sends the signal to `thread`.
void Interrupt(pthread_t thread);

// The signal, for the engine's threads to leave unblocked.
int InterruptSignal();

}  // namespace waiter
