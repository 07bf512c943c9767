#pragma once
#include <napi.h>

namespace sem {
// The `sem` namespace of the addon: POSIX and System V semaphores.
Napi::Object Init(Napi::Env env);
}  // namespace sem
