// A thread blocked on a liveness token until it is free (token_watch.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <new>

#include "../common/descriptor_budget.h"
#include "token_watch.h"

namespace mutex {

namespace {

constexpr size_t kStackSize = 64 * 1024;
// A lock call failing otherwise than by EINTR (ENOLCK: the kernel is short of
// lock memory) is tried again this much later.
constexpr long kRetryNs = 200 * 1000 * 1000;

// A descriptor within the budget (common/descriptor_budget.h), or -1.
int Budgeted(int fd) {
  if (fd >= 0 && !ipc::WithinBudget(fd)) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TokenWait* TokenWait::Start(int tokenFd, off_t offset) {
  if (!waiter::InterruptReady()) return nullptr;
  // An open file description of our own of the same file (dup would share
  // the token's: its own lock would never let ours be granted, nor would it
  // block). /proc/self/fd reopens the file even if its name is gone.
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", tokenFd);
  int fd = Budgeted(open(path, O_RDWR | O_CLOEXEC));
  if (fd < 0) return nullptr;
  int efd = Budgeted(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  auto* t = new (std::nothrow) TokenWait(fd, offset, efd);
  if (t == nullptr) {
    if (efd >= 0) close(efd);
    close(fd);
    return nullptr;
  }
  if (efd >= 0) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStackSize);
    t->started_ = pthread_create(&t->thread_, &attr, Run, t) == 0;
    pthread_attr_destroy(&attr);
  }
  if (!t->started_) {
    delete t;
    return nullptr;
  }
  return t;
}

void* TokenWait::Run(void* arg) {
  auto* t = static_cast<TokenWait*>(arg);
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, waiter::InterruptSignal());
  pthread_sigmask(SIG_UNBLOCK, &interrupt, nullptr);
  bool free = false;
  while (!t->stop_.load()) {
    struct flock byte {};
    byte.l_type = F_WRLCK;
    byte.l_whence = SEEK_SET;
    byte.l_start = t->offset_;
    byte.l_len = 1;
    if (fcntl(t->fd_, F_OFD_SETLKW, &byte) == 0) {
      byte.l_type = F_UNLCK;
      fcntl(t->fd_, F_OFD_SETLK, &byte);
      free = true;
      break;
    }
    if (errno != EINTR) {
      timespec later{0, kRetryNs};
      nanosleep(&later, nullptr);
    }
  }
  if (free) {
    uint64_t one = 1;
    ssize_t written = write(t->eventFd_, &one, sizeof one);
    (void)written;  // a full counter (never here) is readable too
  }
  t->ended_.store(true);
  return nullptr;
}

void TokenWait::Stop() {
  stop_.store(true);
  if (!ended_.load()) waiter::Interrupt(thread_, &sleep_);
}

TokenWait::~TokenWait() {
  if (started_) pthread_join(thread_, nullptr);
  if (eventFd_ >= 0) close(eventFd_);
  close(fd_);
}

}  // namespace mutex
