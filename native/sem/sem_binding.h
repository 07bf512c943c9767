#pragma once
#include <napi.h>

namespace sem {
// The `sem` namespace of the addon: semaphores and waits off the event loop.
Napi::Object Init(Napi::Env env);
}
