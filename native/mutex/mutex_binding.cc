// Marshals the Mutex's native calls (mutex_binding.h has the handoff's states).
#include "mutex_binding.h"

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <string>

#include "../common/clock.h"
#include "../common/constants_js.h"
#include "../common/errors.h"
#include "../common/fast_path_alias.h"
#include "../wait/sync_wait.h"
#include "../wait/waiter.h"
#include "lock_word.h"
#include "own_page.h"
#include "thread_locks.h"

namespace mutex {

namespace {

// A synchronous wait's first look at the owner's liveness.
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

// The locks this thread's Mutexes may hold (made by Init, on the thread
// whose environment it initialises; marked by its cleanup hook).
thread_local std::shared_ptr<ThreadLocks> threadLocks;

// A thread's Taker and its token: one per lock word of a JavaScript thread,
// shared with that word's MutexSource; and the addon's own mapping of the
// lock's page (null if it could not be made), registered with the thread's
// locks while the Mutex lives (and after, if it still holds it).
class TakerBox {
 public:
  TakerBox(const Taker& taker, std::shared_ptr<OwnPage> page, std::shared_ptr<ThreadLocks> locks)
      : taker_(taker), page_(std::move(page)), locks_(std::move(locks)) {
    if (page_ != nullptr && locks_ != nullptr) lockId_ = locks_->Add(page_, taker.mine, taker.start);
  }
  ~TakerBox() { DropToken(); }
  // The page, mapped now if it could not be before (then it is not marked at the thread's end).
  ipc::Status MapPage(uint32_t* word) {
    std::lock_guard<std::mutex> guard(mu_);
    return page_ != nullptr ? ipc::Status{} : OwnPage::Map(word, &page_);
  }
  // Once there (MapPage), for as long as the box lives.
  const std::shared_ptr<OwnPage>& page() const { return page_; }
  // Runs fn(taker) with the token descriptor held open: the engine's thread
  // may judge an owner through it while JavaScript gives the token up.
  template <class Fn>
  auto With(Fn fn) {
    std::lock_guard<std::mutex> guard(mu_);
    return fn(static_cast<const Taker&>(taker_));
  }
  // Gives the token up (after retire(source), before unmapping), and the
  // lock's place among the thread's locks unless this thread still holds it.
  void DropToken() {
    std::lock_guard<std::mutex> guard(mu_);
    if (taker_.tokenFd >= 0) close(taker_.tokenFd);
    taker_.tokenFd = -1;
    taker_.tag &= ~kHasToken;
    if (locks_ != nullptr) locks_->Drop(lockId_);
    lockId_ = 0;
  }

 private:
  std::mutex mu_;
  Taker taker_;
  std::shared_ptr<OwnPage> page_;
  std::shared_ptr<ThreadLocks> locks_;
  uint64_t lockId_ = 0;
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
  taker.start = StartStamp(id.start, id.pidns);
  taker.tag = id.pidns;
  if (info[1].IsString()) {
    std::string path = info[1].As<Napi::String>().Utf8Value();
    taker.tokenFd = TokenOpen(path.c_str(), info[2].As<Napi::Boolean>().Value(), lock.word, id.pidns, id.tid);
    if (taker.tokenFd >= 0) taker.tag |= kHasToken;
  }
  // A thread other than its process's first one (a worker's) marks the locks
  // it holds as it ends, through a mapping of its own (thread_locks.h); the
  // first thread's end is its process's, which its pidfd tells. Without the
  // mapping (qemu-user cannot map a System V segment again) the lock goes
  // unmarked, and waitQueue reports why.
  std::shared_ptr<OwnPage> page;
  if (id.tid != static_cast<uint32_t>(getpid())) OwnPage::Map(lock.word, &page);
  auto box = std::make_shared<TakerBox>(taker, std::move(page), threadLocks);
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, Napi::External<TakerRef>::New(env, new TakerRef(box),
                                            [](Napi::Env, TakerRef* ref) { delete ref; }));
  out.Set(1u, Napi::Number::New(env, taker.mine));
  out.Set(2u, Napi::Number::New(env, taker.start));
  out.Set(3u, Napi::Number::New(env, taker.tag));
  return out;
}

// dropToken(taker): gives the token up now, after retire(source), before unmapping.
void JsDropToken(const Napi::CallbackInfo& info) { TakerOf(info[0])->DropToken(); }

// acquireSync(header, taker, timeoutMs) -> an Outcome (OUTCOME in
// JavaScript). timeoutMs < 0: forever. Blocks this thread (that is what the
// caller asked for), terminably (sync_wait.h).
Napi::Value JsAcquireSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Lock lock = LockOf(info[0]);
  const TakerRef& taker = TakerOf(info[1]);
  int64_t limitNs = ipc::LimitNsFromMs(info[2].As<Napi::Number>().DoubleValue());
  int64_t now = ipc::MonotonicNs();
  int64_t untilNs = limitNs == ipc::kForever ? ipc::kForever : now + limitNs;
  // The first liveness check comes after kFirstCheckNs of waiting: a live
  // holder usually lets go well before, and a check costs a /proc read.
  Watch watch;
  watch.lastCheck = now - kLivenessEveryNs + kFirstCheckNs;
  Outcome outcome = Outcome::kNotAcquired;
  waiter::SyncEnd end = waiter::SyncWait(env, untilNs, [&](int64_t sliceUntil) {
    outcome = taker->With(
        [&](const Taker& me) { return LockAttempt(lock, me, sliceUntil, kLivenessEveryNs, &watch); });
    return outcome != Outcome::kNotAcquired;
  });
  if (end == waiter::SyncEnd::kTerminated) return env.Undefined();
  return Napi::Number::New(env, static_cast<int>(outcome));
}

