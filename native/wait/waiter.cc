// The waiter engine (see waiter.h).
//
// One Engine per environment (main thread, each worker), reached through a
// thread-local pointer from its JavaScript thread. It owns the groups (one
// thread each) and one thread-safe function that delivers every settled wait.
// A Core is one queue: shared by its JavaScript handle, by the group serving
// it while it has waits, and by settled entries not yet delivered. All their
// shared state is under the engine's one mutex; Poll, Arm and Disarm run on
// the group's thread only, so a source's own state needs no lock of its own.
//
// onSettled is held through a reference that is strong only while waits are
// pending: an idle queue (and the object that owns it) can be collected.
#include "waiter.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>

#include "../common/errors.h"
#include "adaptive_spin.h"
#include "futex.h"
#include "interrupt.h"

namespace waiter {

namespace {

using ipc::kForever;
using ipc::MonotonicNs;

// Tells our handles from anything else JavaScript could pass.
constexpr napi_type_tag kQueueTag = {0x69706b6974776169ULL, 0x7465722d71756575ULL};

// The engine's threads do little: a small stack keeps a thousand of them cheap.
constexpr size_t kStackSize = 256 * 1024;

// A thread with nothing to serve waits this long for new work, then ends.
constexpr int64_t kIdleNs = 1000 * 1000 * 1000;

int64_t Earlier(int64_t a, int64_t b) {
  if (a == kForever) return b;
  if (b == kForever) return a;
  return a < b ? a : b;
}

// The engine's one mutex. Its holders keep it for microseconds, and the
// JavaScript thread and a group's thread take it in turn on every wait: a
// waiter that finds it held spins a little before sleeping (glibc's adaptive
// mutex), instead of paying a sleep and a wake-up for a wait of microseconds.
class EngineMutex {
 public:
  EngineMutex() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&mu_, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  ~EngineMutex() { pthread_mutex_destroy(&mu_); }
  EngineMutex(const EngineMutex&) = delete;
  EngineMutex& operator=(const EngineMutex&) = delete;
  void lock() { pthread_mutex_lock(&mu_); }
  void unlock() { pthread_mutex_unlock(&mu_); }

 private:
  pthread_mutex_t mu_;
};

struct Engine;
struct Group;

struct Core {
  Core(std::shared_ptr<Source> s, Engine* e)
      : source(std::move(s)), engine(e), blocking(source->Blocking()) {}

  const std::shared_ptr<Source> source;
  Engine* const engine;  // outlives every Core (see Engine)
  const bool blocking;

  struct Wait {
    uint32_t id;
    int64_t deadline;  // MonotonicNs, or kForever
  };

  // Under the engine's mutex.
  std::deque<Wait> pending;  // oldest first
  Group* group = nullptr;    // serving us while we have waits
  bool closed = false;
  bool changed = false;  // JavaScript added, cancelled or closed: the group's thread looks again

  // The group's thread only.
  bool armed = false;
  Sleep sleep;
  int64_t nextLook = kForever;  // the earliest deadline of its waits, or sleep.lookAgainNs
  int64_t headSince = 0;        // when the oldest wait became the oldest
  bool spun = false;            // the oldest wait has had its spin
  AdaptiveSpin spin;

  // JavaScript thread only.
  napi_ref onSettled = nullptr;  // strong while refd
  uint32_t nextId = 1;
  size_t unsettled = 0;  // waits JavaScript still expects onSettled for
  bool refd = false;
};

using CoreRef = std::shared_ptr<Core>;

struct Done {
  CoreRef core;
  uint32_t id;
  int err;
  int value;
};

struct Group {
  Group(Engine* e, bool b, size_t cap) : engine(e), blocking(b), capacity(cap) {}
  Engine* const engine;
  const bool blocking;
  size_t capacity;  // under the engine's mutex
  pthread_t thread{};
  // Under the engine's mutex.
  std::vector<CoreRef> members;
  bool stop = false;
  bool leaving = false;  // an idle thread too many, or idle too long: it ends
  int64_t sleepUntil = kForever;
  int64_t idleSince = kForever;  // the thread's only
  bool notified = false;         // a Notify the thread has not yet looked at: another adds nothing
  bool notifyLater = false;      // a close or cancel it has not been told of (NotifyDeferred)
  // Bumped (then woken) on every change the thread must see; it sleeps on it too.
  std::atomic<uint32_t> changes{0};
  // false while the thread may be asleep on `changes`: only then does a change need a FUTEX_WAKE.
  std::atomic<bool> awake{true};
  // A sleep that no wake on `changes` reaches (a blocking call, or the
  // source's word slept on alone): a change interrupts it (interrupt.h).
  Interruptible interruptible;
  // An interrupt that could not be sent (the signal queue full): sent again later.
  std::atomic<bool> owed{false};
  std::atomic<bool> ended{false};
};

// Lives from the first queue of an environment until its teardown, after
// which no thread runs: the Cores' raw pointer to it stays valid because the
// last reference (JavaScript handles finalized at teardown) is dropped on the
// JavaScript thread, after Shutdown, and the Engine is freed only then.
struct Engine {
  napi_env env = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  bool waitv = false;
  size_t cores = 0;  // Cores alive (JavaScript thread): the last one frees a shut-down engine

