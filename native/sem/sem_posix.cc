// POSIX named semaphores over glibc's sem_open family.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include <cstdint>
#include <cstring>
#include <string>

#include "../common/fast_path_alias.h"
#include "sem_os.h"

namespace sem {

using ipc::Fail;
using ipc::kCreate;
using ipc::kExclusive;

const int64_t kPosixMax = SEM_VALUE_MAX;

namespace {

// Linux (glibc, musl) keeps a named semaphore in /dev/shm/sem.NAME; another
// OS would answer here with its own object path.
std::string FileOf(const char* name) { return std::string("/dev/shm/sem.") + (name + 1); }

// Gives a freshly created semaphore exactly `mode`: sem_open applied the umask.
Status FixMode(const char* name, mode_t mode) {
#ifdef __linux__
  if (chmod(FileOf(name).c_str(), mode) != 0) return Fail("chmod");
#endif
  return Status{};
}

}  // namespace

Status PosixOpen(const char* name, int flags, mode_t mode, unsigned initial, sem_t** out, bool* created) {
  // glibc's sem_open(O_CREAT) builds the semaphore in a temporary
  // /dev/shm/sem.XXXXXX file and links it into place: a process killed in
  // between leaves that file for good. So an existing semaphore is opened
  // without O_CREAT, and only a missing one is created. An object created or
  // removed between our opens sends us round again; bounded.
  for (int round = 0;; round++) {
    if (!(flags & kExclusive)) {
      sem_t* s = sem_open(name, 0);
      if (s != SEM_FAILED) {
        *out = s;
        *created = false;
        return Status{};
      }
      if (errno != ENOENT || !(flags & kCreate) || round >= 100) return Fail("sem_open");
    }
    sem_t* s = sem_open(name, O_CREAT | O_EXCL, mode, initial);
    if (s != SEM_FAILED) {
      Status fixed = FixMode(name, mode);
      if (!fixed.ok()) {
        sem_close(s);
        sem_unlink(name);
        return fixed;
      }
      *out = s;
      *created = true;
      return Status{};
    }
    if (errno != EEXIST || (flags & kExclusive)) return Fail("sem_open");
  }
}

Status PosixClose(sem_t* s) { return sem_close(s) == 0 ? Status{} : Fail("sem_close"); }

Status PosixUnlink(const char* name) { return sem_unlink(name) == 0 ? Status{} : Fail("sem_unlink"); }

Status PosixWaitUntil(sem_t* s, const timespec& until, bool* taken) {
  // The deadline is absolute, so resuming after EINTR waits only the time left.
  while (sem_clockwait(s, CLOCK_MONOTONIC, &until) != 0) {
    if (errno == EINTR) continue;
    if (errno == ETIMEDOUT) {
      *taken = false;
      return Status{};
    }
    return Fail("sem_clockwait");
  }
  *taken = true;
  return Status{};
}

Status PosixWait(sem_t* s, int64_t timeoutNs, bool* taken) {
  if (timeoutNs == 0) {
    if (sem_trywait(s) == 0) {
      *taken = true;
      return Status{};
    }
    if (errno != EAGAIN) return Fail("sem_trywait");
    *taken = false;
    return Status{};
  }
  if (timeoutNs == kForever) {
    while (sem_wait(s) != 0) {
      if (errno != EINTR) return Fail("sem_wait");
    }
    *taken = true;
    return Status{};
  }
  return PosixWaitUntil(s, ipc::ToTimespec(ipc::MonotonicNs() + timeoutNs), taken);
}

Status PosixPost(sem_t* s, unsigned count) {
  // No sem_post takes a count: refuse up front what would overflow midway.
  int value = 0;
  if (sem_getvalue(s, &value) != 0) return Fail("sem_getvalue");
  if (static_cast<int64_t>(value) + count > kPosixMax) return Status{EOVERFLOW, "sem_post"};
  for (unsigned i = 0; i < count; i++) {
    if (sem_post(s) != 0) return Fail("sem_post");
  }
  return Status{};
}

bool PosixLayoutKnown() {
#if defined(__linux__) && defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))
  // glibc's struct new_sem with 64-bit atomics: the count in the low half of
  // a 64-bit word, the number of sleeping waiters in the high half. Checked
  // here rather than trusted, on a process-shared semaphore of our own.
  sem_t s;
  if (sem_init(&s, 1, 7) != 0) return false;
  uint32_t w[2];
  auto words = [&] { std::memcpy(w, &s, sizeof w); };
  words();
  bool ok = w[0] == 7 && w[1] == 0;
  sem_post(&s);
  words();
  ok = ok && w[0] == 8 && w[1] == 0;
  for (int i = 0; i < 8; i++) sem_trywait(&s);
  words();
  ok = ok && w[0] == 0 && w[1] == 0 && sem_trywait(&s) != 0;
  sem_destroy(&s);
  return ok;
#else
  return false;
#endif
}

void* PosixPage(sem_t* s) {
  auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(s) & ~(page - 1));
}

