// Errors crossing from C++ to JavaScript. TypeScript owns the wording: at load
// it hands the addon a factory that builds an IPCError from (errno, syscall,
// subject); the C++ side only reports which call failed and why. The OS
// layers, which know nothing of Node-API, report it as a Status (status.h).
#pragma once
#include <napi.h>

#include "status.h"

namespace ipc {

// setErrorFactory(fn): remembers the factory for this environment.
void SetErrorFactory(const Napi::CallbackInfo& info);

// The IPCError for `err` (an errno value, 0 for a non-system failure) raised
// by `syscall` on `subject` (the name, path or key the caller passed).
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, Napi::Value subject);

[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, Napi::Value subject);

// Throws the IPCError for a failed `s`; nothing when it succeeded.
void Check(Napi::Env env, const Status& s, Napi::Value subject);

}  // namespace ipc
