// The cross-process lock word and the OS calls behind it (lock_word_linux.cc:
// futex, kill, /proc). Knows nothing of Node-API: the binding and the waiter
// engine call it.
//
// The lock's header page, in 32-bit words. The binding exports these values
// (mutex.LOCK); lib/mutex.ts and the fast path's WebAssembly module use them.
//   [kWordIndex]   owner thread id (bits 0-21) | kForeign | kWaiters; 0 = free
//   [kStartIndex]  the owner's start time (low 32 bits of /proc/TID/stat field
//                  22); 0 while not yet written (the owner is then presumed alive)
//   [kMagicIndex]  kMagic once any process has opened the object as a lock
//   [kHomeNsIndex] the pid (and time) namespace of the first opener
// {word, start} is 8-byte aligned, so a recovering waiter can replace the pair
// with one 64-bit compare-and-swap: it never takes a lock that changed hands.
#pragma once
#include <atomic>
#include <cstdint>

namespace mutex {

constexpr uint32_t kWordIndex = 0;
constexpr uint32_t kStartIndex = 1;
constexpr uint32_t kMagicIndex = 2;
constexpr uint32_t kHomeNsIndex = 3;
constexpr uint32_t kHeaderWords = 16;   // words TypeScript views; the rest of the page is reserved
constexpr uint32_t kHeaderSize = 4096;  // bytes of the lock's page, before a GuardedBuffer's data
constexpr uint32_t kMagic = 0x4d435049;  // 'IPCM'

constexpr uint32_t kOwnerMask = 0x003fffff;  // pid_max <= 2^22
constexpr uint32_t kForeign = 0x20000000;     // owner outside the lock's home pid namespace
constexpr uint32_t kWaiters = 0x40000000;     // someone sleeps: release must wake

// Who the calling thread is, as recorded in a lock word.
struct Identity {
  uint32_t tid = 0;
  uint32_t start = 0;    // start time, low 32 bits
  uint32_t pidns = 0;    // the pid (and time) namespace, hashed from /proc/self/ns inodes; 0 if unknown
};

// The calling thread's identity (gettid, /proc/thread-self/stat, /proc/self/ns/{pid,time});
// without /proc, start and pidns are 0. Returns 0 or an errno.
int ThisThread(Identity* out);

struct Lock {
  uint32_t* word;  // word[kWordIndex] the futex word, word[kStartIndex] the start time
};

// What one blocking attempt achieved. The values reach JavaScript (mutex.OUTCOME):
// acquireSync returns them and a wait of the waiter engine settles with them.
enum class Outcome : int {
  kNotAcquired = 0,  // the deadline passed, or the attempt was cancelled
  kAcquired = 1,
  kOwnerDied = 2,  // acquired from an owner that died holding it
};

// The value this thread writes into the word (without kWaiters).
inline uint32_t WordOf(uint32_t tid, bool foreign) { return tid | (foreign ? kForeign : 0); }

// Tries to take the lock until `untilNs` (ipc::MonotonicNs): a short spin, then
// FUTEX_WAIT in the kernel. A dead owner (gone, a zombie, or its pid reused by
// a younger process) is replaced with one 64-bit CAS: kOwnerDied. Liveness is
// checked on entry and every `checkEveryNs` of waiting (*lastCheck carries
// the time of the previous check between calls; 0 = never). `foreign`: the
// caller is outside the home pid namespace and so never judges an owner.
// EINTR resumes with the time left. Returns kNotAcquired when `untilNs` passes,
// or once *cancel (if given) is true: set it, then LockWakeAll.
Outcome LockAttempt(Lock lock, uint32_t mine, uint32_t start, bool foreign, int64_t untilNs,
                    int64_t checkEveryNs, int64_t* lastCheck, const std::atomic<bool>* cancel);

// Frees the lock (clears start, then the word) and wakes one sleeper if
// kWaiters was set.
void LockRelease(Lock lock);

// Wakes one thread sleeping on the word (after a JavaScript release saw kWaiters).
void LockWake(Lock lock);

// Wakes every thread sleeping on the word (they look again).
void LockWakeAll(Lock lock);

// true unless the owner recorded in {word, start} is certainly dead.
bool OwnerAlive(uint32_t word, uint32_t start);

}  // namespace mutex
