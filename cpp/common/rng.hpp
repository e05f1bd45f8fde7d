// Counter-based random numbers: every draw is a pure function of (seed, a, b),
// so results never depend on thread count or evaluation order, and a resumed
// run reproduces the draws of an uninterrupted one.
#pragma once
#include <cstdint>

// Lets nvcc compile the hash helpers for the device too (cuda/), so CPU and GPU
// share one definition; empty in the CPU build.
#if defined(__CUDACC__)
#define CURRICULA_HD __host__ __device__
#else
#define CURRICULA_HD
#endif

namespace curricula {

// 64-bit finaliser (splitmix64); a strong enough mixer for simulation noise.
CURRICULA_HD inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

CURRICULA_HD inline uint64_t counterHash(uint64_t seed, uint64_t a, uint64_t b) {
  return mix64(mix64(mix64(seed) ^ a) ^ (b * 0xd1b54a32d192ed03ULL));
}

// Uniform in (0, 1]: 53 random bits, never 0 (safe for log).
CURRICULA_HD inline double uniformOpen0(uint64_t h) { return (double)((h >> 11) + 1) * 0x1.0p-53; }

// Standard normal via Box-Muller from two counter draws. |result| <= kGaussianBound
// because the uniform is at least 2^-53: sqrt(-2 ln 2^-53) = 8.5717...
double gaussian(uint64_t seed, uint64_t a, uint64_t b);
constexpr double kGaussianBound = 8.58;

}  // namespace curricula
