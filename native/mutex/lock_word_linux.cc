// The lock word on Linux: futex waits and wakes, liveness from kill() and /proc.
#include "lock_word.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../common/clock.h"
#include "../wait/adaptive_spin.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the futex word must be the low half of the 64-bit {word, start} pair");
static_assert(mutex::kWordIndex == 0 && mutex::kStartIndex == 1, "{word, start} is one 64-bit pair");

namespace mutex {

using ipc::MonotonicNs;
using waiter::CpuRelax;

namespace {

uint64_t Pack(uint32_t word, uint32_t start) { return (static_cast<uint64_t>(start) << 32) | word; }

uint64_t* Pair(Lock lock) { return reinterpret_cast<uint64_t*>(lock.word); }

// Shared (not FUTEX_PRIVATE): the word lives in memory mapped by several processes.
// FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so EINTR and
// spurious wakes resume with the time left and a wall-clock jump changes nothing.
int FutexWaitUntil(uint32_t* addr, uint32_t expected, int64_t untilNs) {
  timespec until = ipc::ToTimespec(untilNs);
  long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, expected, &until, nullptr, FUTEX_BITSET_MATCH_ANY);
  return r == 0 ? 0 : errno;
}

// State letter and start time (field 22, low 32 bits) of /proc/TID/stat.
bool ReadStat(const char* path, char* state, uint32_t* start) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof buf - 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
  char* p = strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ') return false;
  p += 2;
  *state = *p;
  // Fields 3..22: skip 19 separators to reach field 22.
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (p == nullptr) return false;
    p++;
  }
  *start = static_cast<uint32_t>(strtoull(p, nullptr, 10));
  return true;
}

bool TakeFree(Lock lock, uint32_t want, uint32_t start) {
  uint64_t pair = __atomic_load_n(Pair(lock), __ATOMIC_SEQ_CST);
  if (static_cast<uint32_t>(pair) != 0) return false;
  return __atomic_compare_exchange_n(Pair(lock), &pair, Pack(want, start), false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST);
}

}  // namespace

int ThisThread(Identity* out) {
  out->tid = static_cast<uint32_t>(syscall(SYS_gettid));
  if ((out->tid & ~kOwnerMask) != 0) return ERANGE;  // pid_max is at most 2^22
  // thread-self names this thread whatever pid namespace /proc was mounted
  // from; the task/TID form is for kernels before 3.17.
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%u/stat", out->tid);
  char state;
  if (!ReadStat("/proc/thread-self/stat", &state, &out->start) && !ReadStat(path, &state, &out->start)) {
    // No usable /proc: no start time, no namespace. Such a thread is FOREIGN
    // (lib/mutex.ts): it judges no one and no one judges it.
    out->start = 0;
    out->pidns = 0;
    return 0;
  }
  // Start times are only comparable within one time namespace too (they are
  // shifted by its boot-time offset), so the "home" is the pair of both.
  struct stat st;
  if (stat("/proc/self/ns/pid", &st) != 0) {
    out->pidns = 0;  // unknown: never judge anyone
    return 0;
  }
  uint64_t id = st.st_ino;
  if (stat("/proc/self/ns/time", &st) == 0) id ^= static_cast<uint64_t>(st.st_ino) * 0x9e3779b97f4a7c15ull;
  out->pidns = static_cast<uint32_t>(id ^ (id >> 32));
  if (out->pidns == 0) out->pidns = 1;
  return 0;
}

bool OwnerAlive(uint32_t word, uint32_t start) {
  uint32_t tid = word & kOwnerMask;
  if (tid == 0 || (word & kForeign) != 0) return true;  // free, or not ours to judge
  if (kill(static_cast<pid_t>(tid), 0) != 0 && errno == ESRCH) return false;
  // A thread of this process first, through /proc/self/task: qemu-user fakes
  // /proc/<own pid>/stat (its start time is not the real one) but not that.
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%u/stat", tid);
  char state;
  uint32_t actual;
  if (!ReadStat(path, &state, &actual)) {
    snprintf(path, sizeof path, "/proc/%u/stat", tid);
    // Unreadable (hidepid, no /proc): kill() said it exists, so it is alive.
    if (!ReadStat(path, &state, &actual)) return true;
  }
  if (state == 'Z' || state == 'X') return false;       // exited, not yet reaped
  if (start != 0 && actual != start) return false;      // the id now names a younger thread
  return true;
}

Outcome LockAttempt(Lock lock, uint32_t mine, uint32_t start, bool foreign, int64_t untilNs,
                    int64_t checkEveryNs, int64_t* lastCheck, const std::atomic<bool>* cancel) {
  uint32_t* word = lock.word + kWordIndex;
  // A short spin first: a holder on another core usually lets go within it.
  for (int i = 0; i < 64; i++) {
    // Without kWaiters: a sleeper woken by the last release sets it again.
    if (__atomic_load_n(word, __ATOMIC_RELAXED) == 0 && TakeFree(lock, mine, start)) {
      return Outcome::kAcquired;
    }
    CpuRelax();
  }
  for (;;) {
    if (cancel != nullptr && cancel->load()) return Outcome::kNotAcquired;
    uint32_t w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    if (w == 0) {
      // Taken with kWaiters: other sleepers may exist and must be woken in turn.
      if (TakeFree(lock, mine | kWaiters, start)) return Outcome::kAcquired;
      continue;
    }
    if ((w & kWaiters) == 0) {
      if (!__atomic_compare_exchange_n(word, &w, w | kWaiters, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        continue;
      }
      w |= kWaiters;
    }
    int64_t now = MonotonicNs();
    if (!foreign && (*lastCheck == 0 || now - *lastCheck >= checkEveryNs)) {
      *lastCheck = now;
      uint64_t pair = __atomic_load_n(Pair(lock), __ATOMIC_SEQ_CST);
      auto ownerWord = static_cast<uint32_t>(pair);
      auto ownerStart = static_cast<uint32_t>(pair >> 32);
      if (ownerWord != 0 && !OwnerAlive(ownerWord, ownerStart)) {
        // One CAS of the whole pair: if the lock changed hands since we
        // looked, it fails and we look again. Exactly one waiter wins.
        if (__atomic_compare_exchange_n(Pair(lock), &pair, Pack(mine | kWaiters, start), false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
          return Outcome::kOwnerDied;
        }
        continue;
      }
    }
    if (now >= untilNs) {
      // A release may have woken us just now: pass that wake on to another sleeper.
      if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == 0) LockWake(lock);
      return Outcome::kNotAcquired;
    }
    int64_t wakeAt = untilNs;
    if (!foreign && *lastCheck + checkEveryNs < wakeAt) wakeAt = *lastCheck + checkEveryNs;
    int err = FutexWaitUntil(word, w, wakeAt);
    // 0 (woken), EAGAIN (the word changed), EINTR, ETIMEDOUT: all loop back and look.
    (void)err;
  }
}

void LockWake(Lock lock) { syscall(SYS_futex, lock.word, FUTEX_WAKE, 1, nullptr, nullptr, 0); }

void LockWakeAll(Lock lock) { syscall(SYS_futex, lock.word, FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0); }

void LockRelease(Lock lock) {
  __atomic_store_n(lock.word + kStartIndex, 0u, __ATOMIC_SEQ_CST);
  uint32_t w = __atomic_exchange_n(lock.word + kWordIndex, 0u, __ATOMIC_SEQ_CST);
  if ((w & kWaiters) != 0) LockWake(lock);
}

}  // namespace mutex
