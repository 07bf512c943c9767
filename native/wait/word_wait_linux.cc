#include "word_wait.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "../common/clock.h"

namespace waiter {

int WordWaitUntil(uint32_t* word, uint32_t expected, int64_t untilNs) {
  timespec until = ipc::ToTimespec(untilNs);
  for (;;) {
    if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != expected) return 0;
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
    long r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, untilNs == ipc::kForever ? nullptr : &until,
                     nullptr, FUTEX_BITSET_MATCH_ANY);
    if (r == 0 || errno == EAGAIN) return 0;
    if (errno == ETIMEDOUT) return ETIMEDOUT;
    // EINTR: look again with the same deadline.
  }
}

int WordWake(uint32_t* word, int count) {
  long r = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return r < 0 ? 0 : static_cast<int>(r);
}

}  // namespace waiter
