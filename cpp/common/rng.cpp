#include "common/rng.hpp"
#include <cmath>

namespace curricula {

double gaussian(uint64_t seed, uint64_t a, uint64_t b) {
  const uint64_t h1 = counterHash(seed, a, 2 * b);
  const uint64_t h2 = counterHash(seed, a, 2 * b + 1);
  const double u1 = uniformOpen0(h1);
  const double u2 = uniformOpen0(h2);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace curricula
