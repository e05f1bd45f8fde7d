// Correctly rounded (to nearest, ties to even) __int128 -> double, identical to
// the host compiler's conversion (__floattidf), written out so the device
// result does not depend on how nvcc lowers the cast.
#pragma once
#include <cstdint>

namespace curricula::cuda {

__host__ __device__ inline double u64ToDouble(uint64_t v) {
#ifdef __CUDA_ARCH__
  return __ull2double_rn(v);
#else
  return (double)v;
#endif
}

__host__ __device__ inline int clz64(uint64_t v) {
#ifdef __CUDA_ARCH__
  return __clzll((long long)v);
#else
  return __builtin_clzll(v);
#endif
}

__host__ __device__ inline double i128ToDouble(__int128 x) {
  const bool neg = x < 0;
  const unsigned __int128 u = neg ? (unsigned __int128)0 - (unsigned __int128)x : (unsigned __int128)x;
  const uint64_t hi = (uint64_t)(u >> 64);
  double r;
  if (hi == 0) {
    r = u64ToDouble((uint64_t)u);
  } else {
    // keep the top 64 bits and fold the rest into a sticky bit 0: bit 0 lies 11 bits
    // below the rounding position, so one rounding of v to 53 bits is the correct one
    const int sh = 64 - clz64(hi);
    uint64_t v = (uint64_t)(u >> sh);
    if ((u & ((((unsigned __int128)1) << sh) - 1)) != 0) v |= 1;
    r = u64ToDouble(v) * (double)((uint64_t)1 << (sh - 1)) * 2.0;
  }
  return neg ? -r : r;
}

}  // namespace curricula::cuda
