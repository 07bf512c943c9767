// Marshals the Mutex's native calls (mutex_binding.h has the handoff's states).
#include "mutex_binding.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "../common/clock.h"
#include "../common/constants_js.h"
#include "../common/errors.h"
#include "../wait/waiter.h"
#include "lock_word.h"

namespace mutex {

namespace {

// How often a waiter checks that the owner still lives.
constexpr int64_t kLivenessEveryNs = 200 * 1000 * 1000;
constexpr int64_t kFirstCheckNs = 10 * 1000 * 1000;
constexpr int64_t kCenturyNs = 100LL * 365 * 24 * 3600 * 1000000000;

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

// A thread's Taker and its token: one per lock word of a JavaScript thread,
// shared with that word's MutexSource.
class TakerBox {
 public:
  explicit TakerBox(const Taker& taker) : taker_(taker) {}
  ~TakerBox() { DropToken(); }
  const Taker& taker() const { return taker_; }
  // Gives the token up. Only once no attempt can run: after retire(source).
  void DropToken() {
    if (taker_.tokenFd >= 0) close(taker_.tokenFd);
    taker_.tokenFd = -1;
    taker_.tag &= ~kHasToken;
  }

 private:
  Taker taker_;
};

using TakerRef = std::shared_ptr<TakerBox>;

const TakerRef& TakerOf(const Napi::Value& value) { return *value.As<Napi::External<TakerRef>>().Data(); }

// taker(header, path, posix) -> [handle, mine, start, tag]: the calling
// thread as it writes itself into the lock at `header`, with a liveness token
// on the object when `path` names it (a POSIX shm name if `posix`, else a
// file; undefined for System V, which has no file: no token).
Napi::Value JsTaker(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Lock lock = LockOf(info[0]);
  // A thread's identity never changes, and reading /proc costs: once per thread.
  thread_local Identity id;
  thread_local bool known = false;
  if (!known) {
    int err = ThisThread(&id);
    // ERANGE: a thread id above 2^22 does not fit the lock word.
    if (err != 0) ipc::ThrowErrno(env, err, "gettid", env.Undefined());
    known = true;
  }
  Taker taker;
  // Without a known pid namespace no one can judge this thread from /proc, nor it anyone.
  taker.mine = WordOf(id.tid, id.pidns == 0);
  taker.start = id.start;
  taker.tag = id.pidns;
  if (info[1].IsString()) {
    std::string path = info[1].As<Napi::String>().Utf8Value();
    taker.tokenFd = TokenOpen(path.c_str(), info[2].As<Napi::Boolean>().Value(), lock.word, id.pidns, id.tid);
    if (taker.tokenFd >= 0) taker.tag |= kHasToken;
  }
  auto box = std::make_shared<TakerBox>(taker);
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, Napi::External<TakerRef>::New(env, new TakerRef(box), [](Napi::Env, TakerRef* ref) { delete ref; }));
  out.Set(1u, Napi::Number::New(env, taker.mine));
  out.Set(2u, Napi::Number::New(env, taker.start));
  out.Set(3u, Napi::Number::New(env, taker.tag));
  return out;
}

// dropToken(taker): gives the token up now, after retire(source), before unmapping.
void JsDropToken(const Napi::CallbackInfo& info) { TakerOf(info[0])->DropToken(); }

// acquireSync(header, taker, timeoutMs) -> an Outcome (OUTCOME in
// JavaScript). timeoutMs < 0: forever. Blocks this thread (that is what the
// caller asked for).
Napi::Value JsAcquireSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Lock lock = LockOf(info[0]);
  const TakerRef& taker = TakerOf(info[1]);
  int64_t limitNs = ipc::LimitNsFromMs(info[2].As<Napi::Number>().DoubleValue());
  int64_t now = ipc::MonotonicNs();
  // "Forever" is a century: the loop below never sees it pass.
  int64_t untilNs = now + (limitNs == ipc::kForever ? kCenturyNs : limitNs);
  // The first liveness check comes after kFirstCheckNs of waiting: a live
  // holder usually lets go well before, and a check costs a /proc read.
  int64_t lastCheck = now - kLivenessEveryNs + kFirstCheckNs;
  Outcome outcome = LockAttempt(lock, taker->taker(), untilNs, kLivenessEveryNs, &lastCheck, nullptr);
  return Napi::Number::New(env, static_cast<int>(outcome));
}

// wake(header): wakes one sleeper, after a release that saw kWaiters.
void JsWake(const Napi::CallbackInfo& info) { LockWake(LockOf(info[0])); }

// Contended acquires for the waiter engine, on the lock word inside the
// JavaScript mapping: the thread's side of the handoff in mutex_binding.h.
// That mapping must outlive every touch of the word by the waiter thread:
// close() calls Retire() before unmapping, which stops the thread's attempts,
// waits for the one in progress, and gives back a lock taken for a wait that
// JavaScript never received.
class MutexSource : public waiter::Source {
 public:
  MutexSource(Lock lock, TakerRef taker) : lock_(lock), taker_(std::move(taker)) {}

