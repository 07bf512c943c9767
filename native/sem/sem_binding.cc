// Marshals JavaScript arguments to the OS layer (sem_os.h) and plugs semaphores into the
// waiter engine. A semaphore is shared by its JavaScript handle and, while
// async waits run, by the waiter thread: the last owner closes it, so close()
// never frees it under a running wait.
#include "sem_binding.h"

#include <unistd.h>

#include <memory>
#include <string>

#include "../common/clock.h"
#include "../common/constants_js.h"
#include "../common/errors.h"
#include "../common/fast_path_alias_js.h"
#include "../common/open_codes.h"
#include "../wait/adaptive_spin.h"
#include "../wait/sync_wait.h"
#include "../wait/waiter.h"
#include "sem_os.h"

namespace sem {

namespace {

using ipc::Check;
using ipc::kSysv;
using ipc::MonotonicNs;

struct Sem {
  sem_t* posix = nullptr;  // POSIX: the sem_open handle
  dev_t dev = 0;           // POSIX: the file it lives in, for the fast path's alias
  ino_t ino = 0;
  int id = -1;        // System V: the set id
  bool undo = false;  // System V: SEM_UNDO on every operation
  waiter::AdaptiveSpin
      spin;  // POSIX: waits spin a while before sleeping (a try is a system call for System V)
  ~Sem() {
    if (posix != nullptr) PosixClose(posix);
  }
  Status Try(bool* taken) {
    return posix != nullptr ? PosixWait(posix, 0, taken) : SysvWait(id, undo, 0, taken);
  }
  // Blocks until `untilNs` (a ipc::MonotonicNs time, or kForever); POSIX
  // spins a while first (adaptive_spin.h) when `spin` is set.
  Status WaitUntil(int64_t untilNs, bool spinFirst, bool* taken) {
    int64_t start = MonotonicNs();
    int64_t left = untilNs == kForever ? kForever : (untilNs > start ? untilNs - start : 0);
    if (posix == nullptr) return SysvWait(id, undo, left, taken);
    if (spinFirst) {
      if (spin.Spin([this] { return sem_trywait(posix) == 0; }, start, left)) {
        *taken = true;
        return Status{};
      }
    }
    Status s = untilNs == kForever ? PosixWait(posix, kForever, taken)
                                   : PosixWaitUntil(posix, ipc::ToTimespec(untilNs), taken);
    if (spinFirst) spin.Slept(MonotonicNs() - start);
    return s;
  }
  Status Post(int count) const {
    return posix != nullptr ? PosixPost(posix, static_cast<unsigned>(count)) : SysvPost(id, undo, count);
  }
};

using Box = std::shared_ptr<Sem>;

// One unit of a POSIX semaphore for the waiter engine: a futex source on the
// count word, counted among the semaphore's sleepers while it has waits.
class PosixSource : public waiter::Source {
 public:
  explicit PosixSource(std::shared_ptr<Sem> sem) : sem_(std::move(sem)) {}

  waiter::Result Poll(waiter::Sleep* sleep) override {
    if (sem_trywait(sem_->posix) == 0) return waiter::Result::Acquired();
    if (errno != EAGAIN) return waiter::Result::Failed(errno);
    sleep->word = PosixCountWord(sem_->posix);
    sleep->expected = 0;
    return waiter::Result::Again();
  }
  bool Spins() const override { return true; }
  waiter::Result Peek() override {
    return sem_trywait(sem_->posix) == 0 ? waiter::Result::Acquired() : waiter::Result::Again();
  }
  void Arm() override { PosixAddSleeper(sem_->posix); }
  void Disarm() override { PosixRemoveSleeper(sem_->posix); }
  void Undo(int) override { sem_->Post(1); }

 private:
  std::shared_ptr<Sem> sem_;
};

// One unit of a System V semaphore (or of a POSIX one whose layout we do not
// know): a thread blocked in the wait, interrupted on changes.
class BlockingSource : public waiter::Source {
 public:
  explicit BlockingSource(std::shared_ptr<Sem> sem) : sem_(std::move(sem)) {}

