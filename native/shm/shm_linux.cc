// Linux: POSIX shm (shm_open), mapped files and System V segments.
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include "../common/clock.h"
#include "../common/fast_path_alias.h"
#include "shm_os.h"

namespace shm {

using ipc::Fail;
using ipc::kCreate;
using ipc::kExclusive;
using ipc::kReadonly;

namespace {

// Closes fd without disturbing the errno of the failure being reported.
void CloseQuietly(int fd) {
  int saved = errno;
  close(fd);
  errno = saved;
}

using OpenFn = int (*)(const char*, int, mode_t);
int OpenShm(const char* name, int oflag, mode_t mode) { return shm_open(name, oflag, mode); }
int OpenPath(const char* path, int oflag, mode_t mode) { return open(path, oflag | O_CLOEXEC, mode); }

// Opens or creates (only when `creatable`: an object is created with a size); `*created` tells whether this
// call made the object, so only its creator sets the mode (fchmod: the umask must not change it).
Status OpenOrCreate(OpenFn fn, const char* syscall, const char* name, int flags, mode_t mode, bool creatable,
                    int* fd, bool* created) {
  int access = (flags & kReadonly) ? O_RDONLY : O_RDWR;
  *created = false;
  // Open-or-create races with other processes doing the same: retry a few times.
  for (int attempt = 0; attempt < 100; attempt++) {
    if ((flags & kCreate) && creatable) {
      *fd = fn(name, access | O_CREAT | O_EXCL, mode);
      if (*fd >= 0) {
        *created = true;
        if (fchmod(*fd, mode) != 0) {
          Status s = Fail("fchmod");
          CloseQuietly(*fd);
          return s;
        }
        return Status{};
      }
      if (errno != EEXIST || (flags & kExclusive)) return Fail(syscall);
    }
    *fd = fn(name, access, 0);
    if (*fd >= 0) return Status{};
    if (errno != ENOENT || !(flags & kCreate) || !creatable) return Fail(syscall);
  }
  return Status{EAGAIN, syscall};
}

// How long an open without a size waits for a creator that has made the
// object but not yet sized it (size 0 between O_EXCL and the reservation):
// a creator descheduled on a loaded machine can take over 100 ms.
constexpr int64_t kSizeWaitNs = 1'000'000'000;

void SleepNs(int64_t ns) {
  timespec t = ipc::ToTimespec(ns);
  nanosleep(&t, nullptr);
}

Status SizeOf(int fd, size_t* size) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Fail("fstat");
  *size = static_cast<size_t>(st.st_size);
  return Status{};
}

// The object's identity and size.
Status Identify(int fd, Opened* out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Fail("fstat");
  out->dev = st.st_dev;
  out->ino = st.st_ino;
  out->size = static_cast<size_t>(st.st_size);
  return Status{};
}

// flock(LOCK_EX) without ever blocking on it: a program holding the lock for
// long (or forever) costs this open at most kLockWaitMs, then EWOULDBLOCK.
Status LockBounded(int fd) {
  int64_t deadline = ipc::MonotonicNs() + kLockWaitMs * 1'000'000;
  for (int64_t pause = 50'000;; pause = pause < 5'000'000 ? pause * 2 : pause) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return Status{};
    if (errno != EWOULDBLOCK && errno != EINTR) return Fail("flock");
    if (ipc::MonotonicNs() >= deadline) return Status{EWOULDBLOCK, "flock"};
    SleepNs(pause);
  }
}

// Reserves the pages of [from, to) and sets the size to `to` (posix_fallocate):
// the memory is there before anyone touches it, so a full file system is
// ENOSPC now rather than SIGBUS at the first write. tmpfs and the usual disk
// file systems reserve in one step and leave the size unchanged when they
// fail; where glibc emulates the call by writing, a failure may leave the
// file longer, and it is cut back to `from` (we hold the growers' lock, and
// only an open racing us could have mapped those unreserved pages).
Status Reserve(int fd, size_t from, size_t to) {
  int err = 0;
  // Interrupted by a signal (a large reservation on tmpfs checks for them): again.
  for (int attempt = 0; attempt < 1000; attempt++) {
    err = posix_fallocate(fd, static_cast<off_t>(from), static_cast<off_t>(to - from));
    if (err != EINTR) break;
  }
  if (err == 0) return Status{};
  size_t now = 0;
  if (SizeOf(fd, &now).ok() && now > from) {
    int ignored = ftruncate(fd, static_cast<off_t>(from));
    (void)ignored;
  }
  return Status{err, "posix_fallocate"};
}

// Grows the object to `size` if larger than `*actual`, reserving its pages.
// Only a grower takes the lock (flock serialises growers, so two processes
// growing at once never shrink what the other grew), and it re-reads the size under it.
Status SizeUp(int fd, int flags, size_t size, size_t* actual) {
  if (size <= *actual || (flags & kReadonly)) return Status{};
  Status s = LockBounded(fd);
  if (!s.ok()) return s;
  s = SizeOf(fd, actual);
  if (s.ok() && size > *actual) {
    s = Reserve(fd, *actual, size);
    if (s.ok()) *actual = size;
  }
  flock(fd, LOCK_UN);
  return s;
}

// An object without a size is one another process has just created and not
// yet sized: give its creator a moment (in that rare case only).
Status AwaitSize(int fd, size_t* actual) {
  int64_t deadline = ipc::MonotonicNs() + kSizeWaitNs;
  Status s = SizeOf(fd, actual);
  while (s.ok() && *actual == 0 && ipc::MonotonicNs() < deadline) {
    SleepNs(1'000'000);
    s = SizeOf(fd, actual);
  }
  return s;
}

Status OpenSized(OpenFn fn, const char* syscall, const char* name, int flags, mode_t mode, size_t size,
                 Opened* out) {
  Status s = OpenOrCreate(fn, syscall, name, flags, mode, size > 0, &out->fd, &out->created);
  if (!s.ok()) return s;
  s = Identify(out->fd, out);
  if (s.ok()) s = SizeUp(out->fd, flags, size, &out->size);
  if (s.ok() && out->size == 0 && !out->created) s = AwaitSize(out->fd, &out->size);
  if (!s.ok()) {
    CloseQuietly(out->fd);
    out->fd = -1;
    // What this call created and could not size goes again: nothing is left behind.
    if (out->created) {
      if (fn == OpenShm)
        shm_unlink(name);
      else
        unlink(name);
      out->created = false;
    }
  }
  return s;
}

Status AliasByName(OpenFn fn, const char* syscall, const char* name, dev_t dev, ino_t ino, off_t offset,
                   void* dst, size_t length) {
  int fd = fn(name, O_RDWR, 0);
  if (fd < 0) return Fail(syscall);
  Status s = ipc::AliasFd(fd, dev, ino, offset, dst, length);
  close(fd);
  return s;
}

Status Exists(int rc, bool* exists, const char* syscall) {
  if (rc == 0 || errno == EACCES) {
    *exists = true;
    return Status{};
  }
  if (errno == ENOENT) {
    *exists = false;
    return Status{};
  }
  return Fail(syscall);
}

}  // namespace

