// One binary, one namespace per concept: node-gyp-build loads a single .node
// per package, so every module is compiled into it and registered here.
#include <napi.h>

#include "common/errors.h"
#include "mutex/mutex_binding.h"
#include "sem/sem_binding.h"
#include "shm/shm_binding.h"
#include "wait/wait_binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorFactory", Napi::Function::New(env, ipc::SetErrorFactory, "setErrorFactory"));
  exports.Set("shm", shm::Init(env));
  exports.Set("sem", sem::Init(env));
  exports.Set("mutex", mutex::Init(env));
  exports.Set("wait", waiter::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(ipc_kit, Init)