  bool Blocking() const override { return true; }
  bool RelativeTimeout() const override { return sem_->posix == nullptr; }  // semtimedop's
  waiter::Result Attempt(const timespec* timeout) override {
    bool taken = false;
    Status s = sem_->posix != nullptr ? PosixWaitInterruptible(sem_->posix, timeout, &taken)
                                      : SysvWaitInterruptible(sem_->id, sem_->undo, timeout, &taken);
    if (!s.ok()) return waiter::Result::Failed(s.err);
    return taken ? waiter::Result::Acquired() : waiter::Result::Again();
  }
  void Undo(int) override { sem_->Post(1); }

 private:
  std::shared_ptr<Sem> sem_;
};

const std::shared_ptr<Sem>& Get(Napi::Env env, Napi::Value handle) {
  const Box& sem = *handle.As<Napi::External<Box>>().Data();
  if (!sem) throw Napi::Error::New(env, "Semaphore is closed");
  return sem;
}

// Milliseconds from JavaScript to a wait limit: < 0 forever, 0 a try.
int64_t LimitNs(Napi::Value ms) { return ipc::LimitNsFromMs(ms.As<Napi::Number>().DoubleValue()); }

// open(kind, id, flags, mode, initial, undo) -> { handle, created, id }
Napi::Value JsOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int kind = info[0].As<Napi::Number>().Int32Value();
  Napi::Value subject = info[1];
  int flags = info[2].As<Napi::Number>().Int32Value();
  auto mode = static_cast<mode_t>(info[3].As<Napi::Number>().Uint32Value());
  auto initial = info[4].As<Napi::Number>().Int64Value();
  auto sem = std::make_shared<Sem>();
  bool created = false;
  if (kind == kSysv) {
    sem->undo = info[5].As<Napi::Boolean>().Value();
    auto key = static_cast<key_t>(subject.As<Napi::Number>().Uint32Value());
    Check(env, SysvOpen(key, flags, mode, static_cast<int>(initial), &sem->id, &created), subject);
  } else {
    std::string name = subject.As<Napi::String>().Utf8Value();
    Check(env, PosixOpen(name.c_str(), flags, mode, static_cast<unsigned>(initial), &sem->posix, &created),
          subject);
    // Unknown (0) if this fails: the alias then falls back to mremap.
    PosixIdentify(name.c_str(), &sem->dev, &sem->ino);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("handle", Napi::External<Box>::New(env, new Box(sem), [](Napi::Env, Box* box) { delete box; }));
  result.Set("created", Napi::Boolean::New(env, created));
  result.Set("id", Napi::Number::New(env, sem->id));
  return result;
}

// close(handle): this handle lets go; a running waiter thread may hold on a little longer.
void JsClose(const Napi::CallbackInfo& info) { info[0].As<Napi::External<Box>>().Data()->reset(); }

// waitSync(handle, timeoutMs, subject) -> taken: blocks this thread (terminably: sync_wait.h).
Napi::Value JsWaitSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& sem = Get(env, info[0]);
  int64_t limit = LimitNs(info[1]);
  bool taken = false;
  if (limit == 0) {
    Check(env, sem->Try(&taken), info[2]);
    return Napi::Boolean::New(env, taken);
  }
  int64_t until = limit == kForever ? kForever : MonotonicNs() + limit;
  bool first = true;
  waiter::SyncEnd end = waiter::SyncWait(env, until, [&](int64_t sliceUntil) {
    Check(env, sem->WaitUntil(sliceUntil, first, &taken), info[2]);
    first = false;
    return taken;
  });
  if (end == waiter::SyncEnd::kTerminated) return env.Undefined();
  return Napi::Boolean::New(env, taken);
}

// tryWait(handle, subject) -> taken
Napi::Value JsTryWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool taken = false;
  Check(env, Get(env, info[0])->Try(&taken), info[1]);
  return Napi::Boolean::New(env, taken);
}

// post(handle, count, subject)
void JsPost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Check(env, Get(env, info[0])->Post(info[1].As<Napi::Number>().Int32Value()), info[2]);
}

