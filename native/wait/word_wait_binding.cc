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

// What wordWaitSync returns and a wait of a word queue settles with (wait.WORD).
constexpr int kTimedOut = 0;
constexpr int kChanged = 1;
constexpr int kGuarded = 2;

// The guards (word_wait.h) named by args[at] (an Int32Array), args[at + 1]
// (an array of up to two lock indices into it) and, optionally, args[at + 2]
// (their parked words' indices, -1 for none); none if args[at] is undefined.
Guards GuardsOf(const Napi::CallbackInfo& info, size_t at) {
  Guards guards;
  if (info.Length() <= at || info[at].IsUndefined()) return guards;
  if (!info[at + 1].IsArray()) throw Napi::TypeError::New(info.Env(), "expected an array of guard indices");
  auto indices = info[at + 1].As<Napi::Array>();
  if (indices.Length() > 2) throw Napi::RangeError::New(info.Env(), "at most two guards");
  for (uint32_t i = 0; i < indices.Length(); i++) guards.words[i] = WordOf(info[at], indices.Get(i));
  if (info.Length() <= at + 2 || info[at + 2].IsUndefined()) return guards;
  if (!info[at + 2].IsArray())
    throw Napi::TypeError::New(info.Env(), "expected an array of parked word indices");
  auto parked = info[at + 2].As<Napi::Array>();
  if (parked.Length() != indices.Length())
    throw Napi::RangeError::New(info.Env(), "one parked index per guard");
  for (uint32_t i = 0; i < parked.Length(); i++) {
    Napi::Value index = parked.Get(i);
    if (index.As<Napi::Number>().Int32Value() >= 0) guards.parked[i] = WordOf(info[at], index);
  }
  return guards;
}

// Bit pattern of a JavaScript int32 or uint32.
uint32_t Bits(const Napi::Value& v) { return static_cast<uint32_t>(v.As<Napi::Number>().Int64Value()); }

// Synchronous waits of this process spin for as long as recent ones took.
AdaptiveSpin syncSpin;

// waitSync(view, index, expected, timeoutMs[, guardView, guardIndices[, parkedIndices]]) ->
// kChanged (woken, or the word differs), kTimedOut, or kGuarded (a guard was
// held: no sleep). Blocks this thread, terminably (sync_wait.h).
Napi::Value JsWaitSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordOf(info[0], info[1]);
  uint32_t expected = Bits(info[2]);
  int64_t limit = ipc::LimitNsFromMs(info[3].As<Napi::Number>().DoubleValue());
  Guards guards = GuardsOf(info, 4);
  int64_t until = limit == ipc::kForever ? ipc::kForever : ipc::MonotonicNs() + limit;
  int result = 0;
  SyncEnd end = SyncWait(env, until, [&](int64_t sliceUntil) {
    result = WordWaitUntil(word, expected, sliceUntil, &syncSpin, &guards);
    return result != ETIMEDOUT;
  });
  if (end == SyncEnd::kTerminated) return env.Undefined();
  if (end == SyncEnd::kTimedOut) return Napi::Number::New(env, kTimedOut);
  return Napi::Number::New(env, result == kWordGuarded ? kGuarded : kChanged);
}

// wake(view, index, count) -> how many were woken.
Napi::Value JsWake(const Napi::CallbackInfo& info) {
  uint32_t* word = WordOf(info[0], info[1]);
  int count = info[2].As<Napi::Number>().Int32Value();
  return Napi::Number::New(info.Env(), WordWake(word, count < 1 ? 1 : count));
}

// A word in a JavaScript mapping, read through a mapping of its own of the
// word's page, which goes with this object: JavaScript may unmap at will.
class OwnWord {
 public:
  OwnWord(Napi::Env env, uint32_t* word) : size_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    auto at = reinterpret_cast<uintptr_t>(word);
    ipc::Check(env, ipc::MapPagesAgain(reinterpret_cast<void*>(at & ~(size_ - 1)), size_, &page_),
               env.Undefined());
    word_ = reinterpret_cast<uint32_t*>(static_cast<char*>(page_) + (at & (size_ - 1)));
  }
  ~OwnWord() { ipc::UnmapPages(page_, size_); }
  OwnWord(const OwnWord&) = delete;
  OwnWord& operator=(const OwnWord&) = delete;
  uint32_t* get() const { return word_; }

 private:
  size_t size_;
  void* page_ = nullptr;
  uint32_t* word_ = nullptr;
};

// A wait settles (with kChanged) once the word (bit 0 aside) differs from the
// value set by Expect(), or (with kGuarded) when, announced, it finds a guard
// held. A futex source of the waiter engine: before it sleeps it sets bit 0
// and checks the guards, as WordWaitUntil does.
class WordSource : public Source {
 public:
  WordSource(Napi::Env env, uint32_t* word, const Guards& guards) : own_(env, word), word_(own_.get()) {
    for (int i = 0; i < 2; i++) {
      if (guards.words[i] == nullptr) continue;
      guardPages_[i] = std::make_unique<OwnWord>(env, const_cast<uint32_t*>(guards.words[i]));
      guards_.words[i] = guardPages_[i]->get();
      if (guards.parked[i] == nullptr) continue;
      parkedPages_[i] = std::make_unique<OwnWord>(env, const_cast<uint32_t*>(guards.parked[i]));
      guards_.parked[i] = parkedPages_[i]->get();
    }
  }

  Result Poll(Sleep* sleep) override {
    uint32_t expected = expected_.load();
    uint32_t seen = __atomic_load_n(word_, __ATOMIC_SEQ_CST);
    for (;;) {
      if (((seen ^ expected) & ~1u) != 0) return Result::Acquired(kChanged);
      if ((seen & 1u) != 0) break;
      // Announce a sleeper, unless the word changes meanwhile.
      if (__atomic_compare_exchange_n(word_, &seen, seen | 1u, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        seen |= 1u;
        break;
      }
    }
    // Read after the announcement (see Guards in word_wait.h).
    int guarded = CheckGuards(word_, seen, &guards_);
    if (guarded == kWordGuarded) return Result::Acquired(kGuarded);
    if (guarded != 0) return Result::Acquired(kChanged);
    sleep->word = word_;
    sleep->expected = seen;
    return Result::Again();
  }

  bool Spins() const override { return true; }
  Result Peek() override {
    return WordChanged(word_, expected_.load()) ? Result::Acquired(kChanged) : Result::Again();
  }

  void Undo(int) override {}  // nothing was taken

  void Expect(uint32_t value) { expected_.store(value); }

 private:
  OwnWord own_;
  uint32_t* word_;
  std::unique_ptr<OwnWord> guardPages_[2];
  std::unique_ptr<OwnWord> parkedPages_[2];
  Guards guards_;
  std::atomic<uint32_t> expected_{0};
};

using SourceBox = std::shared_ptr<WordSource>;

// queue(view, index, onSettled[, guardView, guardIndices[, parkedIndices]]) -> { queue, source }:
// `queue` for add, cancel and close; `source` for expect.
Napi::Value JsQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordOf(info[0], info[1]);
  auto source = std::make_shared<WordSource>(env, word, GuardsOf(info, 3));
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
  Napi::Object outcome = Napi::Object::New(env);
  outcome.Set("TIMED_OUT", kTimedOut);
  outcome.Set("CHANGED", kChanged);
  outcome.Set("GUARDED", kGuarded);
  exports.Set("WORD", outcome);
}

}  // namespace waiter