  EngineMutex mu;
  std::vector<std::unique_ptr<Group>> groups;
  std::vector<Done> done;  // settled, not yet delivered
  bool scheduled = false;  // a thread-safe call is queued
  bool shutdown = false;
  bool notifyLater = false;  // some group has notifyLater set

  // JavaScript thread only.
  size_t refdCores = 0;
  bool hookRan = false;
};

thread_local Engine* current = nullptr;

// --- the group's thread ----------------------------------------------------

// Whether JavaScript must be told about settled waits: the caller then calls
// Tell after releasing the mutex (so JavaScript, woken, does not find it
// held). Under the mutex.
bool Flush(Engine* e) {
  if (e->done.empty() || e->scheduled || e->shutdown) return false;
  e->scheduled = true;
  return true;
}

// After Flush said so, outside the mutex. The thread-safe function outlives
// every engine thread (Shutdown joins them before it is finalized).
void Tell(Engine* e, bool flushed) {
  if (flushed) napi_call_threadsafe_function(e->tsfn, nullptr, napi_tsfn_nonblocking);
}

// The oldest wait of `c` settles with `r`. Under the mutex.
void Settle(Engine* e, const CoreRef& c, const Result& r) {
  Core::Wait w = c->pending.front();
  c->pending.pop_front();
  e->done.push_back(
      {c, w.id, r.kind == Result::kAcquired ? 0 : r.value, r.kind == Result::kAcquired ? r.value : 0});
}

// Rejects, with ETIMEDOUT, every wait whose deadline has passed. Under the mutex.
void Expire(Engine* e, const CoreRef& c, int64_t now) {
  for (auto it = c->pending.begin(); it != c->pending.end();) {
    if (it->deadline != kForever && it->deadline <= now) {
      e->done.push_back({c, it->id, ETIMEDOUT, 0});
      it = c->pending.erase(it);
    } else {
      ++it;
    }
  }
}

// What an attempt took outside the mutex: the oldest wait's, or back. Under the mutex.
void Deliver(Engine* e, const CoreRef& c, const Result& r) {
  if (r.kind == Result::kAgain) return;
  if (!c->closed && !c->pending.empty()) {
    Settle(e, c, r);
    c->headSince = MonotonicNs();
    c->spun = !c->source->Spins();
  } else if (r.kind == Result::kAcquired) {
    c->source->Undo(r.value);  // whoever it was for is gone
  }
}

// Whether a futex member needs serving: something changed since it went to sleep.
bool Due(const Core* c, int64_t now) {
  return c->changed || !c->armed || (c->nextLook != kForever && now >= c->nextLook) ||
         __atomic_load_n(c->sleep.word, __ATOMIC_SEQ_CST) != c->sleep.expected ||
         (c->sleep.poked != nullptr && c->sleep.poked->load());
}

// Serves the waits of a futex member as far as it can without sleeping;
// false once it has none left (it then leaves the group). Under the mutex.
bool ServeWords(Engine* e, const CoreRef& c, int64_t now) {
  c->changed = false;
  if (c->closed) return false;
  Expire(e, c, now);
  if (c->pending.empty()) return false;
  if (!c->armed && c->headSince == 0) {
    c->headSince = now;  // its first wait: spin first, if the source spins
    c->spun = !c->source->Spins();
  }
  // Counted as a sleeper only once its spin is over: posts meanwhile make no
  // system call to wake it. Arm then Poll: a post before the Arm is seen by
  // the Poll, one after it wakes the sleep.
  if (!c->armed && c->spun) {
    c->source->Arm();
    c->armed = true;
  }
  for (;;) {
    Sleep sleep;
    Result r = c->source->Poll(&sleep);
    if (r.kind == Result::kAgain) {
      c->sleep = sleep;
      break;
    }
    if (r.kind == Result::kAcquired && c->spun) c->spin.Slept(now - c->headSince);
    Deliver(e, c, r);
    if (c->pending.empty()) return false;
  }
  c->nextLook = c->sleep.lookAgainNs;
  for (const auto& w : c->pending) c->nextLook = Earlier(c->nextLook, w.deadline);
  return true;
}

// Member `i` has no waits left (or is closed). Under the mutex.
void Leave(Group* g, size_t i) {
  CoreRef c = std::move(g->members[i]);
  g->members[i] = std::move(g->members.back());
  g->members.pop_back();
  c->group = nullptr;
  c->headSince = 0;
  if (c->armed) {
    c->source->Disarm();
    c->armed = false;
  }
}

// A group without members ends after kIdleNs, or at once if another idle
// one of its kind can take its place. Otherwise *until is when to look again.
// Under the mutex.
bool Idle(Engine* e, Group* g, int64_t now, int64_t* until) {
  if (!g->members.empty()) {
    g->idleSince = kForever;
    return false;
  }
  if (g->idleSince == kForever) g->idleSince = now;
  bool spare = now - g->idleSince >= kIdleNs;
  for (const auto& other : e->groups) {
    if (other.get() != g && other->blocking == g->blocking && other->members.empty() && !other->leaving &&
        !other->stop) {
      spare = true;
    }
  }
  if (spare) {
    g->leaving = true;
    return true;
  }
  *until = g->idleSince + kIdleNs;
  return false;
}

// Spins on members whose oldest wait has just begun, for as long as their
// adaptive budgets say (adaptive_spin.h): a unit posted within microseconds
// is taken without the cost of sleeping and being woken. Outside the mutex.
bool SpinOn(Group* g, const std::vector<CoreRef>& members, uint32_t seen, CoreRef* who, Result* got) {
  int64_t start = MonotonicNs();
  int64_t longest = 0;
  for (const auto& c : members) longest = std::max(longest, c->headSince + c->spin.Budget() - start);
  if (longest <= 0) return false;
  return AdaptiveSpin::SpinFor(
      [&] {
        if (g->changes.load() != seen) return true;  // something to look at under the mutex
        for (const auto& c : members) {
          Result r = c->source->Peek();
          if (r.kind != Result::kAgain) {
            *who = c;
            *got = r;
            return true;
          }
        }
        return false;
      },
      start, longest);
}

// Writes the timeout of an interruptible sleep until `until` (kForever: far
// away, so that an interrupt always has a timeout to zero), relative to now or
// absolute on CLOCK_MONOTONIC.
void SetTimeout(Interruptible* s, int64_t until, bool relative) {
  int64_t now = MonotonicNs();
  int64_t left = until == kForever ? int64_t{kFarSeconds} * 1000000000 : std::max<int64_t>(until - now, 0);
  timespec t = ipc::ToTimespec(relative ? left : now + left);
  __atomic_store_n(&s->timeout.tv_sec, t.tv_sec, __ATOMIC_RELAXED);
  __atomic_store_n(&s->timeout.tv_nsec, t.tv_nsec, __ATOMIC_RELAXED);
}

// After SetTimeout, before the sleep: whether to sleep at all (no change since
// `seen`). From here on Notify interrupts (see interrupt.h for the order).
bool Enter(Group* g, uint32_t seen) {
  g->interruptible.blocked.store(true);
  return g->changes.load() == seen;
}

void RunWords(Group* g) {
  Engine* e = g->engine;
  std::vector<FutexWord> words;
  std::vector<CoreRef> fresh;
  words.reserve(kWaitvMax);
  fresh.reserve(kGroupWords);
  std::unique_lock<EngineMutex> lock(e->mu);
  while (!g->stop) {
    g->notified = false;
    uint32_t seen = g->changes.load();
    int64_t now = MonotonicNs();
    int64_t until = kForever;
    words.clear();
    fresh.clear();
    for (size_t i = 0; i < g->members.size();) {
      const CoreRef& c = g->members[i];
      if (Due(c.get(), now) && !ServeWords(e, c, now)) {
        Leave(g, i);
        continue;
      }
      until = Earlier(until, c->nextLook);
      words.push_back({c->sleep.word, c->sleep.expected});
      if (!c->spun) fresh.push_back(c);
      i++;
    }
    bool flushed = Flush(e);
    if (Idle(e, g, now, &until)) {
      lock.unlock();
      Tell(e, flushed);
      return;
    }
    g->sleepUntil = until;
    lock.unlock();
    Tell(e, flushed);
    CoreRef who;
    Result got = Result::Again();
    if (!fresh.empty() && SpinOn(g, fresh, seen, &who, &got)) {
      lock.lock();
      if (who) {
        Deliver(e, who, got);
        who->changed = true;  // look again: it may have no waits left
      }
      continue;
    }
    if (!fresh.empty()) {
      // Their spins are over: arm them (ServeWords) and look once more before sleeping.
      lock.lock();
      for (const auto& c : fresh) {
        c->spun = true;
        c->changed = true;
      }
      continue;
    }
    g->awake.store(false);
    if (words.size() == 1 && !e->waitv) {
      // Alone on the source's word, where a wake of ours would reach other
      // processes' sleepers too: a change interrupts us instead (Notify).
      SetTimeout(&g->interruptible, until, false);
      if (Enter(g, seen)) SleepUntil(words[0], &g->interruptible.timeout);
      g->interruptible.blocked.store(false);
    } else {
      words.push_back({reinterpret_cast<uint32_t*>(&g->changes), seen});
      SleepOn(words.data(), words.size(), until);
    }
    g->awake.store(true);
    lock.lock();
  }
}

void RunBlocking(Group* g) {
  Engine* e = g->engine;
  std::unique_lock<EngineMutex> lock(e->mu);
  while (!g->stop) {
    g->notified = false;
    uint32_t seen = g->changes.load();
    int64_t now = MonotonicNs();
    if (!g->members.empty()) {
      g->idleSince = kForever;
      CoreRef c = g->members[0];
      if (!c->closed) Expire(e, c, now);
      Tell(e, Flush(e));
      if (c->closed || c->pending.empty()) {
        Leave(g, 0);
        continue;
      }
      int64_t until = kForever;
      for (const auto& w : c->pending) until = Earlier(until, w.deadline);
      g->sleepUntil = until;
      lock.unlock();
      Result r = Result::Again();
      SetTimeout(&g->interruptible, until, c->source->RelativeTimeout());
      if (Enter(g, seen)) r = c->source->Attempt(&g->interruptible.timeout);
      g->interruptible.blocked.store(false);
      lock.lock();
      if (r.kind == Result::kAcquired || (r.kind == Result::kFailed && !c->pending.empty())) Deliver(e, c, r);
      continue;
    }
    Tell(e, Flush(e));
    int64_t until = kForever;
    if (Idle(e, g, now, &until)) break;
    g->sleepUntil = until;
    lock.unlock();
    FutexWord own{reinterpret_cast<uint32_t*>(&g->changes), seen};
    g->awake.store(false);
    SleepOn(&own, 1, until);
    g->awake.store(true);
    lock.lock();
  }
}

void* RunGroup(void* arg) {
  auto* g = static_cast<Group*>(arg);
  try {
    if (g->blocking) {
      RunBlocking(g);
    } else {
      RunWords(g);
    }
  } catch (...) {
    // Out of memory for the thread's own lists: it ends (no exception may
    // leave a thread: std::terminate). Its waits stay queued until closed or
    // timed out by JavaScript's timers; new ones go to other threads.
    std::lock_guard<EngineMutex> lock(g->engine->mu);
    g->leaving = true;
    g->capacity = 0;
  }
  g->ended.store(true);
  return nullptr;
}

// --- the JavaScript thread ---------------------------------------------------

void NotifyLater(Engine* e, Group* g);

// Makes the group's thread look again, wherever it sleeps. Under the mutex
// (so the thread, which needs it to go on, cannot start another sleep meanwhile).
void Notify(Group* g) {
  if (g->notified) return;  // the thread is already on its way to the mutex
  g->notified = true;
  g->changes.fetch_add(1);
  // A thread that is awake (working, spinning) sees the change before it
  // sleeps: it marks itself asleep first, and the kernel then finds
  // `changes` moved (both sides sequentially consistent).
  if (!g->awake.load()) Wake(reinterpret_cast<uint32_t*>(&g->changes), 1);
  // A sleep that wake does not reach gets one signal, and is not waited for:
  // the thread may be starved of CPU, and this one holds the event loop.
  // One that cannot be sent now is owed: NotifyDeferred sends it again.
  bool sent = !g->interruptible.blocked.load() || Interrupt(g->thread, &g->interruptible);
  g->owed.store(!sent);
  if (!sent) {
    g->notified = false;
    NotifyLater(g->engine, g);
  }
}

// Notify, deferred until JavaScript calls NotifyDeferred (in a microtask):
// closing or cancelling thousands of waits in one go then wakes each group's
// thread once rather than once per wait. What a group's thread has not yet
// been told of costs nothing meanwhile: it takes no unit for a wait that is
// gone (ServeWords and Deliver look under the mutex). Under the mutex.
void NotifyLater(Engine* e, Group* g) {
  g->notifyLater = true;
  e->notifyLater = true;
}

// A thread for a new group; EAGAIN (or the error) if none can be made. Under the mutex.
int StartGroup(Engine* e, bool blocking, Group** out) {
  bool interruptible = blocking || !e->waitv;  // sleeps where a wake on `changes` does not reach
  size_t capacity = interruptible ? 1 : kGroupWords;
  auto g = std::make_unique<Group>(e, blocking, capacity);
  if (interruptible && !InterruptReady()) return EAGAIN;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kStackSize);
  // The thread starts with every signal blocked (process signals go to Node's
  // threads), but the one that interrupts its sleep.
  sigset_t all, old;
  sigfillset(&all);
  if (interruptible) sigdelset(&all, InterruptSignal());
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&g->thread, &attr, RunGroup, g.get());
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (err != 0) return err;
  *out = g.get();
  e->groups.push_back(std::move(g));
  return 0;
}

