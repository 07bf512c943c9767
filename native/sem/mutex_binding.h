#pragma once
#include <napi.h>

namespace sem {
// Adds the Mutex's functions (mutexIdentity, mutexAcquireSync, mutexWake,
// mutexWaitQueue) to the `sem` namespace.
void RegisterMutex(Napi::Env env, Napi::Object exports);
}
