// The operating-system side of shared buffers: POSIX shm, mapped files and
// System V segments. Knows nothing of Node-API; every call reports the errno
// and the system call that failed, so the binding can raise an IPCError.
#pragma once
#include <sys/types.h>

#include <cstddef>

#include "../common/open_codes.h"
#include "../common/status.h"

namespace shm {

using ipc::Status;

struct Opened {
  int fd = -1;      // POSIX shm and files: the open descriptor
  int id = -1;      // System V: the segment id
  size_t size = 0;  // bytes in the object after any growth
  bool created = false;
  dev_t dev = 0;  // POSIX shm and files: the object's identity, so that
  ino_t ino = 0;  // its name can be opened again for an alias (AliasPosix)
};

// How long an open that must grow an object waits for another process's
// flock on it before EWOULDBLOCK (growers hold it only while they reserve).
constexpr int kLockWaitMs = 2000;

// POSIX shared memory (`name` starts with '/') and files. Created objects get
// exactly `mode`; a `size` larger than the object grows it (never shrinks),
// reserving its pages (ENOSPC when the file system lacks them; the object then
// keeps its old size, and one this call created is removed). An open without
// a size that finds the object empty waits briefly for its creator to size it.
Status OpenPosix(const char* name, int flags, mode_t mode, size_t size, Opened* out);
Status OpenFile(const char* path, int flags, mode_t mode, size_t size, Opened* out);
// Maps `size` bytes of `fd` shared (or private copy-on-write), then closes fd.
Status MapFd(int fd, size_t size, bool readonly, void** addr);
Status Unmap(void* addr, size_t size);
Status Flush(void* addr, size_t size);
Status UnlinkPosix(const char* name);
Status UnlinkFile(const char* path);
Status ExistsPosix(const char* name, bool* exists);
Status ExistsFile(const char* path, bool* exists);
// Maps `length` bytes from `offset` of the POSIX object or file `name`, which
// must still be the object (dev, ino) opened before, shared at `dst`
// (replacing what was there): the fast path's alias (common/fast_path_alias.h).
Status AliasPosix(const char* name, dev_t dev, ino_t ino, off_t offset, void* dst, size_t length);
Status AliasFile(const char* path, dev_t dev, ino_t ino, off_t offset, void* dst, size_t length);

// System V segments. They cannot grow: a larger `size` than the segment is EINVAL.
Status OpenSysv(key_t key, int flags, mode_t mode, size_t size, Opened* out);
Status AttachSysv(int id, void** addr);
Status DetachSysv(void* addr);
Status RemoveSysvId(int id);
Status RemoveSysvKey(key_t key);
Status ExistsSysv(key_t key, bool* exists);

}  // namespace shm
