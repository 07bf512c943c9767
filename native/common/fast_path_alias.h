// The fast path's page aliasing: maps shared pages a second time, at an
// address chosen by the caller. That is how a lock word or a semaphore reaches
// a slot of the fast path's WebAssembly memory (lib/fast-path/). Knows nothing
// of Node-API (fast_path_alias_js.h checks JavaScript's ranges).
#pragma once
#include <sys/types.h>

#include <cstddef>

#include "status.h"

namespace ipc {

// The range [base + offset, base + offset + length) if it lies within
// [base, base + size) and is page-aligned; nullptr otherwise.
void* PageRange(void* base, size_t size, double offset, double length);

// Maps `length` bytes of the object open as `fd`, from `offset`, shared at
// `dst`, replacing whatever was mapped there (MAP_FIXED): both mappings then
// reach the same pages. Only if `fd` is the object (dev, ino) the first
// mapping was made from; a name removed or replaced since is ESTALE. This is
// the way qemu-user supports too (it refuses mremap's old size 0).
Status AliasFd(int fd, dev_t dev, ino_t ino, off_t offset, void* dst, size_t length);

// Maps the pages of the shared mapping at `src` again at `dst`, replacing
// whatever was mapped there (mremap with old size 0: both addresses then
// reach the same physical pages). For what has no file to map (System V
// segments) or no longer has a name; Linux only, and not under qemu-user.
Status AliasPages(void* src, void* dst, size_t length);

// Maps the pages of the shared mapping at `src` again, wherever the kernel
// likes (*out): a mapping of one's own, which lives until UnmapPages
// whatever happens to `src` (the waiter engine keeps the lock word so).
// By mremap, or where that is refused (qemu-user) by mapping the file that
// /proc/self/maps names at `src` (not for System V segments there).
Status MapPagesAgain(void* src, size_t length, void** out);
void UnmapPages(void* addr, size_t length);

// Replaces `length` bytes at `dst` with fresh private zero pages, dropping an alias.
Status ResetPages(void* dst, size_t length);

}  // namespace ipc
