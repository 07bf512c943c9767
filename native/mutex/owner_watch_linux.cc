// The owner watcher on Linux: pidfds in an epoll set (see owner_watch.h).
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "../common/clock.h"
#include "../common/descriptor_budget.h"
#include "owner_watch.h"
#include "token_watch.h"

// The same number on x86_64 and arm64 (older headers lack it).
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

namespace mutex {

struct WatchedOwner {
  WatchedOwner(uint64_t i, uint32_t t, uint32_t g, int fd) : id(i), tid(t), tgid(g), pidfd(fd) {}
  uint64_t id;  // epoll's key: an owner gone meanwhile is not mistaken for another
  uint32_t tid;
  uint32_t tgid;               // the process whose pidfd this is, or 0: the thread's own pidfd
  int pidfd;                   // in the epoll set: the pidfd, or the eventfd of `token`
  TokenWait* token = nullptr;  // an owner in another pid namespace: its token's waiting thread
  off_t tokenAt = 0;           // and the offset of its token (its key in Watcher::tokens)
  bool exited = false;
  std::vector<OwnerSighting*> sightings;
  int64_t rewakeAt = ipc::kForever;  // exited: when to wake the unheeded sightings again
  int64_t rewakeGap = 0;
};

namespace {

using ipc::kForever;
using ipc::MonotonicNs;

constexpr int64_t kFirstRewakeNs = 1000 * 1000;
constexpr int64_t kLongestRewakeNs = 100 * 1000 * 1000;
constexpr size_t kStackSize = 128 * 1024;
constexpr uint64_t kStopKey = 0;

enum class Pidfds { kThreads, kProcesses, kNone };

// Always close-on-exec.
int PidfdOpen(pid_t pid, unsigned flags) { return static_cast<int>(syscall(SYS_pidfd_open, pid, flags)); }

// What this kernel, the sandbox and IPC_KIT_PIDFD allow, tried on ourselves.
Pidfds Probe() {
  const char* env = getenv("IPC_KIT_PIDFD");
  if (env != nullptr && strcmp(env, "0") == 0) return Pidfds::kNone;
  bool threads = env == nullptr || strcmp(env, "process") != 0;
  for (unsigned flags : {threads ? PIDFD_THREAD : 0u, 0u}) {
    int fd = PidfdOpen(getpid(), flags);
    if (fd >= 0) {
      close(fd);
      return flags != 0 ? Pidfds::kThreads : Pidfds::kProcesses;
    }
  }
  return Pidfds::kNone;
}

// Decided at the first use; lowered when a call fails for good (EINVAL for
// PIDFD_THREAD; ENOSYS, EPERM: a sandbox that changed its mind).
std::atomic<Pidfds>& Available() {
  static std::atomic<Pidfds> available{Probe()};
  return available;
}

// The process (thread group) of thread `tid`, from /proc/TID/status; 0 if unknown.
uint32_t TgidOf(uint32_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%u/status", tid);
  FILE* f = fopen(path, "re");
  if (f == nullptr) return 0;
  char line[128];
  uint32_t tgid = 0;
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strncmp(line, "Tgid:", 5) == 0) {
      tgid = static_cast<uint32_t>(strtoul(line + 5, nullptr, 10));
      break;
    }
  }
  fclose(f);
  return tgid;
}

// A pidfd that becomes readable when thread `tid` exits (*tgid 0) or, where
// threads cannot be watched, when its process *tgid does; -1 if none.
int OpenPidfd(uint32_t tid, uint32_t* tgid) {
  std::atomic<Pidfds>& available = Available();
  if (available.load() == Pidfds::kNone) return -1;
  if (available.load() == Pidfds::kThreads) {
    int fd = PidfdOpen(static_cast<pid_t>(tid), PIDFD_THREAD);
    if (fd >= 0) {
      *tgid = 0;
      return fd;
    }
    if (errno == ENOSYS || errno == EPERM) available.store(Pidfds::kNone);
    if (errno != EINVAL) return -1;  // ESRCH: gone already (the waiter's judgement sees it)
    available.store(Pidfds::kProcesses);
  }
  *tgid = TgidOf(tid);
  if (*tgid == 0) return -1;
  int fd = PidfdOpen(static_cast<pid_t>(*tgid), 0);
  if (fd < 0) {
    if (errno == ENOSYS || errno == EPERM) available.store(Pidfds::kNone);
    return -1;
  }
  return fd;
}

