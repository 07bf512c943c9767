// Marks a thread's locks abandoned at its environment's teardown (thread_locks.h).
#include "thread_locks.h"

#include "lock_word.h"

namespace mutex {

uint64_t ThreadLocks::Add(std::shared_ptr<OwnPage> page, uint32_t mine, uint32_t start) {
  if (start == 0) return 0;
  std::lock_guard<std::mutex> guard(mu_);
  if (ended_) return 0;
  uint64_t id = nextId_++;
  try {
    locks_.emplace(id, Held{std::move(page), mine, start});
  } catch (...) {  // out of memory: unmarked (its waiters learn of its process's end only)
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
  if (HeldBy(h.page->lock(), h.mine, h.start)) return;  // marked at the end
  locks_.erase(it);
}

void ThreadLocks::EndThread() {
  std::lock_guard<std::mutex> guard(mu_);
  ended_ = true;
  for (auto& [id, h] : locks_) AbandonHeld(h.page->lock(), h.mine, h.start);
  locks_.clear();
}

}  // namespace mutex