// Joins the threads that ended (they are past their last touch of anything). Under the mutex.
void Reap(Engine* e) {
  for (auto it = e->groups.begin(); it != e->groups.end();) {
    if ((*it)->ended.load()) {
      pthread_join((*it)->thread, nullptr);
      for (const auto& c : (*it)->members)
        c->group = nullptr;  // only after a failure: placed anew by their next wait
      it = e->groups.erase(it);
    } else {
      ++it;
    }
  }
}

// A group with room for `c` (starting one if needed). Under the mutex.
int Place(Engine* e, const CoreRef& c) {
  Reap(e);
  Group* target = nullptr;
  for (const auto& g : e->groups) {
    if (g->blocking == c->blocking && !g->stop && !g->leaving && g->members.size() < g->capacity) {
      target = g.get();
      // Prefer one already serving others: idle threads stay idle (and may end).
      if (!target->members.empty()) break;
    }
  }
  if (target == nullptr) {
    int err = StartGroup(e, c->blocking, &target);
    if (err != 0) return err;
  }
  target->members.push_back(c);
  c->group = target;
  return 0;
}

// Pending waits keep the event loop alive, and onSettled from the GC.
void Ref(Core* c) {
  Engine* e = c->engine;
  if (c->refd || e->tsfn == nullptr) return;
  c->refd = true;
  napi_reference_ref(e->env, c->onSettled, nullptr);
  if (e->refdCores++ == 0) napi_ref_threadsafe_function(e->env, e->tsfn);
}

