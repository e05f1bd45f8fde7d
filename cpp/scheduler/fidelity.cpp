#include "scheduler/fidelity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/rng.hpp"

namespace curricula {

namespace {
// E_k(S) in tokens for one family: piecewise linear over the target cells.
struct TargetCurve {
  std::vector<uint64_t> start;
  std::vector<double> base, rate;  // cells x n, tokens and tokens per token
  uint32_t n;
  TargetCurve(const Targets& t, bool bins, const std::vector<double>* exactRates)
      : start(t.start), n(bins ? t.B : t.K) {
    const auto& r = bins ? t.binRate : t.groupRate;
    const auto& b = bins ? t.binBase : t.groupBase;
    base.resize(r.size());
    rate.resize(r.size());
    for (size_t i = 0; i < r.size(); i++) {
      base[i] = (double)b[i] / (double)t.P;
      rate[i] = exactRates ? (*exactRates)[i] : (double)r[i] / (double)t.P;
    }
  }
  double operator()(size_t k, double S) const {
    const size_t g = (size_t)(std::upper_bound(start.begin(), start.end(), (uint64_t)S) - start.begin()) - 1;
    return base[g * n + k] + rate[g * n + k] * (S - (double)start[g]);
  }
};

// Tracks max |count - E(S)| for one family. Between two touches of a
// characteristic its count is constant and its target non-decreasing in S, so
// the maximum lies at a touch or at the end: O(nnz + K) evaluations in all.
struct DeviationTracker {
  const TargetCurve& E;
  std::vector<uint64_t> count;
  std::vector<double> lastS, maxDev;
  explicit DeviationTracker(const TargetCurve& e) : E(e), count(e.n, 0), lastS(e.n, 0.0), maxDev(e.n, 0.0) {}
  void see(size_t k, double S) { maxDev[k] = std::max(maxDev[k], std::fabs((double)count[k] - E(k, S))); }
  void add(size_t k, uint32_t c, double before, double after) {
    see(k, lastS[k]);
    see(k, before);
    count[k] += c;
    see(k, after);
    lastS[k] = after;
  }
  void finish(double S) {
    for (size_t k = 0; k < E.n; k++) { see(k, lastS[k]); see(k, S); }
  }
};
}  // namespace

FidelityStats prefixFidelity(const SequenceCounts& c, const std::vector<uint64_t>& order, const Targets& targets,
                             int checkpoints, const std::vector<double>* mixture) {
  FidelityStats out;
  const TargetCurve groupE(targets, false, mixture), binE(targets, true, nullptr);
  DeviationTracker groups(groupE), bins(binE);
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
      for (size_t j = 0; j < groupE.n; j++) l1 += std::fabs((double)groups.count[j] - groupE(j, S));
      out.checkpointTokens.push_back(S);
      out.checkpointL1.push_back(l1 / S);
      nextCheckpoint++;
    }
  }
  groups.finish(S);
  bins.finish(S);
  out.sequences = order.size();
  out.tokens = total;
  out.groupMaxDeviation = groups.maxDev;
  out.binMaxDeviation = bins.maxDev;
  out.finalRatio.resize(groupE.n);
  for (size_t j = 0; j < groupE.n; j++) {
    const double e = groupE(j, S);
    out.finalRatio[j] = e > 0 ? (double)groups.count[j] / e : std::numeric_limits<double>::quiet_NaN();
  }
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
