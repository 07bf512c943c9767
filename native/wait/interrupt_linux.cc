#include <signal.h>

#include <cstring>

#include "interrupt.h"

namespace waiter {

namespace {

void Nothing(int) {}

int Install() {
  // From the top of the real-time range down: glibc and Node use none of these.
  for (int sig = SIGRTMAX; sig > SIGRTMIN + 2; sig--) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = Nothing;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the blocked call returns EINTR
    if (sigaction(sig, &sa, nullptr) == 0) return sig;
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

void Interrupt(pthread_t thread) {
  if (Signal() != 0) pthread_kill(thread, Signal());
}

}  // namespace waiter