// wake(header): wakes one sleeper, after a release that saw kWaiters.
void JsWake(const Napi::CallbackInfo& info) { LockWake(LockOf(info[0])); }

// Contended acquires for the waiter engine: a futex source on the lock word.
// It reads the word through the addon's own mapping of the lock's page (the
// taker's), so the engine's thread never touches memory that JavaScript
// (close(), the GC, a worker's teardown) has unmapped: the mapping lives as
// long as the source.
class MutexSource : public waiter::Source {
 public:
  explicit MutexSource(TakerRef taker)
      : page_(taker->page()), lock_(page_->lock()), taker_(std::move(taker)) {}
  ~MutexSource() override {
    watch_.sighting.reset();  // no wake of the word once it is unmapped
  }

  waiter::Result Poll(waiter::Sleep* sleep) override {
    uint32_t value;
    int64_t checkAt;
    Outcome got = taker_->With([&](const Taker& me) {
      return LockPoll(lock_, me, ipc::MonotonicNs(), kLivenessEveryNs, &watch_, &value, &checkAt);
    });
    if (got == Outcome::kNotAcquired) {
      sleep->word = lock_.word + kWordIndex;
      sleep->expected = value;
      sleep->poked = &watch_.ownerExited;
      // On a common grid: a thread serving many locks wakes once per interval for all of them.
      sleep->lookAgainNs = checkAt == ipc::kForever
                               ? ipc::kForever
                               : (checkAt + kLivenessEveryNs - 1) / kLivenessEveryNs * kLivenessEveryNs;
      return waiter::Result::Again();
    }
    std::lock_guard<std::mutex> guard(mu_);
    outstanding_++;
    died_ = got == Outcome::kOwnerDied;
    return waiter::Result::Acquired(static_cast<int>(got));
  }

  // The last wait left: a release's wake may have come to us; pass it on.
  // Nobody waits now: the owner is no longer watched for us.
  void Disarm() override {
    if (__atomic_load_n(lock_.word + kWordIndex, __ATOMIC_SEQ_CST) == 0) LockWake(lock_);
    watch_.sighting.reset();
    watch_.sightedPair = 0;
    watch_.ownerExited.store(false);
  }

