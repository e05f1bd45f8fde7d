#include "scheduler/fidelity.hpp"

#include <cmath>
#include <limits>
#include <numeric>

#include "common/rng.hpp"

namespace curricula {

namespace {
// Tracks max |count - share * S| for one family. Between two touches of a
// characteristic its count is constant and its target linear in S, so the
// maximum lies at a touch or at the end: O(nnz + K) for the whole order.
struct DeviationTracker {
  const std::vector<double>& share;
  std::vector<uint64_t> count;
  std::vector<double> lastS, maxDev;
  explicit DeviationTracker(const std::vector<double>& s)
      : share(s), count(s.size(), 0), lastS(s.size(), 0.0), maxDev(s.size(), 0.0) {}
  void see(size_t k, double S) {
    maxDev[k] = std::max(maxDev[k], std::fabs((double)count[k] - share[k] * S));
  }
  void add(size_t k, uint32_t c, double before, double after) {
    see(k, lastS[k]);
    see(k, before);
    count[k] += c;
    see(k, after);
    lastS[k] = after;
  }
  void finish(double S) {
    for (size_t k = 0; k < share.size(); k++) { see(k, lastS[k]); see(k, S); }
  }
};
}  // namespace

FidelityStats prefixFidelity(const SequenceCounts& c, const std::vector<uint64_t>& order,
                             const std::vector<double>& mixture, const std::vector<double>& binTargets,
                             int checkpoints) {
  FidelityStats out;
  DeviationTracker groups(mixture), bins(binTargets);
  uint64_t total = 0;
  for (uint64_t s : order) total += c.length[s];
  int nextCheckpoint = 1;
  double S = 0;
  for (uint64_t s : order) {
    const double before = S, after = S + (double)c.length[s];
    for (uint64_t i = c.groupOff[s]; i < c.groupOff[s + 1]; i++) groups.add(c.groupId[i], c.groupCount[i], before, after);
    for (uint64_t i = c.binOff[s]; i < c.binOff[s + 1]; i++) bins.add(c.binId[i], c.binCount[i], before, after);
    S = after;
    while (nextCheckpoint <= checkpoints && S * checkpoints >= (double)total * nextCheckpoint) {
      double l1 = 0;
      for (size_t j = 0; j < mixture.size(); j++) l1 += std::fabs((double)groups.count[j] / S - mixture[j]);
      out.checkpointTokens.push_back(S);
      out.checkpointL1.push_back(l1);
      nextCheckpoint++;
    }
  }
  groups.finish(S);
  bins.finish(S);
  out.sequences = order.size();
  out.tokens = total;
  out.groupMaxDeviation = groups.maxDev;
  out.binMaxDeviation = bins.maxDev;
  out.finalRatio.resize(mixture.size());
  for (size_t j = 0; j < mixture.size(); j++)
    out.finalRatio[j] = mixture[j] > 0 && S > 0 ? (double)groups.count[j] / (mixture[j] * S)
                                                : std::numeric_limits<double>::quiet_NaN();
  return out;
}

std::vector<uint64_t> seededShuffle(uint64_t n, uint64_t seed) {
  std::vector<uint64_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  for (uint64_t i = n; i > 1; i--) {
    // Multiply-shift maps a 64-bit draw to [0, i) with negligible bias for i << 2^64.
    const uint64_t j = (uint64_t)(((unsigned __int128)counterHash(seed, 0x53485546ULL, i) * i) >> 64);
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

}  // namespace curricula
