// Linux: POSIX shm (shm_open), mapped files and System V segments.
#include "shm_os.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

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

// Opens or creates (only when `creatable`: an object is created with a size); `*created` tells whether this call made the object, so
// only its creator sets the mode (fchmod: the umask must not change it).
Status OpenOrCreate(OpenFn fn, const char* syscall, const char* name, int flags, mode_t mode,
                    bool creatable, int* fd, bool* created) {
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

// Grows the object to `size` if smaller. flock serialises growers so two
// processes growing at once never shrink what the other one grew.
Status SizeUp(int fd, int flags, size_t size, size_t* actual) {
  if (flock(fd, LOCK_EX) != 0) return Fail("flock");
  struct stat st;
  Status s;
  if (fstat(fd, &st) != 0) {
    s = Fail("fstat");
  } else {
    *actual = static_cast<size_t>(st.st_size);
    if (size > *actual && !(flags & kReadonly)) {
      if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
        s = Fail("ftruncate");
      } else {
        *actual = size;
      }
    }
  }
  flock(fd, LOCK_UN);
  return s;
}

Status OpenSized(OpenFn fn, const char* syscall, const char* name, int flags, mode_t mode,
                 size_t size, Opened* out) {
  Status s = OpenOrCreate(fn, syscall, name, flags, mode, size > 0, &out->fd, &out->created);
  if (!s.ok()) return s;
  s = SizeUp(out->fd, flags, size, &out->size);
  if (!s.ok()) {
    CloseQuietly(out->fd);
    out->fd = -1;
  }
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

Status Unmap(void* addr, size_t size) {
  return munmap(addr, size) == 0 ? Status{} : Fail("munmap");
}

Status Flush(void* addr, size_t size) {
  return msync(addr, size, MS_SYNC) == 0 ? Status{} : Fail("msync");
}

Status UnlinkPosix(const char* name) {
  return shm_unlink(name) == 0 ? Status{} : Fail("shm_unlink");
}

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
  return shmctl(id, IPC_RMID, nullptr) == 0 ? Status{} : Fail("shmctl");
}

Status RemoveSysvKey(key_t key) {
  int id = shmget(key, 0, 0);
  if (id < 0) return Fail("shmget");
  return RemoveSysvId(id);
}

Status ExistsSysv(key_t key, bool* exists) { return Exists(shmget(key, 0, 0) >= 0 ? 0 : -1, exists, "shmget"); }

}  // namespace shm
