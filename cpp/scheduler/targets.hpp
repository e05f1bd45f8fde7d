// Integer cumulative targets E_k(S) for both families, as a sequence of cells:
// inside cell g, E_k(S) = base_gk + rate_gk * (S - start_g) in units of 2^-bits
// tokens, with integer rates summing to P = 2^bits. A fixed mixture is one cell;
// a curriculum's target table becomes one cell per (merged) grid interval.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "scheduler/corpus.hpp"

namespace curricula {

// A caller's table of cumulative targets: E_k(tokens[g]) = cumulative[g * K + k],
// interpolated linearly between grid points.
struct TargetTable {
  std::vector<double> tokens;      // G >= 2 grid points: 0 = tokens[0] < tokens[1] < ...
  std::vector<double> cumulative;  // G x K, row-major
  bool empty() const { return tokens.empty(); }
};

struct Targets {
  int bits = 0;
  int64_t P = 0;
  uint32_t K = 0, B = 0;
  std::vector<uint64_t> start;       // cell starts; start[0] = 0, the last cell extends to infinity
  std::vector<uint32_t> groupRate;   // cells x K, each row sums to P
  std::vector<uint32_t> binRate;     // cells x B, each row sums to P
  std::vector<int64_t> groupBase;    // cells x K: E_k at the cell start
  std::vector<int64_t> binBase;      // cells x B
  std::vector<uint32_t> groupRateMax, binRateMax;  // per characteristic, over all cells

  size_t cells() const { return start.size(); }
};

// One cell: tau rounded to integers summing to 2^bits; bins get sum_j tau_j kappa_{b|j}.
Targets buildFixedTargets(const SequenceCounts& counts, const std::vector<double>& mixture, uint32_t numGroups,
                          uint32_t numBins);

// Cells from a table. Grid intervals shorter than the longest sequence are merged
// (so a candidate's S + l never skips a whole cell); each cell's integer rates
// are chosen with error feedback, so |E_k(grid point) - table| <= width / 2^bits.
// Throws std::invalid_argument naming `targets.tokens[i]` / `targets.cumulative[i]`.
Targets buildTableTargets(const SequenceCounts& counts, const TargetTable& table, uint32_t numGroups,
                          uint32_t numBins, uint64_t neededTokens);

}  // namespace curricula
