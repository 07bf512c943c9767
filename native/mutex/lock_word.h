// The cross-process lock word and the OS calls behind it (lock_word_linux.cc:
// futex, kill, /proc, open file description locks). Knows nothing of
// Node-API: the binding and the waiter engine call it.
//
// The lock's header page, in 32-bit words. The binding exports these values
// (mutex.LOCK); lib/lock-word.ts and the fast path's WebAssembly module use them.
//   [kWordIndex]    owner thread id (bits 0-21) | kAbandoned | kForeign | kWaiters; 0 = free
//   [kStartIndex]   the owner's start stamp: its start time (low 32 bits of
//                   /proc/TID/stat field 22) mixed with its pid namespace
//                   (StartStamp); 0 while not yet written (the owner is then
//                   presumed alive)
//   [kMagicIndex]   kMagic once any process has opened the object as a lock
//   [kOwnerNsIndex] the owner's tag: its pid (and time) namespace, | kHasToken
//                   when it holds a liveness token (below). Written after the
//                   word and before the start time, so a waiter that sees the
//                   start time sees the tag of the same owner.
//   [kProbeIndex]   the header's last word (byte 60): scratch for checking that
//                   a second descriptor names the mapped object (TokenOpen)
// {word, start} is 8-byte aligned, so a recovering waiter can replace the pair
// with one 64-bit compare-and-swap: it never takes a lock that changed hands.
// The namespace is in the stamp because containers' threads share ids and
// often start in the same clock tick: {id, start time} alone would let a
// waiter's swap meant for a dead owner hit a live one with the same pair.
//
// Liveness. A waiter in the owner's pid namespace judges it from /proc (gone,
// a zombie, or its id reused by a younger thread). Pids mean nothing across
// namespaces, so an owner in another one is judged by its token instead: for
// as long as a Mutex is open, its process holds an open file description lock
// (F_OFD_SETLK, shared) on one byte of the lock's file, at an offset made of
// its namespace and thread id. The kernel drops it when the process dies,
// whatever namespace it was in, and any opener of the file can test for it
// (F_OFD_GETLK). An owner without a token (System V objects, which have no
// file) is never judged from another namespace. An owner that marked its
// word kAbandoned (its thread is ending: AbandonHeld) is dead, whatever
// /proc still says of it.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

#include "owner_watch.h"

