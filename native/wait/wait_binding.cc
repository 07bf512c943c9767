// Marshals the waiter engine's generic queue operations (waiter.h).
#include "wait_binding.h"

#include <vector>

#include "waiter.h"
#include "word_wait_binding.h"

namespace waiter {

namespace {

// add(queue, timeoutMs) -> id: timeoutMs < 0 or not finite waits forever.
Napi::Value JsAdd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Add(info[0], info[1].As<Napi::Number>().DoubleValue()));
}

// cancel(queue, id) -> true if the wait was still pending (it never settles now).
Napi::Value JsCancel(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Cancel(info[0], info[1].As<Napi::Number>().Uint32Value()));
}

// close(queue) -> ids of the waits that will never settle now.
Napi::Value JsClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<uint32_t> ids = Close(info[0]);
  Napi::Array out = Napi::Array::New(env, ids.size());
  for (uint32_t i = 0; i < ids.size(); i++) out.Set(i, Napi::Number::New(env, ids[i]));
  return out;
}

// notify() -> true if a thread is still to be told (call again later): tells
// the threads about the cancel and close calls made since the last one.
Napi::Value JsNotify(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), NotifyDeferred());
}

}  // namespace

Napi::Object Init(Napi::Env env) {
  Napi::Object exports = Napi::Object::New(env);
  exports.Set("add", Napi::Function::New(env, JsAdd, "add"));
  exports.Set("cancel", Napi::Function::New(env, JsCancel, "cancel"));
  exports.Set("close", Napi::Function::New(env, JsClose, "close"));
  exports.Set("notify", Napi::Function::New(env, JsNotify, "notify"));
  ExportWordWait(env, exports);
  exports.Set("SHARED_THREADS", Napi::Boolean::New(env, GroupsShareThreads()));
  exports.Set("GROUP_WORDS", Napi::Number::New(env, static_cast<double>(kGroupWords)));
  return exports;
}

}  // namespace waiter