// The same within the descriptor budget (then its waiters check periodically).
int OpenOwner(uint32_t tid, uint32_t* tgid) {
  int fd = OpenPidfd(tid, tgid);
  if (fd >= 0 && !ipc::WithinBudget(fd)) {
    close(fd);
    return -1;
  }
  return fd;
}

void WakeWord(uint32_t* word) { syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0); }

struct Watcher {
  std::mutex mu;
  int epoll = -1;
  int stopFd = -1;  // an eventfd: written to stop the thread, or to have it join token threads
  pthread_t thread{};
  bool running = false;
  bool stopping = false;
  int users = 0;
  uint64_t nextId = 1;
  std::unordered_map<uint32_t, WatchedOwner*> live;  // by thread id; not exited
  // By token offset, which names the owner (its namespace and thread id) in
  // every lock's file; not exited.
  std::unordered_map<off_t, WatchedOwner*> tokens;
  std::unordered_map<uint64_t, WatchedOwner*> owners;  // by id; every owner with sightings
  std::vector<WatchedOwner*> exited;                   // exited, with sightings
  std::vector<TokenWait*> ending;                      // token threads asked to end, to join
};

// Never freed: sightings may outlive every environment (and run their destructors late).
Watcher& TheWatcher() {
  static Watcher* w = new Watcher();
  return *w;
}

// Wakes the watcher's thread (to join token threads that end).
void Kick(Watcher& w) {
  uint64_t one = 1;
  ssize_t written = write(w.stopFd, &one, sizeof one);
  (void)written;  // a full counter (never here) also wakes the thread
}

// The owner's pidfd (or token) leaves the epoll set. Under the mutex.
void Unwatch(Watcher& w, WatchedOwner* o) {
  int fd = o->pidfd;
  if (fd < 0) return;
  epoll_ctl(w.epoll, EPOLL_CTL_DEL, fd, nullptr);
  o->pidfd = -1;
  if (o->token != nullptr) {
    auto it = w.tokens.find(o->tokenAt);
    if (it != w.tokens.end() && it->second == o) w.tokens.erase(it);
    o->token->Stop();
    w.ending.push_back(o->token);  // room reserved by StartToken: cannot throw
    o->token = nullptr;
    Kick(w);
    return;
  }
  close(fd);
  auto it = w.live.find(o->tid);
  if (it != w.live.end() && it->second == o) w.live.erase(it);
}

// Joins the token threads that have ended, and asks the others again (a
// signal that came just before their blocking call was lost); returns when
// next to. Under the mutex.
int64_t JoinEnded(Watcher& w, int64_t now) {
  for (size_t i = 0; i < w.ending.size();) {
    TokenWait* t = w.ending[i];
    if (t->Ended()) {
      delete t;  // joins
      w.ending[i] = w.ending.back();
      w.ending.pop_back();
      continue;
    }
    t->Stop();
    i++;
  }
  return w.ending.empty() ? kForever : now + kFirstRewakeNs;
}

// An owner without sightings: no longer watched. Under the mutex.
void Forget(Watcher& w, WatchedOwner* o) {
  Unwatch(w, o);
  w.owners.erase(o->id);
  auto at = std::find(w.exited.begin(), w.exited.end(), o);
  if (at != w.exited.end()) {
    *at = w.exited.back();
    w.exited.pop_back();
  }
  delete o;
}

// Wakes every sighting of `o` that has not yet heeded its flag; whether any was. Under the mutex.
bool WakeUnheeded(WatchedOwner* o) {
  bool any = false;
  for (OwnerSighting* s : o->sightings) {
    if (s->exited()->load()) {
      WakeWord(s->word());
      any = true;
    }
  }
  return any;
}

// The thread (or process) `o` watches exited, or its token is free. Under the mutex.
void Exited(Watcher& w, WatchedOwner* o, int64_t now) {
  if (o->exited) return;
  o->exited = true;
  Unwatch(w, o);
  for (OwnerSighting* s : o->sightings) s->exited()->store(true);
  WakeUnheeded(o);
  o->rewakeGap = kFirstRewakeNs;
  o->rewakeAt = now + o->rewakeGap;
  w.exited.push_back(o);  // room reserved by Start: cannot throw
}

