#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "../common/clock.h"
#include "futex.h"

// The syscall number is the same on x86_64 and arm64 (older headers lack it).
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

namespace waiter {

namespace {

// struct futex_waitv of <linux/futex.h> (5.16+ headers), spelt out for older ones.
struct Waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};
constexpr uint32_t kFutex32 = 2;  // FUTEX_32; no FUTEX_PRIVATE_FLAG: shared futexes

long FutexWaitv(Waitv* waiters, size_t count, const timespec* until) {
  return syscall(SYS_futex_waitv, waiters, count, 0, until, CLOCK_MONOTONIC);
}

bool Probe() {
  const char* env = getenv("IPC_KIT_FUTEX_WAITV");
  if (env != nullptr && strcmp(env, "0") == 0) return false;
  // A word that differs from what we expect: EAGAIN at once where the call exists.
  uint32_t word = 1;
  Waitv w{0, reinterpret_cast<uintptr_t>(&word), kFutex32, 0};
  return FutexWaitv(&w, 1, nullptr) < 0 && errno == EAGAIN;
}

}  // namespace

bool WaitvAvailable() {
  static const bool available = Probe();
  return available;
}

void SleepOn(const FutexWord* words, size_t count, int64_t untilNs) {
  timespec until = ipc::ToTimespec(untilNs);
  const timespec* limit = untilNs == ipc::kForever ? nullptr : &until;
  if (count == 1) {
    // Absolute CLOCK_MONOTONIC deadline, as futex_waitv's.
    syscall(SYS_futex, words[0].word, FUTEX_WAIT_BITSET, words[0].expected, limit, nullptr,
            FUTEX_BITSET_MATCH_ANY);
    return;
  }
  Waitv waiters[kWaitvMax];
  if (count > kWaitvMax) count = kWaitvMax;
  for (size_t i = 0; i < count; i++) {
    waiters[i] = Waitv{words[i].expected, reinterpret_cast<uintptr_t>(words[i].word), kFutex32, 0};
  }
  // Woken, EAGAIN (a word differs), ETIMEDOUT, EINTR: the caller looks again in every case.
  FutexWaitv(waiters, count, limit);
}

void SleepUntil(const FutexWord& w, const timespec* until) {
  syscall(SYS_futex, w.word, FUTEX_WAIT_BITSET, w.expected, until, nullptr, FUTEX_BITSET_MATCH_ANY);
}

void Wake(uint32_t* word, int count) { syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0); }

}  // namespace waiter
