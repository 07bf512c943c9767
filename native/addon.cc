// One binary, two modules: node-gyp-build loads a single .node per package,
// so `shm` and `sem` are compiled together and registered side by side.
#include <napi.h>

#include "common/errors.h"
#include "sem/sem_binding.h"
#include "shm/shm_binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorFactory", Napi::Function::New(env, ipc::SetErrorFactory, "setErrorFactory"));
  exports.Set("shm", shm::Init(env));
  exports.Set("sem", sem::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(ipc_kit, Init)