void UnrefIfIdle(Core* c) {
  Engine* e = c->engine;
  if (c->unsettled != 0 || !c->refd) return;
  c->refd = false;
  if (c->onSettled != nullptr) napi_reference_unref(e->env, c->onSettled, nullptr);
  if (--e->refdCores == 0 && e->tsfn != nullptr) napi_unref_threadsafe_function(e->env, e->tsfn);
}

// Stops and joins every thread; gives back what they took for nobody.
void Shutdown(Engine* e) {
  std::vector<Done> undelivered;
  std::vector<std::unique_ptr<Group>> groups;
  {
    std::lock_guard<EngineMutex> lock(e->mu);
    if (e->shutdown) return;
    e->shutdown = true;
    for (const auto& g : e->groups) {
      g->stop = true;
      Notify(g.get());
    }
  }
  for (const auto& g : e->groups) {
    // An interrupt the signal queue had no room for: sent again until the thread ends.
    while (g->owed.load() && !g->ended.load()) {
      usleep(1000);
      if (g->interruptible.blocked.load() && Interrupt(g->thread, &g->interruptible)) g->owed.store(false);
    }
    pthread_join(g->thread, nullptr);
  }
  {
    std::lock_guard<EngineMutex> lock(e->mu);
    groups.swap(e->groups);
    undelivered.swap(e->done);
    for (const auto& g : groups) {
      while (!g->members.empty()) {
        g->members.back()->pending.clear();
        Leave(g.get(), g->members.size() - 1);
      }
    }
  }
  for (const auto& d : undelivered) {
    if (d.err == 0) d.core->source->Undo(d.value);
  }
}

