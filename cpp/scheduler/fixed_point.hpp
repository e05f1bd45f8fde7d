// Exact arithmetic for the scheduler. Targets are rounded once to integers that
// sum to P = 2^bits; every score is then an exact integer (in units of P^2
// tokens^2), so ties are real ties and the fast search and the naive reference
// agree bit for bit.
#pragma once
#include <cstdint>
#include <vector>

namespace curricula {

using i128 = __int128;

// Largest fixed-point precision such that 2 * P * totalTokens < 2^62, capped at 30 bits.
// Throws std::invalid_argument when the corpus is too large for exact arithmetic.
int chooseFixedPointBits(uint64_t totalTokens);

// Rounds weights (>= 0, summing to ~1) to non-negative integers summing exactly to 2^bits
// (largest remainder; equal remainders go to the lower index).
std::vector<int64_t> quantizeWeights(const std::vector<double>& weights, int bits);

inline double toDouble(i128 x) { return static_cast<double>(x); }

}  // namespace curricula
