// Constants for JavaScript: the bindings export the values C++ defines (kinds,
// open flags, the lock layout, outcome codes) so TypeScript never copies them.
#pragma once
#include <napi.h>

#include <initializer_list>
#include <utility>

namespace ipc {

// { name: value, ... }
inline Napi::Object Constants(Napi::Env env, std::initializer_list<std::pair<const char*, double>> values) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [name, value] : values) out.Set(name, Napi::Number::New(env, value));
  return out;
}

}  // namespace ipc