  // A lock taken for a wait that was cancelled meanwhile goes straight back.
  void Undo(int value) override {
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (outstanding_ == 0) return;  // Retire() gave it back already
      outstanding_--;
    }
    GiveBack(value == static_cast<int>(Outcome::kOwnerDied));
  }

  // JavaScript received a lock this source took: it is JavaScript's to release.
  void Delivered() {
    std::lock_guard<std::mutex> guard(mu_);
    if (outstanding_ > 0) outstanding_--;
  }

  // After wait.close: a lock taken for a wait JavaScript never received goes back.
  void Retire() {
    bool died;
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (outstanding_ == 0) return;
      outstanding_ = 0;
      died = died_;
    }
    GiveBack(died);
  }

 private:
  // A lock taken over from a dead owner (`died`) and given back unused stays
  // a dead owner's: marked kAbandoned in our name, so that its next holder
  // still learns of the death (ownerDied). Others are released.
  void GiveBack(bool died) {
    if (died && taker_->With([&](const Taker& me) { return AbandonHeld(lock_, me.mine, me.start); })) return;
    LockRelease(lock_);
  }

  std::shared_ptr<OwnPage> page_;
  Lock lock_;
  TakerRef taker_;
  Watch watch_;  // the engine's thread only
  std::mutex mu_;
  int outstanding_ = 0;  // locks taken and neither delivered nor given back
  bool died_ = false;    // the last one was taken over from a dead owner
};

// waitQueue(header, taker, onSettled) -> { queue, source }: `queue` for
// wait.add/cancel/close (a wait settles with ACQUIRED or OWNER_DIED),
// `source` for delivered/retire.
Napi::Value JsWaitQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TakerRef& taker = TakerOf(info[1]);
  ipc::Check(env, taker->MapPage(LockOf(info[0]).word), env.Undefined());
  auto source = std::make_shared<MutexSource>(taker);
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

// retire(source): after wait.close: a lock nobody received goes back.
void JsRetire(const Napi::CallbackInfo& info) { SourceOf(info[0]).Retire(); }

// ownerAlive(word, start, tag, path, posix): [alive, sameNamespace], the
// judgement a waiter makes, for an onlooker (OwnerAliveSeen).
Napi::Value JsOwnerAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t word = info[0].As<Napi::Number>().Uint32Value();
  uint32_t start = info[1].As<Napi::Number>().Uint32Value();
  uint32_t tag = info[2].As<Napi::Number>().Uint32Value();
  std::string path = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string();
  bool sameNs = false;
  bool alive = OwnerAliveSeen(word, start, tag, info[3].IsString() ? path.c_str() : nullptr,
                              info[4].ToBoolean().Value(), &sameNs);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Boolean::New(env, alive));
  out.Set(1u, Napi::Boolean::New(env, sameNs));
  return out;
}

}  // namespace

Napi::Object Init(Napi::Env env) {
  // The owner watcher's thread stops with the last environment that may use it.
  UseWatcher();
  napi_add_env_cleanup_hook(
      env, [](void*) { LeaveWatcher(); }, nullptr);
  // This thread's end: the locks it still holds are marked abandoned.
  threadLocks = std::make_shared<ThreadLocks>();
  napi_add_env_cleanup_hook(
      env,
      [](void* arg) {
        auto* locks = static_cast<std::shared_ptr<ThreadLocks>*>(arg);
        (*locks)->EndThread();
        delete locks;
      },
      new std::shared_ptr<ThreadLocks>(threadLocks));
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
                                           {"ABANDONED", kAbandoned},
                                           {"HAS_TOKEN", kHasToken}}));
  exports.Set("OUTCOME", ipc::Constants(env, {{"NOT_ACQUIRED", static_cast<int>(Outcome::kNotAcquired)},
                                              {"ACQUIRED", static_cast<int>(Outcome::kAcquired)},
                                              {"OWNER_DIED", static_cast<int>(Outcome::kOwnerDied)}}));
  exports.Set("OWNER_WATCH", Napi::String::New(env, WatchedAs()));
  exports.Set("taker", Napi::Function::New(env, JsTaker, "taker"));
  exports.Set("dropToken", Napi::Function::New(env, JsDropToken, "dropToken"));
  exports.Set("acquireSync", Napi::Function::New(env, JsAcquireSync, "acquireSync"));
  exports.Set("wake", Napi::Function::New(env, JsWake, "wake"));
  exports.Set("waitQueue", Napi::Function::New(env, JsWaitQueue, "waitQueue"));
  exports.Set("delivered", Napi::Function::New(env, JsDelivered, "delivered"));
  exports.Set("retire", Napi::Function::New(env, JsRetire, "retire"));
  exports.Set("ownerAlive", Napi::Function::New(env, JsOwnerAlive, "ownerAlive"));
  return exports;
}

}  // namespace mutex
