// A lock's header page mapped a second time by the addon: the engine's
// thread reads the word through it, and a thread's end marks it
// (thread_locks.h), whatever JavaScript unmaps meanwhile (close(), the GC, a
// worker's teardown). One per lock word of a JavaScript thread; it goes with
// the last of its users.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <memory>

#include "../common/fast_path_alias.h"
#include "lock_word.h"

namespace mutex {

class OwnPage {
 public:
  // Maps the page of `word` (mapped by the caller) again; fails as MapPagesAgain does.
  static ipc::Status Map(uint32_t* word, std::shared_ptr<OwnPage>* out) {
    auto size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    auto at = reinterpret_cast<uintptr_t>(word);
    void* page = nullptr;
    ipc::Status s = ipc::MapPagesAgain(reinterpret_cast<void*>(at & ~(size - 1)), size, &page);
    if (!s.ok()) return s;
    auto* own = reinterpret_cast<uint32_t*>(static_cast<char*>(page) + (at & (size - 1)));
    out->reset(new OwnPage(page, size, own));
    return s;
  }
  ~OwnPage() { ipc::UnmapPages(page_, size_); }
  OwnPage(const OwnPage&) = delete;
  OwnPage& operator=(const OwnPage&) = delete;

  Lock lock() const { return Lock{word_}; }

 private:
  OwnPage(void* page, size_t size, uint32_t* word) : page_(page), size_(size), word_(word) {}
  void* page_;
  size_t size_;
  uint32_t* word_;
};

}  // namespace mutex
