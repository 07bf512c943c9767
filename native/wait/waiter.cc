// The waiter engine (see waiter.h). One Core per queue, shared by three
// owners, each holding a shared_ptr box: the JavaScript handle (until closed
// or collected), the thread-safe function (until it is finalized) and, through
// it, the env cleanup hook. The thread itself uses a raw pointer: it is always
// joined before the thread-safe function's box goes, and that box is the last
// owner a running thread can outlive.
//
// onSettled is held through a reference that is strong only while waits are
// pending: an idle queue (and the object that owns it) can be collected, and
// its finalizer then stops the thread.
#include "waiter.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "../common/clock.h"

namespace waiter {

namespace {

// Tells our handles from anything else JavaScript could pass.
constexpr napi_type_tag kQueueTag = {0x69706b6974776169ULL, 0x7465722d71756575ULL};

struct Core {
  explicit Core(std::shared_ptr<Source> s) : source(std::move(s)) {}

  const std::shared_ptr<Source> source;

  struct Wait {
    uint32_t id;
    bool timed;
    Clock::time_point deadline;
  };
  struct Done {
    uint32_t id;
    int err;
    int value;
  };

  // Shared with the thread, under mu.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Wait> pending;   // oldest first
  std::vector<Done> done;     // settled, not yet delivered to JavaScript
  bool scheduled = false;     // a thread-safe call is queued
  bool stop = false;          // the thread must exit and never call tsfn again

  // JavaScript thread only.
  napi_env env = nullptr;
  napi_threadsafe_function tsfn = nullptr;  // null once finalized
  napi_ref onSettled = nullptr;             // strong while refd
  std::thread thread;
  uint32_t nextId = 1;
  size_t unsettled = 0;  // waits JavaScript still expects onSettled for
  bool refd = false;
  bool closed = false;
  bool hookRan = false;
};

using Box = std::shared_ptr<Core>;

// Tells JavaScript about settled waits; runs on the waiter thread, under mu.
void Flush(Core* c) {
  if (c->done.empty() || c->scheduled || c->stop) return;
  c->scheduled = true;
  // napi_closing during teardown: nothing will be delivered, the finalizer joins us.
  napi_call_threadsafe_function(c->tsfn, nullptr, napi_tsfn_nonblocking);
}

// Rejects, with ETIMEDOUT, every wait whose deadline has passed. Under mu.
void Expire(Core* c, Clock::time_point now) {
  for (auto it = c->pending.begin(); it != c->pending.end();) {
    if (it->timed && it->deadline <= now) {
      c->done.push_back({it->id, ETIMEDOUT, 0});
      it = c->pending.erase(it);
    } else {
      ++it;
    }
  }
}

void Run(Core* c) {
  std::unique_lock<std::mutex> lock(c->mu);
  while (!c->stop) {
    Flush(c);
    if (c->pending.empty()) {
      c->cv.wait(lock);
      continue;
    }
    Clock::time_point until = Clock::now() + kSlice;
    for (const auto& w : c->pending) {
      if (w.timed && w.deadline < until) until = w.deadline;
    }
    lock.unlock();
    Result r = c->source->Attempt(until);
    lock.lock();
    if (r.kind == Result::kAcquired) {
      if (!c->stop && !c->pending.empty()) {
        c->done.push_back({c->pending.front().id, 0, r.value});
        c->pending.pop_front();
      } else {
        // Whoever it was for is gone: give it back rather than lose it.
        lock.unlock();
        c->source->Undo(r.value);
        lock.lock();
      }
    } else if (r.kind == Result::kFailed && !c->pending.empty()) {
      c->done.push_back({c->pending.front().id, r.value, 0});
      c->pending.pop_front();
    }
    Expire(c, Clock::now());
  }
}

// Pending waits keep the event loop alive, and onSettled from the GC.
void Ref(Core* c) {
  if (!c->refd && c->tsfn != nullptr) {
    napi_ref_threadsafe_function(c->env, c->tsfn);
    napi_reference_ref(c->env, c->onSettled, nullptr);
    c->refd = true;
  }
}

void UnrefIfIdle(Core* c) {
  if (c->unsettled == 0 && c->refd && c->tsfn != nullptr) {
    napi_unref_threadsafe_function(c->env, c->tsfn);
    napi_reference_unref(c->env, c->onSettled, nullptr);
    c->refd = false;
  }
}

// Stops the thread and waits for it; gives back what it took for nobody.
// JavaScript thread only (close, cleanup hook, finalizers).
void StopAndJoin(Core* c) {
  std::vector<Core::Done> undelivered;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    c->stop = true;
  }
  c->cv.notify_all();
  if (c->thread.joinable()) c->thread.join();
  {
    std::lock_guard<std::mutex> lock(c->mu);
    undelivered.swap(c->done);
    c->pending.clear();
  }
  for (const auto& d : undelivered) {
    if (d.err == 0) c->source->Undo(d.value);
  }
}

// Closes the queue: returns every unsettled wait's id (their units undone).
// The thread is told to stop; the finalizer of the thread-safe function joins it.
std::vector<uint32_t> CloseCore(Core* c) {
  std::vector<uint32_t> ids;
  if (c->closed) return ids;
  c->closed = true;
  std::vector<Core::Done> undelivered;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    c->stop = true;
    for (const auto& w : c->pending) ids.push_back(w.id);
    c->pending.clear();
    undelivered.swap(c->done);
  }
  c->cv.notify_all();
  for (const auto& d : undelivered) {
    ids.push_back(d.id);
    if (d.err == 0) c->source->Undo(d.value);
  }
  c->unsettled = 0;
  UnrefIfIdle(c);
  if (c->tsfn != nullptr) napi_release_threadsafe_function(c->tsfn, napi_tsfn_release);
  return ids;
}

