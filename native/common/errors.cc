#include "errors.h"

#include <cstring>

namespace ipc {

namespace {
// One per environment (main thread, each worker): references die with it.
struct ErrorFactory {
  Napi::FunctionReference fn;
};
}  // namespace

void SetErrorFactory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* factory = new ErrorFactory();
  factory->fn = Napi::Persistent(info[0].As<Napi::Function>());
  env.SetInstanceData<ErrorFactory>(factory);
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, Napi::Value subject) {
  auto* factory = env.GetInstanceData<ErrorFactory>();
  if (factory != nullptr) {
    Napi::Value made =
        factory->fn.Call({Napi::Number::New(env, -err), Napi::String::New(env, syscall), subject});
    if (made.IsObject()) return Napi::Error(env, made);
  }
  // Only reachable if the loader did not install the factory.
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, Napi::Value subject) {
  throw ErrnoError(env, err, syscall, subject);
}

void Check(Napi::Env env, const Status& s, Napi::Value subject) {
  if (!s.ok()) ThrowErrno(env, s.err, s.syscall, subject);
}

}  // namespace ipc
