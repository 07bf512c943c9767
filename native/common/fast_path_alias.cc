#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // mremap
#endif
#include "fast_path_alias.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

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

namespace {

// Maps `length` bytes of the file mapped at `src` again, by the file's name
// and offset as /proc/self/maps gives them (qemu-user writes that file for
// the emulated program too), if the name still leads to that inode.
Status MapFileAgain(void* src, size_t length, void** out) {
  FILE* maps = fopen("/proc/self/maps", "re");
  if (maps == nullptr) return Status{errno, "open"};
  auto at = reinterpret_cast<uintptr_t>(src);
  char line[4352];
  Status s{ENOENT, "mmap"};
  while (fgets(line, sizeof line, maps) != nullptr) {
    unsigned long start = 0, end = 0, inode = 0;
    unsigned long long offset = 0;
    int pathAt = 0;
    if (sscanf(line, "%lx-%lx %*s %llx %*s %lu %n", &start, &end, &offset, &inode, &pathAt) < 4) continue;
    if (at < start || at >= end) continue;
    std::string path(line + pathAt);
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    if (path.empty() || path[0] != '/') break;  // anonymous, or a System V segment's /SYSV name
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      s = Status{errno, "open"};
      break;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_ino != inode) {
      s = Status{ESTALE, "mmap"};
    } else {
      void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                     static_cast<off_t>(offset + (at - start)));
      s = p == MAP_FAILED ? Status{errno, "mmap"} : Status{};
      if (s.ok()) *out = p;
    }
    close(fd);
    break;
  }
  fclose(maps);
  return s;
}

}  // namespace

Status MapPagesAgain(void* src, size_t length, void** out) {
#ifdef __linux__
  void* p = mremap(src, 0, length, MREMAP_MAYMOVE);
  if (p != MAP_FAILED) {
    *out = p;
    return Status{};
  }
  Status failed{errno, "mremap"};
  // qemu-user refuses mremap's old size 0: map the file again instead.
  Status again = MapFileAgain(src, length, out);
  return again.ok() ? again : failed;
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
