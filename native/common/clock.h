// The one monotonic clock of the addon. Every deadline, spin budget and
// liveness interval is CLOCK_MONOTONIC, in nanoseconds: a wall-clock jump
// changes none of them. std::chrono::steady_clock is the same clock on Linux
// (the waiter engine's deadlines), so the two convert without an offset.
#pragma once
#include <chrono>
#include <cstdint>
#include <ctime>

namespace ipc {

// A wait limit meaning "no deadline".
constexpr int64_t kForever = -1;

// Now, in nanoseconds of CLOCK_MONOTONIC.
int64_t MonotonicNs();

int64_t ToNs(const timespec& t);
int64_t ToNs(std::chrono::steady_clock::time_point t);
timespec ToTimespec(int64_t ns);

// Milliseconds from JavaScript as a nanosecond limit: kForever when negative,
// not a number or beyond ~31 years (which would overflow the clock).
int64_t LimitNsFromMs(double ms);

}  // namespace ipc
