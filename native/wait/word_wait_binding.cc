// Marshals waits on a shared 32-bit word (word_wait.h): a blocking wait, a
// wake, and a waiter-engine Source for waits off the event loop.
#include "word_wait_binding.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>

#include "../common/clock.h"
#include "../common/errors.h"
#include "../common/fast_path_alias.h"
#include "sync_wait.h"
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
  if (array.Data() == nullptr || i >= array.ElementLength())
    throw Napi::RangeError::New(env, "the word is not mapped");
  return reinterpret_cast<uint32_t*>(array.Data() + i);
}

// Bit pattern of a JavaScript int32 or uint32.
uint32_t Bits(const Napi::Value& v) { return static_cast<uint32_t>(v.As<Napi::Number>().Int64Value()); }

// Synchronous waits of this process spin for as long as recent ones took.
AdaptiveSpin syncSpin;

// waitSync(view, index, expected, timeoutMs) -> false if timed out; true if
// woken or the word differs. Blocks this thread, terminably (sync_wait.h).
Napi::Value JsWaitSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordOf(info[0], info[1]);
  uint32_t expected = Bits(info[2]);
  int64_t limit = ipc::LimitNsFromMs(info[3].As<Napi::Number>().DoubleValue());
  int64_t until = limit == ipc::kForever ? ipc::kForever : ipc::MonotonicNs() + limit;
  SyncEnd end = SyncWait(env, until, [&](int64_t sliceUntil) {
    return WordWaitUntil(word, expected, sliceUntil, &syncSpin) == 0;
  });
  if (end == SyncEnd::kTerminated) return env.Undefined();
  return Napi::Boolean::New(env, end == SyncEnd::kDone);
}

// wake(view, index, count) -> how many were woken.
Napi::Value JsWake(const Napi::CallbackInfo& info) {
  uint32_t* word = WordOf(info[0], info[1]);
  int count = info[2].As<Napi::Number>().Int32Value();
  return Napi::Number::New(info.Env(), WordWake(word, count < 1 ? 1 : count));
}

// A wait settles (with value 0) once the word (bit 0 aside) differs from the
// value set by Expect(). A futex source of the waiter engine: before it
// sleeps it sets bit 0, as WordWaitUntil does. The word lives in a
// JavaScript mapping: the source reads it through a mapping of its own of the
// word's page, which goes with the source, so JavaScript may unmap at will.
class WordSource : public Source {
 public:
  WordSource(void* page, size_t pageSize, uint32_t* word) : page_(page), pageSize_(pageSize), word_(word) {}
  ~WordSource() override { ipc::UnmapPages(page_, pageSize_); }

  Result Poll(Sleep* sleep) override {
    uint32_t expected = expected_.load();
    uint32_t seen = __atomic_load_n(word_, __ATOMIC_SEQ_CST);
    for (;;) {
      if (((seen ^ expected) & ~1u) != 0) return Result::Acquired(0);
      if ((seen & 1u) != 0) break;
      // Announce a sleeper, unless the word changes meanwhile.
      if (__atomic_compare_exchange_n(word_, &seen, seen | 1u, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        seen |= 1u;
        break;
      }
    }
    sleep->word = word_;
    sleep->expected = seen;
    return Result::Again();
  }

  bool Spins() const override { return true; }
  Result Peek() override {
    return WordChanged(word_, expected_.load()) ? Result::Acquired(0) : Result::Again();
  }

  void Undo(int) override {}  // nothing was taken

  void Expect(uint32_t value) { expected_.store(value); }

 private:
  void* page_;
  size_t pageSize_;
  uint32_t* word_;
  std::atomic<uint32_t> expected_{0};
};

using SourceBox = std::shared_ptr<WordSource>;

// queue(view, index, onSettled) -> { queue, source }: `queue` for add, cancel
// and close; `source` for expect.
Napi::Value JsQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordOf(info[0], info[1]);
  auto pageSize = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto at = reinterpret_cast<uintptr_t>(word);
  void* own = nullptr;
  ipc::Check(env, ipc::MapPagesAgain(reinterpret_cast<void*>(at & ~(pageSize - 1)), pageSize, &own),
             env.Undefined());
  auto* ownWord = reinterpret_cast<uint32_t*>(static_cast<char*>(own) + (at & (pageSize - 1)));
  auto source = std::make_shared<WordSource>(own, pageSize, ownWord);
  Napi::Object out = Napi::Object::New(env);
  out.Set("queue", NewQueue(env, source, info[2].As<Napi::Function>()));
  out.Set("source", Napi::External<SourceBox>::New(env, new SourceBox(source),
                                                   [](Napi::Env, SourceBox* box) { delete box; }));
  return out;
}

WordSource& SourceOf(const Napi::Value& value) {
  if (!value.IsExternal()) throw Napi::TypeError::New(value.Env(), "not a word source");
  return **value.As<Napi::External<SourceBox>>().Data();
}

// expect(source, value): the next waits settle once the word differs from `value`.
void JsExpect(const Napi::CallbackInfo& info) { SourceOf(info[0]).Expect(Bits(info[1])); }

}  // namespace

void ExportWordWait(Napi::Env env, Napi::Object exports) {
  exports.Set("wordWaitSync", Napi::Function::New(env, JsWaitSync, "wordWaitSync"));
  exports.Set("wordWake", Napi::Function::New(env, JsWake, "wordWake"));
  exports.Set("wordQueue", Napi::Function::New(env, JsQueue, "wordQueue"));
  exports.Set("wordExpect", Napi::Function::New(env, JsExpect, "wordExpect"));
}

}  // namespace waiter
