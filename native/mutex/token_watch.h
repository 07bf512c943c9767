// Waiting for a liveness token to be given up (token_watch_linux.cc): the
// owner watcher's event for an owner in another pid namespace, whose thread
// id means nothing here (lock_word.h has the tokens). Knows nothing of Node-API.
//
// A thread of its own blocks in F_OFD_SETLKW, asking for a write lock on the
// token's byte through an open file description of its own of the lock's
// file: the kernel grants it only once no other description holds a lock
// there, that is once every Mutex of the owner's thread on that file is
// closed or its process is gone. The thread then gives the byte back at once
// and makes its eventfd readable (the watcher sleeps on it in epoll). While
// it waits it holds nothing: Linux lets new read locks (other tokens of the
// same thread) pass a waiting writer. The byte is held write-locked only
// between the grant and the unlock (microseconds), by a token that is free
// anyway; an owner that opens a Mutex just then goes without a token.
//
// Stopping it: the engine's interrupt signal (wait/interrupt.h) ends the
// blocking call with EINTR; one that comes just before the call is lost, so
// the watcher sends it again until the thread has ended.
#pragma once
#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "../wait/interrupt.h"

namespace mutex {

class TokenWait {
 public:
  // Starts waiting for the token at `offset` of the file open as `tokenFd`;
  // null if no thread, descriptor or signal can be had (the waiter then
  // checks the token periodically). Call with all signals blocked: the
  // thread unblocks the interrupt signal only.
  static TokenWait* Start(int tokenFd, off_t offset);
  // Joins the thread (call once Ended()) and closes the descriptors.
  ~TokenWait();
  TokenWait(const TokenWait&) = delete;
  TokenWait& operator=(const TokenWait&) = delete;

  // Readable once the token is free.
  int eventFd() const { return eventFd_; }
  // Asks the thread to end (again, if an earlier signal may have been lost).
  void Stop();
  bool Ended() const { return ended_.load(); }

 private:
  TokenWait(int fd, off_t offset, int eventFd) : fd_(fd), offset_(offset), eventFd_(eventFd) {}
  static void* Run(void* arg);
  int fd_;
  off_t offset_;
  int eventFd_;
  pthread_t thread_{};
  bool started_ = false;
  waiter::Interruptible sleep_;  // what the interrupt's handler touches
  std::atomic<bool> stop_{false};
  std::atomic<bool> ended_{false};
};

}  // namespace mutex
