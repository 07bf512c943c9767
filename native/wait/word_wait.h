// Waiting on a 32-bit word in shared memory until it changes (a futex), and
// waking those who wait on it. Knows nothing of Node-API; works across
// processes (the futexes are never private).
#pragma once
#include <cstdint>

namespace waiter {

// Blocks while *word == expected, until woken or `untilNs` (CLOCK_MONOTONIC;
// ipc::kForever: no deadline) passes. EINTR resumes with the time left.
// Returns 0 (woken or the word differs) or ETIMEDOUT.
int WordWaitUntil(uint32_t* word, uint32_t expected, int64_t untilNs);

// Wakes up to `count` threads waiting on `word`; returns how many it woke.
int WordWake(uint32_t* word, int count);

}  // namespace waiter
