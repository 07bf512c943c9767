#include <signal.h>

#include <cerrno>
#include <cstring>

#include "interrupt.h"

namespace waiter {

namespace {

// Only ever sent by Interrupt, with the address of a live Interruptible's
// timeout (the thread's sleep outlives the thread). Async-signal-safe: two stores.
void ZeroTimeout(int, siginfo_t* info, void*) {
  if (info->si_code != SI_QUEUE || info->si_value.sival_ptr == nullptr) return;
  auto* t = static_cast<timespec*>(info->si_value.sival_ptr);
  __atomic_store_n(&t->tv_sec, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&t->tv_nsec, 0, __ATOMIC_RELAXED);
}

// Whether `sig` can be queued to a thread: sent to this one with the signal
// blocked, then taken back. An emulator may accept a handler for a signal it
// cannot deliver (qemu-user refuses to queue SIGRTMAX).
bool Deliverable(int sig) {
  sigset_t only, old;
  sigemptyset(&only);
  sigaddset(&only, sig);
  if (pthread_sigmask(SIG_BLOCK, &only, &old) != 0) return false;
  sigval value;
  value.sival_ptr = nullptr;  // the handler ignores it
  bool sent = pthread_sigqueue(pthread_self(), sig, value) == 0;
  if (sent) {
    timespec now{0, 0};
    sigtimedwait(&only, nullptr, &now);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return sent;
}

int Install() {
  // From the top of the real-time range down: glibc and Node use none of these.
  for (int sig = SIGRTMAX; sig > SIGRTMIN + 2; sig--) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = ZeroTimeout;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: the blocked call returns EINTR
    if (sigaction(sig, &sa, nullptr) != 0) continue;
    if (Deliverable(sig)) return sig;
    sigaction(sig, &old, nullptr);
  }
  return 0;
}

int Signal() {
  static const int sig = Install();
  return sig;
}

}  // namespace

bool InterruptReady() { return Signal() != 0; }

int InterruptSignal() { return Signal(); }

bool Interrupt(pthread_t thread, Interruptible* sleep) {
  if (Signal() == 0) return true;
  sigval value;
  value.sival_ptr = &sleep->timeout;
  // EAGAIN: the user's queue of pending real-time signals is full.
  return pthread_sigqueue(thread, Signal(), value) != EAGAIN;
}

}  // namespace waiter