  waiter::Result Attempt(waiter::Clock::time_point until) override {
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (retired_) return waiter::Result::Again();
      busy_ = true;
    }
    Outcome outcome = LockAttempt(lock_, taker_->taker(), ipc::ToNs(until), kLivenessEveryNs, &lastCheck_, &cancel_);
    std::lock_guard<std::mutex> guard(mu_);
    busy_ = false;
    idle_.notify_all();
    if (outcome == Outcome::kNotAcquired) return waiter::Result::Again();
    if (retired_) {  // taken as JavaScript closed: nobody will have it
      LockRelease(lock_);
      return waiter::Result::Again();
    }
    outstanding_++;
    return waiter::Result::Acquired(static_cast<int>(outcome));
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

  // JavaScript's wait ended and no other follows: the attempt in progress
  // ends (woken) without taking the lock for nobody.
  void Interrupt() {
    std::lock_guard<std::mutex> guard(mu_);
    if (retired_) return;
    cancel_.store(true);
    LockWakeAll(lock_);
  }

  // Before the next wait: attempts may take the lock again.
  void Resume() {
    std::lock_guard<std::mutex> guard(mu_);
    if (retired_) return;
    cancel_.store(false);
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
  TakerRef taker_;
  int64_t lastCheck_ = 0;  // the waiter thread's only
  std::atomic<bool> cancel_{false};
  std::mutex mu_;
  std::condition_variable idle_;
  bool busy_ = false;      // an attempt or an undo is touching the word
  bool retired_ = false;
  int outstanding_ = 0;    // locks taken and neither delivered nor given back
};

// waitQueue(header, taker, onSettled) -> { queue, source }:
// `queue` for wait.add/cancel/close (a wait settles with ACQUIRED or
// OWNER_DIED), `source` for delivered/interrupt/resume/retire.
Napi::Value JsWaitQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto source = std::make_shared<MutexSource>(LockOf(info[0]), TakerOf(info[1]));
  Napi::Object out = Napi::Object::New(env);
  out.Set("queue", waiter::NewQueue(env, source, info[2].As<Napi::Function>()));
  out.Set("source", Napi::External<std::shared_ptr<MutexSource>>::New(
                        env, new std::shared_ptr<MutexSource>(source),
                        [](Napi::Env, std::shared_ptr<MutexSource>* box) { delete box; }));
  return out;
}

MutexSource& SourceOf(const Napi::Value& value) {
  return **value.As<Napi::External<std::shared_ptr<MutexSource>>>().Data();
}

// delivered(source): JavaScript took delivery of a lock the source took.
void JsDelivered(const Napi::CallbackInfo& info) { SourceOf(info[0]).Delivered(); }

// interrupt(source): a wait ended and none follows (MutexSource::Interrupt).
void JsInterrupt(const Napi::CallbackInfo& info) { SourceOf(info[0]).Interrupt(); }

// resume(source): before the next wait (MutexSource::Resume).
void JsResume(const Napi::CallbackInfo& info) { SourceOf(info[0]).Resume(); }

// retire(source): after wait.close, before unmapping (blocks for the attempt in progress).
void JsRetire(const Napi::CallbackInfo& info) { SourceOf(info[0]).Retire(); }

}  // namespace

Napi::Object Init(Napi::Env env) {
  Napi::Object exports = Napi::Object::New(env);
  exports.Set("LOCK", ipc::Constants(env, {{"WORD", kWordIndex},
                                           {"START", kStartIndex},
                                           {"MAGIC", kMagicIndex},
                                           {"OWNER_NS", kOwnerNsIndex},
                                           {"PROBE", kProbeIndex},
                                           {"HEADER_WORDS", kHeaderWords},
                                           {"HEADER_SIZE", kHeaderSize},
                                           {"MAGIC_VALUE", kMagic},
                                           {"OWNER_MASK", kOwnerMask},
                                           {"FOREIGN", kForeign},
                                           {"WAITERS", kWaiters},
                                           {"HAS_TOKEN", kHasToken}}));
  exports.Set("OUTCOME", ipc::Constants(env, {{"NOT_ACQUIRED", static_cast<int>(Outcome::kNotAcquired)},
                                              {"ACQUIRED", static_cast<int>(Outcome::kAcquired)},
                                              {"OWNER_DIED", static_cast<int>(Outcome::kOwnerDied)}}));
  exports.Set("taker", Napi::Function::New(env, JsTaker, "taker"));
  exports.Set("dropToken", Napi::Function::New(env, JsDropToken, "dropToken"));
  exports.Set("acquireSync", Napi::Function::New(env, JsAcquireSync, "acquireSync"));
  exports.Set("wake", Napi::Function::New(env, JsWake, "wake"));
  exports.Set("waitQueue", Napi::Function::New(env, JsWaitQueue, "waitQueue"));
  exports.Set("delivered", Napi::Function::New(env, JsDelivered, "delivered"));
  exports.Set("interrupt", Napi::Function::New(env, JsInterrupt, "interrupt"));
  exports.Set("resume", Napi::Function::New(env, JsResume, "resume"));
  exports.Set("retire", Napi::Function::New(env, JsRetire, "retire"));
  return exports;
}

}  // namespace mutex