namespace mutex {

constexpr uint32_t kWordIndex = 0;
constexpr uint32_t kStartIndex = 1;
constexpr uint32_t kMagicIndex = 2;
constexpr uint32_t kOwnerNsIndex = 3;
constexpr uint32_t kHeaderWords = 16;   // words TypeScript views; the rest of the page is reserved
constexpr uint32_t kHeaderSize = 4096;  // bytes of the lock's page, before a GuardedBuffer's data
constexpr uint32_t kProbeIndex = kHeaderWords - 1;
constexpr uint32_t kMagic = 0x4d435049;  // 'IPCM'

constexpr uint32_t kOwnerMask = 0x003fffff;  // pid_max <= 2^22
// kForeign: an owner whose pid namespace is unknown (no /proc), never judged from /proc.
constexpr uint32_t kForeign = 0x20000000;
constexpr uint32_t kWaiters = 0x40000000;  // someone sleeps: release must wake
// kAbandoned: set by the owner itself, with its stamp in place, as its thread
// ends (its environment is torn down), or as it gives back unused a lock it
// took over from a dead owner: the owner counts as dead from then on, and the
// next holder sees ownerDied.
constexpr uint32_t kAbandoned = 0x10000000;
constexpr uint32_t kHasToken = 1;  // in the owner's tag: it holds a liveness token

// Who the calling thread is, as recorded in a lock word.
struct Identity {
  uint32_t tid = 0;
  uint32_t start = 0;  // start time, low 32 bits
  uint32_t pidns = 0;  // the pid (and time) namespace, hashed from /proc/self/ns inodes, bit 0
                       // clear (kHasToken's place in a tag); 0 if unknown
};

// The calling thread's identity (gettid, /proc/thread-self/stat, /proc/self/ns/{pid,time});
// without /proc, start and pidns are 0. Returns 0 or an errno.
int ThisThread(Identity* out);

struct Lock {
  uint32_t* word;  // word[kWordIndex] the futex word, word[kStartIndex] the start stamp
};

// Who takes the lock, as it writes itself into the header, and the descriptor
// it tests other owners' tokens through (-1: none).
struct Taker {
  uint32_t mine = 0;   // WordOf(tid, foreign)
  uint32_t start = 0;  // StartStamp(start time, pidns)
  uint32_t tag = 0;    // pidns | kHasToken if it holds a token
  int tokenFd = -1;
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

// The start stamp of a thread started at `start` in namespace `pidns`: one-to-one
// in `start` for one namespace, never 0 unless `start` is unknown (0).
inline uint32_t StartStamp(uint32_t start, uint32_t pidns) {
  if (start == 0) return 0;
  uint32_t stamp = start ^ (pidns * 0x9e3779b1u);
  return stamp != 0 ? stamp : 1;
}

// What a waiter remembers between its liveness checks (and between calls).
struct Watch {
  int64_t lastCheck = 0;  // time of the previous check; 0 = never
  // An owner killed between taking the word and writing its stamp leaves
  // {word, 0} for good; a live one writes its stamp a few instructions later.
  // The pair seen without a stamp, and since when.
  uint64_t unstamped = 0;
  int64_t unstampedSince = 0;
  // The owner the kernel tells us of (owner_watch.h), as the pair it was seen
  // with; the watcher raises `ownerExited` (then wakes the word) when it exits.
  std::unique_ptr<OwnerSighting> sighting;
  uint64_t sightedPair = 0;
  std::atomic<bool> ownerExited{false};
};

// How long an owner may show no stamp before it is held dead.
constexpr int64_t kUnstampedNs = 2LL * 1000 * 1000 * 1000;

// How often a waiter checks an owner that nothing tells it about: where
// pidfds are not allowed, or (for an owner in another pid namespace) no
// thread can wait on its token. An owner with a sighting is told of (its
// thread's end, its process's, its token's release; a thread that ends
// before its process marks its locks kAbandoned, thread_locks.h); one not
// yet stamped is looked at once more, kUnstampedNs after it was first seen so.
constexpr int64_t kLivenessEveryNs = 200 * 1000 * 1000;

// Tries to take the lock until `untilNs` (ipc::MonotonicNs): a short spin, then
// FUTEX_WAIT in the kernel. A dead owner (OwnerAlive, or a pair left without
// its stamp for kUnstampedNs) is replaced with one 64-bit CAS: kOwnerDied.
// Liveness is checked on entry, when the watcher tells of the owner's exit,
// when the owner marks the word kAbandoned, at an unstamped owner's
// kUnstampedNs, and every `checkEveryNs` of waiting for an owner nothing
// tells of (*watch carries what the checks saw between calls). The first
// check of an owner starts a sighting of it (of its token, for an owner in
// another pid namespace), before judging it: an exit after the judgement is
// told. EINTR resumes with the time left. Returns
// kNotAcquired when `untilNs` passes.
Outcome LockAttempt(Lock lock, const Taker& me, int64_t untilNs, int64_t checkEveryNs, Watch* watch);

// One look at the lock, without blocking (the waiter engine's Poll; LockAttempt
// is built on it): takes it if free (kAcquired), or from a dead owner
// (kOwnerDied; liveness is checked as in LockAttempt, at `nowNs`), else sets
// kWaiters and returns kNotAcquired with *sleepOn, the word's value to sleep
// on, and *checkAtNs, when the next liveness check is due (ipc::kForever: only
// when woken with watch->ownerExited raised).
Outcome LockPoll(Lock lock, const Taker& me, int64_t nowNs, int64_t checkEveryNs, Watch* watch,
                 uint32_t* sleepOn, int64_t* checkAtNs);

// Frees the lock (clears start, then the word) and wakes one sleeper if
// kWaiters was set.
void LockRelease(Lock lock);

// Wakes one thread sleeping on the word (after a JavaScript release saw kWaiters).
void LockWake(Lock lock);

// Whether the word still names the owner {mine, start} (with or without kWaiters).
bool HeldBy(Lock lock, uint32_t mine, uint32_t start);

// The owner {mine, start} is ending: if the word still names it, marks it
// kAbandoned (one compare-and-swap of the pair: never a later owner's) and
// wakes every sleeper. An owner without a stamp (start 0: unknown, or
// kForeign) is never marked: its pair could be another namespace's owner's.
// Returns whether it marked.
bool AbandonHeld(Lock lock, uint32_t mine, uint32_t start);

// true unless the owner recorded in {word, start} with `tag` is certainly dead,
// as `me` can tell: marked kAbandoned by itself, from /proc in its own pid
// namespace, by the owner's token in another one.
bool OwnerAlive(uint32_t word, uint32_t start, uint32_t tag, const Taker& me);

// The same judgement for an onlooker that holds no lock (the ipc-kit command):
// `path` (a POSIX shm name when `posix`, else a file path; null for System V)
// is opened read-only to test the owner's token. *sameNs: the owner is in the
// caller's pid namespace, so its thread id names a thread here.
bool OwnerAliveSeen(uint32_t word, uint32_t start, uint32_t tag, const char* path, bool posix, bool* sameNs);

// A liveness token for the thread `tid` of namespace `pidns` on the object at
// `path` (a POSIX shm name when `posix`, else a file path) whose first page is
// mapped at `header`: opens the object again, checks through kProbeIndex that
// it is the mapped one (not another that took its name meanwhile), and takes
// the token lock. Returns the descriptor (close it to give the token up), or
// -1 when any step fails or descriptors run short (the upper half of
// RLIMIT_NOFILE is left to the program, common/descriptor_budget.h): the caller then goes without a token.
int TokenOpen(const char* path, bool posix, uint32_t* header, uint32_t pidns, uint32_t tid);

}  // namespace mutex
