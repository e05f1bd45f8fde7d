// How closely the prefixes of an order follow its targets (fixed or a table).
#pragma once
#include <cstdint>
#include <vector>

#include "scheduler/corpus.hpp"
#include "scheduler/targets.hpp"

namespace curricula {

struct FidelityStats {
  uint64_t sequences = 0, tokens = 0;
  std::vector<double> groupMaxDeviation;  // per group: max over prefixes of |T_j - E_j(S)|, tokens
  std::vector<double> binMaxDeviation;    // per bin: max over prefixes of |U_b - U*_b(S)|, tokens
  std::vector<double> checkpointTokens;   // prefix lengths S at the checkpoints
  std::vector<double> checkpointL1;       // sum_j |T_j - E_j(S)| / S there
  std::vector<double> finalRatio;         // per group T_j / E_j(S) at the end (NaN where E_j(S) = 0)
};

// Targets are the scheduler's integer cells (exact to 2^-bits tokens); for a
// fixed mixture pass it too, so group targets are tau_j S exactly.
FidelityStats prefixFidelity(const SequenceCounts& counts, const std::vector<uint64_t>& order, const Targets& targets,
                             int checkpoints, const std::vector<double>* mixture = nullptr);

// Seeded uniform permutation of [0, n) (Fisher-Yates on counter-based draws).
std::vector<uint64_t> seededShuffle(uint64_t n, uint64_t seed);

}  // namespace curricula