void MaybeFree(Engine* e) {
  if (e->cores == 0 && e->shutdown && e->tsfn == nullptr) delete e;
}

// Closes the queue: returns every unsettled wait's id (their units undone).
std::vector<uint32_t> CloseCore(const CoreRef& c, bool deferNotify) {
  std::vector<uint32_t> ids;
  std::vector<Done> undelivered;
  Engine* e = c->engine;
  {
    std::lock_guard<EngineMutex> lock(e->mu);
    if (c->closed) return ids;
    c->closed = true;
    for (const auto& w : c->pending) ids.push_back(w.id);
    c->pending.clear();
    auto mine =
        std::stable_partition(e->done.begin(), e->done.end(), [&](const Done& d) { return d.core != c; });
    std::move(mine, e->done.end(), std::back_inserter(undelivered));
    e->done.erase(mine, e->done.end());
    if (c->group != nullptr && !e->shutdown) {
      c->changed = true;
      if (deferNotify) {
        NotifyLater(e, c->group);
      } else {
        Notify(c->group);
      }
    }
  }
  for (const auto& d : undelivered) {
    ids.push_back(d.id);
    if (d.err == 0) c->source->Undo(d.value);
  }
  c->unsettled = 0;
  UnrefIfIdle(c.get());
  return ids;
}

