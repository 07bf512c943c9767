// Marshals the Mutex's native calls. The uncontended paths (take, release)
// run in JavaScript on the mapped header; only waiting and waking come here.
#include "mutex_binding.h"

#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <memory>

#include "../common/errors.h"
#include "futex_linux.h"
#include "waiter.h"

namespace sem {

namespace {

// How often a waiter checks that the owner still lives.
constexpr int64_t kLivenessEveryNs = 200 * 1000 * 1000;
constexpr int64_t kFirstCheckNs = 10 * 1000 * 1000;

// The lock pair at the start of an Int32Array over the mapped header.
Lock LockOf(const Napi::Value& value) {
  auto view = value.As<Napi::TypedArray>();
  auto* base = static_cast<uint8_t*>(view.ArrayBuffer().Data());
  if (base == nullptr || view.ByteLength() < 8) {
    throw Napi::Error::New(value.Env(), "the mutex header is not mapped");
  }
  auto* word = reinterpret_cast<uint32_t*>(base + view.ByteOffset());
  if (reinterpret_cast<uintptr_t>(word) % 8 != 0) {
    throw Napi::Error::New(value.Env(), "the mutex header is not 8-byte aligned");
  }
  return Lock{word};
}

// mutexIdentity() -> [tid, start, pidns] of the calling thread.
Napi::Value JsIdentity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Identity id;
  int err = ThisThread(&id);
  // ERANGE: a thread id above 2^22 does not fit the lock word.
  if (err != 0) ipc::ThrowErrno(env, err, "gettid", env.Undefined());
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, id.tid));
  out.Set(1u, Napi::Number::New(env, id.start));
  out.Set(2u, Napi::Number::New(env, id.pidns));
  return out;
}

// mutexAcquireSync(header, mine, start, foreign, timeoutMs) -> 0 timed out,
// 1 acquired, 2 acquired from a dead owner. timeoutMs < 0: forever. Blocks
// this thread (that is what the caller asked for).
Napi::Value JsAcquireSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Lock lock = LockOf(info[0]);
  uint32_t mine = info[1].As<Napi::Number>().Uint32Value();
  uint32_t start = info[2].As<Napi::Number>().Uint32Value();
  bool foreign = info[3].As<Napi::Boolean>().Value();
  double timeoutMs = info[4].As<Napi::Number>().DoubleValue();
  // "Forever" is a century: the loop below never sees it pass.
  if (timeoutMs < 0 || !std::isfinite(timeoutMs)) timeoutMs = 100.0 * 365 * 24 * 3600 * 1000;
  timespec until = MonotonicAfterMs(timeoutMs);
  // The first liveness check comes after kFirstCheckNs of waiting: a live
  // holder usually lets go well before, and a check costs a /proc read.
  int64_t lastCheck = ToNs(MonotonicNow()) - kLivenessEveryNs + kFirstCheckNs;
  switch (LockAttempt(lock, mine, start, foreign, until, kLivenessEveryNs, &lastCheck)) {
    case Outcome::kAcquired:
      return Napi::Number::New(env, 1);
    case Outcome::kOwnerDied:
      return Napi::Number::New(env, 2);
    case Outcome::kAgain:
      break;
  }
  return Napi::Number::New(env, 0);
}

// mutexWake(header): wakes one sleeper, after a release that saw kWaiters.
void JsWake(const Napi::CallbackInfo& info) { LockWake(LockOf(info[0])); }

constexpr size_t kHeaderPage = 4096;

// Contended acquires for the waiter engine. The source maps the lock's page a
// second time (mremap of a shared mapping with old size 0: the same pages),
// so the waiter thread never depends on JavaScript keeping the Buffer mapped:
// close() or the GC may unmap it while an attempt still runs.
class MutexSource : public waiter::Source {
 public:
  MutexSource(void* page, uint32_t mine, uint32_t start, bool foreign)
      : page_(page), lock_{static_cast<uint32_t*>(page)}, mine_(mine), start_(start), foreign_(foreign) {}
  ~MutexSource() override { munmap(page_, kHeaderPage); }

  waiter::Result Attempt(waiter::Clock::time_point until) override {
    // steady_clock is CLOCK_MONOTONIC, which the futex deadline uses.
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    switch (LockAttempt(lock_, mine_, start_, foreign_, ts, kLivenessEveryNs, &lastCheck_)) {
      case Outcome::kAcquired:
        return waiter::Result::Acquired(1);
      case Outcome::kOwnerDied:
        return waiter::Result::Acquired(2);
      case Outcome::kAgain:
        break;
    }
    return waiter::Result::Again();
  }

  // A lock taken for a wait that was cancelled meanwhile goes straight back.
  void Undo(int) override { LockRelease(lock_); }

 private:
  void* page_;
  Lock lock_;
  uint32_t mine_;
  uint32_t start_;
  bool foreign_;
  int64_t lastCheck_ = 0;  // the waiter thread's only
};

// mutexWaitQueue(header, mine, start, foreign, onSettled) -> a queue for
// waitAdd/waitCancel/waitClose; a wait settles with 1 (taken) or 2 (taken
// from a dead owner).
Napi::Value JsWaitQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Lock lock = LockOf(info[0]);
  if (reinterpret_cast<uintptr_t>(lock.word) % kHeaderPage != 0) {
    throw Napi::Error::New(env, "the mutex header does not start a page");
  }
  void* page = mremap(lock.word, 0, kHeaderPage, MREMAP_MAYMOVE);
  if (page == MAP_FAILED) ipc::ThrowErrno(env, errno, "mremap", env.Undefined());
  auto source = std::make_shared<MutexSource>(page, info[1].As<Napi::Number>().Uint32Value(),
                                              info[2].As<Napi::Number>().Uint32Value(),
                                              info[3].As<Napi::Boolean>().Value());
  return waiter::NewQueue(env, source, info[4].As<Napi::Function>());
}

}  // namespace

void RegisterMutex(Napi::Env env, Napi::Object exports) {
  exports.Set("mutexIdentity", Napi::Function::New(env, JsIdentity, "mutexIdentity"));
  exports.Set("mutexAcquireSync", Napi::Function::New(env, JsAcquireSync, "mutexAcquireSync"));
  exports.Set("mutexWake", Napi::Function::New(env, JsWake, "mutexWake"));
  exports.Set("mutexWaitQueue", Napi::Function::New(env, JsWaitQueue, "mutexWaitQueue"));
}

}  // namespace sem
