// Learning of a lock owner's death from the kernel instead of asking /proc
// again and again (owner_watch_linux.cc). Knows nothing of Node-API.
//
// One watcher thread per process (started at the first sighting, joined when
// the last environment using the addon is torn down) holds a pidfd per owner
// thread being waited on and sleeps in epoll_wait. When an owner exits, it
// raises the flag of every sighting of it and FUTEX_WAKEs their lock words
// (shared wakes: another process's sleepers on the word just look again).
// The watcher only wakes: the waiter then judges the owner as always
// (OwnerAlive: stamp, namespace, reused ids) and takes over with its one
// compare-and-swap. A wake can pass a waiter that is about to sleep (the word
// does not change when its owner dies), so it is repeated, 1 ms later, then
// twice as late each time (at most 100 ms apart), until the waiter
// has lowered the flag.
//
// An owner in another pid namespace has no thread id that means anything
// here: its liveness token (lock_word.h) is watched instead, by a thread
// blocked on it (token_watch.h) whose eventfd sits in the same epoll set;
// one thread per such owner being waited on.
//
// Kernel requirements: pidfd_open (Linux >= 5.3); a pidfd for a thread that
// is not its process's first one needs PIDFD_THREAD (Linux >= 6.9). Without
// it the watch covers the owner's process only: a thread that ends before
// its process marks the locks it holds instead (thread_locks.h), which wakes
// their waiters. Without pidfds at all
// (ENOSYS, EPERM under seccomp, IPC_KIT_PIDFD=0), without a thread, or with
// descriptors short (common/descriptor_budget.h), Start returns null and
// waiters check periodically as before. IPC_KIT_PIDFD=process
// forces the process-only watch, as on kernels before 6.9.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace mutex {

struct WatchedOwner;

// One waiter's interest in one owner thread; the watch ends with it.
class OwnerSighting {
 public:
  // Watches thread `tid` (of this process's pid namespace) for a waiter
  // sleeping on `word`: when it exits, *exited is raised and `word` woken.
  // `word` must stay mapped, and *exited valid, until the sighting is gone.
  // null when the kernel, the sandbox or resources do not allow it.
  static std::unique_ptr<OwnerSighting> Start(uint32_t tid, uint32_t* word, std::atomic<bool>* exited);
  // The same for an owner in another pid namespace, through its liveness
  // token at `offset` (which names the owner) of the file open as `tokenFd`
  // (token_watch.h): told once no process holds that token, or another
  // token of the same owner that a sighting of it waits on, any more.
  static std::unique_ptr<OwnerSighting> StartToken(int tokenFd, off_t offset, uint32_t* word,
                                                   std::atomic<bool>* exited);
  ~OwnerSighting();
  OwnerSighting(const OwnerSighting&) = delete;
  OwnerSighting& operator=(const OwnerSighting&) = delete;

  // The watcher's: the waiter it wakes.
  uint32_t* word() const { return word_; }
  std::atomic<bool>* exited() const { return exited_; }

 private:
  OwnerSighting(WatchedOwner* owner, uint32_t* word, std::atomic<bool>* exited)
      : owner_(owner), word_(word), exited_(exited) {}
  static std::unique_ptr<OwnerSighting> Add(WatchedOwner* owner, uint32_t* word, std::atomic<bool>* exited);
  WatchedOwner* owner_;
  uint32_t* word_;
  std::atomic<bool>* exited_;
};

// What the kernel tells of owners here: "threads" (each thread's exit),
// "processes" (only a whole process's: before Linux 6.9) or "none".
const char* WatchedAs();

// An environment that may start sightings appears (UseWatcher) or is torn
// down (LeaveWatcher): when the last one leaves, the thread is stopped and joined.
void UseWatcher();
void LeaveWatcher();

}  // namespace mutex