// Wakes again whom an earlier wake may have missed; returns when next to. Under the mutex.
int64_t Rewake(Watcher& w, int64_t now) {
  int64_t next = kForever;
  for (WatchedOwner* o : w.exited) {
    if (o->rewakeAt == kForever) continue;
    if (now >= o->rewakeAt) {
      if (!WakeUnheeded(o)) {
        o->rewakeAt = kForever;  // every waiter has looked
        continue;
      }
      o->rewakeGap = o->rewakeGap * 2 < kLongestRewakeNs ? o->rewakeGap * 2 : kLongestRewakeNs;
      o->rewakeAt = now + o->rewakeGap;
    }
    if (next == kForever || o->rewakeAt < next) next = o->rewakeAt;
  }
  return next;
}

void* Run(void* arg) {
  auto& w = *static_cast<Watcher*>(arg);
  epoll_event events[64];
  int64_t next = kForever;
  for (;;) {
    int timeoutMs = -1;
    if (next != kForever) {
      int64_t left = next - MonotonicNs();
      timeoutMs = left <= 0 ? 0 : static_cast<int>((left + 999999) / 1000000);
    }
    int n = epoll_wait(w.epoll, events, 64, timeoutMs);
    std::lock_guard<std::mutex> lock(w.mu);
    if (w.stopping) break;
    int64_t now = MonotonicNs();
    for (int i = 0; i < n; i++) {
      if (events[i].data.u64 == kStopKey) {
        uint64_t drained;
        while (read(w.stopFd, &drained, sizeof drained) > 0) {
        }
        continue;
      }
      auto it = w.owners.find(events[i].data.u64);
      if (it != w.owners.end()) Exited(w, it->second, now);
    }
    next = Rewake(w, now);
    int64_t join = JoinEnded(w, now);
    if (join != kForever && (next == kForever || join < next)) next = join;
  }
  return nullptr;
}

// The epoll set and the thread, if not there yet; false if they cannot be made. Under the mutex.
bool Running(Watcher& w) {
  if (w.running) return true;
  if (w.stopping || w.users == 0) return false;
  if (w.epoll < 0) {
    // Kept for the process's life: owners watched while the thread is away stay in it.
    w.epoll = epoll_create1(EPOLL_CLOEXEC);
    if (w.epoll < 0) return false;
    w.stopFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event stop{};
    stop.events = EPOLLIN;
    stop.data.u64 = kStopKey;
    if (w.stopFd < 0 || epoll_ctl(w.epoll, EPOLL_CTL_ADD, w.stopFd, &stop) != 0) {
      if (w.stopFd >= 0) close(w.stopFd);
      close(w.epoll);
      w.epoll = w.stopFd = -1;
      return false;
    }
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kStackSize);
  // Process signals go to Node's threads, never to this one.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&w.thread, &attr, Run, &w);  // EAGAIN: waiters check periodically
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  w.running = err == 0;
  return w.running;
}

