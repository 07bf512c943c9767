#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // mremap
#endif
#include "fast_path_alias.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>

namespace ipc {

void* PageRange(void* base, size_t size, double offset, double length) {
  auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  if (base == nullptr || !(offset >= 0) || !(length > 0) || offset + length > static_cast<double>(size))
    return nullptr;
  uintptr_t start = reinterpret_cast<uintptr_t>(base) + static_cast<uintptr_t>(offset);
  if (start % page != 0 || static_cast<uintptr_t>(length) % page != 0) return nullptr;
  return reinterpret_cast<void*>(start);
}

Status AliasFd(int fd, dev_t dev, ino_t ino, off_t offset, void* dst, size_t length) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Status{errno, "fstat"};
  if (st.st_dev != dev || st.st_ino != ino) return Status{ESTALE, "mmap"};
  void* p = mmap(dst, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, offset);
  if (p != MAP_FAILED) return Status{};
  Status failed{errno, "mmap"};
  // A failed MAP_FIXED may have unmapped `dst`: leave no hole there.
  ResetPages(dst, length);
  return failed;
}

Status AliasPages(void* src, void* dst, size_t length) {
#ifdef __linux__
  void* p = mremap(src, 0, length, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
  if (p != MAP_FAILED) return Status{};
  Status failed{errno, "mremap"};
  // The kernel may have unmapped `dst` before failing: leave no hole there.
  ResetPages(dst, length);
  return failed;
#else
  return Status{ENOSYS, "mremap"};
#endif
}

Status MapPagesAgain(void* src, size_t length, void** out) {
#ifdef __linux__
  void* p = mremap(src, 0, length, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) return Status{errno, "mremap"};
  *out = p;
  return Status{};
#else
  return Status{ENOSYS, "mremap"};
#endif
}

void UnmapPages(void* addr, size_t length) { munmap(addr, length); }

Status ResetPages(void* dst, size_t length) {
  void* p = mmap(dst, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  return p == MAP_FAILED ? Status{errno, "mmap"} : Status{};
}

}  // namespace ipc