void CallJs(napi_env env, napi_value /*js_callback*/, void* context, void* /*data*/) {
  if (env == nullptr) return;  // being torn down: Shutdown gives back what is undelivered
  auto* e = static_cast<Engine*>(context);
  std::vector<Done> batch;
  {
    std::lock_guard<EngineMutex> lock(e->mu);
    batch.swap(e->done);
    e->scheduled = false;
  }
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  for (const auto& d : batch) {
    Core* c = d.core.get();
    if (c->closed) {  // close() already settled every wait: nobody wants this
      if (d.err == 0) c->source->Undo(d.value);
      continue;
    }
    c->unsettled--;
    napi_value args[3];
    napi_create_uint32(env, d.id, &args[0]);
    napi_create_int32(env, d.err, &args[1]);
    napi_create_int32(env, d.value, &args[2]);
    napi_value onSettled = nullptr;
    napi_get_reference_value(env, c->onSettled, &onSettled);
    // During teardown JavaScript may no longer run: a unit nobody received goes back.
    if ((onSettled == nullptr ||
         napi_call_function(env, undefined, onSettled, 3, args, nullptr) != napi_ok) &&
        d.err == 0) {
      c->source->Undo(d.value);
    }
  }
  for (const auto& d : batch) UnrefIfIdle(d.core.get());
}

void CleanupHook(void* arg) {
  auto* e = static_cast<Engine*>(arg);
  e->hookRan = true;
  Shutdown(e);
  if (current == e) current = nullptr;
}

// The thread-safe function is gone: its environment is being torn down.
void FinalizeTsfn(napi_env env, void* data, void* /*hint*/) {
  auto* e = static_cast<Engine*>(data);
  Shutdown(e);
  e->tsfn = nullptr;
  if (!e->hookRan) napi_remove_env_cleanup_hook(env, CleanupHook, e);
  if (current == e) current = nullptr;
  MaybeFree(e);
}