Status OpenPosix(const char* name, int flags, mode_t mode, size_t size, Opened* out) {
  return OpenSized(OpenShm, "shm_open", name, flags, mode, size, out);
}

Status OpenFile(const char* path, int flags, mode_t mode, size_t size, Opened* out) {
  return OpenSized(OpenPath, "open", path, flags, mode, size, out);
}

Status MapFd(int fd, size_t size, bool readonly, void** addr) {
  // A read-only object is mapped private and writable: JavaScript cannot be
  // kept from writing into a Uint8Array, and a PROT_READ page would segfault.
  int share = readonly ? MAP_PRIVATE : MAP_SHARED;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, share, fd, 0);
  Status s = p == MAP_FAILED ? Fail("mmap") : Status{};
  CloseQuietly(fd);
  if (s.ok()) *addr = p;
  return s;
}

Status Unmap(void* addr, size_t size) { return munmap(addr, size) == 0 ? Status{} : Fail("munmap"); }

Status Flush(void* addr, size_t size) { return msync(addr, size, MS_SYNC) == 0 ? Status{} : Fail("msync"); }

Status UnlinkPosix(const char* name) { return shm_unlink(name) == 0 ? Status{} : Fail("shm_unlink"); }

Status UnlinkFile(const char* path) { return unlink(path) == 0 ? Status{} : Fail("unlink"); }

