// Marshals the Mutex's native calls. The uncontended paths (take, release)
// run in JavaScript on the mapped header; only waiting and waking come here.
#include "mutex_binding.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>

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
  switch (LockAttempt(lock, mine, start, foreign, until, kLivenessEveryNs, &lastCheck, nullptr)) {
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

// Contended acquires for the waiter engine, on the lock word inside the
// JavaScript mapping. That mapping must outlive every touch of the word by
// the waiter thread: close() calls Retire() before unmapping, which stops the
// thread's attempts, waits for the one in progress, and gives back a lock
// taken for a wait that JavaScript never received. Until then the thread-safe
// function holds the Mutex (and so its mapping) for the GC.
class MutexSource : public waiter::Source {
 public:
  MutexSource(Lock lock, uint32_t mine, uint32_t start, bool foreign)
      : lock_(lock), mine_(mine), start_(start), foreign_(foreign) {}

  waiter::Result Attempt(waiter::Clock::time_point until) override {
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (retired_) return waiter::Result::Again();
      busy_ = true;
    }
    // steady_clock is CLOCK_MONOTONIC, which the futex deadline uses.
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    Outcome outcome = LockAttempt(lock_, mine_, start_, foreign_, ts, kLivenessEveryNs, &lastCheck_, &cancel_);
    std::lock_guard<std::mutex> guard(mu_);
    busy_ = false;
    idle_.notify_all();
    if (outcome == Outcome::kAgain) return waiter::Result::Again();
    if (retired_) {  // taken as JavaScript closed: nobody will have it
      LockRelease(lock_);
      return waiter::Result::Again();
    }
    outstanding_++;
    return waiter::Result::Acquired(outcome == Outcome::kOwnerDied ? 2 : 1);
  }

  // A lock taken for a wait that was cancelled meanwhile goes straight back.
  void Undo(int) override {
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (outstanding_ == 0) return;  // Retire() gave it back already
      outstanding_--;
      busy_ = true;
    }
    LockRelease(lock_);
    std::lock_guard<std::mutex> guard(mu_);
    busy_ = false;
    idle_.notify_all();
  }

  // JavaScript received a lock this source took: it is JavaScript's to release.
  void Delivered() {
    std::lock_guard<std::mutex> guard(mu_);
    if (outstanding_ > 0) outstanding_--;
  }

  // on: JavaScript cancelled its wait and wants no lock now: the attempt in
  // progress ends (woken) without taking one. off: before the next wait.
  void Interrupt(bool on) {
    std::lock_guard<std::mutex> guard(mu_);
    if (retired_) return;
    cancel_.store(on);
    if (on) LockWakeAll(lock_);
  }

  // After waitClose, before JavaScript unmaps: no touch of the word after this returns.
  void Retire() {
    std::unique_lock<std::mutex> guard(mu_);
    if (retired_) return;
    retired_ = true;
    cancel_.store(true);
    // Wakes our thread out of FUTEX_WAIT (and, spuriously, other sleepers, which look again).
    LockWakeAll(lock_);
    idle_.wait(guard, [this] { return !busy_; });
    if (outstanding_ > 0) {
      LockRelease(lock_);
      outstanding_ = 0;
    }
  }

 private:
  Lock lock_;
  uint32_t mine_;
  uint32_t start_;
  bool foreign_;
  int64_t lastCheck_ = 0;  // the waiter thread's only
  std::atomic<bool> cancel_{false};
  std::mutex mu_;
  std::condition_variable idle_;
  bool busy_ = false;      // an attempt or an undo is touching the word
  bool retired_ = false;
  int outstanding_ = 0;    // locks taken and neither delivered nor given back
};

// mutexWaitQueue(header, mine, start, foreign, onSettled) -> { queue, source }:
// `queue` for waitAdd/waitCancel/waitClose (a wait settles with 1, taken, or
// 2, taken from a dead holder), `source` for mutexDelivered/Interrupt/Retire.
Napi::Value JsWaitQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto source = std::make_shared<MutexSource>(LockOf(info[0]), info[1].As<Napi::Number>().Uint32Value(),
                                              info[2].As<Napi::Number>().Uint32Value(),
                                              info[3].As<Napi::Boolean>().Value());
  Napi::Object out = Napi::Object::New(env);
  out.Set("queue", waiter::NewQueue(env, source, info[4].As<Napi::Function>()));
  out.Set("source", Napi::External<std::shared_ptr<MutexSource>>::New(
                        env, new std::shared_ptr<MutexSource>(source),
                        [](Napi::Env, std::shared_ptr<MutexSource>* box) { delete box; }));
  return out;
}

MutexSource& SourceOf(const Napi::Value& value) {
  return **value.As<Napi::External<std::shared_ptr<MutexSource>>>().Data();
}

// mutexDelivered(source): JavaScript took delivery of a lock the source took.
void JsDelivered(const Napi::CallbackInfo& info) { SourceOf(info[0]).Delivered(); }

// mutexInterrupt(source, on): see MutexSource::Interrupt.
void JsInterrupt(const Napi::CallbackInfo& info) { SourceOf(info[0]).Interrupt(info[1].As<Napi::Boolean>().Value()); }

// mutexRetire(source): after waitClose, before unmapping (blocks for the attempt in progress).
void JsRetire(const Napi::CallbackInfo& info) { SourceOf(info[0]).Retire(); }

}  // namespace

void RegisterMutex(Napi::Env env, Napi::Object exports) {
  exports.Set("mutexIdentity", Napi::Function::New(env, JsIdentity, "mutexIdentity"));
  exports.Set("mutexAcquireSync", Napi::Function::New(env, JsAcquireSync, "mutexAcquireSync"));
  exports.Set("mutexWake", Napi::Function::New(env, JsWake, "mutexWake"));
  exports.Set("mutexWaitQueue", Napi::Function::New(env, JsWaitQueue, "mutexWaitQueue"));
  exports.Set("mutexDelivered", Napi::Function::New(env, JsDelivered, "mutexDelivered"));
  exports.Set("mutexRetire", Napi::Function::New(env, JsRetire, "mutexRetire"));
  exports.Set("mutexInterrupt", Napi::Function::New(env, JsInterrupt, "mutexInterrupt"));
}

}  // namespace sem
