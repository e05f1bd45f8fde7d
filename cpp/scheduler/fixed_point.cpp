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
  // Hand the missing units to the largest remainders (ties: lowest index),
  // skipping entries that are exactly zero. Selecting the first `missing` of
  // that order needs no full sort: O(n) on average instead of O(n log n).
  std::vector<size_t> idx;
  idx.reserve(n);
  for (size_t i = 0; i < n; i++)
    if (weights[i] > 0 || rem[i] > 0) idx.push_back(i);
  const auto before = [&](size_t a, size_t b) { return rem[a] > rem[b] || (rem[a] == rem[b] && a < b); };
  int64_t missing = P - total;
  if (missing > 0 && (size_t)missing <= idx.size()) {
    std::nth_element(idx.begin(), idx.begin() + (missing - 1), idx.end(), before);
    for (int64_t j = 0; j < missing; j++) q[idx[j]]++;
  } else if (missing > 0) {  // more units than entries (tiny n): go round in order
    std::sort(idx.begin(), idx.end(), before);
    for (size_t j = 0; missing > 0; j = (j + 1) % idx.size(), missing--) q[idx[j]]++;
  }
  return q;
}

}  // namespace curricula
