#pragma once
#include <napi.h>

namespace waiter {
// The `wait` namespace of the addon: add, cancel and close on any wait queue
// (the queues themselves come from sem.waitQueue and mutex.waitQueue).
Napi::Object Init(Napi::Env env);
}  // namespace waiter
