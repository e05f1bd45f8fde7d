#include "scheduler/fixed_point.hpp"
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace curricula {

static int bitLength(uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }

int chooseFixedPointBits(uint64_t totalTokens) {
  const int bits = std::min(30, 61 - bitLength(totalTokens));
  if (bits < 8) {
    throw std::invalid_argument("corpus has " + std::to_string(totalTokens) +
                                " tokens, more than exact scheduling supports (2^52)");
  }
  return bits;
}

std::vector<int64_t> quantizeWeights(const std::vector<double>& weights, int bits) {
  const int64_t P = int64_t(1) << bits;
  const size_t n = weights.size();
  long double sum = 0;
  for (double w : weights) sum += w;
  if (!(sum > 0)) throw std::invalid_argument("weights must have a positive sum");
  std::vector<int64_t> q(n);
  std::vector<long double> rem(n);
  int64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const long double x = (long double)weights[i] / sum * (long double)P;
    q[i] = (int64_t)std::floor(x);
    rem[i] = x - (long double)q[i];
    total += q[i];
  }
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return rem[a] > rem[b]; });
  for (size_t j = 0; total < P; j = (j + 1) % n) {
    if (weights[idx[j]] > 0 || rem[idx[j]] > 0) { q[idx[j]]++; total++; }
  }
  return q;
}

}  // namespace curricula
