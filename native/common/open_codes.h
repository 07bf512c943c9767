// The codes TypeScript passes to `open`: which kind of object and how to open
// it. Defined here once; the `shm` and `sem` namespaces export the ones they
// accept (KIND, OPEN), and lib/ reads them from there.
#pragma once

namespace ipc {

enum Kind : int {
  kPosix = 0,  // POSIX shm or semaphore: a name '/name'
  kFile = 1,   // a mapped file: a path (buffers only)
  kSysv = 2,   // System V: a key
};

enum OpenFlags : int {
  kCreate = 1,     // create when absent
  kExclusive = 2,  // with kCreate: fail with EEXIST when present
  kReadonly = 4,   // open read-only, map copy-on-write (buffers only)
};

}  // namespace ipc