void CallJs(napi_env env, napi_value /*js_callback*/, void* context, void* /*data*/) {
  if (env == nullptr) return;  // being torn down
  auto* c = static_cast<Core*>(context);
  std::vector<Core::Done> batch;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    batch.swap(c->done);
    c->scheduled = false;
  }
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_value onSettled = nullptr;
  napi_get_reference_value(env, c->onSettled, &onSettled);
  for (const auto& d : batch) {
    if (c->closed) {  // close() already settled every wait: nobody wants this
      if (d.err == 0) c->source->Undo(d.value);
      continue;
    }
    c->unsettled--;
    napi_value args[3];
    napi_create_uint32(env, d.id, &args[0]);
    napi_create_int32(env, d.err, &args[1]);
    napi_create_int32(env, d.value, &args[2]);
    // During teardown JavaScript may no longer run: a unit nobody received goes back.
    if ((onSettled == nullptr || napi_call_function(env, undefined, onSettled, 3, args, nullptr) != napi_ok) &&
        d.err == 0) {
      c->source->Undo(d.value);
    }
  }
  UnrefIfIdle(c);
}

void CleanupHook(void* arg) {
  auto* c = static_cast<Core*>(arg);
  c->hookRan = true;
  StopAndJoin(c);
}

// The thread-safe function is gone (closed, or its environment torn down).
void FinalizeTsfn(napi_env env, void* data, void* /*hint*/) {
  auto* box = static_cast<Box*>(data);
  Core* c = box->get();
  StopAndJoin(c);
  c->tsfn = nullptr;
  napi_delete_reference(env, c->onSettled);
  if (!c->hookRan) napi_remove_env_cleanup_hook(env, CleanupHook, c);
  delete box;
}

Core* Unwrap(const Napi::Value& queue) {
  Napi::Env env = queue.Env();
  bool ok = false;
  if (queue.IsExternal()) napi_check_object_type_tag(env, queue, &kQueueTag, &ok);
  if (!ok) throw Napi::TypeError::New(env, "not a wait queue");
  return queue.As<Napi::External<Box>>().Data()->get();
}

}  // namespace

uint32_t Add(const Napi::Value& queue, double timeoutMs) {
  Core* c = Unwrap(queue);
  if (c->closed) throw Napi::Error::New(queue.Env(), "wait queue is closed");
  Core::Wait w{c->nextId++, false, {}};
  int64_t limitNs = ipc::LimitNsFromMs(timeoutMs);
  if (limitNs != ipc::kForever) {
    w.timed = true;
    w.deadline = Clock::now() + std::chrono::nanoseconds(limitNs);
  }
  if (!c->thread.joinable()) c->thread = std::thread(Run, c);
  {
    std::lock_guard<std::mutex> lock(c->mu);
    c->pending.push_back(w);
  }
  c->cv.notify_one();
  c->unsettled++;
  Ref(c);
  return w.id;
}

bool Cancel(const Napi::Value& queue, uint32_t id) {
  Core* c = Unwrap(queue);
  bool removed = false;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    auto it = std::find_if(c->pending.begin(), c->pending.end(), [id](const Core::Wait& w) { return w.id == id; });
    if (it != c->pending.end()) {
      c->pending.erase(it);
      removed = true;
    }
  }
  if (removed) {
    c->unsettled--;
    UnrefIfIdle(c);
  }
  return removed;
}

std::vector<uint32_t> Close(const Napi::Value& queue) { return CloseCore(Unwrap(queue)); }

Napi::Value NewQueue(Napi::Env env, std::shared_ptr<Source> source, Napi::Function onSettled) {
  auto core = std::make_shared<Core>(std::move(source));
  Core* c = core.get();
  c->env = env;
  auto* tsfnBox = new Box(core);
  napi_value name = Napi::String::New(env, "ipc-kit:wait");
  // No function here: the thread-safe function would hold it strongly for life.
  napi_status status = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, tsfnBox,
                                                       FinalizeTsfn, c, CallJs, &c->tsfn);
  if (status != napi_ok) {
    delete tsfnBox;
    throw Napi::Error::New(env, "napi_create_threadsafe_function failed");
  }
  napi_create_reference(env, onSettled, 0, &c->onSettled);
  // An idle queue never keeps the process alive; Add refs it.
  napi_unref_threadsafe_function(env, c->tsfn);
  napi_add_env_cleanup_hook(env, CleanupHook, c);
  auto handle = Napi::External<Box>::New(env, new Box(core), [](Napi::Env, Box* box) {
    CloseCore(box->get());
    delete box;
  });
  napi_type_tag_object(env, handle, &kQueueTag);
  return handle;
}

}  // namespace waiter
