// Waiting on a 32-bit word in shared memory until it changes (a futex), and
// waking those who wait on it. Knows nothing of Node-API; works across
// processes (the futexes are never private).
//
// The word's bit 0 says "someone sleeps": a waiter that has spun in vain sets
// it before sleeping, so whoever changes the word knows whether to make the
// wake-up system call. Protocol for the word's writers: change it by adding 2
// (bits 1-31 count changes); if the old value had bit 0, clear it and call
// WordWake. Waiters compare the word without bit 0.
//
// Guards. A waker may die between its change and its wake-up, and the kernel
// wakes nobody on its behalf. When every change is made under a lock (a
// Mutex, whose waiters do learn of a holder's death), a waiter can be given
// that lock's word as a guard: after announcing itself (bit 0) it reads the
// guard, and if it is held it does not sleep on the word but returns
// kWordGuarded, for the caller to wait for the lock instead. A guard read free
// after the announcement means that any later changer takes the lock after
// it, so it sees bit 0 if it looks before its change (and wakes first).
//
// A lock may be held a long time by a holder that changes nothing until it
// lets go (a Channel's reserved slot or received view): such a holder "parks"
// (sets a word of its own to 1) and clears it again before any change. A
// guard whose parked word reads 1 after the announcement counts as free: its
// holder looks for bit 0 after clearing the word, before its change.
#pragma once
#include <cstdint>

#include "adaptive_spin.h"

namespace waiter {

// Up to two lock words (a Mutex's word: 0 = free), each with an optional
// parked word; null entries are unused.
struct Guards {
  const uint32_t* words[2] = {nullptr, nullptr};
  const uint32_t* parked[2] = {nullptr, nullptr};
  // Whether any is held now by a holder that has not parked.
  bool Held() const {
    for (int i = 0; i < 2; i++) {
      if (words[i] == nullptr || __atomic_load_n(words[i], __ATOMIC_SEQ_CST) == 0) continue;
      if (parked[i] == nullptr || __atomic_load_n(parked[i], __ATOMIC_SEQ_CST) == 0) return true;
    }
    return false;
  }
};

// What WordWaitUntil returns besides 0 and ETIMEDOUT: a guard was held after the announcement.
constexpr int kWordGuarded = -1;

// How long a waiter that finds a guard held watches it before giving up the
// sleep (its holder is usually about to let go).
constexpr int64_t kGuardSpinNs = 20 * 1000;

// After bit 0 is announced (the word held `sleeping`): kWordGuarded if a guard
// stays held for kGuardSpinNs, 1 if the word changed meanwhile, else 0 (sleep).
int CheckGuards(const uint32_t* word, uint32_t sleeping, const Guards* guards);

// Waits while the word (bit 0 aside) equals `expected`: spins for `spin`'s
// budget (if given), then sets bit 0 and sleeps until woken or `untilNs`
// (CLOCK_MONOTONIC; ipc::kForever: no deadline). EINTR resumes with the time
// left. Returns 0 (the word changed, or a wake-up that may be spurious),
// ETIMEDOUT, or kWordGuarded (`guards` given, and one held: no sleep).
int WordWaitUntil(uint32_t* word, uint32_t expected, int64_t untilNs, AdaptiveSpin* spin,
                  const Guards* guards = nullptr);

// Wakes up to `count` threads waiting on `word`; returns how many it woke.
int WordWake(uint32_t* word, int count);

// Whether the word (bit 0 aside) differs from `expected`.
inline bool WordChanged(const uint32_t* word, uint32_t expected) {
  return ((__atomic_load_n(word, __ATOMIC_SEQ_CST) ^ expected) & ~1u) != 0;
}

}  // namespace waiter
