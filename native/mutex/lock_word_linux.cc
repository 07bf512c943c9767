// The lock word on Linux: futex waits and wakes, liveness from kill() and
// /proc, and tokens as open file description locks.
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>  // shm_open
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../common/clock.h"
#include "../common/descriptor_budget.h"
#include "../wait/adaptive_spin.h"
#include "lock_word.h"

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

// After a compare-and-swap that made the word ours (start 0): the tag, then
// the start stamp, in this order (a waiter reads the tag once it sees the stamp).
void Publish(Lock lock, const Taker& me) {
  __atomic_store_n(lock.word + kOwnerNsIndex, me.tag, __ATOMIC_RELAXED);
  __atomic_store_n(lock.word + kStartIndex, me.start, __ATOMIC_RELEASE);
}

bool TakeFree(Lock lock, uint32_t want, const Taker& me) {
  uint64_t pair = __atomic_load_n(Pair(lock), __ATOMIC_SEQ_CST);
  if (static_cast<uint32_t>(pair) != 0) return false;
  if (!__atomic_compare_exchange_n(Pair(lock), &pair, Pack(want, 0), false, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST)) {
    return false;
  }
  Publish(lock, me);
  return true;
}

// Judged from /proc in namespace `pidns`: alive unless gone, a zombie, or the
// id now names a thread started at another time than `stamp` says.
bool ProcAlive(uint32_t tid, uint32_t stamp, uint32_t pidns) {
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
  if (state == 'Z' || state == 'X') return false;        // exited, not yet reaped
  if (StartStamp(actual, pidns) != stamp) return false;  // the id now names a younger thread
  return true;
}

// The byte a thread's token locks: its namespace (31 bits) above its id (22 bits).
off_t TokenOffset(uint32_t pidns, uint32_t tid) {
  return static_cast<off_t>((static_cast<uint64_t>(pidns >> 1) << 22) | (tid & kOwnerMask));
}

// Whether any open file description holds the token of (pidns, tid). Ours
// never counts (F_OFD_GETLK reports only locks of others); on error, true.
bool TokenHeld(int fd, uint32_t pidns, uint32_t tid) {
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = TokenOffset(pidns, tid);
  probe.l_len = 1;
  if (fcntl(fd, F_OFD_GETLK, &probe) != 0) return true;
  return probe.l_type != F_UNLCK;
}

// Whether `fd` is the object mapped at `header`: a fresh value written to the
// probe word through the mapping must be read back through the descriptor
// (pread sees the pages a shared mapping writes: one page cache).
bool SameObject(int fd, uint32_t* header) {
  uint32_t* ours = header + kProbeIndex;
  const off_t at = kProbeIndex * sizeof(uint32_t);
  // Other openers probing at the same time may overwrite our value: a few rounds.
  for (int round = 0; round < 8; round++) {
    uint32_t old = __atomic_load_n(ours, __ATOMIC_SEQ_CST);
    auto nonce = static_cast<uint32_t>((static_cast<uint64_t>(MonotonicNs()) * 0x9e3779b97f4a7c15ull) >> 32);
    if (nonce == old) nonce = ~nonce;
    if (!__atomic_compare_exchange_n(ours, &old, nonce, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) continue;
    uint32_t theirs = 0;
    if (pread(fd, &theirs, sizeof theirs, at) != static_cast<ssize_t>(sizeof theirs)) return false;
    if (theirs == nonce) return true;
  }
  return false;
}

// Whether `me` judges the owner of `word` (with `tag`) from /proc: both in
// one known pid namespace, so its thread id names a thread here.
bool JudgedFromProc(uint32_t word, uint32_t tag, const Taker& me) {
  return (word & kForeign) == 0 && (me.mine & kForeign) == 0 && (tag & ~kHasToken) == (me.tag & ~kHasToken);
}

// The pair as an owner's identity: without the bit waiters set.
uint64_t OwnerOf(uint64_t pair) { return pair & ~static_cast<uint64_t>(kWaiters); }

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
  // Namespace inodes are small consecutive numbers: mix every bit into the 31
  // kept (splitmix64's finalizer), which sit above bit 0, kHasToken's place in a tag.
  id = (id ^ (id >> 30)) * 0xbf58476d1ce4e5b9ull;
  id = (id ^ (id >> 27)) * 0x94d049bb133111ebull;
  id ^= id >> 31;
  out->pidns = static_cast<uint32_t>(id >> 33) << 1;
  if (out->pidns == 0) out->pidns = 2;
  return 0;
}

bool OwnerAlive(uint32_t word, uint32_t start, uint32_t tag, const Taker& me) {
  uint32_t tid = word & kOwnerMask;
  // Free, or an owner still writing its tag and start time.
  if (tid == 0 || start == 0) return true;
  if ((word & kAbandoned) != 0) return false;  // its thread marked it as it ended
  uint32_t pidns = tag & ~kHasToken;
  if (JudgedFromProc(word, tag, me)) return ProcAlive(tid, start, pidns);
  if ((tag & kHasToken) != 0 && me.tokenFd >= 0) return TokenHeld(me.tokenFd, pidns, tid);
  return true;  // in another namespace, without a token: not ours to judge
}

