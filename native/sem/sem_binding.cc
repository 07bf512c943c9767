#include "sem_binding.h"

namespace sem {

Napi::Object Init(Napi::Env env) {
  Napi::Object exports = Napi::Object::New(env);
  return exports;
}

}  // namespace sem
