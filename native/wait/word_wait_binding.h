#pragma once
#include <napi.h>

namespace waiter {
// Adds wordWaitSync, wordWake, wordQueue, wordExpect and wordRetire to the `wait` namespace.
void ExportWordWait(Napi::Env env, Napi::Object exports);
}  // namespace waiter
