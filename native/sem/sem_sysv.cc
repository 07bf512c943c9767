// System V semaphores: one semaphore per set, index 0.
#include <errno.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sem_os.h"

namespace sem {

using ipc::Fail;
using ipc::kCreate;
using ipc::kExclusive;
using ipc::MonotonicNs;

#ifdef SEMVMX
const int64_t kSysvMax = SEMVMX;
#else
const int64_t kSysvMax = 32767;  // Linux's SEMVMX (linux/sem.h)
#endif

namespace {

// The caller defines it (sys/sem.h says so).
union semun {
  int val;
  struct semid_ds* buf;
  unsigned short* array;
};

// Seconds after its creation during which a set never operated on may be
// one that its creator is still initialising (sem_ctime has 1 s resolution).
constexpr time_t kFreshSeconds = 2;

// On a set id we opened, Linux says EIDRM to waiters woken by the removal and
// EINVAL to calls made after it: both mean the set was removed.
Status FailOnSet(const char* syscall) { return Status{errno == EINVAL ? EIDRM : errno, syscall}; }

// An opener can meet a set between its creator's semget and first semop
// (ours) or SETVAL (C programs, python3-sysv-ipc). Only a set that nobody has
// operated on or set yet (sem_otime 0, GETPID 0: semop and SETVAL both record
// the caller) and that was created moments ago can be such a set.
bool MaybeHalfMade(int id, bool* half) {
  struct semid_ds ds {};
  semun arg;
  arg.buf = &ds;
  if (semctl(id, 0, IPC_STAT, arg) != 0) return false;
  if (ds.sem_otime != 0) {
    *half = false;
    return true;
  }
  // 0 also when the last caller's pid is not visible from our pid namespace:
  // the age test below then bounds the cost to sets made moments ago.
  int pid = semctl(id, 0, GETPID);
  if (pid < 0) return false;
  *half = pid == 0 && time(nullptr) - ds.sem_ctime <= kFreshSeconds;
  return true;
}

// Waits (bounded) for a set that may be half-made to be initialised; a
// creator that died in between leaves it at 0, which is still usable.
Status AwaitInitialised(int id) {
  for (int i = 0; i < 200; i++) {
    bool half = false;
    if (!MaybeHalfMade(id, &half)) return Fail("semctl");
    if (!half) break;
    usleep(1000);
  }
  return Status{};
}

}  // namespace

Status SysvOpen(key_t key, int flags, mode_t mode, int initial, int* id, bool* created) {
  for (int round = 0;; round++) {
    if (flags & kCreate) {
      // System V ignores the umask: the set gets exactly `mode`.
      int made = semget(key, 1, IPC_CREAT | IPC_EXCL | (mode & 0777));
      if (made >= 0) {
        // Not SEM_UNDO: the initial value outlives its creator. A semop even
        // for 0 (wait-for-zero succeeds at once) sets sem_otime.
        struct sembuf op = {0, static_cast<short>(initial), 0};
        if (semop(made, &op, 1) != 0) {
          Status s = Fail("semop");
          semctl(made, 0, IPC_RMID);
          return s;
        }
        *id = made;
        *created = true;
        return Status{};
      }
      if (errno != EEXIST || (flags & kExclusive)) return Fail("semget");
    }
    // Ask for read and alter permission now, so EACCES comes at open.
    int found = semget(key, 1, S_IRUSR | S_IWUSR);
    if (found >= 0) {
      Status s = AwaitInitialised(found);
      if (!s.ok()) return s;
      *id = found;
      *created = false;
      return Status{};
    }
    if (errno != ENOENT || !(flags & kCreate) || round >= 100) return Fail("semget");
  }
}

Status SysvWait(int id, bool undo, int64_t timeoutNs, bool* taken) {
  short flags = undo ? SEM_UNDO : 0;
  int64_t deadline = timeoutNs > 0 ? MonotonicNs() + timeoutNs : 0;
  for (;;) {
    struct sembuf op = {0, -1, flags};
    int rc;
    if (timeoutNs == kForever) {
      rc = semop(id, &op, 1);
    } else {
      // semtimedop takes a relative timeout: recompute what is left of the
      // monotonic deadline on every round (EINTR resumes with the rest).
      int64_t left = timeoutNs == 0 ? 0 : deadline - MonotonicNs();
      if (left <= 0) {
        op.sem_flg |= IPC_NOWAIT;
        rc = semop(id, &op, 1);
      } else {
        timespec ts{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
        rc = semtimedop(id, &op, 1, &ts);
      }
    }
    if (rc == 0) {
      *taken = true;
      return Status{};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      if (timeoutNs > 0 && deadline - MonotonicNs() > 0) continue;  // woke early
      *taken = false;
      return Status{};
    }
    return FailOnSet(timeoutNs == kForever ? "semop" : "semtimedop");
  }
}

Status SysvWaitInterruptible(int id, bool undo, const timespec* timeout, bool* taken) {
  *taken = false;
  struct sembuf op = {0, -1, static_cast<short>(undo ? SEM_UNDO : 0)};
  // The system call itself, so that `timeout` reaches the kernel by address
  // (64-bit Linux takes this very struct timespec; glibc passes it on too).
#if defined(SYS_semtimedop) && __SIZEOF_LONG__ == 8
  long rc = syscall(SYS_semtimedop, id, &op, 1, timeout);
#else
  int rc = semtimedop(id, &op, 1, timeout);
#endif
  if (rc == 0) {
    *taken = true;
    return Status{};
  }
  // Interrupted, timed out or woken early: the engine looks again.
  if (errno == EINTR || errno == EAGAIN) return Status{};
  return FailOnSet("semtimedop");
}

Status SysvPost(int id, bool undo, int count) {
  if (count == 0) return Status{};  // a semop of 0 would wait for zero
  struct sembuf op = {0, static_cast<short>(count), static_cast<short>(undo ? SEM_UNDO : 0)};
  return semop(id, &op, 1) == 0 ? Status{} : FailOnSet("semop");
}

Status SysvValue(int id, int* value) {
  int v = semctl(id, 0, GETVAL);
  if (v < 0) return FailOnSet("semctl");
  *value = v;
  return Status{};
}

Status SysvRemoveId(int id) { return semctl(id, 0, IPC_RMID) == 0 ? Status{} : Fail("semctl"); }

Status SysvRemoveKey(key_t key) {
  int id = semget(key, 0, 0);
  if (id < 0) return Fail("semget");
  return SysvRemoveId(id);
}

}  // namespace sem