Status PosixIdentify(const char* name, dev_t* dev, ino_t* ino) {
  struct stat st;
  if (stat(FileOf(name).c_str(), &st) != 0) return Fail("stat");
  *dev = st.st_dev;
  *ino = st.st_ino;
  return Status{};
}

Status PosixAlias(const char* name, dev_t dev, ino_t ino, void* dst, size_t length) {
  int fd = open(FileOf(name).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Fail("open");
  Status s = ipc::AliasFd(fd, dev, ino, 0, dst, length);
  close(fd);
  return s;
}

Status PosixWake(sem_t* s, int count) {
#ifdef __linux__
  // What sem_post does after counting up when the waiter count is not zero.
  // Shared futex: a named semaphore is waited on from several processes.
  if (syscall(SYS_futex, reinterpret_cast<uint32_t*>(s), FUTEX_WAKE, count, nullptr, nullptr, 0) < 0) {
    return Fail("futex");
  }
  return Status{};
#else
  return Status{ENOSYS, "futex"};
#endif
}

// glibc's 64-bit sem_t: the count in the low half of one 64-bit word, the
// number of sleepers in the high half (checked by PosixLayoutKnown).
namespace {
uint64_t* Data(sem_t* s) { return reinterpret_cast<uint64_t*>(s); }
constexpr uint64_t kOneSleeper = uint64_t{1} << 32;
}  // namespace

uint32_t* PosixCountWord(sem_t* s) { return reinterpret_cast<uint32_t*>(s); }

void PosixAddSleeper(sem_t* s) { __atomic_fetch_add(Data(s), kOneSleeper, __ATOMIC_SEQ_CST); }

void PosixRemoveSleeper(sem_t* s) {
  uint64_t after = __atomic_sub_fetch(Data(s), kOneSleeper, __ATOMIC_SEQ_CST);
  // A post's wake may have come to us: if units remain and others sleep, pass it on.
  if (static_cast<uint32_t>(after) != 0 && (after >> 32) != 0) PosixWake(s, 1);
}

Status PosixWaitInterruptible(sem_t* s, const timespec* until, bool* taken) {
  *taken = false;
  // glibc hands `until` to its futex call as it is (a C library that copied
  // it first would miss an interrupt that came just before the call).
  if (sem_clockwait(s, CLOCK_MONOTONIC, until) == 0) {
    *taken = true;
    return Status{};
  }
  if (errno == EINTR || errno == ETIMEDOUT) return Status{};
  return Fail("sem_clockwait");
}

Status PosixValue(sem_t* s, int* value) {
  if (sem_getvalue(s, value) != 0) return Fail("sem_getvalue");
  // Linux never reports waiters as a negative value; other systems may.
  if (*value < 0) *value = 0;
  return Status{};
}

}  // namespace sem
