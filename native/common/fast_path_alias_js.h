// A page-aligned range of a JavaScript ArrayBuffer, for the bindings that
// alias pages into the fast path's WebAssembly memory (fast_path_alias.h).
#pragma once
#include <napi.h>

#include "fast_path_alias.h"

namespace ipc {

// The address of [offset, offset + length) in `buffer`; TypeError if it is not
// an ArrayBuffer, RangeError if the range is outside it or not page-aligned.
inline void* PageRangeOf(Napi::Env env, Napi::Value buffer, double offset, double length) {
  if (!buffer.IsArrayBuffer()) throw Napi::TypeError::New(env, "not an ArrayBuffer");
  auto ab = buffer.As<Napi::ArrayBuffer>();
  void* p = PageRange(ab.Data(), ab.ByteLength(), offset, length);
  if (p == nullptr) throw Napi::RangeError::New(env, "not a page-aligned range of the buffer");
  return p;
}

}  // namespace ipc
