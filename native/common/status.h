// What an operating-system call reports to a binding: the errno and the call
// that failed. Shared by the modules' OS-facing files, which know nothing of
// Node-API; the bindings turn a failed Status into an IPCError.
#pragma once

namespace ipc {

struct Status {
  int err = 0;                    // errno, 0 on success
  const char* syscall = nullptr;  // the call that failed
  bool ok() const { return err == 0; }
};

}  // namespace ipc