// aliasPosix(handle, name, target, targetOffset): maps the page of a POSIX
// semaphore over a page of `target` (the fast path's WebAssembly memory;
// lib/fast-path/) and returns the semaphore's offset within that page.
Napi::Value JsAliasPosix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& sem = Get(env, info[0]);
  if (sem->posix == nullptr) throw Napi::TypeError::New(env, "not a POSIX semaphore");
  auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* dst =
      ipc::PageRangeOf(env, info[2], info[3].As<Napi::Number>().DoubleValue(), static_cast<double>(page));
  void* src = PosixPage(sem->posix);
  std::string name = info[1].As<Napi::String>().Utf8Value();
  Status s = PosixAlias(name.c_str(), sem->dev, sem->ino, dst, page);
  if (!s.ok()) s = ipc::AliasPages(src, dst, page);
  Check(env, s, env.Undefined());
  return Napi::Number::New(
      env, static_cast<double>(reinterpret_cast<char*>(sem->posix) - static_cast<char*>(src)));
}

// wakePosix(handle, count, subject): wakes waiters after posts made on the fast path.
void JsWakePosix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& sem = Get(env, info[0]);
  if (sem->posix != nullptr)
    Check(env, PosixWake(sem->posix, info[1].As<Napi::Number>().Int32Value()), info[2]);
}

// value(handle, subject) -> the current count
Napi::Value JsValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& sem = Get(env, info[0]);
  int value = 0;
  Check(env, sem->posix != nullptr ? PosixValue(sem->posix, &value) : SysvValue(sem->id, &value), info[1]);
  return Napi::Number::New(env, value);
}

// unlink(kind, id): removes a POSIX name, or the System V set of a key.
void JsUnlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value subject = info[1];
  if (info[0].As<Napi::Number>().Int32Value() == kSysv) {
    Check(env, SysvRemoveKey(static_cast<key_t>(subject.As<Napi::Number>().Uint32Value())), subject);
  } else {
    Check(env, PosixUnlink(subject.As<Napi::String>().Utf8Value().c_str()), subject);
  }
}

// removeSysv(semid, key): removes the very set this handle opened.
void JsRemoveSysv(const Napi::CallbackInfo& info) {
  Check(info.Env(), SysvRemoveId(info[0].As<Napi::Number>().Int32Value()), info[1]);
}

// waitQueue(handle, onSettled) -> a queue for wait.add/cancel/close.
Napi::Value JsWaitQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& sem = Get(env, info[0]);
  std::shared_ptr<waiter::Source> source;
  static const bool layoutKnown = PosixLayoutKnown();
  if (sem->posix != nullptr && layoutKnown) {
    source = std::make_shared<PosixSource>(sem);
  } else {
    source = std::make_shared<BlockingSource>(sem);
  }
  return waiter::NewQueue(env, source, info[1].As<Napi::Function>());
}

}  // namespace

Napi::Object Init(Napi::Env env) {
  Napi::Object exports = Napi::Object::New(env);
  exports.Set("SEM_VALUE_MAX", Napi::Number::New(env, static_cast<double>(kPosixMax)));
  exports.Set("SEMVMX", Napi::Number::New(env, static_cast<double>(kSysvMax)));
  exports.Set("KIND", ipc::Constants(env, {{"posix", ipc::kPosix}, {"sysv", kSysv}}));
  exports.Set("OPEN", ipc::Constants(env, {{"CREATE", ipc::kCreate}, {"EXCLUSIVE", ipc::kExclusive}}));
  exports.Set("open", Napi::Function::New(env, JsOpen, "open"));
  exports.Set("close", Napi::Function::New(env, JsClose, "close"));
  exports.Set("waitSync", Napi::Function::New(env, JsWaitSync, "waitSync"));
  exports.Set("tryWait", Napi::Function::New(env, JsTryWait, "tryWait"));
  exports.Set("post", Napi::Function::New(env, JsPost, "post"));
  exports.Set("value", Napi::Function::New(env, JsValue, "value"));
  exports.Set("unlink", Napi::Function::New(env, JsUnlink, "unlink"));
  exports.Set("removeSysv", Napi::Function::New(env, JsRemoveSysv, "removeSysv"));
  exports.Set("POSIX_LAYOUT_KNOWN", Napi::Boolean::New(env, PosixLayoutKnown()));
  exports.Set("aliasPosix", Napi::Function::New(env, JsAliasPosix, "aliasPosix"));
  exports.Set("wakePosix", Napi::Function::New(env, JsWakePosix, "wakePosix"));
  exports.Set("waitQueue", Napi::Function::New(env, JsWaitQueue, "waitQueue"));
  return exports;
}

}  // namespace sem