Status ExistsPosix(const char* name, bool* exists) {
  int fd = shm_open(name, O_RDONLY, 0);
  if (fd >= 0) close(fd);
  return Exists(fd >= 0 ? 0 : -1, exists, "shm_open");
}

Status ExistsFile(const char* path, bool* exists) {
  struct stat st;
  return Exists(stat(path, &st), exists, "stat");
}

Status AliasPosix(const char* name, dev_t dev, ino_t ino, off_t offset, void* dst, size_t length) {
  return AliasByName(OpenShm, "shm_open", name, dev, ino, offset, dst, length);
}

Status AliasFile(const char* path, dev_t dev, ino_t ino, off_t offset, void* dst, size_t length) {
  return AliasByName(OpenPath, "open", path, dev, ino, offset, dst, length);
}

Status OpenSysv(key_t key, int flags, mode_t mode, size_t size, Opened* out) {
  // shmget checks these permission bits against an existing segment.
  int want = (flags & kReadonly) ? 0400 : 0600;
  out->created = false;
  for (int attempt = 0; attempt < 100; attempt++) {
    bool creatable = (flags & kCreate) && size > 0;
    if (creatable) {
      out->id = shmget(key, size, IPC_CREAT | IPC_EXCL | (mode & 0777));
      if (out->id >= 0) {
        out->created = true;
        out->size = size;
        return Status{};
      }
      if (errno != EEXIST || (flags & kExclusive)) return Fail("shmget");
    }
    out->id = shmget(key, 0, want);
    if (out->id >= 0) break;
    if (errno != ENOENT || !creatable) return Fail("shmget");
  }
  if (out->id < 0) return Status{EAGAIN, "shmget"};
  struct shmid_ds ds;
  if (shmctl(out->id, IPC_STAT, &ds) != 0) return Fail("shmctl");
  out->size = ds.shm_segsz;
  // A System V segment has a fixed size.
  if (size > out->size) return Status{EINVAL, "shmget"};
  return Status{};
}

Status AttachSysv(int id, void** addr) {
  void* p = shmat(id, nullptr, 0);
  if (p == reinterpret_cast<void*>(-1)) return Fail("shmat");
  *addr = p;
  return Status{};
}

Status DetachSysv(void* addr) { return shmdt(addr) == 0 ? Status{} : Fail("shmdt"); }

Status RemoveSysvId(int id) {
  // Linux accepts IPC_RMID again on a segment already removed but still
  // attached (it is then marked SHM_DEST); once detached by all, the id is
  // gone (EINVAL). Both mean the segment was removed: ENOENT, like a name.
  struct shmid_ds ds;
  if (shmctl(id, IPC_STAT, &ds) != 0) {
    if (errno == EINVAL || errno == EIDRM) return Status{ENOENT, "shmctl"};
    if (errno != EACCES) return Fail("shmctl");  // not readable: the owner may still remove it
  } else if (ds.shm_perm.mode & SHM_DEST) {
    return Status{ENOENT, "shmctl"};
  }
  return shmctl(id, IPC_RMID, nullptr) == 0 ? Status{} : Fail("shmctl");
}

Status RemoveSysvKey(key_t key) {
  int id = shmget(key, 0, 0);
  if (id < 0) return Fail("shmget");
  return RemoveSysvId(id);
}

Status ExistsSysv(key_t key, bool* exists) {
  return Exists(shmget(key, 0, 0) >= 0 ? 0 : -1, exists, "shmget");
}

}  // namespace shm
