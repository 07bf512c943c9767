// Descriptors ipc-kit keeps open on its own account (liveness tokens, pidfds
// of watched lock owners) never take the upper half of RLIMIT_NOFILE: the
// program's own opens, and ours of objects, must not fail for them.
#pragma once
#include <sys/resource.h>

namespace ipc {

// Whether `fd`, just opened for our own bookkeeping, is in the lower half of
// the descriptors allowed; if not, the caller closes it and goes without.
inline bool WithinBudget(int fd) {
  struct rlimit files {};
  return getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY ||
         static_cast<rlim_t>(fd) < files.rlim_cur / 2;
}

}  // namespace ipc
