// Spinning before a sleeping wait, for as long as waits have recently taken.
//
// Sleeping in the kernel and being woken costs tens of microseconds (more on
// virtual machines, whose idle CPUs halt), so a waiter whose unit arrives
// sooner should take it spinning. An async wait pays for two wake-ups (its
// thread's, then the event loop's), so it gains the most.
//
// The budget follows what waits take: a wait that had to sleep but ended
// within kMaxNs raises it to twice that time (a longer spin would have caught
// it); a wait longer than kMaxNs halves it, so a semaphore that is rarely
// posted soon spins only kMinNs per wait. kMaxNs is about what the chain of
// wake-ups of one hop costs on a virtual machine: spinning at most doubles
// the cost of a wait that ends up sleeping.
#pragma once
#include <sched.h>

#include <atomic>
#include <cstdint>

#include "../common/clock.h"

namespace waiter {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

class AdaptiveSpin {
 public:
  static constexpr int64_t kMaxNs = 100000;
  static constexpr int64_t kMinNs = 1000;
  // Past this, the spinner yields between looks: on a machine with fewer
  // cores than runnable threads it must not keep the poster off the CPU.
  static constexpr int64_t kYieldAfterNs = 2000;

  // Calls tryTake until it succeeds (true) or the budget, never more than
  // limitNs unless that is negative (no limit), is spent (false). startNs is
  // when the wait began (ipc::MonotonicNs). Safe from any thread.
  template <class TryTake>
  bool Spin(TryTake tryTake, int64_t startNs, int64_t limitNs) const {
    int64_t budget = Budget();
    if (limitNs >= 0 && limitNs < budget) budget = limitNs;
    return SpinFor(tryTake, startNs, budget);
  }

  // Calls tryTake until it succeeds (true) or `budgetNs` past startNs (false).
  template <class TryTake>
  static bool SpinFor(TryTake tryTake, int64_t startNs, int64_t budgetNs) {
    for (int i = 1;; i++) {
      if (tryTake()) return true;
      CpuRelax();
      if ((i & 63) == 0) {
        int64_t spun = ipc::MonotonicNs() - startNs;
        if (spun >= budgetNs) return false;
        if (spun >= kYieldAfterNs) sched_yield();
      }
    }
  }

  // How long a wait spins now.
  int64_t Budget() const { return budget_.load(std::memory_order_relaxed); }

  // A wait that spun in vain, then slept, ended `waitedNs` after it began
  // (taken or not: a long wait is long either way).
  void Slept(int64_t waitedNs) {
    int64_t budget = budget_.load(std::memory_order_relaxed);
    if (waitedNs <= kMaxNs) {
      if (2 * waitedNs > budget) budget = 2 * waitedNs < kMaxNs ? 2 * waitedNs : kMaxNs;
    } else {
      budget = budget / 2 > kMinNs ? budget / 2 : kMinNs;
    }
    budget_.store(budget, std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> budget_{kMaxNs};
};

}  // namespace waiter