Engine* EngineFor(napi_env env) {
  if (current != nullptr) return current;
  auto* e = new Engine();
  e->env = env;
  e->waitv = WaitvAvailable();
  napi_value name;
  napi_create_string_utf8(env, "ipc-kit:wait", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, e, FinalizeTsfn, e, CallJs,
                                      &e->tsfn) != napi_ok) {
    delete e;
    throw Napi::Error::New(env, "napi_create_threadsafe_function failed");
  }
  // Idle, it never keeps the process alive; a pending wait refs it.
  napi_unref_threadsafe_function(env, e->tsfn);
  napi_add_env_cleanup_hook(env, CleanupHook, e);
  current = e;
  return e;
}

struct Handle {
  CoreRef core;
};

const CoreRef& Unwrap(const Napi::Value& queue) {
  Napi::Env env = queue.Env();
  bool ok = false;
  if (queue.IsExternal()) napi_check_object_type_tag(env, queue, &kQueueTag, &ok);
  if (!ok) throw Napi::TypeError::New(env, "not a wait queue");
  return queue.As<Napi::External<Handle>>().Data()->core;
}

}  // namespace

bool GroupsShareThreads() { return WaitvAvailable(); }

uint32_t Add(const Napi::Value& queue, double timeoutMs) {
  const CoreRef& c = Unwrap(queue);
  Engine* e = c->engine;
  if (c->closed) throw Napi::Error::New(queue.Env(), "wait queue is closed");
  int64_t limitNs = ipc::LimitNsFromMs(timeoutMs);
  Core::Wait w{c->nextId, limitNs == kForever ? kForever : MonotonicNs() + limitNs};
  {
    std::lock_guard<EngineMutex> lock(e->mu);
    if (e->shutdown) throw Napi::Error::New(queue.Env(), "the environment is being torn down");
    bool first = c->pending.empty();
    if (c->group == nullptr) {
      int err = Place(e, c);
      if (err != 0) ipc::ThrowErrno(queue.Env(), err, "pthread_create", queue.Env().Undefined());
      first = true;
    }
    c->pending.push_back(w);
    if (first || (w.deadline != kForever && Earlier(w.deadline, c->group->sleepUntil) == w.deadline)) {
      c->changed = true;
      Notify(c->group);
    }
  }
  c->nextId++;
  c->unsettled++;
  Ref(c.get());
  return w.id;
}

bool Cancel(const Napi::Value& queue, uint32_t id) {
  const CoreRef& c = Unwrap(queue);
  Engine* e = c->engine;
  bool removed = false;
  {
    std::lock_guard<EngineMutex> lock(e->mu);
    auto it =
        std::find_if(c->pending.begin(), c->pending.end(), [id](const Core::Wait& w) { return w.id == id; });
    if (it != c->pending.end()) {
      c->pending.erase(it);
      removed = true;
      // No wait left: the thread lets the source go rather than take a unit for nobody.
      if (c->pending.empty() && c->group != nullptr && !e->shutdown) {
        c->changed = true;
        NotifyLater(e, c->group);
      }
    }
  }
  if (removed) {
    c->unsettled--;
    UnrefIfIdle(c.get());
  }
  return removed;
}

std::vector<uint32_t> Close(const Napi::Value& queue) { return CloseCore(Unwrap(queue), true); }

bool NotifyDeferred() {
  Engine* e = current;
  if (e == nullptr) return false;
  std::lock_guard<EngineMutex> lock(e->mu);
  if (!e->notifyLater) return false;
  e->notifyLater = false;
  for (const auto& g : e->groups) {
    if (!g->notifyLater) continue;
    g->notifyLater = false;
    if (!e->shutdown) Notify(g.get());
  }
  return e->notifyLater;  // an interrupt is owed: call again later
}

Napi::Value NewQueue(Napi::Env env, std::shared_ptr<Source> source, Napi::Function onSettled) {
  Engine* e = EngineFor(env);
  auto core = std::make_shared<Core>(std::move(source), e);
  napi_create_reference(env, onSettled, 0, &core->onSettled);
  e->cores++;
  auto handle = Napi::External<Handle>::New(env, new Handle{core}, [](Napi::Env env, Handle* h) {
    CoreRef c = std::move(h->core);
    delete h;
    Engine* e = c->engine;
    CloseCore(c, false);
    napi_delete_reference(env, c->onSettled);
    c->onSettled = nullptr;
    e->cores--;
    MaybeFree(e);
  });
  napi_type_tag_object(env, handle, &kQueueTag);
  return handle;
}

}  // namespace waiter
