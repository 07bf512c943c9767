// Marks a thread's locks abandoned at its environment's teardown (thread_locks.h).
#include "thread_locks.h"

#include <unistd.h>

#include "../common/fast_path_alias.h"
#include "lock_word.h"

namespace mutex {

uint64_t ThreadLocks::Add(uint32_t* word, uint32_t mine, uint32_t start) {
  if (start == 0) return 0;
  auto pageSize = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto at = reinterpret_cast<uintptr_t>(word);
  void* page = nullptr;
  // Without a mapping of its own (out of address space), the lock goes unmarked:
  // its waiters learn of the thread's end as on a kernel that tells it, or never.
  if (!ipc::MapPagesAgain(reinterpret_cast<void*>(at & ~(pageSize - 1)), pageSize, &page).ok()) return 0;
  auto* own = reinterpret_cast<uint32_t*>(static_cast<char*>(page) + (at & (pageSize - 1)));
  std::lock_guard<std::mutex> guard(mu_);
  if (ended_) {
    ipc::UnmapPages(page, pageSize);
    return 0;
  }
  uint64_t id = nextId_++;
  try {
    locks_.emplace(id, Held{page, pageSize, own, mine, start});
  } catch (...) {  // out of memory: unmarked, as above
    ipc::UnmapPages(page, pageSize);
    return 0;
  }
  return id;
}

void ThreadLocks::Drop(uint64_t id) {
  if (id == 0) return;
  std::lock_guard<std::mutex> guard(mu_);
  auto it = locks_.find(id);
  if (it == locks_.end()) return;
  const Held& h = it->second;
  if (HeldBy(Lock{h.word}, h.mine, h.start)) return;  // marked at the end
  ipc::UnmapPages(h.page, h.pageSize);
  locks_.erase(it);
}

void ThreadLocks::EndThread() {
  std::lock_guard<std::mutex> guard(mu_);
  ended_ = true;
  for (auto& [id, h] : locks_) {
    AbandonHeld(Lock{h.word}, h.mine, h.start);
    ipc::UnmapPages(h.page, h.pageSize);
  }
  locks_.clear();
}

}  // namespace mutex
