// Device twin of curricula::gaussian (cpp/common/rng.cpp): the same counter
// hashes (shared from rng.hpp) and the same Box-Muller formula. CUDA's double
// log/cos are within 2 ulp of glibc's, so after rounding to float a projection
// element matches the CPU's except in rare last-bit cases (tests use tolerances).
#pragma once
#include "common/rng.hpp"

namespace curricula::cuda {

__device__ inline double deviceGaussian(uint64_t seed, uint64_t a, uint64_t b) {
  const double u1 = uniformOpen0(counterHash(seed, a, 2 * b));
  const double u2 = uniformOpen0(counterHash(seed, a, 2 * b + 1));
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

}  // namespace curricula::cuda
