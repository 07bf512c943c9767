// The locks a JavaScript thread may hold, marked abandoned when its
// environment is torn down (thread_locks.cc). Knows nothing of Node-API.
//
// Before Linux 6.9 the kernel tells (by a pidfd) when a process ends, not
// when one of its other threads does: a worker thread that ends holding a
// lock would leave its waiters asking /proc periodically. But a Node.js
// thread that runs JavaScript always tears its environment down before it
// ends (worker.terminate(), process.exit() in a worker, an uncaught
// exception); its process ending instead is told by the pidfd. So the
// environment's cleanup marks each lock the thread still holds kAbandoned
// (lock_word.h) and wakes its word: waiters see the change, judge the owner
// dead by the mark (the thread is still alive while it marks: /proc would
// say it lives) and take over with ownerDied. Threads of native code hold no
// lock word (the engine's threads take locks in their JavaScript thread's
// name). A process's first thread needs no mark: its end is its process's.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "own_page.h"

namespace mutex {

class ThreadLocks {
 public:
  // The lock on `page`, taken by this thread as {mine, start}. Returns an id
  // for Drop, or 0 if it is not kept (an owner without a stamp is never
  // marked, see AbandonHeld; or out of memory).
  uint64_t Add(std::shared_ptr<OwnPage> page, uint32_t mine, uint32_t start);
  // The lock's Mutex is closed or collected: forgotten, unless this thread
  // still holds it (a Mutex dropped while holding): then it is kept to be marked.
  void Drop(uint64_t id);
  // The environment is torn down: marks every lock the thread holds, wakes
  // their waiters, and forgets them all.
  void EndThread();

 private:
  struct Held {
    std::shared_ptr<OwnPage> page;
    uint32_t mine;
    uint32_t start;
  };
  std::mutex mu_;
  bool ended_ = false;
  uint64_t nextId_ = 1;
  std::unordered_map<uint64_t, Held> locks_;
};

}  // namespace mutex
