// Marshals waits on a shared 32-bit word (word_wait.h): a blocking wait, a
// wake, and a waiter-engine Source for waits off the event loop.
#include "word_wait_binding.h"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "../common/clock.h"
#include "waiter.h"
#include "word_wait.h"

namespace waiter {

namespace {

// The word at `index` of an Int32Array (over a mapping).
uint32_t* WordOf(const Napi::Value& view, const Napi::Value& index) {
  Napi::Env env = view.Env();
  if (!view.IsTypedArray() || view.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(env, "expected an Int32Array");
  }
  auto array = view.As<Napi::Int32Array>();
  uint32_t i = index.As<Napi::Number>().Uint32Value();
  if (array.Data() == nullptr || i >= array.ElementLength()) throw Napi::RangeError::New(env, "the word is not mapped");
  return reinterpret_cast<uint32_t*>(array.Data() + i);
}

// Bit pattern of a JavaScript int32 or uint32.
uint32_t Bits(const Napi::Value& v) { return static_cast<uint32_t>(v.As<Napi::Number>().Int64Value()); }

// Synchronous waits of this process spin for as long as recent ones took.
AdaptiveSpin syncSpin;

// waitSync(view, index, expected, timeoutMs) -> false if timed out; true if
// woken or the word differs. Blocks this thread.
Napi::Value JsWaitSync(const Napi::CallbackInfo& info) {
  uint32_t* word = WordOf(info[0], info[1]);
  int64_t limit = ipc::LimitNsFromMs(info[3].As<Napi::Number>().DoubleValue());
  int64_t until = limit == ipc::kForever ? ipc::kForever : ipc::MonotonicNs() + limit;
  return Napi::Boolean::New(info.Env(), WordWaitUntil(word, Bits(info[2]), until, &syncSpin) == 0);
}

// wake(view, index, count) -> how many were woken.
Napi::Value JsWake(const Napi::CallbackInfo& info) {
  uint32_t* word = WordOf(info[0], info[1]);
  int count = info[2].As<Napi::Number>().Int32Value();
  return Napi::Number::New(info.Env(), WordWake(word, count < 1 ? 1 : count));
}

// A wait settles (with value 0) once the word (bit 0 aside) differs from the
// value set by Expect(); the thread spins a while first (adaptive_spin.h).
// The word lives in a JavaScript mapping: Retire() (before unmapping) stops
// the attempts and waits out the one in progress.
class WordSource : public Source {
 public:
  explicit WordSource(uint32_t* word) : word_(word) {}

  Result Attempt(Clock::time_point until) override {
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (retired_) return Result::Again();
      busy_ = true;
    }
    uint32_t expected = expected_.load();
    WordWaitUntil(word_, expected, ipc::ToNs(until), &spin_);
    bool changed = WordChanged(word_, expected);
    std::lock_guard<std::mutex> guard(mu_);
    busy_ = false;
    idle_.notify_all();
    if (retired_ || !changed) {
      return Result::Again();  // a spurious wake, or a wake-all of others' waits: look again
    }
    return Result::Acquired(0);
  }

  void Undo(int) override {}  // nothing was taken

  void Expect(uint32_t value) { expected_.store(value); }

  void Retire() {
    std::unique_lock<std::mutex> guard(mu_);
    if (retired_) return;
    retired_ = true;
    // Wakes our thread (and, spuriously, other waiters on the word, which look again).
    WordWake(word_, INT32_MAX);
    idle_.wait(guard, [this] { return !busy_; });
  }

 private:
  uint32_t* word_;
  std::atomic<uint32_t> expected_{0};
  AdaptiveSpin spin_;
  std::mutex mu_;
  std::condition_variable idle_;
  bool busy_ = false;
  bool retired_ = false;
};

using SourceBox = std::shared_ptr<WordSource>;

// queue(view, index, onSettled) -> { queue, source }: `queue` for add, cancel
// and close; `source` for expect and retire.
Napi::Value JsQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto source = std::make_shared<WordSource>(WordOf(info[0], info[1]));
  Napi::Object out = Napi::Object::New(env);
  out.Set("queue", NewQueue(env, source, info[2].As<Napi::Function>()));
  out.Set("source", Napi::External<SourceBox>::New(env, new SourceBox(source), [](Napi::Env, SourceBox* box) { delete box; }));
  return out;
}

WordSource& SourceOf(const Napi::Value& value) {
  if (!value.IsExternal()) throw Napi::TypeError::New(value.Env(), "not a word source");
  return **value.As<Napi::External<SourceBox>>().Data();
}

// expect(source, value): the next waits settle once the word differs from `value`.
void JsExpect(const Napi::CallbackInfo& info) { SourceOf(info[0]).Expect(Bits(info[1])); }

// retire(source): after close(queue), before unmapping: the thread touches the word no more.
void JsRetire(const Napi::CallbackInfo& info) { SourceOf(info[0]).Retire(); }

}  // namespace

void ExportWordWait(Napi::Env env, Napi::Object exports) {
  exports.Set("wordWaitSync", Napi::Function::New(env, JsWaitSync, "wordWaitSync"));
  exports.Set("wordWake", Napi::Function::New(env, JsWake, "wordWake"));
  exports.Set("wordQueue", Napi::Function::New(env, JsQueue, "wordQueue"));
  exports.Set("wordExpect", Napi::Function::New(env, JsExpect, "wordExpect"));
  exports.Set("wordRetire", Napi::Function::New(env, JsRetire, "wordRetire"));
}

}  // namespace waiter