bool OwnerAliveSeen(uint32_t word, uint32_t start, uint32_t tag, const char* path, bool posix, bool* sameNs) {
  Identity id;
  ThisThread(&id);
  Taker me;
  me.mine = WordOf(id.tid, id.pidns == 0);
  me.start = StartStamp(id.start, id.pidns);
  me.tag = id.pidns;
  *sameNs = id.pidns != 0 && (word & kForeign) == 0 && (tag & ~kHasToken) == id.pidns;
  if (path != nullptr)
    me.tokenFd = posix ? shm_open(path, O_RDONLY | O_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
  bool alive = OwnerAlive(word, start, tag, me);
  if (me.tokenFd >= 0) close(me.tokenFd);
  return alive;
}

int TokenOpen(const char* path, bool posix, uint32_t* header, uint32_t pidns, uint32_t tid) {
  int fd = posix ? shm_open(path, O_RDWR | O_CLOEXEC, 0) : open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  if (!ipc::WithinBudget(fd)) {
    close(fd);
    return -1;
  }
  struct flock token {};
  token.l_type = F_RDLCK;  // shared: several Mutexes of one thread take the same byte
  token.l_whence = SEEK_SET;
  token.l_start = TokenOffset(pidns, tid);
  token.l_len = 1;
  if (!SameObject(fd, header) || fcntl(fd, F_OFD_SETLK, &token) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// An owner that has shown the same pair without a stamp since kUnstampedNs
// ago died between taking the word and stamping it. (An owner without /proc
// never stamps: it is kForeign, never judged.)
bool StuckUnstamped(uint64_t pair, int64_t nowNs, Watch* watch) {
  auto ownerWord = static_cast<uint32_t>(pair);
  if (ownerWord == 0 || (ownerWord & kForeign) != 0 || static_cast<uint32_t>(pair >> 32) != 0) {
    watch->unstamped = 0;
    return false;
  }
  if (watch->unstamped != pair) {
    watch->unstamped = pair;
    watch->unstampedSince = nowNs;
    return false;
  }
  return nowNs - watch->unstampedSince >= kUnstampedNs;
}

// When to look at the owner of `pair` again unwoken: never while a sighting
// tells of its end (the thread's, its process's, or its token's release: a
// thread that ends first marks the word, which wakes us) or while no one can
// judge it; once, at the end of kUnstampedNs, for an owner without a stamp;
// else every checkEveryNs (no pidfds or no watcher thread here).
int64_t NextCheck(uint64_t pair, uint32_t tag, const Taker& me, bool sighted, int64_t checkEveryNs,
                  const Watch* watch) {
  auto ownerWord = static_cast<uint32_t>(pair);
  auto ownerStart = static_cast<uint32_t>(pair >> 32);
  if (ownerWord == 0 || sighted || (ownerWord & kForeign) != 0) return ipc::kForever;
  if (ownerStart == 0) {
    // Not seen unstamped at a check yet: the next check starts its clock.
    return watch->unstamped == pair ? watch->unstampedSince + kUnstampedNs : watch->lastCheck + checkEveryNs;
  }
  if (JudgedFromProc(ownerWord, tag, me)) return watch->lastCheck + checkEveryNs;
  if ((tag & kHasToken) != 0 && me.tokenFd >= 0) return watch->lastCheck + checkEveryNs;
  return ipc::kForever;  // in another namespace without a token: never judged
}

Outcome LockPoll(Lock lock, const Taker& me, int64_t nowNs, int64_t checkEveryNs, Watch* watch,
                 uint32_t* sleepOn, int64_t* checkAtNs) {
  uint32_t* word = lock.word + kWordIndex;
  for (;;) {
    uint32_t w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    if (w == 0) {
      // Taken with kWaiters: other sleepers may exist and must be woken in turn.
      if (TakeFree(lock, me.mine | kWaiters, me)) return Outcome::kAcquired;
      continue;
    }
    if ((w & kWaiters) == 0) {
      if (!__atomic_compare_exchange_n(word, &w, w | kWaiters, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        continue;
      }
      w |= kWaiters;
    }
    uint64_t pair = __atomic_load_n(Pair(lock), __ATOMIC_SEQ_CST);
    auto ownerWord = static_cast<uint32_t>(pair);
    auto ownerStart = static_cast<uint32_t>(pair >> 32);
    // The watcher saw the watched owner exit: judge now, and watch afresh.
    bool told = watch->ownerExited.exchange(false);
    if (told) {
      watch->sighting.reset();
      watch->sightedPair = 0;
    }
    uint32_t tag = __atomic_load_n(lock.word + kOwnerNsIndex, __ATOMIC_ACQUIRE);
    bool sighted = watch->sighting != nullptr && watch->sightedPair == OwnerOf(pair);
    bool abandoned = (ownerWord & kAbandoned) != 0;
    if (told || abandoned || watch->lastCheck == 0 ||
        (!sighted && nowNs - watch->lastCheck >= checkEveryNs)) {
      watch->lastCheck = nowNs;
      if (ownerWord != 0 && ownerStart != 0 && !abandoned && watch->sightedPair != OwnerOf(pair)) {
        // Watched before judged: an exit after the judgement is told.
        uint32_t tid = ownerWord & kOwnerMask;
        if (JudgedFromProc(ownerWord, tag, me)) {
          watch->sighting = OwnerSighting::Start(tid, word, &watch->ownerExited);
          watch->sightedPair = OwnerOf(pair);
        } else if ((tag & kHasToken) != 0 && me.tokenFd >= 0) {
          watch->sighting = OwnerSighting::StartToken(me.tokenFd, TokenOffset(tag & ~kHasToken, tid), word,
                                                      &watch->ownerExited);
          watch->sightedPair = OwnerOf(pair);
        }
        sighted = watch->sighting != nullptr && watch->sightedPair == OwnerOf(pair);
      }
      if (ownerWord != 0 &&
          (StuckUnstamped(pair, nowNs, watch) || !OwnerAlive(ownerWord, ownerStart, tag, me))) {
        // The tag read after the pair may be a later owner's: the verdict
        // stands only for a pair and tag unchanged since (an owner writes its
        // tag before its stamp, so a pair seen again with its stamp shows its
        // own tag). Then one CAS of the whole pair: if the lock changed hands
        // since we looked, it fails and we look again. Exactly one waiter wins.
        if (__atomic_load_n(Pair(lock), __ATOMIC_SEQ_CST) != pair ||
            __atomic_load_n(lock.word + kOwnerNsIndex, __ATOMIC_ACQUIRE) != tag) {
          continue;
        }
        if (__atomic_compare_exchange_n(Pair(lock), &pair, Pack(me.mine | kWaiters, 0), false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
          Publish(lock, me);
          return Outcome::kOwnerDied;
        }
        continue;
      }
    }
    *sleepOn = w;
    *checkAtNs = NextCheck(pair, tag, me, sighted, checkEveryNs, watch);
    return Outcome::kNotAcquired;
  }
}

Outcome LockAttempt(Lock lock, const Taker& me, int64_t untilNs, int64_t checkEveryNs, Watch* watch) {
  uint32_t* word = lock.word + kWordIndex;
  // A short spin first: a holder on another core usually lets go within it.
  for (int i = 0; i < 64; i++) {
    // Without kWaiters: a sleeper woken by the last release sets it again.
    if (__atomic_load_n(word, __ATOMIC_RELAXED) == 0 && TakeFree(lock, me.mine, me)) {
      return Outcome::kAcquired;
    }
    CpuRelax();
  }
  for (;;) {
    int64_t now = MonotonicNs();
    uint32_t w;
    int64_t checkAt;
    Outcome got = LockPoll(lock, me, now, checkEveryNs, watch, &w, &checkAt);
    if (got != Outcome::kNotAcquired) return got;
    if (untilNs != ipc::kForever && now >= untilNs) {
      // A release may have woken us just now: pass that wake on to another sleeper.
      if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == 0) LockWake(lock);
      return Outcome::kNotAcquired;
    }
    bool checkFirst = checkAt != ipc::kForever && (untilNs == ipc::kForever || checkAt < untilNs);
    int err = FutexWaitUntil(word, w, checkFirst ? checkAt : untilNs);
    // 0 (woken), EAGAIN (the word changed), EINTR, ETIMEDOUT: all loop back and look.
    (void)err;
  }
}

void LockWake(Lock lock) { syscall(SYS_futex, lock.word, FUTEX_WAKE, 1, nullptr, nullptr, 0); }

bool HeldBy(Lock lock, uint32_t mine, uint32_t start) {
  uint64_t pair = __atomic_load_n(Pair(lock), __ATOMIC_SEQ_CST);
  return OwnerOf(pair) == Pack(mine, start);
}

bool AbandonHeld(Lock lock, uint32_t mine, uint32_t start) {
  if (start == 0 || (mine & kForeign) != 0) return false;
  uint64_t pair = __atomic_load_n(Pair(lock), __ATOMIC_SEQ_CST);
  do {
    if (OwnerOf(pair) != Pack(mine, start)) return false;
  } while (!__atomic_compare_exchange_n(Pair(lock), &pair, pair | kAbandoned, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST));
  // Every sleeper: each judges the mark, one takes over, the others sleep on.
  syscall(SYS_futex, lock.word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  return true;
}

void LockRelease(Lock lock) {
  __atomic_store_n(lock.word + kStartIndex, 0u, __ATOMIC_SEQ_CST);
  uint32_t w = __atomic_exchange_n(lock.word + kWordIndex, 0u, __ATOMIC_SEQ_CST);
  if ((w & kWaiters) != 0) LockWake(lock);
}

}  // namespace mutex
