#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "../common/clock.h"
#include "word_wait.h"

namespace waiter {

int CheckGuards(const uint32_t* word, uint32_t sleeping, const Guards* guards) {
  if (guards == nullptr || !guards->Held()) return 0;
  int64_t start = ipc::MonotonicNs();
  bool freed = AdaptiveSpin::SpinFor(
      [word, sleeping, guards] { return !guards->Held() || WordChanged(word, sleeping); }, start,
      kGuardSpinNs);
  if (!freed) return kWordGuarded;
  return WordChanged(word, sleeping) ? 1 : 0;
}

int WordWaitUntil(uint32_t* word, uint32_t expected, int64_t untilNs, AdaptiveSpin* spin,
                  const Guards* guards) {
  int64_t start = ipc::MonotonicNs();
  if (spin != nullptr) {
    // Spin() takes a negative limit as none.
    int64_t limit = untilNs == ipc::kForever ? -1 : (untilNs > start ? untilNs - start : 0);
    if (spin->Spin([word, expected] { return WordChanged(word, expected); }, start, limit)) return 0;
  }
  // Announce a sleeper (bit 0), unless the word changed meanwhile.
  uint32_t seen = expected;
  uint32_t sleeping = expected | 1u;
  while ((seen & 1u) == 0) {
    if (__atomic_compare_exchange_n(word, &seen, sleeping, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) break;
    if (((seen ^ expected) & ~1u) != 0) return 0;
  }
  // Read after the announcement (see Guards in word_wait.h).
  int guarded = CheckGuards(word, sleeping, guards);
  if (guarded == kWordGuarded) return kWordGuarded;
  if (guarded != 0) return 0;
  timespec until = ipc::ToTimespec(untilNs);
  int result = 0;
  for (;;) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
    long r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, sleeping,
                     untilNs == ipc::kForever ? nullptr : &until, nullptr, FUTEX_BITSET_MATCH_ANY);
    if (r == 0 || errno == EAGAIN) break;
    if (errno == ETIMEDOUT) {
      result = ETIMEDOUT;
      break;
    }
    // EINTR: sleep again with the same deadline.
  }
  if (spin != nullptr) spin->Slept(ipc::MonotonicNs() - start);
  return result;
}

int WordWake(uint32_t* word, int count) {
  long r = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return r < 0 ? 0 : static_cast<int>(r);
}

}  // namespace waiter
