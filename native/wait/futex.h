// The futex calls the waiter engine sleeps and wakes with. Shared futexes
// only (never FUTEX_PRIVATE_FLAG): the words live in memory other processes
// map. Knows nothing of Node-API.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ctime>

namespace waiter {

// One word to sleep on: sleep while *word == expected.
struct FutexWord {
  uint32_t* word;
  uint32_t expected;
};

// The most words one futex_waitv call takes (the kernel's FUTEX_WAITV_MAX).
constexpr size_t kWaitvMax = 128;

// futex_waitv (Linux >= 5.16) is there and not turned off by
// IPC_KIT_FUTEX_WAITV=0; decided once per process.
bool WaitvAvailable();

// Sleeps until one of `words` (at most kWaitvMax) differs from its expected
// value or is woken, or until `untilNs` (CLOCK_MONOTONIC; ipc::kForever: no
// deadline). Returns whether the kernel made us sleep at all is irrelevant:
// callers look again at everything afterwards. futex_waitv with several
// words, FUTEX_WAIT_BITSET with one.
void SleepOn(const FutexWord* words, size_t count, int64_t untilNs);

// Sleeps until `w.word` differs from `w.expected` or is woken, until `until`
// (absolute, CLOCK_MONOTONIC), or a signal. `until` is passed to the kernel by
// address and read when the call begins (an interrupt zeroes it: interrupt.h).
void SleepUntil(const FutexWord& w, const timespec* until);

// Wakes up to `count` threads sleeping on `word`.
void Wake(uint32_t* word, int count);

}  // namespace waiter
