// Waiting on a 32-bit word in shared memory until it changes (a futex), and
// waking those who wait on it. Knows nothing of Node-API; works across
// processes (the futexes are never private).
//
// The word's bit 0 says "someone sleeps": a waiter that has spun in vain sets
// it before sleeping, so whoever changes the word knows whether to make the
// wake-up system call. Protocol for the word's writers: change it by adding 2
// (bits 1-31 count changes); if the old value had bit 0, clear it and call
// WordWake. Waiters compare the word without bit 0.
#pragma once
#include <cstdint>

#include "adaptive_spin.h"

namespace waiter {

// Waits while the word (bit 0 aside) equals `expected`: spins for `spin`'s
// budget (if given), then sets bit 0 and sleeps until woken or `untilNs`
// (CLOCK_MONOTONIC; ipc::kForever: no deadline). EINTR resumes with the time
// left. Returns 0 (the word changed, or a wake-up that may be spurious) or
// ETIMEDOUT.
int WordWaitUntil(uint32_t* word, uint32_t expected, int64_t untilNs, AdaptiveSpin* spin);

// Wakes up to `count` threads waiting on `word`; returns how many it woke.
int WordWake(uint32_t* word, int count);

// Whether the word (bit 0 aside) differs from `expected`.
inline bool WordChanged(const uint32_t* word, uint32_t expected) {
  return ((__atomic_load_n(word, __ATOMIC_SEQ_CST) ^ expected) & ~1u) != 0;
}

}  // namespace waiter
