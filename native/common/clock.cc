#include "clock.h"

#include <cmath>

namespace ipc {

int64_t MonotonicNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return ToNs(t);
}

int64_t ToNs(const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

int64_t ToNs(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

timespec ToTimespec(int64_t ns) {
  timespec t;
  t.tv_sec = static_cast<time_t>(ns / 1000000000);
  t.tv_nsec = static_cast<long>(ns % 1000000000);
  return t;
}

int64_t LimitNsFromMs(double ms) {
  if (!(ms >= 0) || ms >= 1e12) return kForever;
  return static_cast<int64_t>(std::ceil(ms * 1e6));
}

}  // namespace ipc
