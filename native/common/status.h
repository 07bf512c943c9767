// What an operating-system call reports to a binding: the errno and the call
// that failed. Shared by the modules' OS layers, which know nothing of
// Node-API; the bindings turn a failed Status into an IPCError (errors.h).
#pragma once
#include <cerrno>

namespace ipc {

struct Status {
  int err = 0;                    // errno, 0 on success
  const char* syscall = nullptr;  // the call that failed
  bool ok() const { return err == 0; }
};

// The failure `syscall` just reported through errno.
inline Status Fail(const char* syscall) { return Status{errno, syscall}; }

}  // namespace ipc
