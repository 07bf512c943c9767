#pragma once
#include <napi.h>

namespace shm {
// The `shm` namespace of the addon: shared buffers of every kind.
Napi::Object Init(Napi::Env env);
}  // namespace shm
