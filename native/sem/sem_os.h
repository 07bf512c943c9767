// The operating-system side of semaphores: POSIX named (sem_open family) and
// System V (semget/semop/semctl, one semaphore per set). Knows nothing of
// Node-API; every call reports the errno and the system call that failed.
// Timeouts are relative durations measured on CLOCK_MONOTONIC; EINTR resumes
// with the time left.
#pragma once
#include <semaphore.h>
#include <sys/types.h>

#include <cstdint>

#include "../common/clock.h"
#include "../common/open_codes.h"
#include "../common/status.h"

namespace sem {

using ipc::kForever;
using ipc::Status;

// Largest counts each kind holds (initial values, posts).
extern const int64_t kPosixMax;  // SEM_VALUE_MAX
extern const int64_t kSysvMax;   // SEMVMX

// A wait's limit (timeoutNs below): kForever, 0 for a try, else nanoseconds.

// POSIX named semaphores; `name` starts with '/'. A created semaphore gets
// exactly `mode` (sem_open applies the umask; the object is chmod-ed after).
// An existing semaphore is opened without O_CREAT, which would make glibc
// build a temporary /dev/shm/sem.XXXXXX file first.
Status PosixOpen(const char* name, int flags, mode_t mode, unsigned initial, sem_t** out, bool* created);
Status PosixClose(sem_t* s);
Status PosixUnlink(const char* name);
// *taken is false when the wait timed out (or, for a try, found no unit).
Status PosixWait(sem_t* s, int64_t timeoutNs, bool* taken);
// Waits until an absolute CLOCK_MONOTONIC time (for the sliced waits).
Status PosixWaitUntil(sem_t* s, const struct timespec& until, bool* taken);
Status PosixPost(sem_t* s, unsigned count);
Status PosixValue(sem_t* s, int* value);

// The fast path (lib/fast-path/) works on the semaphore's memory itself.
// PosixLayoutKnown: the C library keeps a semaphore as glibc does on 64-bit
// (uint32 count, then uint32 count of sleeping waiters). PosixPage: the page
// the semaphore lies on, at its start. PosixWake: wakes up to `count` sleeping
// waiters, as sem_post does after a post that found waiters.
bool PosixLayoutKnown();
void* PosixPage(sem_t* s);
// The fast path's alias of POSIX semaphore `name`: PosixIdentify notes which
// file the C library keeps it in (right after it is opened), and PosixAlias
// maps that file's first page shared at `dst`, if the name still leads to it
// (common/fast_path_alias.h; qemu-user refuses the mremap PosixPage allows).
Status PosixIdentify(const char* name, dev_t* dev, ino_t* ino);
Status PosixAlias(const char* name, dev_t dev, ino_t ino, void* dst, size_t length);
Status PosixWake(sem_t* s, int count);

// The waiter engine sleeps on a POSIX semaphore's count word as sem_wait does
// (glibc's layout only, PosixLayoutKnown): counted among its sleepers, so
// that sem_post wakes it. PosixCountWord: the 32-bit count, the futex word.
// PosixAddSleeper/PosixRemoveSleeper: counts this sleeper in and out; leaving,
// it passes on to another sleeper a wake it may have absorbed.
uint32_t* PosixCountWord(sem_t* s);
void PosixAddSleeper(sem_t* s);
void PosixRemoveSleeper(sem_t* s);

// Blocking waits that a signal interrupts (the waiter engine's threads, see
// wait/interrupt.h): *taken is false when the timeout passed or the call was
// interrupted. The timeout reaches the kernel by address (an interrupt zeroes
// it): absolute on CLOCK_MONOTONIC for POSIX, relative for System V.
Status PosixWaitInterruptible(sem_t* s, const timespec* until, bool* taken);
Status SysvWaitInterruptible(int id, bool undo, const timespec* timeout, bool* taken);

// System V: a set of one semaphore. Created with IPC_CREAT|IPC_EXCL, then its
// initial value is set by semop so sem_otime marks it initialised. An opener
// waits (bounded) for that mark only on a set made moments ago that nobody has
// operated on or set yet; a set initialised by SETVAL (as C programs and
// python3-sysv-ipc do) keeps sem_otime at 0 and opens at once.
Status SysvOpen(key_t key, int flags, mode_t mode, int initial, int* id, bool* created);
// `undo` adds SEM_UNDO: the kernel reverses the operation when the process exits.
Status SysvWait(int id, bool undo, int64_t timeoutNs, bool* taken);
Status SysvPost(int id, bool undo, int count);
Status SysvValue(int id, int* value);
Status SysvRemoveId(int id);
Status SysvRemoveKey(key_t key);

}  // namespace sem
