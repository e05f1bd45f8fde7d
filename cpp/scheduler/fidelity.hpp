// How closely the prefixes of an order follow fixed mixture targets.
#pragma once
#include <cstdint>
#include <vector>

#include "scheduler/corpus.hpp"

namespace curricula {

struct FidelityStats {
  uint64_t sequences = 0, tokens = 0;
  std::vector<double> groupMaxDeviation;  // per group: max over prefixes of |T_j - tau_j S|, tokens
  std::vector<double> binMaxDeviation;    // per bin: max over prefixes of |U_b - U*_b(S)|, tokens
  std::vector<double> checkpointTokens;   // prefix lengths S at the checkpoints
  std::vector<double> checkpointL1;       // sum_j |T_j / S - tau_j| there
  std::vector<double> finalRatio;         // per group T_j / (tau_j S) at the end (NaN where tau_j = 0)
};

// binTargets: U*_b(S) = binTargets[b] * S (shares summing to 1).
FidelityStats prefixFidelity(const SequenceCounts& counts, const std::vector<uint64_t>& order,
                             const std::vector<double>& mixture, const std::vector<double>& binTargets,
                             int checkpoints);

// Seeded uniform permutation of [0, n) (Fisher-Yates on counter-based draws).
std::vector<uint64_t> seededShuffle(uint64_t n, uint64_t seed);

}  // namespace curricula