// A new owner `o` (null: out of memory), watched through o->pidfd, joins the
// epoll set and the owners; false if it cannot (`o` is then gone, its
// descriptor or token given up). Under the mutex.
bool Register(Watcher& w, WatchedOwner* o, int fd, TokenWait* token) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = o != nullptr ? o->id : 0;
  if (o == nullptr || epoll_ctl(w.epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
    if (token != nullptr) {
      token->Stop();
      w.ending.push_back(token);  // room reserved by the caller: cannot throw
      Kick(w);
    } else {
      close(fd);
    }
    delete o;
    return false;
  }
  try {
    w.owners.emplace(o->id, o);
    w.exited.reserve(w.owners.size());  // Exited() adds without allocating
  } catch (...) {                       // out of memory: periodic checks
    Forget(w, o);
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<OwnerSighting> OwnerSighting::Start(uint32_t tid, uint32_t* word, std::atomic<bool>* exited) {
  Watcher& w = TheWatcher();
  std::lock_guard<std::mutex> lock(w.mu);
  if (!Running(w)) return nullptr;
  WatchedOwner* o = nullptr;
  auto it = w.live.find(tid);
  // A live thread's id names it alone: the same owner. A process's pidfd
  // outlives the thread it was opened for, whose id another process's thread
  // may have now.
  if (it != w.live.end() && (it->second->tgid == 0 || it->second->tgid == TgidOf(tid))) {
    o = it->second;
  } else {
    uint32_t tgid = 0;
    int fd = OpenOwner(tid, &tgid);
    if (fd < 0) return nullptr;
    o = new (std::nothrow) WatchedOwner(w.nextId++, tid, tgid, fd);
    if (!Register(w, o, fd, nullptr)) return nullptr;
    try {
      w.live[tid] = o;
    } catch (...) {  // out of memory: periodic checks
      Forget(w, o);
      return nullptr;
    }
  }
  return Add(o, word, exited);
}

std::unique_ptr<OwnerSighting> OwnerSighting::StartToken(int tokenFd, off_t offset, uint32_t* word,
                                                         std::atomic<bool>* exited) {
  Watcher& w = TheWatcher();
  std::lock_guard<std::mutex> lock(w.mu);
  if (!Running(w)) return nullptr;
  WatchedOwner* o = nullptr;
  auto it = w.tokens.find(offset);
  // One thread per owner, however many locks it holds and waiters wait on
  // it: it waits on the token of the first lock. Any of the owner's tokens
  // given up wakes them all; each then judges by its own lock's token, and
  // watches anew an owner that still lives (it closed another Mutex).
  if (it != w.tokens.end()) {
    o = it->second;
  } else {
    try {
      w.ending.reserve(w.ending.size() + w.tokens.size() + 1);  // Unwatch adds without allocating
    } catch (...) {
      return nullptr;
    }
    // The thread inherits this mask: no process signal goes to it (it unblocks the interrupt only).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    TokenWait* token = TokenWait::Start(tokenFd, offset);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (token == nullptr) return nullptr;
    int fd = token->eventFd();
    o = new (std::nothrow) WatchedOwner(w.nextId++, 0, 0, fd);
    if (o != nullptr) {
      o->token = token;
      o->tokenAt = offset;
    }
    if (!Register(w, o, fd, token)) return nullptr;
    try {
      w.tokens[offset] = o;
    } catch (...) {  // out of memory: periodic checks
      Forget(w, o);
      return nullptr;
    }
  }
  return Add(o, word, exited);
}

std::unique_ptr<OwnerSighting> OwnerSighting::Add(WatchedOwner* o, uint32_t* word,
                                                  std::atomic<bool>* exited) {
  Watcher& w = TheWatcher();
  OwnerSighting* s = nullptr;
  try {
    o->sightings.reserve(o->sightings.size() + 1);
    s = new OwnerSighting(o, word, exited);
  } catch (...) {  // out of memory: periodic checks
    if (o->sightings.empty()) Forget(w, o);
    return nullptr;
  }
  o->sightings.push_back(s);  // room reserved: cannot throw
  return std::unique_ptr<OwnerSighting>(s);
}

OwnerSighting::~OwnerSighting() {
  Watcher& w = TheWatcher();
  std::lock_guard<std::mutex> lock(w.mu);
  auto& list = owner_->sightings;
  auto at = std::find(list.begin(), list.end(), this);
  if (at != list.end()) {
    *at = list.back();
    list.pop_back();
  }
  if (list.empty()) Forget(w, owner_);
}

const char* WatchedAs() {
  switch (Available().load()) {
    case Pidfds::kThreads:
      return "threads";
    case Pidfds::kProcesses:
      return "processes";
    default:
      return "none";
  }
}

void UseWatcher() {
  Watcher& w = TheWatcher();
  std::lock_guard<std::mutex> lock(w.mu);
  w.users++;
}

void LeaveWatcher() {
  Watcher& w = TheWatcher();
  {
    std::lock_guard<std::mutex> lock(w.mu);
    if (--w.users > 0 || !w.running) return;
    w.stopping = true;
  }
  uint64_t one = 1;
  ssize_t written = write(w.stopFd, &one, sizeof one);
  (void)written;  // a full counter (never here) also wakes the thread
  pthread_join(w.thread, nullptr);
  std::lock_guard<std::mutex> lock(w.mu);
  uint64_t drained;
  while (read(w.stopFd, &drained, sizeof drained) > 0) {
  }
  // Token threads are joined too: none outlives the last environment.
  std::vector<WatchedOwner*> tokens;
  for (auto& [offset, o] : w.tokens) tokens.push_back(o);
  for (WatchedOwner* o : tokens) Unwatch(w, o);
  while (JoinEnded(w, MonotonicNs()) != kForever) {
    timespec gap{0, kFirstRewakeNs};
    nanosleep(&gap, nullptr);
  }
  while (read(w.stopFd, &drained, sizeof drained) > 0) {
  }
  w.running = false;
  w.stopping = false;
}

}  // namespace mutex
